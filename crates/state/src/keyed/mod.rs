//! Keyed state (D1): values, lists, maps, reducing and aggregating state, and
//! namespaced values, scoped to the current key and partitioned by key group (D6).
//!
//! A [`KeyedStateStore`] belongs to one keyed operator instance. The operator sets
//! the current key before each record or timer
//! ([`KeyedStateStore::set_current_key`]); every access through a handle reads or
//! writes that key's entry. Handles take any context that implements
//! [`KeyedStateAccess`] — the store itself, or a runtime context that owns one.
//!
//! An access costs a downcast (a `TypeId` compare), a dynamic call into the
//! backend table and one hash lookup; on the heap backend it allocates only when it
//! creates an entry for a new key (a list or map entry's collection, and the clone
//! of the key) or for values that own heap memory.

mod aggregating;
pub mod backend;
pub(crate) mod encoding;
mod heap;
mod list;
#[cfg(feature = "rocksdb")]
mod lsm;
mod map;
mod namespaced;
#[cfg(feature = "rocksdb")]
mod native;
mod reducing;
mod register;
mod slot;
mod snapshot;
mod store;
#[cfg(test)]
mod ttl_tests;
mod value;

pub use aggregating::AggregatingState;
pub use backend::StateBackendKind;
pub use list::ListState;
#[cfg(feature = "rocksdb")]
pub use lsm::{
    LsmOptions, NativeKeyedSnapshot, NativeRestore, NativeSnapshotFile, NativeStateMeta,
};
pub use map::MapState;
pub use namespaced::NamespacedValueState;
pub use reducing::ReducingState;
pub use snapshot::DetachedKeyedSnapshot;
pub use store::KeyedStateStore;
pub use value::ValueState;

use std::fmt;

/// Gives keyed state handles their store. Implemented by [`KeyedStateStore`] and by
/// the runtime's keyed contexts.
pub trait KeyedStateAccess {
    /// The key type of the stream.
    type Key: runnel_types::Key;

    /// The store of the operator instance, with its current key.
    fn keyed_state(&mut self) -> &mut KeyedStateStore<Self::Key>;
}

impl<K: runnel_types::Key> KeyedStateAccess for KeyedStateStore<K> {
    type Key = K;

    #[inline]
    fn keyed_state(&mut self) -> &mut KeyedStateStore<K> {
        self
    }
}

/// The kind of a keyed state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StateKind {
    /// [`ValueState`].
    Value,
    /// [`ListState`].
    List,
    /// [`MapState`].
    Map,
    /// [`ReducingState`].
    Reducing,
    /// [`AggregatingState`].
    Aggregating,
    /// [`NamespacedValueState`].
    NamespacedValue,
}

impl StateKind {
    /// The kind's code in snapshots.
    pub fn code(self) -> u8 {
        match self {
            StateKind::Value => 1,
            StateKind::List => 2,
            StateKind::Map => 3,
            StateKind::Reducing => 4,
            StateKind::Aggregating => 5,
            StateKind::NamespacedValue => 6,
        }
    }

    /// The kind of a snapshot code.
    pub fn from_code(code: u8) -> Option<StateKind> {
        [
            StateKind::Value,
            StateKind::List,
            StateKind::Map,
            StateKind::Reducing,
            StateKind::Aggregating,
            StateKind::NamespacedValue,
        ]
        .into_iter()
        .find(|k| k.code() == code)
    }
}

impl fmt::Display for StateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StateKind::Value => "value",
            StateKind::List => "list",
            StateKind::Map => "map",
            StateKind::Reducing => "reducing",
            StateKind::Aggregating => "aggregating",
            StateKind::NamespacedValue => "namespaced value",
        })
    }
}
