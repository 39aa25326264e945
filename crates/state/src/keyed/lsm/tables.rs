//! The four kinds of LSM tables: the layouts of their entries and their typed
//! operations (see the [module docs](super) for the layout).

use super::cache::{Cache, Pair, Presence};
use super::{Base, Layout, LsmTable, Meta, NoCache, Reader, Seen};
use crate::error::StateError;
use crate::keyed::backend::{ListTable, MapTable, NamespacedValueTable, ValueTable};
use crate::keyed::encoding::{EntryReader, EntryWriter};
use rocksdb::WriteBatch;
use runnel_types::{Data, Key};
use std::marker::PhantomData;

/// Length of `[group][id]`.
const PREFIX_LEN: usize = 6;
/// Length of a list's element count.
const COUNT_LEN: usize = 4;
/// Restores write in batches of about this many bytes.
const BATCH_BYTES: usize = 4 * 1024 * 1024;

/// Value, reducing and aggregating state: `(stamp, V)` per key.
pub(crate) struct Values<V>(PhantomData<fn() -> V>);
/// List state: `[count](V, stamp)*` per key.
pub(crate) struct Lists<V>(PhantomData<fn() -> V>);
/// Map state: `(stamp, UV)` per (key, user key).
pub(crate) struct Maps<UK, UV>(PhantomData<fn() -> (UK, UV)>);
/// Namespaced value state: `V` per (key, namespace).
pub(crate) struct Namespaced<N, V>(PhantomData<fn() -> (N, V)>);

impl Base {
    /// The `(stamp, value)` stored under `key`.
    fn read_stamped<V: Data>(&self, key: &[u8]) -> Result<Option<(Option<i64>, V)>, StateError> {
        match self.get(key)? {
            Some(bytes) => Ok(Some(self.decode::<(Option<i64>, V)>(&bytes)?.0)),
            None => Ok(None),
        }
    }

    fn put_stamped<V: Data>(
        &self,
        key: &[u8],
        stamp: Option<i64>,
        value: &V,
    ) -> Result<(), StateError> {
        let bytes = self.encode(&(stamp, value))?;
        self.put(key, &bytes)
    }

    fn flush_if_full(&self, batch: &mut WriteBatch) -> Result<(), StateError> {
        if batch.size_in_bytes() >= BATCH_BYTES {
            self.write(std::mem::take(batch))?;
        }
        Ok(())
    }

    /// Deletes every entry under `prefix` in `batch`; returns how many.
    fn delete_prefix(&self, prefix: &[u8], batch: &mut WriteBatch) -> Result<usize, StateError> {
        let mut n = 0;
        self.scan(prefix, |k, _| {
            batch.delete(k);
            n += 1;
            Ok(true)
        })?;
        Ok(n)
    }
}

impl Meta {
    /// The key decoded from a stored key, and the rest after it.
    fn split_key<'a, K: Key>(&self, stored: &'a [u8]) -> Result<(K, &'a [u8]), StateError> {
        let rest = &stored[PREFIX_LEN..];
        let (key, used) = self.decode::<K>(rest)?;
        Ok((key, &rest[used..]))
    }
}

/// Removes the expired entries of key group `group` whose values start with
/// their stamp (values and map entries, one RocksDB entry each).
fn clean_stamped(base: &mut Base, group: usize, now: i64) -> Result<usize, StateError> {
    let mut batch = WriteBatch::default();
    let mut removed = 0;
    base.scan(&base.prefix(group), |k, v| {
        let (stamp, _) = base.decode::<Option<i64>>(v)?;
        if base.expiry.is_expired(stamp, now) {
            batch.delete(k);
            removed += 1;
        }
        Ok(true)
    })?;
    base.write(batch)?;
    base.count -= removed;
    Ok(removed)
}

pub(super) fn list_len(bytes: &[u8]) -> usize {
    bytes
        .first_chunk::<COUNT_LEN>()
        .map_or(0, |c| u32::from_le_bytes(*c) as usize)
}

