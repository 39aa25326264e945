//! The heap backend: typed values in one `FxHashMap` per key group and state.
//!
//! A table is a [`HeapTable`]: `groups[i]` maps the keys of key group
//! `range.start + i` to their entry — a [`value::ValueEntry`], a [`list::ListEntry`]
//! or a [`map::MapEntry`]. Values are kept as Rust values, so an access is one hash
//! lookup and no serialization; a key is cloned only when its entry is created.
//!
//! Namespaced value state is the exception: its table ([`namespaced`]) keeps one
//! flat map per key group from `(key, namespace)` to the value, without TTL.
//!
//! Invariants: an entry in a map is never empty (a value entry holds a value, a
//! list entry an element, a map entry a user key); an operation that empties an
//! entry removes it. Entries of TTL states are stamped with their last refresh time
//! (`i64` epoch ms); entries of other states carry the zero-sized [`NoStamp`], so
//! they cost no memory for TTL.

mod cow;
mod list;
mod map;
mod namespaced;
mod value;

use super::backend::{
    DetachedTable, KeyedTable, ListTable, MapTable, NamespacedValueTable, TableSpec, ValueTable,
};
use super::encoding::{EntryReader, EntryWriter};
use crate::error::StateError;
use crate::ttl::StateTtlConfig;
use runnel_types::{Data, FxHashMap, Key};
use serde::Serialize;
use serde::de::DeserializeOwned;

use cow::CowGroups;
use list::ListEntry;
use map::MapEntry;
use namespaced::NamespacedTable;
use std::ops::IndexMut;
use std::sync::Arc;
use value::ValueEntry;

/// The last-refresh time of an entry: `i64` in TTL states, [`NoStamp`] otherwise.
pub(crate) trait Stamp: Copy + Send + Sync + 'static {
    /// The stamp of an entry written at `now`.
    fn at(now: i64) -> Self;
    /// The time, if tracked.
    fn time(self) -> Option<i64>;
    /// The stamp of a restored entry that was written with `time`.
    fn restored(time: Option<i64>, now: i64) -> Self;
}

/// The stamp of a state without TTL: zero-sized.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NoStamp;

impl Stamp for NoStamp {
    #[inline]
    fn at(_now: i64) -> Self {
        NoStamp
    }
    #[inline]
    fn time(self) -> Option<i64> {
        None
    }
    #[inline]
    fn restored(_time: Option<i64>, _now: i64) -> Self {
        NoStamp
    }
}

impl Stamp for i64 {
    #[inline]
    fn at(now: i64) -> Self {
        now
    }
    #[inline]
    fn time(self) -> Option<i64> {
        Some(self)
    }
    #[inline]
    fn restored(time: Option<i64>, now: i64) -> Self {
        time.unwrap_or(now)
    }
}

/// What a read finds in a stamped entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seen {
    /// Not expired (and refreshed if the state refreshes on read).
    Live,
    /// Expired: the read removes it, and returns it only if `visible`.
    Expired {
        /// Whether the read still returns the entry.
        visible: bool,
    },
}

/// The TTL rules of one table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expiry {
    ttl: Option<StateTtlConfig>,
}

impl Expiry {
    #[inline]
    pub(crate) fn has_ttl(&self) -> bool {
        self.ttl.is_some()
    }

    #[inline]
    pub(crate) fn is_expired<S: Stamp>(&self, stamp: S, now: i64) -> bool {
        match (stamp.time(), &self.ttl) {
            (Some(t), Some(ttl)) => ttl.is_expired(t, now),
            _ => false,
        }
    }

    /// Applies a read to an entry's stamp.
    #[inline]
    pub(crate) fn on_read<S: Stamp>(&self, stamp: &mut S, now: i64) -> Seen {
        match (stamp.time(), &self.ttl) {
            (Some(t), Some(ttl)) if ttl.is_expired(t, now) => Seen::Expired {
                visible: ttl.returns_expired(),
            },
            (Some(_), Some(ttl)) => {
                if ttl.refreshes_on_read() {
                    *stamp = S::at(now);
                }
                Seen::Live
            }
            _ => Seen::Live,
        }
    }

    /// Whether an expired entry is still returned by the read that removes it.
    #[inline]
    pub(crate) fn returns_expired(&self) -> bool {
        self.ttl.is_some_and(|t| t.returns_expired())
    }

    /// Whether a snapshot keeps an entry: unless it can never be returned again.
    #[inline]
    pub(crate) fn snapshot_keeps<S: Stamp>(&self, stamp: S, now: i64) -> bool {
        self.returns_expired() || !self.is_expired(stamp, now)
    }
}

/// The incremental cleanup cursor of one TTL table (see [`crate::ttl`]).
#[derive(Debug)]
struct Sweeper {
    per_access: i64,
    cursor: usize,
    /// Entries this state may still examine; negative after cleaning a large key
    /// group, paid back by later accesses.
    budget: i64,
}

