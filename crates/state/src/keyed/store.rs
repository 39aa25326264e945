//! The keyed state store of one operator instance.

use super::StateKind;
use super::backend::StateBackendKind;
use super::slot::{Signature, StateSlot};
use crate::error::StateError;
use crate::ttl::StateTtlConfig;
use runnel_types::{Key, KeyGroup, KeyGroupAssigner, KeyGroupRange, MAX_PARALLELISM_UPPER_BOUND};
use std::any::Any;
use std::fmt;
use std::rc::Rc;

/// The keyed state of one operator instance: every registered state, for the key
/// groups of the instance's range, and the current key.
///
/// Not `Send`: the store lives on its task's thread. See the [crate docs](crate)
/// for the access model.
pub struct KeyedStateStore<K: Key> {
    pub(super) backend: StateBackendKind,
    pub(super) range: KeyGroupRange,
    max_parallelism: u32,
    assigner: KeyGroupAssigner,
    pub(super) time: Rc<dyn Fn() -> i64>,
    current: Option<CurrentKey<K>>,
    pub(super) states: Vec<Registered<K>>,
    /// Restored states that are not registered yet (see [`Pending`]).
    pub(super) pending: Vec<Pending>,
    /// The database of the LSM backend, opened when the first state registers.
    #[cfg(feature = "rocksdb")]
    pub(super) lsm: Option<Rc<super::lsm::LsmDb>>,
    /// States restored from the LSM backend's own files that are not
    /// registered yet (their entries are in the database).
    #[cfg(feature = "rocksdb")]
    pub(super) native_unregistered: Vec<super::lsm::NativeStateMeta>,
}

/// The current key and where its entries live.
struct CurrentKey<K> {
    key: K,
    group: KeyGroup,
    /// `group` − range start.
    index: usize,
}

/// A registered state.
pub(super) struct Registered<K> {
    pub(super) name: String,
    pub(super) signature: Signature,
    pub(super) ttl: Option<StateTtlConfig>,
    /// Whether accesses run the incremental TTL cleanup.
    pub(super) sweeps: bool,
    pub(super) slot: Box<dyn StateSlot<K>>,
}

impl<K> Registered<K> {
    pub(super) fn describe(&self) -> String {
        self.signature.describe(self.ttl.as_ref())
    }
}

/// The restored entries of a state nobody registered yet: kept as snapshot bytes,
/// included in snapshots, and restored into the state when it is registered.
#[derive(Clone)]
pub(super) struct Pending {
    pub(super) name: String,
    pub(super) kind: StateKind,
    /// (key group index, entries in the format of `encoding.rs`).
    pub(super) chunks: Vec<(usize, Vec<u8>)>,
}

/// What a handle gets for one access: its table and the current key.
pub(crate) struct Access<'a, K, S> {
    pub(crate) slot: &'a mut S,
    /// The current key's group, as an index into the range.
    pub(crate) group: usize,
    pub(crate) key: &'a K,
    /// Processing time if the state has a TTL, else 0.
    pub(crate) now: i64,
}

impl<K: Key> KeyedStateStore<K> {
    /// A store for the key groups `key_groups` of a job with `max_parallelism`
    /// key groups. `time` returns the processing time in epoch ms; it is read on
    /// accesses to TTL states only.
    ///
    /// # Panics
    ///
    /// If `max_parallelism` is 0 or above [`MAX_PARALLELISM_UPPER_BOUND`], or the
    /// range does not fit in it: these are plan errors, rejected before a store is
    /// built.
    pub fn new(
        backend: StateBackendKind,
        key_groups: KeyGroupRange,
        max_parallelism: u32,
        time: Rc<dyn Fn() -> i64>,
    ) -> Self {
        assert!(
            (1..=MAX_PARALLELISM_UPPER_BOUND).contains(&max_parallelism),
            "max parallelism {max_parallelism} is not in 1..={MAX_PARALLELISM_UPPER_BOUND}"
        );
        assert!(
            key_groups.is_empty() || key_groups.end < max_parallelism,
            "key groups {key_groups} do not fit in max parallelism {max_parallelism}"
        );
        KeyedStateStore {
            backend,
            range: key_groups,
            max_parallelism,
            assigner: KeyGroupAssigner::new(max_parallelism),
            time,
            current: None,
            states: Vec::new(),
            pending: Vec::new(),
            #[cfg(feature = "rocksdb")]
            lsm: None,
            #[cfg(feature = "rocksdb")]
            native_unregistered: Vec::new(),
        }
    }

