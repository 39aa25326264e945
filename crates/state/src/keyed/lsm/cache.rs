//! The write-back cache of value and namespaced value tables: recently used
//! entries, decoded, in front of RocksDB.
//!
//! An access that finds its entry in the cache neither encodes a key nor touches
//! RocksDB. A miss reads the entry once (value, or only whether it exists when the
//! access overwrites it) and keeps it, so every cached entry knows whether it is
//! present: entry counts stay exact without a read per write. Writes only mark the
//! entry dirty; dirty entries go to RocksDB in one `WriteBatch` when they are
//! evicted and whenever RocksDB must be complete (snapshots, prefix scans, TTL
//! cleanup, restores; see [`LsmTable`](super::LsmTable)). Nothing is flushed when
//! the store is dropped: its database is deleted with it.
//!
//! The cache is bounded in bytes: each entry is charged the encoded length of its
//! key and value plus a fixed overhead, against a budget shared by all tables of
//! a store (a quarter of its memory budget). A table whose access takes the total
//! over the budget evicts its own entries (second chance: entries used since the
//! last eviction pass stay once) until the total is back to three quarters of it.

use super::Base;
use crate::error::StateError;
use hashbrown::{Equivalent, HashMap};
use rocksdb::WriteBatch;
use runnel_types::FxBuildHasher;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::cell::Cell;
use std::hash::{Hash, Hasher};
use std::rc::Rc;

/// What an entry costs beyond its encoded key and value: the map slot, the
/// decoded key and value, and the hash table's spare capacity.
const OVERHEAD: usize = 96;

/// The cache budget of a store, shared by its tables.
#[derive(Debug)]
pub(crate) struct Budget {
    /// The most bytes the tables' caches may hold together.
    limit: Cell<usize>,
    /// The bytes they hold.
    used: Cell<usize>,
}

impl Budget {
    pub(crate) fn new(limit: usize) -> Rc<Budget> {
        Rc::new(Budget {
            limit: Cell::new(limit),
            used: Cell::new(0),
        })
    }

    /// Changes the limit (tests force evictions with tiny ones).
    #[cfg(test)]
    pub(crate) fn set_limit(&self, limit: usize) {
        self.limit.set(limit);
    }

    fn add(&self, bytes: usize) {
        self.used.set(self.used.get() + bytes);
    }

    fn sub(&self, bytes: usize) {
        self.used.set(self.used.get() - bytes);
    }

    fn over(&self) -> bool {
        self.used.get() > self.limit.get()
    }
}

/// One cached entry.
struct Entry<V> {
    /// The key group index, to rebuild the stored key.
    group: u32,
    /// The value; `None` when the entry is known to be absent.
    value: Option<V>,
    /// Whether RocksDB holds an entry for the key (maybe an older value).
    stored: bool,
    /// Whether RocksDB must be updated: the value differs from the stored one.
    dirty: bool,
    /// Used since the last eviction pass.
    used: bool,
    /// The encoded lengths of the stored key and of the value.
    key_len: u32,
    value_len: u32,
}

impl<V> Entry<V> {
    /// What the entry is charged.
    fn size(&self) -> usize {
        self.key_len as usize + self.value_len as usize + OVERHEAD
    }
}

/// A borrowed `(key, namespace)`: hashes like the tuple `(K, N)` and compares
/// equal to it, so lookups clone neither part.
pub(crate) struct Pair<'a, K, N>(pub(crate) &'a K, pub(crate) &'a N);

impl<K: Hash, N: Hash> Hash for Pair<'_, K, N> {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        // What `<(K, N) as Hash>::hash` does.
        self.0.hash(state);
        self.1.hash(state);
    }
}

impl<K: Eq, N: Eq> Equivalent<(K, N)> for Pair<'_, K, N> {
    #[inline]
    fn equivalent(&self, (key, namespace): &(K, N)) -> bool {
        self.0 == key && self.1 == namespace
    }
}

/// A lookup key of the cache: its cached key type `CK`, built only on a miss,
/// and its encoding after `[group][id]` (which for `(K, N)` is the encoding of
/// `K` then `N`, as the tuple's).
pub(crate) trait Lookup<CK>: Hash + Equivalent<CK> {
    fn owned(&self) -> CK;
    fn encode(&self, base: &Base, out: &mut Vec<u8>) -> Result<(), StateError>;
}

impl<K: Serialize + Hash + Eq + Clone> Lookup<K> for K {
    #[inline]
    fn owned(&self) -> K {
        self.clone()
    }

