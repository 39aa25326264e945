//! Heap map tables: one map per key, each user key with its own TTL stamp.

use super::{Expiry, HeapEntry, HeapTable, Seen, Stamp};
use crate::error::StateError;
use crate::keyed::backend::MapTable;
use crate::keyed::encoding::{EntryReader, EntryWriter};
use runnel_types::{Data, FxHashMap, Key};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// One key's map; never empty while in its outer map.
#[derive(Clone)]
pub(crate) struct MapEntry<UK, UV, S>(FxHashMap<UK, (UV, S)>);

impl<UK: Key, UV: Data, S: Stamp> HeapEntry for MapEntry<UK, UV, S> {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn remove_expired(&mut self, expiry: &Expiry, now: i64) -> usize {
        let before = self.0.len();
        self.0
            .retain(|_, (_, stamp)| !expiry.is_expired(*stamp, now));
        before - self.0.len()
    }

    fn write<K: Serialize>(
        &self,
        key: &K,
        expiry: &Expiry,
        now: i64,
        out: &mut EntryWriter<'_>,
    ) -> Result<(), StateError> {
        let kept: Vec<(&UK, &UV, Option<i64>)> = self
            .0
            .iter()
            .filter(|(_, (_, stamp))| expiry.snapshot_keeps(*stamp, now))
            .map(|(uk, (uv, stamp))| (uk, uv, stamp.time()))
            .collect();
        if kept.is_empty() {
            return Ok(());
        }
        out.write(&(key, kept))
    }

    fn read<K: DeserializeOwned>(
        input: &mut EntryReader<'_>,
        now: i64,
    ) -> Result<Option<(K, Self)>, StateError> {
        Ok(input
            .next::<(K, Vec<(UK, UV, Option<i64>)>)>()?
            .map(|(key, entries)| {
                let map = entries
                    .into_iter()
                    .map(|(uk, uv, time)| (uk, (uv, S::restored(time, now))))
                    .collect();
                (key, MapEntry(map))
            }))
    }
}

impl<K: Key, UK: Key, UV: Data, S: Stamp> HeapTable<K, MapEntry<UK, UV, S>> {
    /// Reads one user key: `live` sees a live value in place, `expired` gets an
    /// expired value the read still returns (after removing it).
    #[inline]
    fn lookup<R>(
        &mut self,
        group: usize,
        key: &K,
        user_key: &UK,
        now: i64,
        live: impl FnOnce(&UV) -> R,
        expired: impl FnOnce(UV) -> R,
    ) -> Option<R> {
        let map = &mut self.groups[group];
        let entries = map.get_mut(key)?;
        let (value, stamp) = entries.0.get_mut(user_key)?;
        match self.expiry.on_read(stamp, now) {
            Seen::Live => Some(live(value)),
            Seen::Expired { visible } => {
                let (value, _) = entries.0.remove(user_key)?;
                if entries.0.is_empty() {
                    map.remove(key);
                }
                visible.then(|| expired(value))
            }
        }
    }
}

