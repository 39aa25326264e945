//! Heap value tables: one value per key (value, reducing and aggregating state).

use super::{Expiry, HeapEntry, HeapTable, Seen, Stamp};
use crate::error::StateError;
use crate::keyed::backend::ValueTable;
use crate::keyed::encoding::{EntryReader, EntryWriter};
use runnel_types::{Data, Key};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// One key's value. `value` is `Some` while the entry is in its map; it is an
/// `Option` so that [`ValueTable::update_in_place`] can lend it out in place.
#[derive(Clone)]
pub(crate) struct ValueEntry<V, S> {
    value: Option<V>,
    stamp: S,
}

impl<V: Data, S: Stamp> HeapEntry for ValueEntry<V, S> {
    fn len(&self) -> usize {
        usize::from(self.value.is_some())
    }

    fn remove_expired(&mut self, expiry: &Expiry, now: i64) -> usize {
        if self.value.is_some() && expiry.is_expired(self.stamp, now) {
            self.value = None;
            1
        } else {
            0
        }
    }

    fn write<K: Serialize>(
        &self,
        key: &K,
        expiry: &Expiry,
        now: i64,
        out: &mut EntryWriter<'_>,
    ) -> Result<(), StateError> {
        match &self.value {
            Some(value) if expiry.snapshot_keeps(self.stamp, now) => {
                out.write(&(key, value, self.stamp.time()))
            }
            _ => Ok(()),
        }
    }

    fn read<K: DeserializeOwned>(
        input: &mut EntryReader<'_>,
        now: i64,
    ) -> Result<Option<(K, Self)>, StateError> {
        Ok(input
            .next::<(K, V, Option<i64>)>()?
            .map(|(key, value, time)| {
                let entry = ValueEntry {
                    value: Some(value),
                    stamp: S::restored(time, now),
                };
                (key, entry)
            }))
    }
}

impl<K: Key, V: Data, S: Stamp> ValueTable<K, V> for HeapTable<K, ValueEntry<V, S>> {
    #[inline]
    fn get(&mut self, group: usize, key: &K, now: i64) -> Result<Option<V>, StateError> {
        let map = &mut self.groups[group];
        let Some(entry) = map.get_mut(key) else {
            return Ok(None);
        };
        match self.expiry.on_read(&mut entry.stamp, now) {
            Seen::Live => Ok(entry.value.clone()),
            Seen::Expired { visible } => {
                let old = map.remove(key).and_then(|e| e.value);
                Ok(old.filter(|_| visible))
            }
        }
    }

    fn read(
        &mut self,
        group: usize,
        key: &K,
        now: i64,
        f: &mut dyn FnMut(&V),
    ) -> Result<bool, StateError> {
        let map = &mut self.groups[group];
        let Some(entry) = map.get_mut(key) else {
            return Ok(false);
        };
        match self.expiry.on_read(&mut entry.stamp, now) {
            Seen::Live => {
                if let Some(v) = &entry.value {
                    f(v);
                }
                Ok(entry.value.is_some())
            }
            Seen::Expired { visible } => match map.remove(key).and_then(|e| e.value) {
                Some(v) if visible => {
                    f(&v);
                    Ok(true)
                }
                _ => Ok(false),
            },
        }
    }

    #[inline]
    fn put(&mut self, group: usize, key: &K, value: V, now: i64) -> Result<(), StateError> {
        let map = &mut self.groups[group];
        let entry = ValueEntry {
            value: Some(value),
            stamp: S::at(now),
        };
        if let Some(slot) = map.get_mut(key) {
            *slot = entry;
        } else {
            map.insert(key.clone(), entry);
        }
        Ok(())
    }

    #[inline]
    fn remove(&mut self, group: usize, key: &K) -> Result<(), StateError> {
        self.groups[group].remove(key);
        Ok(())
    }

    #[inline]
    fn update_in_place(
        &mut self,
        group: usize,
        key: &K,
        now: i64,
        f: &mut dyn FnMut(&mut Option<V>),
    ) -> Result<(), StateError> {
        let map = &mut self.groups[group];
        if let Some(entry) = map.get_mut(key) {
            if let Seen::Expired { visible: false } = self.expiry.on_read(&mut entry.stamp, now) {
                entry.value = None;
            }
            f(&mut entry.value);
            if entry.value.is_some() {
                entry.stamp = S::at(now);
            } else {
                map.remove(key);
            }
        } else {
            let mut value = None;
            f(&mut value);
            if value.is_some() {
                let stamp = S::at(now);
                map.insert(key.clone(), ValueEntry { value, stamp });
            }
        }
        Ok(())
    }
}
