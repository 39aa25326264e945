//! `ValueState<T>`: one value per key.

use super::KeyedStateAccess;
use super::slot::ValueSlot;
use crate::error::StateError;
use crate::handle::define_handle;
use crate::names::short_type_name;
use runnel_types::Data;

define_handle!(
    /// A handle to keyed value state: one `T` per key. Obtained from
    /// [`KeyedStateStore::get_state`](crate::KeyedStateStore::get_state).
    ///
    /// ```
    /// # use runnel_state::*;
    /// # use runnel_types::KeyGroupRange;
    /// # use std::rc::Rc;
    /// # fn main() -> Result<(), StateError> {
    /// # let range = KeyGroupRange { start: 0, end: 127 };
    /// let mut store = KeyedStateStore::<u64>::new(StateBackendKind::Heap, range, 128, Rc::new(|| 0));
    /// let sum = store.get_state(&ValueStateDescriptor::<u64>::new("sum"))?;
    /// store.set_current_key(7)?;
    /// for x in [1, 2, 3] {
    ///     // One hash lookup per call: the value is updated in place.
    ///     sum.with_value(&mut store, |v| *v = Some(v.unwrap_or(0) + x))?;
    /// }
    /// assert_eq!(sum.value(&mut store)?, Some(6));
    /// # Ok(())
    /// # }
    /// ```
    ValueState<T>
);

impl<T: Data> ValueState<T> {
    fn describe() -> String {
        format!("value state of {}", short_type_name::<T>())
    }

    /// The current key's value, `None` if unset (or expired).
    #[inline]
    pub fn value<C: KeyedStateAccess + ?Sized>(
        &self,
        ctx: &mut C,
    ) -> Result<Option<T>, StateError> {
        let a = ctx
            .keyed_state()
            .access::<ValueSlot<C::Key, T>>(self.index, Self::describe)?;
        a.slot.0.get(a.group, a.key, a.now)
    }

    /// Sets the current key's value.
    #[inline]
    pub fn update<C: KeyedStateAccess + ?Sized>(
        &self,
        ctx: &mut C,
        value: T,
    ) -> Result<(), StateError> {
        let a = ctx
            .keyed_state()
            .access::<ValueSlot<C::Key, T>>(self.index, Self::describe)?;
        a.slot.0.put(a.group, a.key, value, a.now)
    }

    /// Removes the current key's value.
    #[inline]
    pub fn clear<C: KeyedStateAccess + ?Sized>(&self, ctx: &mut C) -> Result<(), StateError> {
        let a = ctx
            .keyed_state()
            .access::<ValueSlot<C::Key, T>>(self.index, Self::describe)?;
        a.slot.0.remove(a.group, a.key)
    }

    /// Calls `f` with the current key's value in place (`None` when unset) and
    /// returns its result, with one hash lookup. If the value is `None` after `f`,
    /// it is removed; if it is `Some`, it is stored and counts as a *write* for TTL
    /// (its timestamp is refreshed even if `f` only looked at it: use
    /// [`ValueState::value`] for reads that must not extend the lifetime).
    #[inline]
    pub fn with_value<C: KeyedStateAccess + ?Sized, R>(
        &self,
        ctx: &mut C,
        f: impl FnOnce(&mut Option<T>) -> R,
    ) -> Result<R, StateError> {
        let a = ctx
            .keyed_state()
            .access::<ValueSlot<C::Key, T>>(self.index, Self::describe)?;
        let mut f = Some(f);
        let mut out = None;
        a.slot
            .0
            .update_in_place(a.group, a.key, a.now, &mut |value| {
                if let Some(f) = f.take() {
                    out = Some(f(value));
                }
            })?;
        out.ok_or_else(|| StateError::Backend {
            state: Self::describe(),
            message: "update_in_place did not call its function".to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::{KeyedStateStore, StateBackendKind, ValueStateDescriptor};
    use runnel_types::KeyGroupRange;
    use std::rc::Rc;

    fn store() -> KeyedStateStore<String> {
        let range = KeyGroupRange { start: 0, end: 127 };
        KeyedStateStore::new(StateBackendKind::Heap, range, 128, Rc::new(|| 0))
    }

    #[test]
    fn values_are_scoped_to_the_current_key() {
        let mut s = store();
        let v = s.get_state(&ValueStateDescriptor::<u64>::new("v")).unwrap();
        // (key, operation, value read afterwards)
        let steps: [(&str, Option<u64>, Option<u64>); 6] = [
            ("a", None, None),
            ("a", Some(1), Some(1)),
            ("b", None, None),
            ("b", Some(2), Some(2)),
            ("a", None, Some(1)),
            ("a", Some(3), Some(3)),
        ];
        for (key, write, expected) in steps {
            s.set_current_key(key.to_string()).unwrap();
            if let Some(w) = write {
                v.update(&mut s, w).unwrap();
            }
            assert_eq!(v.value(&mut s).unwrap(), expected, "key {key}");
        }
        assert_eq!(s.entry_count("v"), Some(2));
        v.clear(&mut s).unwrap();
        assert_eq!(v.value(&mut s).unwrap(), None);
        assert_eq!(s.entry_count("v"), Some(1));
    }

    #[test]
    fn with_value_updates_in_place_and_removes_on_none() {
        let mut s = store();
        let v = s
            .get_state(&ValueStateDescriptor::<String>::new("v"))
            .unwrap();
        s.set_current_key("k".to_string()).unwrap();
        let was_set = v.with_value(&mut s, |x| x.is_some()).unwrap();
        assert!(!was_set);
        assert_eq!(
            s.entry_count("v"),
            Some(0),
            "looking at an unset value creates nothing"
        );
        v.with_value(&mut s, |x| *x = Some("a".into())).unwrap();
        v.with_value(&mut s, |x| x.as_mut().unwrap().push('b'))
            .unwrap();
        assert_eq!(v.value(&mut s).unwrap().as_deref(), Some("ab"));
        let taken = v.with_value(&mut s, Option::take).unwrap();
        assert_eq!(taken.as_deref(), Some("ab"));
        assert_eq!(v.value(&mut s).unwrap(), None);
        assert_eq!(s.entry_count("v"), Some(0));
    }
}
