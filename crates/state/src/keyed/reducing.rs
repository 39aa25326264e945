//! `ReducingState<T>`: one value per key, folded with a reduce function.

use super::KeyedStateAccess;
use super::slot::ReducingSlot;
use crate::error::StateError;
use crate::handle::define_handle;
use crate::names::short_type_name;
use runnel_types::Data;

define_handle!(
    /// A handle to keyed reducing state: the current key's values folded into
    /// one. Obtained from
    /// [`KeyedStateStore::get_reducing_state`](crate::KeyedStateStore::get_reducing_state).
    ReducingState<T>
);

impl<T: Data> ReducingState<T> {
    fn describe() -> String {
        format!("reducing state of {}", short_type_name::<T>())
    }

    /// Folds `value` into the current key's value: `reduce(current, value)`, or
    /// `value` itself when unset. One hash lookup.
    #[inline]
    pub fn add<C: KeyedStateAccess + ?Sized>(
        &self,
        ctx: &mut C,
        value: T,
    ) -> Result<(), StateError> {
        let a = ctx
            .keyed_state()
            .access::<ReducingSlot<C::Key, T>>(self.index, Self::describe)?;
        let reduce = &a.slot.reduce;
        let mut value = Some(value);
        a.slot
            .table
            .update_in_place(a.group, a.key, a.now, &mut |acc| {
                if let Some(value) = value.take() {
                    *acc = Some(match acc.take() {
                        Some(current) => reduce(current, value),
                        None => value,
                    });
                }
            })
    }

    /// The current key's value, `None` if nothing was added.
    #[inline]
    pub fn get<C: KeyedStateAccess + ?Sized>(&self, ctx: &mut C) -> Result<Option<T>, StateError> {
        let a = ctx
            .keyed_state()
            .access::<ReducingSlot<C::Key, T>>(self.index, Self::describe)?;
        a.slot.table.get(a.group, a.key, a.now)
    }

    /// Removes the current key's value.
    pub fn clear<C: KeyedStateAccess + ?Sized>(&self, ctx: &mut C) -> Result<(), StateError> {
        let a = ctx
            .keyed_state()
            .access::<ReducingSlot<C::Key, T>>(self.index, Self::describe)?;
        a.slot.table.remove(a.group, a.key)
    }
}

#[cfg(test)]
mod tests {
    use crate::{KeyedStateStore, ReducingStateDescriptor, StateBackendKind};
    use runnel_types::KeyGroupRange;
    use std::rc::Rc;

    #[test]
    fn folds_per_key_accumulator_first() {
        let range = KeyGroupRange { start: 0, end: 127 };
        let mut s = KeyedStateStore::<u32>::new(StateBackendKind::Heap, range, 128, Rc::new(|| 0));
        // Not commutative, so the argument order shows.
        let d = ReducingStateDescriptor::new("concat", |acc: String, v: String| acc + &v);
        let r = s.get_reducing_state(&d).unwrap();
        // (key, value added, value afterwards)
        let steps = [
            (1, "a", "a"),
            (2, "x", "x"),
            (1, "b", "ab"),
            (1, "c", "abc"),
        ];
        for (key, value, expected) in steps {
            s.set_current_key(key).unwrap();
            r.add(&mut s, value.to_string()).unwrap();
            assert_eq!(r.get(&mut s).unwrap().as_deref(), Some(expected));
        }
        r.clear(&mut s).unwrap();
        assert_eq!(r.get(&mut s).unwrap(), None);
    }
}