impl Sweeper {
    fn for_ttl(ttl: Option<&StateTtlConfig>) -> Option<Sweeper> {
        let per_access = ttl?.incremental_cleanup()?;
        Some(Sweeper {
            per_access: i64::try_from(per_access).unwrap_or(i64::MAX),
            cursor: 0,
            budget: 0,
        })
    }

    /// Cleans whole groups while budget is left, at most one round per step;
    /// `clean` returns the entries it examined.
    fn step<G: IndexMut<usize> + ?Sized>(
        &mut self,
        groups: &mut G,
        len: usize,
        mut clean: impl FnMut(&mut G::Output) -> usize,
    ) {
        if len == 0 {
            return;
        }
        self.budget = self.budget.saturating_add(self.per_access);
        let mut visited = 0;
        while self.budget > 0 && visited < len {
            let cost = clean(&mut groups[self.cursor]).max(1);
            self.budget -= i64::try_from(cost).unwrap_or(i64::MAX);
            self.cursor = (self.cursor + 1) % len;
            visited += 1;
        }
        // Unused budget after a full round does not pile up.
        self.budget = self.budget.min(0);
    }
}

/// An entry of a heap table: what one key holds in one state.
pub(crate) trait HeapEntry: Sized + Clone + Send + Sync + 'static {
    /// Stored values, list elements or map entries; 0 means the entry must go.
    fn len(&self) -> usize;
    /// Removes the expired parts; returns how many were removed.
    fn remove_expired(&mut self, expiry: &Expiry, now: i64) -> usize;
    /// Writes the key's entry to a snapshot, unless nothing of it is kept.
    fn write<K: Serialize>(
        &self,
        key: &K,
        expiry: &Expiry,
        now: i64,
        out: &mut EntryWriter<'_>,
    ) -> Result<(), StateError>;
    /// Reads the next key and entry written by [`HeapEntry::write`].
    fn read<K: DeserializeOwned>(
        input: &mut EntryReader<'_>,
        now: i64,
    ) -> Result<Option<(K, Self)>, StateError>;
}

/// A heap table: one map per key group of the store's range.
pub(crate) struct HeapTable<K, E> {
    name: String,
    groups: CowGroups<FxHashMap<K, E>>,
    expiry: Expiry,
    sweeper: Option<Sweeper>,
}

impl<K, E> HeapTable<K, E> {
    fn new(spec: &TableSpec<'_>) -> Self {
        HeapTable {
            name: spec.name.to_string(),
            groups: CowGroups::new(spec.range.len() as usize),
            expiry: Expiry {
                ttl: spec.ttl.copied(),
            },
            sweeper: Sweeper::for_ttl(spec.ttl),
        }
    }
}

/// Writes the entries of one key group's map (see [`KeyedTable::snapshot_key_group`]).
fn write_group<K: Serialize, E: HeapEntry>(
    name: &str,
    group: &FxHashMap<K, E>,
    expiry: &Expiry,
    now: i64,
    out: &mut Vec<u8>,
) -> Result<usize, StateError> {
    let mut writer = EntryWriter::new(name, out);
    for (key, entry) in group {
        entry.write(key, expiry, now, &mut writer)?;
    }
    Ok(writer.finish())
}

/// A heap table's key groups, shared with the table for a snapshot.
struct DetachedHeap<K, E> {
    name: String,
    groups: Vec<Arc<FxHashMap<K, E>>>,
    expiry: Expiry,
}

impl<K: Key, E: HeapEntry> DetachedTable for DetachedHeap<K, E> {
    fn snapshot_key_group(
        &self,
        group: usize,
        now: i64,
        out: &mut Vec<u8>,
    ) -> Result<usize, StateError> {
        write_group(&self.name, &self.groups[group], &self.expiry, now, out)
    }
}

/// Removes the expired parts of every entry of a key group; returns
/// `(examined, removed)`.
fn clean_group<K, E: HeapEntry>(
    group: &mut FxHashMap<K, E>,
    expiry: &Expiry,
    now: i64,
) -> (usize, usize) {
    let (mut examined, mut removed) = (0, 0);
    group.retain(|_, entry| {
        examined += entry.len();
        removed += entry.remove_expired(expiry, now);
        entry.len() > 0
    });
    (examined, removed)
}

impl<K: Key, E: HeapEntry> KeyedTable<K> for HeapTable<K, E> {
    fn entry_count(&self) -> usize {
        self.groups
            .iter()
            .flat_map(|g| g.values())
            .map(E::len)
            .sum()
    }

    fn cleanup_expired(&mut self, now: i64) -> usize {
        if !self.expiry.has_ttl() {
            return 0;
        }
        let expiry = self.expiry;
        (0..self.groups.len())
            .map(|g| clean_group(&mut self.groups[g], &expiry, now).1)
            .sum()
    }

