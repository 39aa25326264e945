//! Runnel's state: the data structures behind Flink's keyed state (D1), including
//! namespaced state (one value per key and window), state TTL (D2), operator list
//! state (D3), broadcast state (D4) and key groups (D6).
//!
//! This crate owns state *data structures* and their snapshot formats. It starts no
//! threads and does no I/O: the runtime decides when to snapshot, where the bytes
//! go and how restored bytes are found. It depends only on `runnel-types`.
//!
//! # Access model
//!
//! Every operator instance runs on one task thread, and its state lives on that
//! thread: stores are neither `Send` nor locked. A user function obtains small
//! *handles* once (typically in `open`) from a named descriptor, and passes a
//! context to every access. Handles are `Copy + Send + Sync` ids; they belong to the
//! store that issued them.
//!
//! ```
//! use runnel_state::{KeyedStateStore, StateBackendKind, ValueStateDescriptor};
//! use runnel_types::compute_key_group_range_for_operator_index;
//! use std::rc::Rc;
//!
//! # fn main() -> Result<(), runnel_state::StateError> {
//! let range = compute_key_group_range_for_operator_index(128, 1, 0);
//! let mut store = KeyedStateStore::<String>::new(StateBackendKind::Heap, range, 128, Rc::new(|| 0));
//! let count = store.get_state(&ValueStateDescriptor::<u64>::new("count"))?;
//! for word in ["a", "b", "a"] {
//!     store.set_current_key(word.to_string())?;
//!     let c = count.value(&mut store)?.unwrap_or(0);
//!     count.update(&mut store, c + 1)?;
//! }
//! store.set_current_key("a".to_string())?;
//! assert_eq!(count.value(&mut store)?, Some(2));
//! # Ok(())
//! # }
//! ```
//!
//! # Keyed state and key groups
//!
//! Keyed state is always scoped to the *current key*, which the operator sets before
//! each record or timer. Keys are partitioned into key groups
//! ([`runnel_types::assign_to_key_group`]); a [`KeyedStateStore`] holds the key
//! groups of one subtask's range, one hash map per key group and state, so a key
//! group can be snapshotted alone and restored into the store of another
//! parallelism ([`KeyedStateStore::snapshot_key_group`],
//! [`KeyedStateStore::restore_key_group`]).
//!
//! # Namespaced state
//!
//! A [`NamespacedValueState<N, V>`] holds one value per (current key, namespace):
//! Flink's internal keyed state with a namespace, in which window operators keep one
//! accumulator per (key, window). A `MapState<N, V>` could hold the same, but as a
//! map per key inside the key group's map; the namespaced state keeps one flat map
//! per key group keyed by the pair, so the per-element update is one hash lookup
//! that clones nothing, and dropping a fired window frees no per-key map. It is
//! registered from a [`ValueStateDescriptor`] with
//! [`KeyedStateStore::get_namespaced_state`], is snapshotted and rescaled by key
//! group like every keyed state, and has no TTL.
//!
//! # TTL
//!
//! A state created from a descriptor with a [`StateTtlConfig`] expires its values
//! (per value, per list element, per map entry) as Flink's `TtlUtils` do, and keeps
//! memory bounded by sweeping a few entries on every access; see [`ttl`].
//!
//! # Operator and broadcast state
//!
//! [`OperatorStateStore`] holds non-keyed list state, redistributed on rescale by
//! [`repartition`]; [`BroadcastStateStore`] holds the maps of broadcast state,
//! writable only through [`BroadcastStateStore::write`].

mod aggregate;
mod broadcast;
mod descriptor;
mod error;
mod handle;
pub mod keyed;
mod names;
mod operator;
pub mod ttl;

pub use aggregate::AggregateFunction;
pub use broadcast::{
    BroadcastState, BroadcastStateHandle, BroadcastStateStore, ReadOnlyBroadcastState,
};
pub use descriptor::{
    AggregatingStateDescriptor, ListStateDescriptor, MapStateDescriptor, ReduceFn,
    ReducingStateDescriptor, SharedAggregate, ValueStateDescriptor,
};
pub use error::StateError;
pub use keyed::{
    AggregatingState, DetachedKeyedSnapshot, KeyedStateAccess, KeyedStateStore, ListState,
    MapState, NamespacedValueState, ReducingState, StateBackendKind, StateKind, ValueState,
};
pub use operator::{
    DistributionMode, NamedOperatorState, OperatorListState, OperatorStateAccess,
    OperatorStateSnapshot, OperatorStateStore, repartition,
};
pub use ttl::{StateTtlConfig, StateVisibility, UpdateType};