impl<K: Key, UK: Key, UV: Data, S: Stamp> MapTable<K, UK, UV>
    for HeapTable<K, MapEntry<UK, UV, S>>
{
    #[inline]
    fn get(
        &mut self,
        group: usize,
        key: &K,
        user_key: &UK,
        now: i64,
    ) -> Result<Option<UV>, StateError> {
        Ok(self.lookup(group, key, user_key, now, UV::clone, |v| v))
    }

    #[inline]
    fn contains(
        &mut self,
        group: usize,
        key: &K,
        user_key: &UK,
        now: i64,
    ) -> Result<bool, StateError> {
        Ok(self
            .lookup(group, key, user_key, now, |_| true, |_| true)
            .unwrap_or(false))
    }

    #[inline]
    fn put(
        &mut self,
        group: usize,
        key: &K,
        user_key: UK,
        value: UV,
        now: i64,
    ) -> Result<(), StateError> {
        let map = &mut self.groups[group];
        let entry = (value, S::at(now));
        if let Some(entries) = map.get_mut(key) {
            entries.0.insert(user_key, entry);
        } else {
            let mut entries = FxHashMap::default();
            entries.insert(user_key, entry);
            map.insert(key.clone(), MapEntry(entries));
        }
        Ok(())
    }

    #[inline]
    fn remove(&mut self, group: usize, key: &K, user_key: &UK) -> Result<(), StateError> {
        let map = &mut self.groups[group];
        if let Some(entries) = map.get_mut(key) {
            entries.0.remove(user_key);
            if entries.0.is_empty() {
                map.remove(key);
            }
        }
        Ok(())
    }

    #[inline]
    fn take(
        &mut self,
        group: usize,
        key: &K,
        user_key: &UK,
        now: i64,
    ) -> Result<Option<UV>, StateError> {
        let map = &mut self.groups[group];
        let Some(entries) = map.get_mut(key) else {
            return Ok(None);
        };
        let Some((value, stamp)) = entries.0.remove(user_key) else {
            return Ok(None);
        };
        if entries.0.is_empty() {
            map.remove(key);
        }
        let visible = !self.expiry.is_expired(stamp, now) || self.expiry.returns_expired();
        Ok(visible.then_some(value))
    }

    #[inline]
    fn upsert(
        &mut self,
        group: usize,
        key: &K,
        user_key: &UK,
        now: i64,
        create: &mut dyn FnMut() -> UV,
        f: &mut dyn FnMut(&mut UV),
    ) -> Result<bool, StateError> {
        let map = &mut self.groups[group];
        if let Some(entries) = map.get_mut(key) {
            if let Some((value, stamp)) = entries.0.get_mut(user_key) {
                let expired = self.expiry.is_expired(*stamp, now);
                if expired {
                    *value = create();
                }
                f(value);
                *stamp = S::at(now);
                return Ok(expired);
            }
            let mut value = create();
            f(&mut value);
            entries.0.insert(user_key.clone(), (value, S::at(now)));
        } else {
            let mut value = create();
            f(&mut value);
            let mut entries = FxHashMap::default();
            entries.insert(user_key.clone(), (value, S::at(now)));
            map.insert(key.clone(), MapEntry(entries));
        }
        Ok(true)
    }

    fn for_each(
        &mut self,
        group: usize,
        key: &K,
        now: i64,
        f: &mut dyn FnMut(&UK, &UV),
    ) -> Result<(), StateError> {
        let map = &mut self.groups[group];
        let Some(entries) = map.get_mut(key) else {
            return Ok(());
        };
        let mut expired = false;
        for (uk, (uv, stamp)) in &mut entries.0 {
            match self.expiry.on_read(stamp, now) {
                Seen::Live => f(uk, uv),
                Seen::Expired { visible } => {
                    expired = true;
                    if visible {
                        f(uk, uv);
                    }
                }
            }
        }
        if expired {
            entries.remove_expired(&self.expiry, now);
            if entries.0.is_empty() {
                map.remove(key);
            }
        }
        Ok(())
    }

    fn is_empty(&mut self, group: usize, key: &K, now: i64) -> Result<bool, StateError> {
        let map = &mut self.groups[group];
        let Some(entries) = map.get_mut(key) else {
            return Ok(true);
        };
        if !self.expiry.has_ttl() {
            return Ok(entries.0.is_empty());
        }
        // Like a read of every entry, without refreshing: expired entries go, and
        // count as present only if reads still return them.
        let live = entries
            .0
            .values()
            .any(|(_, stamp)| !self.expiry.is_expired(*stamp, now));
        let removed = entries.remove_expired(&self.expiry, now);
        if entries.0.is_empty() {
            map.remove(key);
        }
        Ok(!(live || (removed > 0 && self.expiry.returns_expired())))
    }

    fn clear(&mut self, group: usize, key: &K) -> Result<(), StateError> {
        self.groups[group].remove(key);
        Ok(())
    }
}
