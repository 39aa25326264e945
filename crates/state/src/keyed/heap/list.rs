//! Heap list tables: one list per key, each element with its own TTL stamp.

use super::{Expiry, HeapEntry, HeapTable, Seen, Stamp};
use crate::error::StateError;
use crate::keyed::backend::ListTable;
use crate::keyed::encoding::{EntryReader, EntryWriter};
use runnel_types::{Data, Key};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// One key's list; never empty while in its map.
#[derive(Clone)]
pub(crate) struct ListEntry<V, S>(Vec<(V, S)>);

impl<V: Data, S: Stamp> HeapEntry for ListEntry<V, S> {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn remove_expired(&mut self, expiry: &Expiry, now: i64) -> usize {
        let before = self.0.len();
        self.0.retain(|(_, stamp)| !expiry.is_expired(*stamp, now));
        before - self.0.len()
    }

    fn write<K: Serialize>(
        &self,
        key: &K,
        expiry: &Expiry,
        now: i64,
        out: &mut EntryWriter<'_>,
    ) -> Result<(), StateError> {
        let kept: Vec<(&V, Option<i64>)> = self
            .0
            .iter()
            .filter(|(_, stamp)| expiry.snapshot_keeps(*stamp, now))
            .map(|(v, stamp)| (v, stamp.time()))
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
            .next::<(K, Vec<(V, Option<i64>)>)>()?
            .map(|(key, values)| {
                let list = values
                    .into_iter()
                    .map(|(v, time)| (v, S::restored(time, now)))
                    .collect();
                (key, ListEntry(list))
            }))
    }
}

impl<K: Key, V: Data, S: Stamp> HeapTable<K, ListEntry<V, S>> {
    /// Calls `f` with each element a read returns, removing expired ones.
    #[inline]
    fn visit(&mut self, group: usize, key: &K, now: i64, mut f: impl FnMut(&V)) {
        let map = &mut self.groups[group];
        let Some(list) = map.get_mut(key) else {
            return;
        };
        let mut expired = false;
        for (v, stamp) in &mut list.0 {
            match self.expiry.on_read(stamp, now) {
                Seen::Live => f(v),
                Seen::Expired { visible } => {
                    expired = true;
                    if visible {
                        f(v);
                    }
                }
            }
        }
        if expired {
            list.remove_expired(&self.expiry, now);
            if list.0.is_empty() {
                map.remove(key);
            }
        }
    }
}

impl<K: Key, V: Data, S: Stamp> ListTable<K, V> for HeapTable<K, ListEntry<V, S>> {
    fn get(&mut self, group: usize, key: &K, now: i64) -> Result<Vec<V>, StateError> {
        let mut out = Vec::new();
        self.visit(group, key, now, |v| out.push(v.clone()));
        Ok(out)
    }

    fn for_each(
        &mut self,
        group: usize,
        key: &K,
        now: i64,
        f: &mut dyn FnMut(&V),
    ) -> Result<(), StateError> {
        self.visit(group, key, now, f);
        Ok(())
    }

    fn add_all(
        &mut self,
        group: usize,
        key: &K,
        values: Vec<V>,
        now: i64,
    ) -> Result<(), StateError> {
        if values.is_empty() {
            return Ok(());
        }
        let stamped = values.into_iter().map(|v| (v, S::at(now)));
        let map = &mut self.groups[group];
        if let Some(list) = map.get_mut(key) {
            list.0.extend(stamped);
        } else {
            map.insert(key.clone(), ListEntry(stamped.collect()));
        }
        Ok(())
    }

    #[inline]
    fn add(&mut self, group: usize, key: &K, value: V, now: i64) -> Result<(), StateError> {
        let map = &mut self.groups[group];
        if let Some(list) = map.get_mut(key) {
            list.0.push((value, S::at(now)));
        } else {
            map.insert(key.clone(), ListEntry(vec![(value, S::at(now))]));
        }
        Ok(())
    }

    fn replace(
        &mut self,
        group: usize,
        key: &K,
        values: Vec<V>,
        now: i64,
    ) -> Result<(), StateError> {
        let map = &mut self.groups[group];
        if values.is_empty() {
            map.remove(key);
            return Ok(());
        }
        let stamped = values.into_iter().map(|v| (v, S::at(now)));
        if let Some(list) = map.get_mut(key) {
            list.0.clear();
            list.0.extend(stamped);
        } else {
            map.insert(key.clone(), ListEntry(stamped.collect()));
        }
        Ok(())
    }

    fn remove(&mut self, group: usize, key: &K) -> Result<(), StateError> {
        self.groups[group].remove(key);
        Ok(())
    }
}