fn decode_list<V: Data>(base: &Meta, bytes: &[u8]) -> Result<Vec<(V, Option<i64>)>, StateError> {
    let n = list_len(bytes);
    let mut rest = bytes.get(COUNT_LEN..).unwrap_or_default();
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let (item, used) = base.decode::<(V, Option<i64>)>(rest)?;
        rest = &rest[used..];
        out.push(item);
    }
    Ok(out)
}

fn encode_list<'a, V: Data>(
    base: &Meta,
    items: impl ExactSizeIterator<Item = (&'a V, Option<i64>)>,
) -> Result<Vec<u8>, StateError> {
    let n = u32::try_from(items.len()).map_err(|_| base.error("a list has over 2^32 elements"))?;
    let mut out = n.to_le_bytes().to_vec();
    for item in items {
        base.append(&mut out, &item)?;
    }
    Ok(out)
}

// ---- value tables ----

impl<K: Key, V: Data> Layout<K> for Values<V> {
    type Cache = Cache<K, (Option<i64>, V)>;

    fn snapshot(
        base: &Reader<'_>,
        group: usize,
        now: i64,
        out: &mut EntryWriter<'_>,
    ) -> Result<(), StateError> {
        base.scan(&base.prefix(group), |k, v| {
            let (key, _) = base.split_key::<K>(k)?;
            let ((stamp, value), _) = base.decode::<(Option<i64>, V)>(v)?;
            if base.expiry.snapshot_keeps(stamp, now) {
                out.write(&(&key, &value, stamp))?;
            }
            Ok(true)
        })
    }

    fn restore(
        base: &mut Base,
        group: usize,
        input: &mut EntryReader<'_>,
        now: i64,
    ) -> Result<(), StateError> {
        let mut batch = WriteBatch::default();
        while let Some((key, value, time)) = input.next::<(K, V, Option<i64>)>()? {
            let k = base.key(group, &key)?;
            if !base.exists(&k)? {
                base.count += 1;
            }
            let bytes = base.encode(&(base.expiry.restored(time, now), &value))?;
            batch.put(&k, &bytes);
            base.flush_if_full(&mut batch)?;
        }
        base.write(batch)
    }

    fn clean(base: &mut Base, group: usize, now: i64) -> Result<usize, StateError> {
        clean_stamped(base, group, now)
    }
}

impl<K: Key, V: Data> LsmTable<K, Values<V>> {
    /// Calls `f` with the key's value if a read returns it, applying the TTL
    /// rules of a read (refresh, or removal of an expired value).
    fn visit<R>(
        &mut self,
        group: usize,
        key: &K,
        now: i64,
        f: impl FnOnce(&V) -> R,
    ) -> Result<Option<R>, StateError> {
        let (cache, base) = self.parts();
        let expiry = base.expiry;
        let (result, presence) = cache.with(base, group, key, false, |slot| {
            let Some((stamp, _)) = slot else {
                return (None, false);
            };
            match expiry.on_read(stamp, now) {
                Seen::Live { refreshed } => (slot.as_ref().map(|(_, v)| f(v)), refreshed),
                Seen::Expired { visible } => {
                    let old = slot.take();
                    (old.filter(|_| visible).map(|(_, v)| f(&v)), true)
                }
            }
        })?;
        presence.apply(&mut base.count);
        Ok(result)
    }
}

impl<K: Key, V: Data> ValueTable<K, V> for LsmTable<K, Values<V>> {
    fn get(&mut self, group: usize, key: &K, now: i64) -> Result<Option<V>, StateError> {
        self.visit(group, key, now, V::clone)
    }

    fn read(
        &mut self,
        group: usize,
        key: &K,
        now: i64,
        f: &mut dyn FnMut(&V),
    ) -> Result<bool, StateError> {
        Ok(self.visit(group, key, now, f)?.is_some())
    }

    fn put(&mut self, group: usize, key: &K, value: V, now: i64) -> Result<(), StateError> {
        let (cache, base) = self.parts();
        let stamp = base.expiry.stamp(now);
        let ((), presence) = cache.with(base, group, key, true, |slot| {
            *slot = Some((stamp, value));
            ((), true)
        })?;
        presence.apply(&mut base.count);
        Ok(())
    }

