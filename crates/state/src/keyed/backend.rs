//! The interface between keyed state handles and the tables that store them.
//!
//! A [`KeyedStateStore`](crate::KeyedStateStore) keeps one table per registered
//! state. Handles reach a table through an object-safe, typed trait —
//! [`ValueTable`], [`ListTable`], [`MapTable`] or [`NamespacedValueTable`] — so a
//! backend implements these four traits (plus [`KeyedTable`], the untyped
//! operations every table has) and nothing else. Reducing and aggregating state are
//! value tables of their accumulator.
//!
//! Every access names the key group by its *index in the store's range* (key group
//! − range start), the key, and `now`: the processing time in epoch ms when the
//! state has a TTL (0 otherwise). A table applies the TTL rules of [`crate::ttl`]
//! itself, so on-disk backends may store timestamps their own way.
//!
//! The heap backend ([`StateBackendKind::Heap`]) keeps typed Rust values: no
//! serialization on access. With the `rocksdb` feature, `StateBackendKind::Lsm`
//! keeps them serialized in an embedded RocksDB instance on local disk.

use crate::error::StateError;
use crate::ttl::StateTtlConfig;
use runnel_types::{Data, Key, KeyGroupRange};

/// Where keyed state lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum StateBackendKind {
    /// Typed values in per-key-group hash maps on the heap (the default).
    #[default]
    Heap,
    /// Serialized entries in an embedded RocksDB instance on local disk, one per
    /// store, so keyed state can exceed memory (feature `rocksdb`).
    #[cfg(feature = "rocksdb")]
    Lsm(super::LsmOptions),
}

/// A table's contents as of a snapshot, written out later on another thread
/// while the table goes on changing (see [`KeyedTable::detach`]).
pub trait DetachedTable: Send {
    /// As [`KeyedTable::snapshot_key_group`], over the contents at the time of
    /// the detach.
    fn snapshot_key_group(
        &self,
        group: usize,
        now: i64,
        out: &mut Vec<u8>,
    ) -> Result<usize, StateError>;
}

/// Operations every keyed table has, whatever it stores.
pub trait KeyedTable<K>: 'static {
    /// The contents as of now, for an asynchronous snapshot, without copying
    /// them (the heap tables share their key groups copy-on-write). `None` (the
    /// default): the table is snapshotted synchronously.
    fn detach(&mut self) -> Option<Box<dyn DetachedTable>> {
        None
    }

    /// Stored entries: values, list elements or map entries, including expired
    /// ones that were not removed yet.
    fn entry_count(&self) -> usize;

    /// Removes every entry expired at `now`; returns how many were removed. A
    /// no-op without TTL.
    fn cleanup_expired(&mut self, now: i64) -> usize;

    /// The incremental cleanup step run on each access to a TTL state (see
    /// [`crate::ttl`]).
    fn cleanup_incrementally(&mut self, now: i64);

    /// Writes what the table caches to its backend's store (before the store's
    /// own files are snapshotted). A no-op by default.
    fn flush(&mut self) -> Result<(), StateError> {
        Ok(())
    }

    /// Appends the entries of key group `group` (an index into the range) to
    /// `out`: a count, then the entries encoded with `RecordCodec` (the format is
    /// documented in the crate's `keyed/encoding.rs`); returns the number of keys
    /// written. Entries that can never be returned again are left out.
    fn snapshot_key_group(
        &self,
        group: usize,
        now: i64,
        out: &mut Vec<u8>,
    ) -> Result<usize, StateError>;

    /// Adds the entries written by [`KeyedTable::snapshot_key_group`] to key group
    /// `group`, replacing entries of the same key. Entries restored into a TTL
    /// state from a state without TTL are stamped with `now`.
    fn restore_key_group(&mut self, group: usize, bytes: &[u8], now: i64)
    -> Result<(), StateError>;
}

/// A table of one value per key.
pub trait ValueTable<K, V>: KeyedTable<K> {
    /// A copy of the key's value.
    fn get(&mut self, group: usize, key: &K, now: i64) -> Result<Option<V>, StateError>;

