//! Heap namespaced value tables: per key group one flat `hashbrown` map from
//! `(key, namespace)` to the value.
//!
//! One flat map (rather than a map per key, as map state keeps) makes an access
//! one hash lookup of the pair, and removing a namespace never frees or allocates a
//! per-key map. Lookups hash and compare a borrowed [`Pair`] against the stored
//! `(K, N)` tuples, so neither the key nor the namespace is cloned unless an entry
//! is created.

use super::super::backend::{DetachedTable, KeyedTable, NamespacedValueTable, TableSpec};
use super::super::encoding::{EntryReader, EntryWriter};
use super::cow::CowGroups;
use crate::error::StateError;
use hashbrown::hash_map::EntryRef;
use hashbrown::{Equivalent, HashMap};
use runnel_types::{Data, FxBuildHasher, Key};
use std::hash::{Hash, Hasher};

/// The entries of one key group.
type Group<K, N, V> = HashMap<(K, N), V, FxBuildHasher>;

/// A heap namespaced value table: one flat map per key group of the store's range.
pub(crate) struct NamespacedTable<K, N, V> {
    name: String,
    groups: CowGroups<Group<K, N, V>>,
}

impl<K, N, V> NamespacedTable<K, N, V> {
    pub(crate) fn new(spec: &TableSpec<'_>) -> Self {
        debug_assert!(
            spec.ttl.is_none(),
            "namespaced state is registered without TTL"
        );
        NamespacedTable {
            name: spec.name.to_string(),
            groups: CowGroups::new(spec.range.len() as usize),
        }
    }
}

/// A borrowed `(key, namespace)`: hashes exactly like the tuple `(K, N)` and
/// compares equal to it, so it looks entries up without cloning either part.
struct Pair<'a, K, N> {
    key: &'a K,
    namespace: &'a N,
}

impl<'a, K, N> Pair<'a, K, N> {
    #[inline]
    fn new(key: &'a K, namespace: &'a N) -> Self {
        Pair { key, namespace }
    }
}

impl<K: Hash, N: Hash> Hash for Pair<'_, K, N> {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        // What `<(K, N) as Hash>::hash` does: the fields in order, nothing else.
        self.key.hash(state);
        self.namespace.hash(state);
    }
}

impl<K: Eq, N: Eq> Equivalent<(K, N)> for Pair<'_, K, N> {
    #[inline]
    fn equivalent(&self, (key, namespace): &(K, N)) -> bool {
        self.key == key && self.namespace == namespace
    }
}

/// The owned key of an entry created through [`EntryRef`]: the only clone.
impl<K: Clone, N: Clone> From<&Pair<'_, K, N>> for (K, N) {
    #[inline]
    fn from(pair: &Pair<'_, K, N>) -> Self {
        (pair.key.clone(), pair.namespace.clone())
    }
}

fn write_namespaced_group<K: Key, N: Key, V: Data>(
    name: &str,
    group: &Group<K, N, V>,
    out: &mut Vec<u8>,
) -> Result<usize, StateError> {
    let mut writer = EntryWriter::new(name, out);
    for ((key, namespace), value) in group {
        writer.write(&(key, namespace, value))?;
    }
    Ok(writer.finish())
}

/// A namespaced table's key groups, shared with the table for a snapshot.
struct DetachedNamespaced<K, N, V> {
    name: String,
    groups: Vec<std::sync::Arc<Group<K, N, V>>>,
}

impl<K: Key, N: Key, V: Data> DetachedTable for DetachedNamespaced<K, N, V> {
    fn snapshot_key_group(
        &self,
        group: usize,
        _now: i64,
        out: &mut Vec<u8>,
    ) -> Result<usize, StateError> {
        write_namespaced_group(&self.name, &self.groups[group], out)
    }
}

impl<K: Key, N: Key, V: Data> KeyedTable<K> for NamespacedTable<K, N, V> {
    fn entry_count(&self) -> usize {
        self.groups.iter().map(HashMap::len).sum()
    }

    fn cleanup_expired(&mut self, _now: i64) -> usize {
        0
    }

    fn cleanup_incrementally(&mut self, _now: i64) {}

    fn detach(&mut self) -> Option<Box<dyn DetachedTable>> {
        Some(Box::new(DetachedNamespaced {
            name: self.name.clone(),
            groups: self.groups.share(),
        }))
    }

    fn snapshot_key_group(
        &self,
        group: usize,
        _now: i64,
        out: &mut Vec<u8>,
    ) -> Result<usize, StateError> {
        write_namespaced_group(&self.name, &self.groups[group], out)
    }