    fn remove(&mut self, group: usize, key: &K) -> Result<(), StateError> {
        let (cache, base) = self.parts();
        let ((), presence) = cache.with(base, group, key, true, |slot| {
            *slot = None;
            ((), true)
        })?;
        presence.apply(&mut base.count);
        Ok(())
    }

    fn update_in_place(
        &mut self,
        group: usize,
        key: &K,
        now: i64,
        f: &mut dyn FnMut(&mut Option<V>),
    ) -> Result<(), StateError> {
        let (cache, base) = self.parts();
        let expiry = base.expiry;
        let ((), presence) = cache.with(base, group, key, false, |slot| {
            let mut value =
                slot.take()
                    .and_then(|(mut stamp, value)| match expiry.on_read(&mut stamp, now) {
                        Seen::Expired { visible: false } => None,
                        _ => Some(value),
                    });
            f(&mut value);
            *slot = value.map(|v| (expiry.stamp(now), v));
            ((), true)
        })?;
        presence.apply(&mut base.count);
        Ok(())
    }
}

// ---- list tables ----

impl<K: Key, V: Data> Layout<K> for Lists<V> {
    type Cache = NoCache;

    fn snapshot(
        base: &Reader<'_>,
        group: usize,
        now: i64,
        out: &mut EntryWriter<'_>,
    ) -> Result<(), StateError> {
        base.scan(&base.prefix(group), |k, v| {
            let (key, _) = base.split_key::<K>(k)?;
            let mut items = decode_list::<V>(base, v)?;
            items.retain(|(_, stamp)| base.expiry.snapshot_keeps(*stamp, now));
            if !items.is_empty() {
                out.write(&(&key, &items))?;
            }
            Ok(true)
        })
    }

    fn restore(
        base: &mut Base,
        group: usize,
        input: &mut EntryReader<'_>,
        now: i64,
    ) -> Result<(), StateError> {
        let mut batch = WriteBatch::default();
        while let Some((key, items)) = input.next::<(K, Vec<(V, Option<i64>)>)>()? {
            if items.is_empty() {
                continue;
            }
            let k = base.key(group, &key)?;
            let old = base.get(&k)?.map_or(0, |b| list_len(&b));
            base.count = base.count - old + items.len();
            let expiry = base.expiry;
            let bytes = encode_list(
                base,
                items.iter().map(|(v, t)| (v, expiry.restored(*t, now))),
            )?;
            batch.put(&k, &bytes);
            base.flush_if_full(&mut batch)?;
        }
        base.write(batch)
    }

    fn clean(base: &mut Base, group: usize, now: i64) -> Result<usize, StateError> {
        let mut batch = WriteBatch::default();
        let mut removed = 0;
        base.scan(&base.prefix(group), |k, v| {
            let mut items = decode_list::<V>(base, v)?;
            let before = items.len();
            items.retain(|(_, stamp)| !base.expiry.is_expired(*stamp, now));
            if items.len() < before {
                removed += before - items.len();
                if items.is_empty() {
                    batch.delete(k);
                } else {
                    batch.put(k, encode_list(base, items.iter().map(|(v, t)| (v, *t)))?);
                }
            }
            Ok(true)
        })?;
        base.write(batch)?;
        base.count -= removed;
        Ok(removed)
    }
}

impl<K: Key, V: Data> LsmTable<K, Lists<V>> {
    /// Calls `f` with each element a read returns, removing expired ones.
    fn visit(
        &mut self,
        group: usize,
        key: &K,
        now: i64,
        f: &mut dyn FnMut(&V),
    ) -> Result<(), StateError> {
        let base = &mut self.base;
        let k = base.key(group, key)?;
        let Some(bytes) = base.get(&k)? else {
            return Ok(());
        };
        let mut items = decode_list::<V>(base, &bytes)?;
        let (mut changed, mut expired) = (false, false);
        for (v, stamp) in &mut items {
            match base.expiry.on_read(stamp, now) {
                Seen::Live { refreshed } => {
                    changed |= refreshed;
                    f(v);
                }
                Seen::Expired { visible } => {
                    expired = true;
                    if visible {
                        f(v);
                    }
                }
            }
        }
        if expired {
            let before = items.len();
            items.retain(|(_, stamp)| !base.expiry.is_expired(*stamp, now));
            base.count -= before - items.len();
            changed = true;
        }
        if changed {
            if items.is_empty() {
                base.delete(&k)?;
            } else {
                base.put(&k, &encode_list(base, items.iter().map(|(v, t)| (v, *t)))?)?;
            }
        }
        Ok(())
    }

