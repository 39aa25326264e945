//! Registering keyed state: descriptors in, handles out.
//!
//! A name is registered once per store. Registering it again with the same kind,
//! types and TTL returns the same handle, so a function may register lazily on
//! every record; anything else is [`StateError::Incompatible`]. (A reducing or
//! aggregating state registered again keeps the function it was first registered
//! with.) If a restored snapshot holds entries for the name, they are restored
//! into the new state, which must be of the kind they were snapshotted as.

use super::StateKind;
use super::aggregating::{AggregatingImpl, AggregatingState};
use super::backend::TableSpec;
use super::list::ListState;
use super::map::MapState;
use super::namespaced::NamespacedValueState;
use super::reducing::ReducingState;
use super::slot::{
    AggregatingSlot, ListSlot, MapSlot, NamespacedSlot, ReducingSlot, Signature, StateSlot,
    ValueSlot,
};
use super::store::{KeyedStateStore, Registered};
use super::value::ValueState;
use crate::descriptor::{
    AggregatingStateDescriptor, ListStateDescriptor, MapStateDescriptor, ReducingStateDescriptor,
    ValueStateDescriptor,
};
use crate::error::StateError;
use crate::names::short_type_name;
use crate::ttl::StateTtlConfig;
use runnel_types::{Data, Key};
use std::sync::Arc;

impl<K: Key> KeyedStateStore<K> {
    /// Registers a value state (or finds it), returning its handle.
    pub fn get_state<T: Data>(
        &mut self,
        descriptor: &ValueStateDescriptor<T>,
    ) -> Result<ValueState<T>, StateError> {
        let signature = Signature::of::<(T,)>(StateKind::Value, short_type_name::<T>);
        self.register(descriptor.name(), signature, descriptor.ttl(), |spec| {
            ValueSlot(spec.value_table::<K, T>())
        })
        .map(ValueState::new)
    }

    /// Registers a list state (or finds it), returning its handle.
    pub fn get_list_state<T: Data>(
        &mut self,
        descriptor: &ListStateDescriptor<T>,
    ) -> Result<ListState<T>, StateError> {
        let signature = Signature::of::<(T,)>(StateKind::List, short_type_name::<T>);
        self.register(descriptor.name(), signature, descriptor.ttl(), |spec| {
            ListSlot(spec.list_table::<K, T>())
        })
        .map(ListState::new)
    }

    /// Registers a map state (or finds it), returning its handle.
    pub fn get_map_state<UK: Key, UV: Data>(
        &mut self,
        descriptor: &MapStateDescriptor<UK, UV>,
    ) -> Result<MapState<UK, UV>, StateError> {
        let signature = Signature::of::<(UK, UV)>(StateKind::Map, || {
            format!("{} -> {}", short_type_name::<UK>(), short_type_name::<UV>())
        });
        self.register(descriptor.name(), signature, descriptor.ttl(), |spec| {
            MapSlot(spec.map_table::<K, UK, UV>())
        })
        .map(MapState::new)
    }

    /// Registers a reducing state (or finds it), returning its handle.
    pub fn get_reducing_state<T: Data>(
        &mut self,
        descriptor: &ReducingStateDescriptor<T>,
    ) -> Result<ReducingState<T>, StateError> {
        let signature = Signature::of::<(T,)>(StateKind::Reducing, short_type_name::<T>);
        self.register(descriptor.name(), signature, descriptor.ttl(), |spec| {
            ReducingSlot {
                table: spec.value_table::<K, T>(),
                reduce: Arc::clone(descriptor.reduce_fn()),
            }
        })
        .map(ReducingState::new)
    }

    /// Registers an aggregating state (or finds it), returning its handle. The
    /// accumulator `ACC` is what is stored and snapshotted.
    pub fn get_aggregating_state<IN: 'static, ACC: Data, OUT: 'static>(
        &mut self,
        descriptor: &AggregatingStateDescriptor<IN, ACC, OUT>,
    ) -> Result<AggregatingState<IN, OUT>, StateError> {
        let signature = Signature::of::<(IN, ACC, OUT)>(StateKind::Aggregating, || {
            format!(
                "{} -> {} (accumulator {})",
                short_type_name::<IN>(),
                short_type_name::<OUT>(),
                short_type_name::<ACC>()
            )
        });
        self.register(descriptor.name(), signature, descriptor.ttl(), |spec| {
            AggregatingSlot(Box::new(AggregatingImpl::new(
                spec.value_table::<K, ACC>(),
                Arc::clone(descriptor.aggregate_fn()),
            )))
        })
        .map(AggregatingState::new)
    }

    /// Registers a namespaced value state (or finds it), returning its handle: one
    /// `V` per (current key, namespace `N`), as window operators keep one
    /// accumulator per (key, window). The descriptor gives the name and value type;
    /// it must have no TTL ([`StateError::Unsupported`]).
    pub fn get_namespaced_state<N: Key, V: Data>(
        &mut self,
        descriptor: &ValueStateDescriptor<V>,
    ) -> Result<NamespacedValueState<N, V>, StateError> {
        if descriptor.ttl().is_some() {
            return Err(StateError::Unsupported {
                state: descriptor.name().to_string(),
                what: "time-to-live is not supported for namespaced state".to_string(),
            });
        }
        let signature = Signature::of::<(N, V)>(StateKind::NamespacedValue, || {
            format!("{} per {}", short_type_name::<V>(), short_type_name::<N>())
        });
        self.register(descriptor.name(), signature, None, |spec| {
            NamespacedSlot(spec.namespaced_value_table::<K, N, V>())
        })
        .map(NamespacedValueState::new)
    }

