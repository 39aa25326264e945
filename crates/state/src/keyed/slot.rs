//! How a store holds a registered state: a typed slot behind `dyn StateSlot`.
//!
//! Each slot type wraps the typed backend table a handle needs. The store keeps
//! `Box<dyn StateSlot<K>>`; a handle downcasts it (through `Any`) to its slot type,
//! a `TypeId` compare, and calls the table. The untyped operations (snapshot,
//! cleanup, counts) go through [`StateSlot::table`].

use super::StateKind;
use super::aggregating::AggregatingTable;
use super::backend::{KeyedTable, ListTable, MapTable, NamespacedValueTable, ValueTable};
use crate::descriptor::ReduceFn;
use crate::ttl::StateTtlConfig;
use std::any::{Any, TypeId};
use std::fmt::Write;

/// A registered state's table, typed underneath.
pub(crate) trait StateSlot<K>: Any {
    /// The table's untyped operations.
    fn table(&self) -> &dyn KeyedTable<K>;
    /// The table's untyped operations, mutably.
    fn table_mut(&mut self) -> &mut dyn KeyedTable<K>;
}

/// The slot of a value state.
pub(crate) struct ValueSlot<K, V>(pub(crate) Box<dyn ValueTable<K, V>>);

/// The slot of a list state.
pub(crate) struct ListSlot<K, V>(pub(crate) Box<dyn ListTable<K, V>>);

/// The slot of a map state.
pub(crate) struct MapSlot<K, UK, UV>(pub(crate) Box<dyn MapTable<K, UK, UV>>);

/// The slot of a namespaced value state.
pub(crate) struct NamespacedSlot<K, N, V>(pub(crate) Box<dyn NamespacedValueTable<K, N, V>>);

/// The slot of a reducing state: a value table and the reduce function.
pub(crate) struct ReducingSlot<K, T> {
    pub(crate) table: Box<dyn ValueTable<K, T>>,
    pub(crate) reduce: ReduceFn<T>,
}

/// The slot of an aggregating state, its accumulator type erased.
pub(crate) struct AggregatingSlot<K, IN, OUT>(pub(crate) Box<dyn AggregatingTable<K, IN, OUT>>);

impl<K: 'static, V: 'static> StateSlot<K> for ValueSlot<K, V> {
    fn table(&self) -> &dyn KeyedTable<K> {
        self.0.as_ref()
    }
    fn table_mut(&mut self) -> &mut dyn KeyedTable<K> {
        self.0.as_mut()
    }
}

impl<K: 'static, V: 'static> StateSlot<K> for ListSlot<K, V> {
    fn table(&self) -> &dyn KeyedTable<K> {
        self.0.as_ref()
    }
    fn table_mut(&mut self) -> &mut dyn KeyedTable<K> {
        self.0.as_mut()
    }
}

impl<K: 'static, UK: 'static, UV: 'static> StateSlot<K> for MapSlot<K, UK, UV> {
    fn table(&self) -> &dyn KeyedTable<K> {
        self.0.as_ref()
    }
    fn table_mut(&mut self) -> &mut dyn KeyedTable<K> {
        self.0.as_mut()
    }
}

impl<K: 'static, N: 'static, V: 'static> StateSlot<K> for NamespacedSlot<K, N, V> {
    fn table(&self) -> &dyn KeyedTable<K> {
        self.0.as_ref()
    }
    fn table_mut(&mut self) -> &mut dyn KeyedTable<K> {
        self.0.as_mut()
    }
}

impl<K: 'static, T: 'static> StateSlot<K> for ReducingSlot<K, T> {
    fn table(&self) -> &dyn KeyedTable<K> {
        self.table.as_ref()
    }
    fn table_mut(&mut self) -> &mut dyn KeyedTable<K> {
        self.table.as_mut()
    }
}

impl<K: 'static, IN: 'static, OUT: 'static> StateSlot<K> for AggregatingSlot<K, IN, OUT> {
    fn table(&self) -> &dyn KeyedTable<K> {
        self.0.table()
    }
    fn table_mut(&mut self) -> &mut dyn KeyedTable<K> {
        self.0.table_mut()
    }
}

/// What a registration asks for: kind and types. Two registrations of one name
/// must agree on it (and on the TTL).
#[derive(Clone, Copy)]
pub(crate) struct Signature {
    pub(crate) kind: StateKind,
    types: TypeId,
    describe_types: fn() -> String,
}

impl Signature {
    /// The signature of a `kind` state whose type parameters are the tuple `T`;
    /// `describe_types` names them for messages (only called on errors).
    pub(crate) fn of<T: 'static>(kind: StateKind, describe_types: fn() -> String) -> Self {
        Signature {
            kind,
            types: TypeId::of::<T>(),
            describe_types,
        }
    }

    /// Whether kind and types agree.
    pub(crate) fn matches(&self, other: &Signature) -> bool {
        self.kind == other.kind && self.types == other.types
    }

    /// E.g. `value state of u64 with TTL 1000 ms, cleaning 5 entries per access`.
    pub(crate) fn describe(&self, ttl: Option<&StateTtlConfig>) -> String {
        let mut s = format!("{} state of {}", self.kind, (self.describe_types)());
        if let Some(ttl) = ttl {
            let _ = write!(s, " with {ttl}");
        }
        s
    }
}