    fn append(&mut self, group: usize, key: &K, values: &[V], now: i64) -> Result<(), StateError> {
        if values.is_empty() {
            return Ok(());
        }
        let base = &mut self.base;
        let k = base.key(group, key)?;
        let mut bytes = base.get(&k)?.unwrap_or_else(|| vec![0; COUNT_LEN]);
        let n = list_len(&bytes) + values.len();
        let n32 = u32::try_from(n).map_err(|_| base.error("a list has over 2^32 elements"))?;
        bytes[..COUNT_LEN].copy_from_slice(&n32.to_le_bytes());
        let stamp = base.expiry.stamp(now);
        for v in values {
            base.append(&mut bytes, &(v, stamp))?;
        }
        base.put(&k, &bytes)?;
        base.count += values.len();
        Ok(())
    }
}

impl<K: Key, V: Data> ListTable<K, V> for LsmTable<K, Lists<V>> {
    fn get(&mut self, group: usize, key: &K, now: i64) -> Result<Vec<V>, StateError> {
        let mut out = Vec::new();
        self.visit(group, key, now, &mut |v| out.push(v.clone()))?;
        Ok(out)
    }

    fn for_each(
        &mut self,
        group: usize,
        key: &K,
        now: i64,
        f: &mut dyn FnMut(&V),
    ) -> Result<(), StateError> {
        self.visit(group, key, now, f)
    }

    fn add_all(
        &mut self,
        group: usize,
        key: &K,
        values: Vec<V>,
        now: i64,
    ) -> Result<(), StateError> {
        self.append(group, key, &values, now)
    }

    fn add(&mut self, group: usize, key: &K, value: V, now: i64) -> Result<(), StateError> {
        self.append(group, key, std::slice::from_ref(&value), now)
    }

    fn replace(
        &mut self,
        group: usize,
        key: &K,
        values: Vec<V>,
        now: i64,
    ) -> Result<(), StateError> {
        ListTable::remove(self, group, key)?;
        self.append(group, key, &values, now)
    }

    fn remove(&mut self, group: usize, key: &K) -> Result<(), StateError> {
        let base = &mut self.base;
        let k = base.key(group, key)?;
        if let Some(bytes) = base.get(&k)? {
            base.delete(&k)?;
            base.count -= list_len(&bytes);
        }
        Ok(())
    }
}

// ---- map tables ----

impl<K: Key, UK: Key, UV: Data> Layout<K> for Maps<UK, UV> {
    type Cache = NoCache;

    fn snapshot(
        base: &Reader<'_>,
        group: usize,
        now: i64,
        out: &mut EntryWriter<'_>,
    ) -> Result<(), StateError> {
        // The entries of one key are adjacent: collect them, write on the next key.
        type Current<K, UK, UV> = (Vec<u8>, K, Vec<(UK, UV, Option<i64>)>);
        let mut current: Option<Current<K, UK, UV>> = None;
        let flush = |current: Option<Current<K, UK, UV>>,
                     out: &mut EntryWriter<'_>|
         -> Result<(), StateError> {
            match current {
                Some((_, key, entries)) if !entries.is_empty() => out.write(&(&key, &entries)),
                _ => Ok(()),
            }
        };
        base.scan(&base.prefix(group), |k, v| {
            let rest = &k[PREFIX_LEN..];
            let (key, used) = base.decode::<K>(rest)?;
            let (user_key, _) = base.decode::<UK>(&rest[used..])?;
            let ((stamp, value), _) = base.decode::<(Option<i64>, UV)>(v)?;
            let same = current.as_ref().is_some_and(|c| c.0 == rest[..used]);
            if !same {
                flush(current.take(), out)?;
                current = Some((rest[..used].to_vec(), key, Vec::new()));
            }
            if base.expiry.snapshot_keeps(stamp, now)
                && let Some(c) = current.as_mut()
            {
                c.2.push((user_key, value, stamp));
            }
            Ok(true)
        })?;
        flush(current, out)
    }

