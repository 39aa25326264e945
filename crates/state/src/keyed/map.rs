//! `MapState<UK, UV>`: a map per key.

use super::KeyedStateAccess;
use super::slot::MapSlot;
use crate::error::StateError;
use crate::handle::define_handle;
use crate::names::short_type_name;
use runnel_types::{Data, Key};

define_handle!(
    /// A handle to keyed map state: a map from `UK` to `UV` per key. Obtained from
    /// [`KeyedStateStore::get_map_state`](crate::KeyedStateStore::get_map_state).
    /// With a TTL, each user key's entry expires on its own.
    MapState<UK, UV>
);

/// Gets the table and current key for a map access.
macro_rules! map_access {
    ($self:ident, $ctx:ident) => {
        $ctx.keyed_state()
            .access::<MapSlot<C::Key, UK, UV>>($self.index, Self::describe)?
    };
}

impl<UK: Key, UV: Data> MapState<UK, UV> {
    fn describe() -> String {
        format!(
            "map state of {} -> {}",
            short_type_name::<UK>(),
            short_type_name::<UV>()
        )
    }

    /// A copy of the value under `user_key` in the current key's map.
    #[inline]
    pub fn get<C: KeyedStateAccess + ?Sized>(
        &self,
        ctx: &mut C,
        user_key: &UK,
    ) -> Result<Option<UV>, StateError> {
        let a = map_access!(self, ctx);
        a.slot.0.get(a.group, a.key, user_key, a.now)
    }

    /// Sets `user_key` to `value` in the current key's map.
    #[inline]
    pub fn put<C: KeyedStateAccess + ?Sized>(
        &self,
        ctx: &mut C,
        user_key: UK,
        value: UV,
    ) -> Result<(), StateError> {
        let a = map_access!(self, ctx);
        a.slot.0.put(a.group, a.key, user_key, value, a.now)
    }

    /// Puts every entry of `entries` into the current key's map.
    pub fn put_all<C: KeyedStateAccess + ?Sized>(
        &self,
        ctx: &mut C,
        entries: impl IntoIterator<Item = (UK, UV)>,
    ) -> Result<(), StateError> {
        let a = map_access!(self, ctx);
        for (user_key, value) in entries {
            a.slot.0.put(a.group, a.key, user_key, value, a.now)?;
        }
        Ok(())
    }

    /// Removes `user_key` from the current key's map.
    #[inline]
    pub fn remove<C: KeyedStateAccess + ?Sized>(
        &self,
        ctx: &mut C,
        user_key: &UK,
    ) -> Result<(), StateError> {
        let a = map_access!(self, ctx);
        a.slot.0.remove(a.group, a.key, user_key)
    }

    /// Removes `user_key` from the current key's map and returns its value.
    #[inline]
    pub fn take<C: KeyedStateAccess + ?Sized>(
        &self,
        ctx: &mut C,
        user_key: &UK,
    ) -> Result<Option<UV>, StateError> {
        let a = map_access!(self, ctx);
        a.slot.0.take(a.group, a.key, user_key, a.now)
    }

    /// Updates the value under `user_key` in place with `f`, first creating it
    /// with `create` if the key has none (one hash lookup for an existing entry,
    /// no copy). Counts as a write for TTL. Returns whether the entry was created.
    ///
    /// ```
    /// # use runnel_state::{KeyedStateStore, MapStateDescriptor, StateBackendKind};
    /// # use std::rc::Rc;
    /// # let range = runnel_types::compute_key_group_range_for_operator_index(128, 1, 0);
    /// # let mut store = KeyedStateStore::<u32>::new(StateBackendKind::Heap, range, 128, Rc::new(|| 0));
    /// let words = store.get_map_state(&MapStateDescriptor::<String, Vec<u32>>::new("positions"))?;
    /// store.set_current_key(7)?;
    /// assert!(words.upsert(&mut store, &"to".to_string(), Vec::new, |v| v.push(1))?);
    /// assert!(!words.upsert(&mut store, &"to".to_string(), Vec::new, |v| v.push(5))?);
    /// assert_eq!(words.get(&mut store, &"to".to_string())?, Some(vec![1, 5]));
    /// # Ok::<(), runnel_state::StateError>(())
    /// ```
    #[inline]
    pub fn upsert<C: KeyedStateAccess + ?Sized>(
        &self,
        ctx: &mut C,
        user_key: &UK,
        create: impl FnOnce() -> UV,
        f: impl FnOnce(&mut UV),
    ) -> Result<bool, StateError> {
        let a = map_access!(self, ctx);
        let (mut create, mut f) = (Some(create), Some(f));
        a.slot.0.upsert(
            a.group,
            a.key,
            user_key,
            a.now,
            &mut || (create.take().expect("create is called at most once"))(),
            &mut |v| {
                if let Some(f) = f.take() {
                    f(v)
                }
            },
        )
    }

    /// Whether the current key's map has `user_key`.
    #[inline]
    pub fn contains<C: KeyedStateAccess + ?Sized>(
        &self,
        ctx: &mut C,
        user_key: &UK,
    ) -> Result<bool, StateError> {
        let a = map_access!(self, ctx);
        a.slot.0.contains(a.group, a.key, user_key, a.now)
    }

    /// Calls `f` with every entry of the current key's map (in no particular
    /// order), without copying.
    pub fn for_each<C: KeyedStateAccess + ?Sized>(
        &self,
        ctx: &mut C,
        mut f: impl FnMut(&UK, &UV),
    ) -> Result<(), StateError> {
        let a = map_access!(self, ctx);
        a.slot.0.for_each(a.group, a.key, a.now, &mut f)
    }

