//! Broadcast state (D4): maps that every subtask of an operator holds identically,
//! written only from the broadcast side of a (keyed) broadcast process function.
//!
//! Flink's rule "only the broadcast side may write" is enforced by type:
//! [`BroadcastStateStore::read`] gives a [`ReadOnlyBroadcastState`] (for the
//! non-broadcast side) and [`BroadcastStateStore::write`] a [`BroadcastState`]
//! (for the broadcast side); the runtime hands each side only the matching view.
//! Since every subtask sees the same broadcast elements, the maps stay identical as
//! long as the broadcast side updates them deterministically.
//!
//! Snapshots are [`OperatorStateSnapshot`]s whose states have the mode
//! [`DistributionMode::Broadcast`], one encoded `(key, value)` pair per element;
//! [`crate::repartition`] gives every new subtask subtask 0's copy.

use crate::descriptor::MapStateDescriptor;
use crate::error::StateError;
use crate::handle::define_handle;
use crate::names::short_type_name;
use crate::operator::{DistributionMode, NamedOperatorState, OperatorStateSnapshot};
use runnel_types::{Data, FxHashMap, Key, RecordCodec};
use std::any::{Any, TypeId};
use std::fmt;

define_handle!(
    /// A handle to a broadcast state mapping `K` to `V`. Obtained from
    /// [`BroadcastStateStore::get_broadcast_state`].
    ///
    /// ```
    /// use runnel_state::{BroadcastStateStore, MapStateDescriptor};
    ///
    /// # fn main() -> Result<(), runnel_state::StateError> {
    /// let mut store = BroadcastStateStore::new();
    /// let rules = store.get_broadcast_state(&MapStateDescriptor::<String, u32>::new("rules"))?;
    /// store.write(&rules)?.put("max".to_string(), 10); // broadcast side
    /// assert_eq!(store.read(&rules)?.get(&"max".to_string()), Some(&10)); // keyed side
    /// # Ok(())
    /// # }
    /// ```
    BroadcastStateHandle<K, V>
);

/// The broadcast states of one operator instance.
///
/// As with [`crate::OperatorStateStore`], restored states that are not
/// registered yet are kept encoded until they are.
#[derive(Default)]
pub struct BroadcastStateStore {
    states: Vec<Registered>,
    pending: Vec<NamedOperatorState>,
}

struct Registered {
    name: String,
    types: TypeId,
    describe_types: fn() -> String,
    map: Box<dyn Entries>,
}

/// A state's map, typed underneath (an `FxHashMap<K, V>`).
trait Entries: Any + Send {
    fn encode(&self, state: &str) -> Result<Vec<Vec<u8>>, StateError>;
    fn decode_extend(&mut self, state: &str, encoded: &[Vec<u8>]) -> Result<(), StateError>;
}

impl<K: Key, V: Data> Entries for FxHashMap<K, V> {
    fn encode(&self, state: &str) -> Result<Vec<Vec<u8>>, StateError> {
        self.iter()
            .map(|entry| RecordCodec::encode(&entry).map_err(|e| StateError::codec(state, e)))
            .collect()
    }

    fn decode_extend(&mut self, state: &str, encoded: &[Vec<u8>]) -> Result<(), StateError> {
        self.reserve(encoded.len());
        for bytes in encoded {
            let (k, v) =
                RecordCodec::decode::<(K, V)>(bytes).map_err(|e| StateError::codec(state, e))?;
            self.insert(k, v);
        }
        Ok(())
    }
}

fn describe<K, V>() -> String {
    format!(
        "broadcast state of {} -> {}",
        short_type_name::<K>(),
        short_type_name::<V>()
    )
}