    fn cleanup_incrementally(&mut self, now: i64) {
        let HeapTable {
            groups,
            expiry,
            sweeper,
            ..
        } = self;
        if let Some(sweeper) = sweeper {
            let len = groups.len();
            sweeper.step(groups, len, |g| clean_group(g, expiry, now).0);
        }
    }

    fn detach(&mut self) -> Option<Box<dyn DetachedTable>> {
        Some(Box::new(DetachedHeap {
            name: self.name.clone(),
            groups: self.groups.share(),
            expiry: self.expiry,
        }))
    }

    fn snapshot_key_group(
        &self,
        group: usize,
        now: i64,
        out: &mut Vec<u8>,
    ) -> Result<usize, StateError> {
        write_group(&self.name, &self.groups[group], &self.expiry, now, out)
    }

    fn restore_key_group(
        &mut self,
        group: usize,
        bytes: &[u8],
        now: i64,
    ) -> Result<(), StateError> {
        let mut reader = EntryReader::new(&self.name, bytes)?;
        let map = &mut self.groups[group];
        while let Some((key, entry)) = E::read(&mut reader, now)? {
            if entry.len() > 0 {
                map.insert(key, entry);
            }
        }
        Ok(())
    }
}

/// A heap value table for `spec`.
pub(crate) fn value_table<K: Key, V: Data>(spec: &TableSpec<'_>) -> Box<dyn ValueTable<K, V>> {
    if spec.ttl.is_some() {
        Box::new(HeapTable::<K, ValueEntry<V, i64>>::new(spec))
    } else {
        Box::new(HeapTable::<K, ValueEntry<V, NoStamp>>::new(spec))
    }
}

/// A heap list table for `spec`.
pub(crate) fn list_table<K: Key, V: Data>(spec: &TableSpec<'_>) -> Box<dyn ListTable<K, V>> {
    if spec.ttl.is_some() {
        Box::new(HeapTable::<K, ListEntry<V, i64>>::new(spec))
    } else {
        Box::new(HeapTable::<K, ListEntry<V, NoStamp>>::new(spec))
    }
}

/// A heap map table for `spec`.
pub(crate) fn map_table<K: Key, UK: Key, UV: Data>(
    spec: &TableSpec<'_>,
) -> Box<dyn MapTable<K, UK, UV>> {
    if spec.ttl.is_some() {
        Box::new(HeapTable::<K, MapEntry<UK, UV, i64>>::new(spec))
    } else {
        Box::new(HeapTable::<K, MapEntry<UK, UV, NoStamp>>::new(spec))
    }
}

/// A heap namespaced value table for `spec` (which has no TTL).
pub(crate) fn namespaced_value_table<K: Key, N: Key, V: Data>(
    spec: &TableSpec<'_>,
) -> Box<dyn NamespacedValueTable<K, N, V>> {
    Box::new(NamespacedTable::new(spec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeper_amortizes_work_over_accesses() {
        // Four groups of sizes 0, 12, 3, 0; two entries per access.
        let sizes = [0usize, 12, 3, 0];
        let mut groups = sizes.to_vec();
        let mut s = Sweeper {
            per_access: 2,
            cursor: 0,
            budget: 0,
        };
        let mut cleaned = Vec::new();
        for _ in 0..9 {
            s.step(&mut groups, sizes.len(), |g| {
                cleaned.push(*g);
                *g
            });
        }
        // Access 1 cleans group 0 (empty groups cost 1) and group 1 (cost 12): a
        // debt of 11, paid back by accesses 2-6; access 7 cleans group 2 (debt 1),
        // access 8 nothing, access 9 groups 3 and 0.
        assert_eq!(cleaned, [0, 12, 3, 0, 0]);
        assert_eq!((s.cursor, s.budget), (1, 0));
    }

    #[test]
    fn stamps_and_reads() {
        let ttl = StateTtlConfig::new(std::time::Duration::from_millis(10));
        let plain = Expiry { ttl: Some(ttl) };
        let mut s = 100i64;
        assert_eq!(plain.on_read(&mut s, 105), Seen::Live);
        assert_eq!(s, 100, "reads do not refresh by default");
        assert_eq!(plain.on_read(&mut s, 110), Seen::Expired { visible: false });
        let on_read = Expiry {
            ttl: Some(ttl.update_type(crate::UpdateType::OnReadAndWrite)),
        };
        assert_eq!(on_read.on_read(&mut s, 105), Seen::Live);
        assert_eq!(s, 105);
        let none = Expiry { ttl: None };
        assert_eq!(none.on_read(&mut NoStamp, i64::MAX), Seen::Live);
        assert_eq!(std::mem::size_of::<(u64, NoStamp)>(), 8);
    }
}