    /// The LSM backend's database (opened on first use), or `None` on the heap
    /// backend.
    #[cfg(feature = "rocksdb")]
    pub(super) fn lsm_db(&mut self) -> Result<Option<Rc<super::lsm::LsmDb>>, StateError> {
        let StateBackendKind::Lsm(options) = self.backend else {
            return Ok(None);
        };
        if self.lsm.is_none() {
            self.lsm = Some(Rc::new(super::lsm::LsmDb::open(&options)?));
        }
        Ok(self.lsm.clone())
    }

    /// Makes `key` the key that every access is scoped to.
    ///
    /// Fails with [`StateError::KeyOutOfRange`] when the key's group is not in
    /// this store's range; the store then has no current key.
    #[inline]
    pub fn set_current_key(&mut self, key: K) -> Result<(), StateError> {
        let group = self.assigner.key_group(&key);
        if !self.range.contains(group) {
            self.current = None;
            return Err(StateError::KeyOutOfRange {
                key_group: group,
                range: self.range,
            });
        }
        let index = (u32::from(group.0) - self.range.start) as usize;
        self.current = Some(CurrentKey { key, group, index });
        Ok(())
    }

    /// Unsets the current key: accesses fail until a key is set again.
    pub fn clear_current_key(&mut self) {
        self.current = None;
    }

    /// The current key.
    pub fn current_key(&self) -> Option<&K> {
        self.current.as_ref().map(|c| &c.key)
    }

    /// The key group of the current key.
    pub fn current_key_group(&self) -> Option<KeyGroup> {
        self.current.as_ref().map(|c| c.group)
    }

    /// The key groups this store holds.
    pub fn key_group_range(&self) -> KeyGroupRange {
        self.range
    }

    /// The number of key groups of the job.
    pub fn max_parallelism(&self) -> u32 {
        self.max_parallelism
    }

    /// The backend the tables live in.
    pub fn backend(&self) -> StateBackendKind {
        self.backend
    }

    /// The names of the registered states, in registration order.
    pub fn state_names(&self) -> Vec<&str> {
        self.states.iter().map(|s| s.name.as_str()).collect()
    }

    /// The kind of the registered state `name`.
    pub fn state_kind(&self, name: &str) -> Option<StateKind> {
        self.find(name).map(|s| s.signature.kind)
    }

    /// The names of restored states that are waiting to be registered.
    pub fn pending_state_names(&self) -> Vec<&str> {
        self.pending.iter().map(|p| p.name.as_str()).collect()
    }

    /// The number of entries stored in state `name` over all keys (values, list
    /// elements or map entries, including expired ones not removed yet), or `None`
    /// if no such state is registered.
    pub fn entry_count(&self, name: &str) -> Option<usize> {
        self.find(name).map(|s| s.slot.table().entry_count())
    }

    /// The number of entries stored in all states.
    pub fn total_entry_count(&self) -> usize {
        self.states
            .iter()
            .map(|s| s.slot.table().entry_count())
            .sum()
    }

    /// Removes every entry of every TTL state that is expired now; returns how
    /// many were removed. Costs a pass over all TTL state.
    pub fn cleanup_expired(&mut self) -> usize {
        if self.states.iter().all(|s| s.ttl.is_none()) {
            return 0;
        }
        let now = (self.time)();
        self.states
            .iter_mut()
            .filter(|s| s.ttl.is_some())
            .map(|s| s.slot.table_mut().cleanup_expired(now))
            .sum()
    }

    fn find(&self, name: &str) -> Option<&Registered<K>> {
        self.states.iter().find(|s| s.name == name)
    }