    #[inline]
    fn encode(&self, base: &Base, out: &mut Vec<u8>) -> Result<(), StateError> {
        base.append(out, self)
    }
}

impl<K, N> Lookup<(K, N)> for Pair<'_, K, N>
where
    K: Serialize + Hash + Eq + Clone,
    N: Serialize + Hash + Eq + Clone,
{
    #[inline]
    fn owned(&self) -> (K, N) {
        (self.0.clone(), self.1.clone())
    }

    #[inline]
    fn encode(&self, base: &Base, out: &mut Vec<u8>) -> Result<(), StateError> {
        base.append(out, self.0)?;
        base.append(out, self.1)
    }
}

/// What a change did to an entry's presence.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Presence {
    pub(crate) before: bool,
    pub(crate) after: bool,
}

impl Presence {
    /// Applies the change to an entry count.
    pub(crate) fn apply(self, count: &mut usize) {
        match (self.before, self.after) {
            (false, true) => *count += 1,
            (true, false) => *count -= 1,
            _ => {}
        }
    }
}

/// The cache of one table: `CK` is the cached key (`K`, or `(K, N)`), `V` the
/// value as stored (`(stamp, V)` for value tables).
pub(crate) struct Cache<CK, V> {
    map: HashMap<CK, Entry<V>, FxBuildHasher>,
    budget: Rc<Budget>,
    /// What this table's entries are charged.
    bytes: usize,
    /// How many entries are dirty.
    dirty: usize,
    /// Reused buffers for stored keys and values.
    key_buf: Vec<u8>,
    value_buf: Vec<u8>,
}

impl<CK, V> Drop for Cache<CK, V> {
    fn drop(&mut self) {
        self.budget.sub(self.bytes);
    }
}