    /// Finds or creates the state `name`; returns its index.
    fn register<S: StateSlot<K>>(
        &mut self,
        name: &str,
        signature: Signature,
        ttl: Option<&StateTtlConfig>,
        make: impl FnOnce(&TableSpec<'_>) -> S,
    ) -> Result<usize, StateError> {
        if let Some(index) = self.states.iter().position(|s| s.name == name) {
            let state = &self.states[index];
            if state.signature.matches(&signature) && state.ttl.as_ref() == ttl {
                return Ok(index);
            }
            return Err(StateError::Incompatible {
                name: name.to_string(),
                registered: state.describe(),
                requested: signature.describe(ttl),
            });
        }
        #[cfg(feature = "rocksdb")]
        let lsm = self.lsm_db()?;
        let spec = TableSpec {
            name,
            range: self.range,
            ttl,
            #[cfg(feature = "rocksdb")]
            lsm: lsm.as_ref(),
        };
        let mut slot = make(&spec);
        if let Some(p) = self.pending.iter().position(|p| p.name == name) {
            let pending = &self.pending[p];
            if pending.kind != signature.kind {
                return Err(StateError::RestoredIncompatible {
                    name: name.to_string(),
                    restored: format!("{} state", pending.kind),
                    requested: signature.describe(ttl),
                });
            }
            let now = (self.time)();
            for (group, bytes) in &pending.chunks {
                slot.table_mut().restore_key_group(*group, bytes, now)?;
            }
            self.pending.remove(p);
        }
        #[cfg(feature = "rocksdb")]
        if let Some(n) = self.native_unregistered.iter().position(|n| n.name == name) {
            let restored = self.native_unregistered[n].kind;
            if restored != signature.kind {
                return Err(StateError::RestoredIncompatible {
                    name: name.to_string(),
                    restored: format!("{restored} state"),
                    requested: signature.describe(ttl),
                });
            }
            self.native_unregistered.remove(n);
        }
        self.states.push(Registered {
            name: name.to_string(),
            signature,
            ttl: ttl.copied(),
            sweeps: ttl.is_some_and(|t| t.incremental_cleanup().is_some()),
            slot: Box::new(slot),
        });
        Ok(self.states.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{StateBackendKind, StateTtlConfig};
    use runnel_types::KeyGroupRange;
    use std::rc::Rc;
    use std::time::Duration;

    fn store() -> KeyedStateStore<String> {
        let range = KeyGroupRange { start: 0, end: 127 };
        KeyedStateStore::new(StateBackendKind::Heap, range, 128, Rc::new(|| 0))
    }

    #[test]
    fn same_name_same_kind_gives_the_same_handle() {
        let mut s = store();
        let d = ValueStateDescriptor::<u64>::new("count");
        let a = s.get_state(&d).unwrap();
        let b = s.get_state(&d.clone()).unwrap();
        assert_eq!(a, b);
        let l = s
            .get_list_state(&ListStateDescriptor::<u64>::new("l"))
            .unwrap();
        assert_eq!(s.get_list_state(&ListStateDescriptor::new("l")).unwrap(), l);
        assert_eq!(s.state_names(), ["count", "l"]);
        assert_eq!(s.state_kind("l"), Some(StateKind::List));
    }

    #[test]
    fn same_name_other_kind_or_type_is_incompatible() {
        let mut s = store();
        s.get_state(&ValueStateDescriptor::<u64>::new("count"))
            .unwrap();
        let ttl = StateTtlConfig::new(Duration::from_secs(1));
        // (what the second registration does, the message it must give)
        let cases: Vec<(Result<(), StateError>, &str)> = vec![
            (
                s.get_list_state(&ListStateDescriptor::<String>::new("count"))
                    .map(drop),
                "state `count` is registered as value state of u64, not list state of String",
            ),
            (
                s.get_state(&ValueStateDescriptor::<i64>::new("count"))
                    .map(drop),
                "state `count` is registered as value state of u64, not value state of i64",
            ),
            (
                s.get_map_state(&MapStateDescriptor::<String, u64>::new("count"))
                    .map(drop),
                "not map state of String -> u64",
            ),
            (
                s.get_state(&ValueStateDescriptor::<u64>::new("count").with_ttl(ttl))
                    .map(drop),
                "not value state of u64 with TTL 1000 ms, cleaning 5 entries per access",
            ),
            (
                s.get_reducing_state(&ReducingStateDescriptor::new("count", |a: u64, b| a + b))
                    .map(drop),
                "not reducing state of u64",
            ),
        ];
        for (result, message) in cases {
            let err = result.unwrap_err();
            assert!(matches!(err, StateError::Incompatible { .. }), "{err}");
            assert!(err.to_string().contains(message), "{err}");
        }
    }
}
