//! Operator state (D3): non-keyed list state of one operator instance, such as a
//! source's offsets, redistributed when the job is restored at another
//! parallelism.
//!
//! Each list state has a [`DistributionMode`]: *split-distribute* lists
//! ([`OperatorStateStore::get_list_state`]) are cut into even contiguous chunks
//! over the new subtasks; *union* lists
//! ([`OperatorStateStore::get_union_list_state`]) reach every new subtask whole.
//! Snapshots ([`OperatorStateSnapshot`]) are plain serde data with each element
//! encoded on its own, so [`repartition`] moves elements without knowing their
//! types.

mod repartition;
mod snapshot;
mod store;

pub use repartition::repartition;
pub use snapshot::{DistributionMode, NamedOperatorState, OperatorStateSnapshot};
pub use store::{OperatorListState, OperatorStateStore};

/// Gives operator state handles their store. Implemented by
/// [`OperatorStateStore`] and by the runtime's contexts.
pub trait OperatorStateAccess {
    /// The operator instance's store.
    fn operator_state(&mut self) -> &mut OperatorStateStore;
}

impl OperatorStateAccess for OperatorStateStore {
    fn operator_state(&mut self) -> &mut OperatorStateStore {
        self
    }
}