    /// Calls `f` with the key's value if it has one; returns whether it did.
    fn read(
        &mut self,
        group: usize,
        key: &K,
        now: i64,
        f: &mut dyn FnMut(&V),
    ) -> Result<bool, StateError>;

    /// Sets the key's value.
    fn put(&mut self, group: usize, key: &K, value: V, now: i64) -> Result<(), StateError>;

    /// Removes the key's value.
    fn remove(&mut self, group: usize, key: &K) -> Result<(), StateError>;

    /// Calls `f` exactly once with the key's value in place (`None` when unset);
    /// `None` after `f` removes the value, `Some` stores it and counts as a write.
    fn update_in_place(
        &mut self,
        group: usize,
        key: &K,
        now: i64,
        f: &mut dyn FnMut(&mut Option<V>),
    ) -> Result<(), StateError>;
}

/// A table of one list per key.
pub trait ListTable<K, V>: KeyedTable<K> {
    /// Copies of the key's elements, in order (empty when unset).
    fn get(&mut self, group: usize, key: &K, now: i64) -> Result<Vec<V>, StateError>;

    /// Calls `f` with each of the key's elements, in order.
    fn for_each(
        &mut self,
        group: usize,
        key: &K,
        now: i64,
        f: &mut dyn FnMut(&V),
    ) -> Result<(), StateError>;

    /// Appends `values` to the key's list.
    fn add_all(
        &mut self,
        group: usize,
        key: &K,
        values: Vec<V>,
        now: i64,
    ) -> Result<(), StateError>;

    /// Appends one value to the key's list.
    fn add(&mut self, group: usize, key: &K, value: V, now: i64) -> Result<(), StateError>;

    /// Replaces the key's list; an empty `values` removes it.
    fn replace(
        &mut self,
        group: usize,
        key: &K,
        values: Vec<V>,
        now: i64,
    ) -> Result<(), StateError>;

    /// Removes the key's list.
    fn remove(&mut self, group: usize, key: &K) -> Result<(), StateError>;
}

/// A table of one map per key.
pub trait MapTable<K, UK, UV>: KeyedTable<K> {
    /// A copy of the value under `user_key` in the key's map.
    fn get(
        &mut self,
        group: usize,
        key: &K,
        user_key: &UK,
        now: i64,
    ) -> Result<Option<UV>, StateError>;

    /// Whether the key's map has `user_key`.
    fn contains(
        &mut self,
        group: usize,
        key: &K,
        user_key: &UK,
        now: i64,
    ) -> Result<bool, StateError>;

    /// Sets `user_key` to `value` in the key's map.
    fn put(
        &mut self,
        group: usize,
        key: &K,
        user_key: UK,
        value: UV,
        now: i64,
    ) -> Result<(), StateError>;

    /// Removes `user_key` from the key's map.
    fn remove(&mut self, group: usize, key: &K, user_key: &UK) -> Result<(), StateError>;

    /// Removes `user_key` from the key's map and returns its value, if live (or
    /// expired and still visible).
    fn take(
        &mut self,
        group: usize,
        key: &K,
        user_key: &UK,
        now: i64,
    ) -> Result<Option<UV>, StateError>;

    /// Calls `f` with the value under `user_key` in place, first setting it to
    /// `create()` when absent (or expired); counts as a write. Returns whether the
    /// entry was created. `user_key` is cloned only when an entry is created.
    fn upsert(
        &mut self,
        group: usize,
        key: &K,
        user_key: &UK,
        now: i64,
        create: &mut dyn FnMut() -> UV,
        f: &mut dyn FnMut(&mut UV),
    ) -> Result<bool, StateError>;

    /// Calls `f` with each entry of the key's map (in no particular order).
    fn for_each(
        &mut self,
        group: usize,
        key: &K,
        now: i64,
        f: &mut dyn FnMut(&UK, &UV),
    ) -> Result<(), StateError>;

    /// Whether the key's map has no entry.
    fn is_empty(&mut self, group: usize, key: &K, now: i64) -> Result<bool, StateError>;

    /// Removes the key's map.
    fn clear(&mut self, group: usize, key: &K) -> Result<(), StateError>;
}