    fn restore(
        base: &mut Base,
        group: usize,
        input: &mut EntryReader<'_>,
        now: i64,
    ) -> Result<(), StateError> {
        let mut batch = WriteBatch::default();
        while let Some((key, entries)) = input.next::<(K, Vec<(UK, UV, Option<i64>)>)>()? {
            if entries.is_empty() {
                continue;
            }
            // The key's map is replaced.
            base.write(std::mem::take(&mut batch))?;
            let prefix = base.key(group, &key)?;
            let old = base.delete_prefix(&prefix, &mut batch)?;
            base.count = base.count - old + entries.len();
            for (user_key, value, time) in &entries {
                let mut k = prefix.clone();
                base.append(&mut k, user_key)?;
                let bytes = base.encode(&(base.expiry.restored(*time, now), value))?;
                batch.put(&k, &bytes);
            }
            base.flush_if_full(&mut batch)?;
        }
        base.write(batch)
    }

    fn clean(base: &mut Base, group: usize, now: i64) -> Result<usize, StateError> {
        clean_stamped(base, group, now)
    }
}

impl<K: Key, UK: Key, UV: Data> LsmTable<K, Maps<UK, UV>> {
    /// Reads one user key: its value if live, or expired and still visible.
    fn lookup(
        &mut self,
        group: usize,
        key: &K,
        user_key: &UK,
        now: i64,
    ) -> Result<Option<UV>, StateError> {
        let base = &mut self.base;
        let k = base.sub_key(group, key, user_key)?;
        let Some((mut stamp, value)) = base.read_stamped::<UV>(&k)? else {
            return Ok(None);
        };
        match base.expiry.on_read(&mut stamp, now) {
            Seen::Live { refreshed } => {
                if refreshed {
                    base.put_stamped(&k, stamp, &value)?;
                }
                Ok(Some(value))
            }
            Seen::Expired { visible } => {
                base.delete(&k)?;
                base.count -= 1;
                Ok(visible.then_some(value))
            }
        }
    }
}

impl<K: Key, UK: Key, UV: Data> MapTable<K, UK, UV> for LsmTable<K, Maps<UK, UV>> {
    fn get(
        &mut self,
        group: usize,
        key: &K,
        user_key: &UK,
        now: i64,
    ) -> Result<Option<UV>, StateError> {
        self.lookup(group, key, user_key, now)
    }

    fn contains(
        &mut self,
        group: usize,
        key: &K,
        user_key: &UK,
        now: i64,
    ) -> Result<bool, StateError> {
        Ok(self.lookup(group, key, user_key, now)?.is_some())
    }

    fn put(
        &mut self,
        group: usize,
        key: &K,
        user_key: UK,
        value: UV,
        now: i64,
    ) -> Result<(), StateError> {
        let base = &mut self.base;
        let k = base.sub_key(group, key, &user_key)?;
        if !base.exists(&k)? {
            base.count += 1;
        }
        base.put_stamped(&k, base.expiry.stamp(now), &value)
    }

    fn remove(&mut self, group: usize, key: &K, user_key: &UK) -> Result<(), StateError> {
        let base = &mut self.base;
        let k = base.sub_key(group, key, user_key)?;
        if base.exists(&k)? {
            base.delete(&k)?;
            base.count -= 1;
        }
        Ok(())
    }

    fn take(
        &mut self,
        group: usize,
        key: &K,
        user_key: &UK,
        now: i64,
    ) -> Result<Option<UV>, StateError> {
        let base = &mut self.base;
        let k = base.sub_key(group, key, user_key)?;
        let Some((stamp, value)) = base.read_stamped::<UV>(&k)? else {
            return Ok(None);
        };
        base.delete(&k)?;
        base.count -= 1;
        let visible = !base.expiry.is_expired(stamp, now) || base.expiry.returns_expired();
        Ok(visible.then_some(value))
    }