    /// The table of state `index`, which must be an `S`, with the current key.
    #[inline]
    pub(crate) fn access<S: StateSlot<K>>(
        &mut self,
        index: usize,
        handle: fn() -> String,
    ) -> Result<Access<'_, K, S>, StateError> {
        let Some(state) = self.states.get_mut(index) else {
            return Err(StateError::ForeignHandle {
                index,
                handle: handle(),
            });
        };
        let Some(current) = &self.current else {
            return Err(StateError::NoCurrentKey {
                state: state.name.clone(),
            });
        };
        let now = if state.ttl.is_some() {
            (self.time)()
        } else {
            0
        };
        if state.sweeps {
            state.slot.table_mut().cleanup_incrementally(now);
        }
        let slot: &mut dyn Any = state.slot.as_mut();
        let Some(slot) = slot.downcast_mut::<S>() else {
            return Err(StateError::ForeignHandle {
                index,
                handle: handle(),
            });
        };
        Ok(Access {
            slot,
            group: current.index,
            key: &current.key,
            now,
        })
    }
}

impl<K: Key + fmt::Debug> fmt::Debug for KeyedStateStore<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedStateStore")
            .field("backend", &self.backend)
            .field("key_groups", &self.range)
            .field("max_parallelism", &self.max_parallelism)
            .field("current_key", &self.current_key())
            .field("states", &self.state_names())
            .field("pending", &self.pending_state_names())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ValueStateDescriptor;
    use runnel_types::assign_to_key_group;
    use runnel_types::compute_key_group_range_for_operator_index;

    fn store(parallelism: u32, index: u32) -> KeyedStateStore<u64> {
        let range = compute_key_group_range_for_operator_index(128, parallelism, index);
        KeyedStateStore::new(StateBackendKind::Heap, range, 128, Rc::new(|| 0))
    }

    #[test]
    fn current_key_and_its_group() {
        let mut s = store(1, 0);
        assert_eq!((s.current_key(), s.current_key_group()), (None, None));
        s.set_current_key(42).unwrap();
        assert_eq!(s.current_key(), Some(&42));
        assert_eq!(
            s.current_key_group(),
            Some(assign_to_key_group(&42u64, 128))
        );
        s.clear_current_key();
        assert_eq!(s.current_key(), None);
    }

    #[test]
    fn keys_of_other_subtasks_are_rejected() {
        let mut s = store(2, 0);
        let foreign = (0u64..)
            .find(|k| !s.key_group_range().contains(assign_to_key_group(k, 128)))
            .unwrap();
        s.set_current_key(0).ok();
        let err = s.set_current_key(foreign).unwrap_err();
        assert!(matches!(err, StateError::KeyOutOfRange { .. }), "{err}");
        assert!(err.to_string().contains("wrong subtask"), "{err}");
        assert_eq!(
            s.current_key(),
            None,
            "a rejected key unsets the current key"
        );
    }

    #[test]
    fn access_without_a_key_names_the_state() {
        let mut s = store(1, 0);
        let count = s
            .get_state(&ValueStateDescriptor::<u64>::new("count"))
            .unwrap();
        let err = count.value(&mut s).unwrap_err();
        assert!(matches!(err, StateError::NoCurrentKey { .. }));
        assert!(err.to_string().contains("`count`"), "{err}");
    }

    #[test]
    fn handles_of_another_store_are_rejected() {
        let mut a = store(1, 0);
        let mut b = store(1, 0);
        let in_a = a.get_state(&ValueStateDescriptor::<u64>::new("x")).unwrap();
        b.set_current_key(1).unwrap();
        let err = in_a.value(&mut b).unwrap_err();
        assert!(matches!(err, StateError::ForeignHandle { .. }), "{err}");
        b.get_state(&ValueStateDescriptor::<String>::new("y"))
            .unwrap();
        let err = in_a.value(&mut b).unwrap_err();
        assert!(err.to_string().contains("value state of u64"), "{err}");
    }

    #[test]
    #[should_panic(expected = "max parallelism")]
    fn zero_max_parallelism_is_a_bug() {
        let range = KeyGroupRange { start: 0, end: 0 };
        let _ = KeyedStateStore::<u64>::new(StateBackendKind::Heap, range, 0, Rc::new(|| 0));
    }
}
