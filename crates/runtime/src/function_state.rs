//! Operator state of user functions (Flink's `CheckpointedFunction`).
//!
//! A map, flat-map, filter, process or sink function that keeps data outside
//! keyed state (a buffer, a counter, offsets) registers operator list state in
//! `initialize_state` and brings it up to date in `snapshot_state`. The state is
//! checkpointed with the operator; on restore at another parallelism a list
//! state's elements are split evenly over the new subtasks, and a union list
//! state's elements go to every subtask.

use crate::checkpointing::StateSnapshotContext;
use crate::error::BoxError;
use crate::parameters::OperatorParameters;
use runnel_state::{OperatorStateAccess, OperatorStateStore};
use runnel_types::CheckpointId;

/// Handed to a function's `initialize_state`, before `open`.
pub struct FunctionInitializationContext<'a> {
    store: &'a mut OperatorStateStore,
    restored: bool,
}

impl FunctionInitializationContext<'_> {
    /// Where the function registers its list and union list states.
    pub fn operator_state_store(&mut self) -> &mut OperatorStateStore {
        self.store
    }

    /// Whether the state comes from a checkpoint or savepoint (not a fresh start).
    pub fn is_restored(&self) -> bool {
        self.restored
    }
}

impl OperatorStateAccess for FunctionInitializationContext<'_> {
    fn operator_state(&mut self) -> &mut OperatorStateStore {
        self.store
    }
}

/// Handed to a function's `snapshot_state`, at a checkpoint barrier.
pub struct FunctionSnapshotContext<'a> {
    store: &'a mut OperatorStateStore,
    id: CheckpointId,
    timestamp: i64,
}

impl FunctionSnapshotContext<'_> {
    /// The checkpoint being taken.
    pub fn checkpoint_id(&self) -> CheckpointId {
        self.id
    }

    /// When it was triggered (epoch ms).
    pub fn checkpoint_timestamp(&self) -> i64 {
        self.timestamp
    }

    /// The function's operator state, to update.
    pub fn operator_state_store(&mut self) -> &mut OperatorStateStore {
        self.store
    }
}

impl OperatorStateAccess for FunctionSnapshotContext<'_> {
    fn operator_state(&mut self) -> &mut OperatorStateStore {
        self.store
    }
}

/// The operator state an operator keeps for its user function.
#[derive(Debug, Default)]
pub struct FunctionState {
    store: OperatorStateStore,
    restored: bool,
}

impl FunctionState {
    /// The state restored for this instance, if any.
    pub fn restore(params: &OperatorParameters) -> Result<Self, BoxError> {
        let mut state = FunctionState::default();
        if let Some(restored) = params.restored_state() {
            state.restored = true;
            if !restored.operator_state.is_empty() {
                state.store.restore(restored.operator_state.clone())?;
            }
        }
        Ok(state)
    }

    /// Calls the function's `initialize_state`.
    pub fn initialize(
        &mut self,
        f: impl FnOnce(&mut FunctionInitializationContext<'_>) -> Result<(), BoxError>,
    ) -> Result<(), BoxError> {
        f(&mut FunctionInitializationContext {
            store: &mut self.store,
            restored: self.restored,
        })
    }

    /// Calls the function's `snapshot_state` and writes the store into the
    /// operator's snapshot.
    pub fn snapshot(
        &mut self,
        ctx: &mut StateSnapshotContext<'_>,
        f: impl FnOnce(&mut FunctionSnapshotContext<'_>) -> Result<(), BoxError>,
    ) -> Result<(), BoxError> {
        f(&mut FunctionSnapshotContext {
            store: &mut self.store,
            id: ctx.checkpoint_id(),
            timestamp: ctx.checkpoint_timestamp(),
        })?;
        let snapshot = self.store.snapshot()?;
        if !snapshot.is_empty() {
            ctx.state().operator_state = snapshot;
        }
        Ok(())
    }
}