    fn upsert(
        &mut self,
        group: usize,
        key: &K,
        user_key: &UK,
        now: i64,
        create: &mut dyn FnMut() -> UV,
        f: &mut dyn FnMut(&mut UV),
    ) -> Result<bool, StateError> {
        let base = &mut self.base;
        let k = base.sub_key(group, key, user_key)?;
        let (mut value, created) = match base.read_stamped::<UV>(&k)? {
            Some((stamp, value)) if !base.expiry.is_expired(stamp, now) => (value, false),
            Some(_) => (create(), true),
            None => {
                base.count += 1;
                (create(), true)
            }
        };
        f(&mut value);
        base.put_stamped(&k, base.expiry.stamp(now), &value)?;
        Ok(created)
    }

    fn for_each(
        &mut self,
        group: usize,
        key: &K,
        now: i64,
        f: &mut dyn FnMut(&UK, &UV),
    ) -> Result<(), StateError> {
        let base = &mut self.base;
        let prefix = base.key(group, key)?;
        let mut batch = WriteBatch::default();
        let mut removed = 0;
        base.scan(&prefix, |k, v| {
            let (user_key, _) = base.decode::<UK>(&k[prefix.len()..])?;
            let ((mut stamp, value), _) = base.decode::<(Option<i64>, UV)>(v)?;
            match base.expiry.on_read(&mut stamp, now) {
                Seen::Live { refreshed } => {
                    if refreshed {
                        batch.put(k, base.encode(&(stamp, &value))?);
                    }
                    f(&user_key, &value);
                }
                Seen::Expired { visible } => {
                    batch.delete(k);
                    removed += 1;
                    if visible {
                        f(&user_key, &value);
                    }
                }
            }
            Ok(true)
        })?;
        base.write(batch)?;
        base.count -= removed;
        Ok(())
    }

    fn is_empty(&mut self, group: usize, key: &K, now: i64) -> Result<bool, StateError> {
        let base = &mut self.base;
        let prefix = base.key(group, key)?;
        if base.expiry.ttl.is_none() {
            let mut found = false;
            base.scan(&prefix, |_, _| {
                found = true;
                Ok(false)
            })?;
            return Ok(!found);
        }
        // Like a read of every entry, without refreshing: expired entries go, and
        // count as present only if reads still return them.
        let mut batch = WriteBatch::default();
        let (mut live, mut removed) = (false, 0);
        base.scan(&prefix, |k, v| {
            let (stamp, _) = base.decode::<Option<i64>>(v)?;
            if base.expiry.is_expired(stamp, now) {
                batch.delete(k);
                removed += 1;
            } else {
                live = true;
            }
            Ok(true)
        })?;
        base.write(batch)?;
        base.count -= removed;
        Ok(!(live || (removed > 0 && base.expiry.returns_expired())))
    }

    fn clear(&mut self, group: usize, key: &K) -> Result<(), StateError> {
        let base = &mut self.base;
        let prefix = base.key(group, key)?;
        let mut batch = WriteBatch::default();
        let removed = base.delete_prefix(&prefix, &mut batch)?;
        base.write(batch)?;
        base.count -= removed;
        Ok(())
    }
}

// ---- namespaced value tables ----

impl<K: Key, N: Key, V: Data> Layout<K> for Namespaced<N, V> {
    type Cache = Cache<(K, N), V>;

    fn snapshot(
        base: &Reader<'_>,
        group: usize,
        _now: i64,
        out: &mut EntryWriter<'_>,
    ) -> Result<(), StateError> {
        base.scan(&base.prefix(group), |k, v| {
            let (key, rest) = base.split_key::<K>(k)?;
            let (namespace, _) = base.decode::<N>(rest)?;
            let (value, _) = base.decode::<V>(v)?;
            out.write(&(&key, &namespace, &value))?;
            Ok(true)
        })
    }