    /// The user keys of the current key's map (in no particular order).
    pub fn keys<C: KeyedStateAccess + ?Sized>(&self, ctx: &mut C) -> Result<Vec<UK>, StateError> {
        let mut out = Vec::new();
        self.for_each(ctx, |k, _| out.push(k.clone()))?;
        Ok(out)
    }

    /// The values of the current key's map (in no particular order).
    pub fn values<C: KeyedStateAccess + ?Sized>(&self, ctx: &mut C) -> Result<Vec<UV>, StateError> {
        let mut out = Vec::new();
        self.for_each(ctx, |_, v| out.push(v.clone()))?;
        Ok(out)
    }

    /// The entries of the current key's map (in no particular order).
    pub fn entries<C: KeyedStateAccess + ?Sized>(
        &self,
        ctx: &mut C,
    ) -> Result<Vec<(UK, UV)>, StateError> {
        let mut out = Vec::new();
        self.for_each(ctx, |k, v| out.push((k.clone(), v.clone())))?;
        Ok(out)
    }

    /// Whether the current key's map is empty.
    pub fn is_empty<C: KeyedStateAccess + ?Sized>(&self, ctx: &mut C) -> Result<bool, StateError> {
        let a = map_access!(self, ctx);
        a.slot.0.is_empty(a.group, a.key, a.now)
    }

    /// Removes the current key's whole map.
    pub fn clear<C: KeyedStateAccess + ?Sized>(&self, ctx: &mut C) -> Result<(), StateError> {
        let a = map_access!(self, ctx);
        a.slot.0.clear(a.group, a.key)
    }
}

#[cfg(test)]
mod tests {
    use crate::{KeyedStateStore, MapStateDescriptor, StateBackendKind};
    use runnel_types::KeyGroupRange;
    use std::rc::Rc;

    #[test]
    fn map_operations_per_key() {
        let range = KeyGroupRange { start: 0, end: 127 };
        let mut s = KeyedStateStore::<u64>::new(StateBackendKind::Heap, range, 128, Rc::new(|| 0));
        let m = s
            .get_map_state(&MapStateDescriptor::<String, u32>::new("m"))
            .unwrap();
        s.set_current_key(1).unwrap();
        assert!(m.is_empty(&mut s).unwrap());
        m.put(&mut s, "a".into(), 1).unwrap();
        m.put_all(&mut s, [("b".into(), 2), ("a".into(), 3)])
            .unwrap();
        assert_eq!(m.get(&mut s, &"a".into()).unwrap(), Some(3));
        assert!(m.contains(&mut s, &"b".into()).unwrap());
        assert!(!m.contains(&mut s, &"c".into()).unwrap());
        let mut entries = m.entries(&mut s).unwrap();
        entries.sort();
        assert_eq!(entries, [("a".into(), 3), ("b".into(), 2)]);
        let mut keys = m.keys(&mut s).unwrap();
        keys.sort();
        assert_eq!(keys, ["a", "b"]);
        let mut values = m.values(&mut s).unwrap();
        values.sort();
        assert_eq!(values, [2, 3]);

        s.set_current_key(2).unwrap();
        assert_eq!(m.get(&mut s, &"a".into()).unwrap(), None);
        m.put(&mut s, "z".into(), 26).unwrap();
        assert_eq!(s.entry_count("m"), Some(3));

        s.set_current_key(1).unwrap();
        m.remove(&mut s, &"a".into()).unwrap();
        m.remove(&mut s, &"b".into()).unwrap();
        assert!(m.is_empty(&mut s).unwrap());
        s.set_current_key(2).unwrap();
        assert!(!m.is_empty(&mut s).unwrap());
        m.clear(&mut s).unwrap();
        assert!(m.is_empty(&mut s).unwrap());
        assert_eq!(s.entry_count("m"), Some(0));
    }

    #[test]
    fn upsert_creates_once_updates_in_place_and_take_removes() {
        use crate::StateTtlConfig;
        use std::cell::Cell;
        use std::time::Duration;
        let now = Rc::new(Cell::new(0i64));
        let clock = now.clone();
        let range = KeyGroupRange { start: 0, end: 127 };
        let mut s = KeyedStateStore::<u64>::new(
            StateBackendKind::Heap,
            range,
            128,
            Rc::new(move || clock.get()),
        );
        let ttl = StateTtlConfig::new(Duration::from_millis(10));
        let m = s
            .get_map_state(&MapStateDescriptor::<u8, Vec<u32>>::new("m").with_ttl(ttl))
            .unwrap();
        s.set_current_key(1).unwrap();
        assert!(m.upsert(&mut s, &1, Vec::new, |v| v.push(1)).unwrap());
        now.set(9);
        assert!(!m.upsert(&mut s, &1, Vec::new, |v| v.push(2)).unwrap());
        now.set(18);
        assert_eq!(
            m.get(&mut s, &1).unwrap(),
            Some(vec![1, 2]),
            "the upsert was a write"
        );
        now.set(19);
        assert!(
            m.upsert(&mut s, &1, Vec::new, |v| v.push(3)).unwrap(),
            "an expired entry starts over"
        );
        assert_eq!(m.take(&mut s, &1).unwrap(), Some(vec![3]));
        assert_eq!(m.take(&mut s, &1).unwrap(), None);
        assert!(m.is_empty(&mut s).unwrap());
        assert_eq!(s.entry_count("m"), Some(0));
    }
}