impl BroadcastStateStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers (or finds) the broadcast state `descriptor` describes. The same
    /// name with other types is [`StateError::Incompatible`]; a TTL is
    /// [`StateError::Unsupported`].
    pub fn get_broadcast_state<K: Key, V: Data>(
        &mut self,
        descriptor: &MapStateDescriptor<K, V>,
    ) -> Result<BroadcastStateHandle<K, V>, StateError> {
        let name = descriptor.name();
        if descriptor.ttl().is_some() {
            return Err(StateError::Unsupported {
                state: name.to_string(),
                what: "TTL is only supported for keyed state".to_string(),
            });
        }
        if let Some(index) = self.states.iter().position(|s| s.name == name) {
            let s = &self.states[index];
            if s.types == TypeId::of::<(K, V)>() {
                return Ok(BroadcastStateHandle::new(index));
            }
            return Err(StateError::Incompatible {
                name: name.to_string(),
                registered: (s.describe_types)(),
                requested: describe::<K, V>(),
            });
        }
        let mut map: FxHashMap<K, V> = FxHashMap::default();
        if let Some(p) = self.pending.iter().position(|p| p.name == name) {
            map.decode_extend(name, &self.pending[p].elements)?;
            self.pending.remove(p);
        }
        self.states.push(Registered {
            name: name.to_string(),
            types: TypeId::of::<(K, V)>(),
            describe_types: describe::<K, V>,
            map: Box::new(map),
        });
        Ok(BroadcastStateHandle::new(self.states.len() - 1))
    }

    /// The read-only view of a broadcast state, for the non-broadcast side.
    pub fn read<K: Key, V: Data>(
        &self,
        handle: &BroadcastStateHandle<K, V>,
    ) -> Result<ReadOnlyBroadcastState<'_, K, V>, StateError> {
        let state = self.states.get(handle.index);
        let map = state.and_then(|s| {
            let any: &dyn Any = s.map.as_ref();
            any.downcast_ref::<FxHashMap<K, V>>()
        });
        map.map(|map| ReadOnlyBroadcastState { map })
            .ok_or_else(|| foreign::<K, V>(handle.index))
    }

    /// The writable view of a broadcast state, for the broadcast side.
    pub fn write<K: Key, V: Data>(
        &mut self,
        handle: &BroadcastStateHandle<K, V>,
    ) -> Result<BroadcastState<'_, K, V>, StateError> {
        let state = self.states.get_mut(handle.index);
        let map = state.and_then(|s| {
            let any: &mut dyn Any = s.map.as_mut();
            any.downcast_mut::<FxHashMap<K, V>>()
        });
        map.map(|map| BroadcastState { map })
            .ok_or_else(|| foreign::<K, V>(handle.index))
    }

    /// The names of the registered states, in registration order.
    pub fn state_names(&self) -> Vec<&str> {
        self.states.iter().map(|s| s.name.as_str()).collect()
    }

    /// The names of restored states waiting to be registered.
    pub fn pending_state_names(&self) -> Vec<&str> {
        self.pending.iter().map(|s| s.name.as_str()).collect()
    }

    /// Encodes every state, registered or pending.
    pub fn snapshot(&self) -> Result<OperatorStateSnapshot, StateError> {
        let mut states = Vec::with_capacity(self.states.len() + self.pending.len());
        for s in &self.states {
            states.push(NamedOperatorState {
                name: s.name.clone(),
                mode: DistributionMode::Broadcast,
                elements: s.map.encode(&s.name)?,
            });
        }
        states.extend(self.pending.iter().cloned());
        Ok(OperatorStateSnapshot { states })
    }

    /// Adds a snapshot's entries to this store: registered states decode them now,
    /// others keep them until registered. Only [`DistributionMode::Broadcast`]
    /// states are accepted.
    pub fn restore(&mut self, snapshot: OperatorStateSnapshot) -> Result<(), StateError> {
        for state in snapshot.states {
            if state.mode != DistributionMode::Broadcast {
                return Err(StateError::Unsupported {
                    state: state.name,
                    what: format!(
                        "{} state is restored into an OperatorStateStore, not a \
                         BroadcastStateStore",
                        state.mode
                    ),
                });
            }
            if let Some(s) = self.states.iter_mut().find(|s| s.name == state.name) {
                s.map.decode_extend(&state.name, &state.elements)?;
            } else if let Some(p) = self.pending.iter_mut().find(|p| p.name == state.name) {
                p.elements.extend(state.elements);
            } else {
                self.pending.push(state);
            }
        }
        Ok(())
    }
}

fn foreign<K, V>(index: usize) -> StateError {
    StateError::ForeignHandle {
        index,
        handle: describe::<K, V>(),
    }
}

impl fmt::Debug for BroadcastStateStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BroadcastStateStore")
            .field("states", &self.state_names())
            .field("pending", &self.pending_state_names())
            .finish()
    }
}