/// A table of one value per (key, namespace): the internal keyed state of window
/// operators, which keep one accumulator per (key, window).
///
/// Unlike a [`MapTable`], whose map belongs to the key, a namespaced table is keyed
/// by the pair: a backend can keep one flat index per key group, so an access is one
/// lookup of `(key, namespace)`. Namespaced state has no TTL, so the operations take
/// no `now`.
pub trait NamespacedValueTable<K, N, V>: KeyedTable<K> {
    /// A copy of the value of (`key`, `namespace`).
    fn get(&mut self, group: usize, key: &K, namespace: &N) -> Result<Option<V>, StateError>;

    /// Whether (`key`, `namespace`) has a value.
    fn contains(&mut self, group: usize, key: &K, namespace: &N) -> Result<bool, StateError>;

    /// Sets the value of (`key`, `namespace`).
    fn put(&mut self, group: usize, key: &K, namespace: N, value: V) -> Result<(), StateError>;

    /// Removes the value of (`key`, `namespace`) and returns it.
    fn take(&mut self, group: usize, key: &K, namespace: &N) -> Result<Option<V>, StateError>;

    /// Removes the value of (`key`, `namespace`).
    fn remove(&mut self, group: usize, key: &K, namespace: &N) -> Result<(), StateError>;

    /// Calls `f` with the value of (`key`, `namespace`) in place, first setting it
    /// to `create()` when absent. Returns whether the entry was created. `key` and
    /// `namespace` are cloned only when an entry is created.
    fn upsert(
        &mut self,
        group: usize,
        key: &K,
        namespace: &N,
        create: &mut dyn FnMut() -> V,
        f: &mut dyn FnMut(&mut V),
    ) -> Result<bool, StateError>;

    /// Calls `f` exactly once with the value of (`key`, `namespace`) in place
    /// (`None` when unset); `None` after `f` removes the value, `Some` stores it.
    fn update_in_place(
        &mut self,
        group: usize,
        key: &K,
        namespace: &N,
        f: &mut dyn FnMut(&mut Option<V>),
    ) -> Result<(), StateError>;

    /// Calls `f` with each namespace of `key` and its value (in no particular
    /// order). May cost a pass over the key group.
    fn for_each(
        &mut self,
        group: usize,
        key: &K,
        f: &mut dyn FnMut(&N, &V),
    ) -> Result<(), StateError>;
}

/// What a backend needs to create a table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TableSpec<'a> {
    pub(crate) name: &'a str,
    pub(crate) range: KeyGroupRange,
    pub(crate) ttl: Option<&'a StateTtlConfig>,
    /// The store's database on the LSM backend; `None` on the heap backend.
    #[cfg(feature = "rocksdb")]
    pub(crate) lsm: Option<&'a std::rc::Rc<super::lsm::LsmDb>>,
}

impl TableSpec<'_> {
    pub(crate) fn value_table<K: Key, V: Data>(&self) -> Box<dyn ValueTable<K, V>> {
        #[cfg(feature = "rocksdb")]
        if let Some(db) = self.lsm {
            return super::lsm::value_table(self, db);
        }
        super::heap::value_table(self)
    }

    pub(crate) fn list_table<K: Key, V: Data>(&self) -> Box<dyn ListTable<K, V>> {
        #[cfg(feature = "rocksdb")]
        if let Some(db) = self.lsm {
            return super::lsm::list_table(self, db);
        }
        super::heap::list_table(self)
    }

    pub(crate) fn map_table<K: Key, UK: Key, UV: Data>(&self) -> Box<dyn MapTable<K, UK, UV>> {
        #[cfg(feature = "rocksdb")]
        if let Some(db) = self.lsm {
            return super::lsm::map_table(self, db);
        }
        super::heap::map_table(self)
    }

    pub(crate) fn namespaced_value_table<K: Key, N: Key, V: Data>(
        &self,
    ) -> Box<dyn NamespacedValueTable<K, N, V>> {
        #[cfg(feature = "rocksdb")]
        if let Some(db) = self.lsm {
            return super::lsm::namespaced_value_table(self, db);
        }
        super::heap::namespaced_value_table(self)
    }
}
