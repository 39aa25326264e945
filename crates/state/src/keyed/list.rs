//! `ListState<T>`: a list of values per key.

use super::KeyedStateAccess;
use super::slot::ListSlot;
use crate::error::StateError;
use crate::handle::define_handle;
use crate::names::short_type_name;
use runnel_types::Data;

define_handle!(
    /// A handle to keyed list state: a list of `T` per key. Obtained from
    /// [`KeyedStateStore::get_list_state`](crate::KeyedStateStore::get_list_state).
    /// With a TTL, each element expires on its own.
    ListState<T>
);

impl<T: Data> ListState<T> {
    fn describe() -> String {
        format!("list state of {}", short_type_name::<T>())
    }

    /// A copy of the current key's elements, in insertion order (empty if unset).
    pub fn get<C: KeyedStateAccess + ?Sized>(&self, ctx: &mut C) -> Result<Vec<T>, StateError> {
        let a = ctx
            .keyed_state()
            .access::<ListSlot<C::Key, T>>(self.index, Self::describe)?;
        a.slot.0.get(a.group, a.key, a.now)
    }

    /// Calls `f` with each of the current key's elements, in order, without
    /// copying them.
    pub fn for_each<C: KeyedStateAccess + ?Sized>(
        &self,
        ctx: &mut C,
        mut f: impl FnMut(&T),
    ) -> Result<(), StateError> {
        let a = ctx
            .keyed_state()
            .access::<ListSlot<C::Key, T>>(self.index, Self::describe)?;
        a.slot.0.for_each(a.group, a.key, a.now, &mut f)
    }

    /// Appends `value` to the current key's list.
    #[inline]
    pub fn add<C: KeyedStateAccess + ?Sized>(
        &self,
        ctx: &mut C,
        value: T,
    ) -> Result<(), StateError> {
        let a = ctx
            .keyed_state()
            .access::<ListSlot<C::Key, T>>(self.index, Self::describe)?;
        a.slot.0.add(a.group, a.key, value, a.now)
    }

    /// Appends `values` to the current key's list.
    pub fn add_all<C: KeyedStateAccess + ?Sized>(
        &self,
        ctx: &mut C,
        values: Vec<T>,
    ) -> Result<(), StateError> {
        let a = ctx
            .keyed_state()
            .access::<ListSlot<C::Key, T>>(self.index, Self::describe)?;
        a.slot.0.add_all(a.group, a.key, values, a.now)
    }

    /// Replaces the current key's list with `values`; an empty vector clears it.
    pub fn update<C: KeyedStateAccess + ?Sized>(
        &self,
        ctx: &mut C,
        values: Vec<T>,
    ) -> Result<(), StateError> {
        let a = ctx
            .keyed_state()
            .access::<ListSlot<C::Key, T>>(self.index, Self::describe)?;
        a.slot.0.replace(a.group, a.key, values, a.now)
    }

    /// Removes the current key's list.
    pub fn clear<C: KeyedStateAccess + ?Sized>(&self, ctx: &mut C) -> Result<(), StateError> {
        let a = ctx
            .keyed_state()
            .access::<ListSlot<C::Key, T>>(self.index, Self::describe)?;
        a.slot.0.remove(a.group, a.key)
    }
}

#[cfg(test)]
mod tests {
    use crate::{KeyedStateStore, ListStateDescriptor, StateBackendKind};
    use runnel_types::KeyGroupRange;
    use std::rc::Rc;

    #[test]
    fn list_operations_per_key() {
        let range = KeyGroupRange { start: 0, end: 127 };
        let mut s = KeyedStateStore::<u64>::new(StateBackendKind::Heap, range, 128, Rc::new(|| 0));
        let l = s
            .get_list_state(&ListStateDescriptor::<u32>::new("l"))
            .unwrap();
        s.set_current_key(1).unwrap();
        assert_eq!(l.get(&mut s).unwrap(), Vec::<u32>::new());
        l.add(&mut s, 1).unwrap();
        l.add_all(&mut s, vec![2, 3]).unwrap();
        l.add_all(&mut s, vec![]).unwrap();
        assert_eq!(l.get(&mut s).unwrap(), [1, 2, 3]);
        let mut seen = Vec::new();
        l.for_each(&mut s, |x| seen.push(*x)).unwrap();
        assert_eq!(seen, [1, 2, 3]);

        s.set_current_key(2).unwrap();
        l.update(&mut s, vec![9]).unwrap();
        assert_eq!(l.get(&mut s).unwrap(), [9]);
        assert_eq!(s.entry_count("l"), Some(4));

        s.set_current_key(1).unwrap();
        l.update(&mut s, vec![4, 5]).unwrap();
        assert_eq!(l.get(&mut s).unwrap(), [4, 5]);
        l.update(&mut s, vec![]).unwrap();
        assert_eq!(l.get(&mut s).unwrap(), Vec::<u32>::new());
        assert_eq!(s.entry_count("l"), Some(1));
        s.set_current_key(2).unwrap();
        l.clear(&mut s).unwrap();
        assert_eq!(s.entry_count("l"), Some(0));
    }
}