impl<CK, V> Cache<CK, V>
where
    CK: Hash + Eq + Serialize,
    V: Serialize + DeserializeOwned,
{
    pub(crate) fn new(budget: &Rc<Budget>) -> Self {
        Cache {
            map: HashMap::with_hasher(FxBuildHasher::default()),
            budget: Rc::clone(budget),
            bytes: 0,
            dirty: 0,
            key_buf: Vec::with_capacity(64),
            value_buf: Vec::with_capacity(64),
        }
    }

    /// Builds `[group][id][key]` in `key_buf`.
    fn stored_key<Q: Lookup<CK> + ?Sized>(
        base: &Base,
        buf: &mut Vec<u8>,
        group: u32,
        q: &Q,
    ) -> Result<(), StateError> {
        buf.clear();
        base.write_prefix(buf, group as usize);
        q.encode(base, buf)
    }

    /// Calls `f` with the value of `q` in key group `group` (`None` when absent),
    /// reading it from RocksDB on a miss (only whether it exists when `blind`: `f`
    /// then sees `None` and must not read it). `f` returns its result and whether it
    /// changed the value. Returns `f`'s result and the entry's presence before and
    /// after.
    pub(crate) fn with<Q, R>(
        &mut self,
        base: &Base,
        group: usize,
        q: &Q,
        blind: bool,
        f: impl FnOnce(&mut Option<V>) -> (R, bool),
    ) -> Result<(R, Presence), StateError>
    where
        Q: Lookup<CK> + ?Sized,
    {
        let Cache {
            map,
            budget,
            bytes,
            dirty,
            key_buf,
            value_buf,
        } = self;
        let (entry, before) = match map.get_mut(q) {
            Some(e) => {
                e.used = true;
                let before = e.value.is_some();
                (e, before)
            }
            None => {
                Self::stored_key(base, key_buf, group as u32, q)?;
                let (value, stored, value_len) = if blind {
                    let stored = base.exists(key_buf)?;
                    (None, stored, 0)
                } else {
                    match base.get_pinned(key_buf)? {
                        Some(bytes) => {
                            let (v, _) = base.decode::<V>(&bytes)?;
                            (Some(v), true, bytes.len())
                        }
                        None => (None, false, 0),
                    }
                };
                let entry = Entry {
                    group: group as u32,
                    value,
                    stored,
                    dirty: false,
                    used: true,
                    key_len: key_buf.len() as u32,
                    value_len: value_len as u32,
                };
                *bytes += entry.size();
                budget.add(entry.size());
                let entry = map.entry(q.owned()).insert(entry);
                (entry.into_mut(), stored)
            }
        };
        let (result, changed) = f(&mut entry.value);
        let after = entry.value.is_some();
        if changed {
            let was_dirty = entry.dirty;
            entry.dirty = after || entry.stored;
            match (was_dirty, entry.dirty) {
                (false, true) => *dirty += 1,
                (true, false) => *dirty -= 1,
                _ => {}
            }
            // Charge the new value's encoded length.
            value_buf.clear();
            if let Some(v) = &entry.value {
                base.append(value_buf, v)?;
            }
            let old = entry.size();
            entry.value_len = u32::try_from(value_buf.len()).unwrap_or(u32::MAX);
            *bytes = *bytes + entry.size() - old;
            budget.sub(old);
            budget.add(entry.size());
            if !after && !entry.stored {
                // Removed before it reached RocksDB: nothing left to remember
                // (like the window contents that a firing takes).
                let size = entry.size();
                map.remove(q);
                *bytes -= size;
                budget.sub(size);
            }
        }
        let presence = Presence { before, after };
        if self.budget.over() {
            self.evict(base)?;
        }
        Ok((result, presence))
    }

    /// Writes every dirty entry to RocksDB; the entries stay cached.
    pub(crate) fn flush(&mut self, base: &Base) -> Result<(), StateError> {
        if self.dirty == 0 {
            return Ok(());
        }
        let mut batch = WriteBatch::default();
        for (key, entry) in &self.map {
            if entry.dirty {
                Self::write(
                    base,
                    &mut batch,
                    &mut self.key_buf,
                    &mut self.value_buf,
                    key,
                    entry,
                )?;
            }
        }
        base.write(batch)?;
        // Written removals are forgotten.
        let mut freed = 0;
        self.map.retain(|_, entry| {
            if entry.dirty {
                entry.dirty = false;
                entry.stored = entry.value.is_some();
                if !entry.stored {
                    freed += entry.size();
                    return false;
                }
            }
            true
        });
        self.bytes -= freed;
        self.budget.sub(freed);
        self.dirty = 0;
        Ok(())
    }

    /// Writes every dirty entry to RocksDB and empties the cache.
    pub(crate) fn clear(&mut self, base: &Base) -> Result<(), StateError> {
        self.flush(base)?;
        self.map.clear();
        self.budget.sub(self.bytes);
        self.bytes = 0;
        Ok(())
    }

    /// Adds the write of a dirty entry to `batch`.
    fn write(
        base: &Base,
        batch: &mut WriteBatch,
        key_buf: &mut Vec<u8>,
        value_buf: &mut Vec<u8>,
        key: &CK,
        entry: &Entry<V>,
    ) -> Result<(), StateError> {
        key_buf.clear();
        base.write_prefix(key_buf, entry.group as usize);
        base.append(key_buf, key)?;
        match &entry.value {
            Some(v) => {
                value_buf.clear();
                base.append(value_buf, v)?;
                batch.put(&key_buf[..], &value_buf[..]);
            }
            None => batch.delete(&key_buf[..]),
        }
        Ok(())
    }

    /// Evicts entries until the store's caches are back to three quarters of
    /// their budget (or this one is empty), writing the dirty ones.
    fn evict(&mut self, base: &Base) -> Result<(), StateError> {
        let target = self.budget.limit.get() / 4 * 3;
        let mut batch = WriteBatch::default();
        let mut failed = None;
        for pass in 0..2 {
            let Cache {
                map,
                budget,
                bytes,
                dirty,
                key_buf,
                value_buf,
            } = self;
            map.retain(|key, entry| {
                if budget.used.get() <= target || failed.is_some() {
                    return true;
                }
                if pass == 0 && entry.used {
                    entry.used = false;
                    return true;
                }
                if entry.dirty {
                    if let Err(e) = Self::write(base, &mut batch, key_buf, value_buf, key, entry) {
                        failed = Some(e);
                        return true;
                    }
                    *dirty -= 1;
                }
                *bytes -= entry.size();
                budget.sub(entry.size());
                false
            });
            if failed.is_some() || self.budget.used.get() <= target {
                break;
            }
        }
        base.write(batch)?;
        failed.map_or(Ok(()), Err)
    }
}

impl<CK, V> super::TableCache for Cache<CK, V>
where
    CK: Hash + Eq + Serialize + 'static,
    V: Serialize + DeserializeOwned + 'static,
{
    fn new(budget: &Rc<Budget>) -> Self {
        Cache::new(budget)
    }

    fn flush(&mut self, base: &Base) -> Result<(), StateError> {
        Cache::flush(self, base)
    }

    fn clear(&mut self, base: &Base) -> Result<(), StateError> {
        Cache::clear(self, base)
    }
}