    fn restore_key_group(
        &mut self,
        group: usize,
        bytes: &[u8],
        _now: i64,
    ) -> Result<(), StateError> {
        let mut reader = EntryReader::new(&self.name, bytes)?;
        let map = &mut self.groups[group];
        while let Some((key, namespace, value)) = reader.next::<(K, N, V)>()? {
            map.insert((key, namespace), value);
        }
        Ok(())
    }
}

impl<K: Key, N: Key, V: Data> NamespacedValueTable<K, N, V> for NamespacedTable<K, N, V> {
    #[inline]
    fn get(&mut self, group: usize, key: &K, namespace: &N) -> Result<Option<V>, StateError> {
        Ok(self.groups[group].get(&Pair::new(key, namespace)).cloned())
    }

    #[inline]
    fn contains(&mut self, group: usize, key: &K, namespace: &N) -> Result<bool, StateError> {
        Ok(self.groups[group].contains_key(&Pair::new(key, namespace)))
    }

    #[inline]
    fn put(&mut self, group: usize, key: &K, namespace: N, value: V) -> Result<(), StateError> {
        let map = &mut self.groups[group];
        if let Some(slot) = map.get_mut(&Pair::new(key, &namespace)) {
            *slot = value;
        } else {
            map.insert((key.clone(), namespace), value);
        }
        Ok(())
    }

    #[inline]
    fn take(&mut self, group: usize, key: &K, namespace: &N) -> Result<Option<V>, StateError> {
        Ok(self.groups[group].remove(&Pair::new(key, namespace)))
    }

    #[inline]
    fn remove(&mut self, group: usize, key: &K, namespace: &N) -> Result<(), StateError> {
        self.groups[group].remove(&Pair::new(key, namespace));
        Ok(())
    }

    #[inline]
    fn upsert(
        &mut self,
        group: usize,
        key: &K,
        namespace: &N,
        create: &mut dyn FnMut() -> V,
        f: &mut dyn FnMut(&mut V),
    ) -> Result<bool, StateError> {
        match self.groups[group].entry_ref(&Pair::new(key, namespace)) {
            EntryRef::Occupied(mut entry) => {
                f(entry.get_mut());
                Ok(false)
            }
            EntryRef::Vacant(entry) => {
                let mut value = create();
                f(&mut value);
                entry.insert(value);
                Ok(true)
            }
        }
    }

    #[inline]
    fn update_in_place(
        &mut self,
        group: usize,
        key: &K,
        namespace: &N,
        f: &mut dyn FnMut(&mut Option<V>),
    ) -> Result<(), StateError> {
        match self.groups[group].entry_ref(&Pair::new(key, namespace)) {
            EntryRef::Occupied(entry) => {
                // Lends the value out and puts it back (or removes the entry)
                // without a second lookup.
                entry.replace_entry_with(|_, value| {
                    let mut slot = Some(value);
                    f(&mut slot);
                    slot
                });
            }
            EntryRef::Vacant(entry) => {
                let mut slot = None;
                f(&mut slot);
                if let Some(value) = slot {
                    entry.insert(value);
                }
            }
        }
        Ok(())
    }

    fn for_each(
        &mut self,
        group: usize,
        key: &K,
        f: &mut dyn FnMut(&N, &V),
    ) -> Result<(), StateError> {
        for ((k, namespace), value) in &self.groups[group] {
            if k == key {
                f(namespace, value);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn pairs_hash_and_compare_like_the_stored_tuples() {
        let fx = FxBuildHasher::default();
        let std = std::collections::hash_map::RandomState::new();
        let (key, namespace) = ("key".to_string(), (3i64, -7i64));
        let stored = (key.clone(), namespace);
        let pair = Pair::new(&key, &namespace);
        assert_eq!(fx.hash_one(&pair), fx.hash_one(&stored));
        assert_eq!(std.hash_one(&pair), std.hash_one(&stored));
        assert!(pair.equivalent(&stored));
        assert!(!Pair::new(&key, &(3, 7)).equivalent(&stored));
        let other = "kez".to_string();
        assert!(!Pair::new(&other, &namespace).equivalent(&stored));
        // Moving bytes between the parts changes the hash (strings end with 0xff).
        let (a, bc) = ("a".to_string(), "bc".to_string());
        let stored = ("ab".to_string(), "c".to_string());
        assert_ne!(fx.hash_one(Pair::new(&a, &bc)), fx.hash_one(&stored));
    }
}