/// A broadcast state as the non-broadcast side sees it: read only.
pub struct ReadOnlyBroadcastState<'a, K, V> {
    map: &'a FxHashMap<K, V>,
}

impl<'a, K: Key, V: Data> ReadOnlyBroadcastState<'a, K, V> {
    /// The value under `key`.
    pub fn get(&self, key: &K) -> Option<&'a V> {
        self.map.get(key)
    }

    /// Whether `key` has a value.
    pub fn contains(&self, key: &K) -> bool {
        self.map.contains_key(key)
    }

    /// The entries, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a K, &'a V)> + use<'a, K, V> {
        self.map.iter()
    }

    /// Copies of the entries, in no particular order.
    pub fn entries(&self) -> Vec<(K, V)> {
        self.map
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// A broadcast state as the broadcast side sees it: readable and writable.
pub struct BroadcastState<'a, K, V> {
    map: &'a mut FxHashMap<K, V>,
}

impl<K: Key, V: Data> BroadcastState<'_, K, V> {
    /// The read-only view.
    pub fn as_read_only(&self) -> ReadOnlyBroadcastState<'_, K, V> {
        ReadOnlyBroadcastState { map: self.map }
    }

    /// The value under `key`.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key)
    }

    /// Whether `key` has a value.
    pub fn contains(&self, key: &K) -> bool {
        self.map.contains_key(key)
    }

    /// The entries, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.map.iter()
    }

    /// Copies of the entries, in no particular order.
    pub fn entries(&self) -> Vec<(K, V)> {
        self.as_read_only().entries()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Sets `key` to `value`; returns the previous value.
    pub fn put(&mut self, key: K, value: V) -> Option<V> {
        self.map.insert(key, value)
    }

    /// Removes `key`; returns its value.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        self.map.remove(key)
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.map.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repartition;

    fn rules() -> MapStateDescriptor<String, u32> {
        MapStateDescriptor::new("rules")
    }

    #[test]
    fn write_then_read() {
        let mut s = BroadcastStateStore::new();
        let h = s.get_broadcast_state(&rules()).unwrap();
        assert_eq!(s.get_broadcast_state(&rules()).unwrap(), h);
        {
            let mut w = s.write(&h).unwrap();
            assert_eq!(w.put("a".into(), 1), None);
            assert_eq!(w.put("a".into(), 2), Some(1));
            w.put("b".into(), 3);
            assert_eq!(w.remove(&"b".into()), Some(3));
            assert_eq!((w.len(), w.get(&"a".into())), (1, Some(&2)));
        }
        let r = s.read(&h).unwrap();
        assert!(r.contains(&"a".into()) && !r.contains(&"b".into()));
        assert_eq!(r.entries(), [("a".to_string(), 2)]);
        assert_eq!(r.iter().count(), 1);
        s.write(&h).unwrap().clear();
        assert!(s.read(&h).unwrap().is_empty());

        let err = s
            .get_broadcast_state(&MapStateDescriptor::<String, String>::new("rules"))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "state `rules` is registered as broadcast state of String -> u32, not broadcast \
             state of String -> String"
        );
        let other = BroadcastStateStore::new();
        assert!(matches!(
            other.read(&h),
            Err(StateError::ForeignHandle { .. })
        ));
    }

    #[test]
    fn every_new_subtask_gets_the_same_copy() {
        let old: Vec<OperatorStateSnapshot> = (0..2)
            .map(|_| {
                let mut s = BroadcastStateStore::new();
                let h = s.get_broadcast_state(&rules()).unwrap();
                let mut w = s.write(&h).unwrap();
                w.put("x".into(), 1);
                w.put("y".into(), 2);
                s.snapshot().unwrap()
            })
            .collect();
        for p in [1, 2, 3] {
            for part in repartition(&old, p) {
                let mut s = BroadcastStateStore::new();
                s.restore(part).unwrap();
                assert_eq!(s.pending_state_names(), ["rules"]);
                let h = s.get_broadcast_state(&rules()).unwrap();
                let mut entries = s.read(&h).unwrap().entries();
                entries.sort();
                assert_eq!(entries, [("x".into(), 1), ("y".into(), 2)], "p = {p}");
            }
        }
        let mut operator_store = crate::OperatorStateStore::new();
        assert!(operator_store.restore(old[0].clone()).is_err());
    }
}