    fn restore(
        base: &mut Base,
        group: usize,
        input: &mut EntryReader<'_>,
        _now: i64,
    ) -> Result<(), StateError> {
        let mut batch = WriteBatch::default();
        while let Some((key, namespace, value)) = input.next::<(K, N, V)>()? {
            let k = base.sub_key(group, &key, &namespace)?;
            if !base.exists(&k)? {
                base.count += 1;
            }
            batch.put(&k, base.encode(&value)?);
            base.flush_if_full(&mut batch)?;
        }
        base.write(batch)
    }

    fn clean(_base: &mut Base, _group: usize, _now: i64) -> Result<usize, StateError> {
        Ok(0)
    }
}

impl<K: Key, N: Key, V: Data> LsmTable<K, Namespaced<N, V>> {
    /// Calls `f` with the value of (`key`, `namespace`) in the cache; `f` returns
    /// its result and whether it changed the value (`blind`: see [`Cache::with`]).
    fn with<R>(
        &mut self,
        group: usize,
        key: &K,
        namespace: &N,
        blind: bool,
        f: impl FnOnce(&mut Option<V>) -> (R, bool),
    ) -> Result<(R, Presence), StateError> {
        let (cache, base) = self.parts();
        let (result, presence) = cache.with(base, group, &Pair(key, namespace), blind, f)?;
        presence.apply(&mut base.count);
        Ok((result, presence))
    }
}

impl<K: Key, N: Key, V: Data> NamespacedValueTable<K, N, V> for LsmTable<K, Namespaced<N, V>> {
    fn get(&mut self, group: usize, key: &K, namespace: &N) -> Result<Option<V>, StateError> {
        Ok(self
            .with(group, key, namespace, false, |slot| (slot.clone(), false))?
            .0)
    }

    fn contains(&mut self, group: usize, key: &K, namespace: &N) -> Result<bool, StateError> {
        Ok(self
            .with(group, key, namespace, false, |_| ((), false))?
            .1
            .after)
    }

    fn put(&mut self, group: usize, key: &K, namespace: N, value: V) -> Result<(), StateError> {
        self.with(group, key, &namespace, true, |slot| {
            *slot = Some(value);
            ((), true)
        })
        .map(drop)
    }

    fn take(&mut self, group: usize, key: &K, namespace: &N) -> Result<Option<V>, StateError> {
        Ok(self
            .with(group, key, namespace, false, |slot| {
                let old = slot.take();
                let changed = old.is_some();
                (old, changed)
            })?
            .0)
    }

    fn remove(&mut self, group: usize, key: &K, namespace: &N) -> Result<(), StateError> {
        self.with(group, key, namespace, true, |slot| {
            *slot = None;
            ((), true)
        })
        .map(drop)
    }

    fn upsert(
        &mut self,
        group: usize,
        key: &K,
        namespace: &N,
        create: &mut dyn FnMut() -> V,
        f: &mut dyn FnMut(&mut V),
    ) -> Result<bool, StateError> {
        Ok(!self
            .with(group, key, namespace, false, |slot| {
                f(slot.get_or_insert_with(create));
                ((), true)
            })?
            .1
            .before)
    }

    fn update_in_place(
        &mut self,
        group: usize,
        key: &K,
        namespace: &N,
        f: &mut dyn FnMut(&mut Option<V>),
    ) -> Result<(), StateError> {
        self.with(group, key, namespace, false, |slot| {
            f(slot);
            ((), true)
        })
        .map(drop)
    }

    fn for_each(
        &mut self,
        group: usize,
        key: &K,
        f: &mut dyn FnMut(&N, &V),
    ) -> Result<(), StateError> {
        let (cache, base) = self.parts();
        cache.flush(base)?;
        let base = &self.base;
        let prefix = base.key(group, key)?;
        base.scan(&prefix, |k, v| {
            let (namespace, _) = base.decode::<N>(&k[prefix.len()..])?;
            let (value, _) = base.decode::<V>(v)?;
            f(&namespace, &value);
            Ok(true)
        })
    }
}
