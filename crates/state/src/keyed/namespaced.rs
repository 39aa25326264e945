//! `NamespacedValueState<N, V>`: one value per (key, namespace).

use super::KeyedStateAccess;
use super::slot::NamespacedSlot;
use crate::error::StateError;
use crate::handle::define_handle;
use crate::names::short_type_name;
use runnel_types::{Data, Key};

define_handle!(
    /// A handle to namespaced value state: one `V` per (current key, namespace
    /// `N`). Obtained from
    /// [`KeyedStateStore::get_namespaced_state`](crate::KeyedStateStore::get_namespaced_state).
    ///
    /// This is Flink's internal keyed state with a namespace: a window operator
    /// keeps one accumulator per (key, window) in it, with the window as the
    /// namespace. Unlike a [`MapState<N, V>`](crate::MapState), which keeps a map per
    /// key, the heap backend keeps one flat map per key group keyed by the pair, so
    /// an access is one hash lookup and removing a namespace (a window that fired)
    /// frees nothing per key. Namespaced state has no TTL.
    ///
    /// ```
    /// # use runnel_state::{KeyedStateStore, StateBackendKind, ValueStateDescriptor};
    /// # use std::rc::Rc;
    /// # let range = runnel_types::compute_key_group_range_for_operator_index(128, 1, 0);
    /// # let mut store = KeyedStateStore::<u64>::new(StateBackendKind::Heap, range, 128, Rc::new(|| 0));
    /// // (start, end) of a window: the namespace.
    /// let counts = store.get_namespaced_state::<(i64, i64), u64>(
    ///     &ValueStateDescriptor::new("window-contents"),
    /// )?;
    /// store.set_current_key(7)?;
    /// for ts in [1, 2, 12] {
    ///     let window = (ts - ts % 10, ts - ts % 10 + 10);
    ///     counts.upsert(&mut store, &window, || 0, |n| *n += 1)?;
    /// }
    /// assert_eq!(counts.take(&mut store, &(0, 10))?, Some(2));
    /// assert_eq!(counts.namespaces(&mut store)?, [(10, 20)]);
    /// # Ok::<(), runnel_state::StateError>(())
    /// ```
    NamespacedValueState<N, V>
);

/// Gets the table and current key for a namespaced access.
macro_rules! namespaced_access {
    ($self:ident, $ctx:ident) => {
        $ctx.keyed_state()
            .access::<NamespacedSlot<C::Key, N, V>>($self.index, Self::describe)?
    };
}

impl<N: Key, V: Data> NamespacedValueState<N, V> {
    fn describe() -> String {
        format!(
            "namespaced value state of {} per {}",
            short_type_name::<V>(),
            short_type_name::<N>()
        )
    }

    /// A copy of the current key's value in `namespace`.
    #[inline]
    pub fn get<C: KeyedStateAccess + ?Sized>(
        &self,
        ctx: &mut C,
        namespace: &N,
    ) -> Result<Option<V>, StateError> {
        let a = namespaced_access!(self, ctx);
        a.slot.0.get(a.group, a.key, namespace)
    }

    /// Whether the current key has a value in `namespace`.
    #[inline]
    pub fn contains<C: KeyedStateAccess + ?Sized>(
        &self,
        ctx: &mut C,
        namespace: &N,
    ) -> Result<bool, StateError> {
        let a = namespaced_access!(self, ctx);
        a.slot.0.contains(a.group, a.key, namespace)
    }

    /// Sets the current key's value in `namespace`.
    #[inline]
    pub fn put<C: KeyedStateAccess + ?Sized>(
        &self,
        ctx: &mut C,
        namespace: N,
        value: V,
    ) -> Result<(), StateError> {
        let a = namespaced_access!(self, ctx);
        a.slot.0.put(a.group, a.key, namespace, value)
    }

    /// Removes the current key's value in `namespace` and returns it.
    #[inline]
    pub fn take<C: KeyedStateAccess + ?Sized>(
        &self,
        ctx: &mut C,
        namespace: &N,
    ) -> Result<Option<V>, StateError> {
        let a = namespaced_access!(self, ctx);
        a.slot.0.take(a.group, a.key, namespace)
    }

    /// Removes the current key's value in `namespace`.
    #[inline]
    pub fn remove<C: KeyedStateAccess + ?Sized>(
        &self,
        ctx: &mut C,
        namespace: &N,
    ) -> Result<(), StateError> {
        let a = namespaced_access!(self, ctx);
        a.slot.0.remove(a.group, a.key, namespace)
    }

    /// Updates the current key's value in `namespace` in place with `f`, first
    /// creating it with `create` if there is none. One hash lookup for an existing
    /// entry, and neither the key nor the namespace is cloned unless the entry is
    /// created. Returns whether the entry was created. Always inlined, so the
    /// closures are built in place rather than copied from the caller's frame.
    #[inline(always)]
    pub fn upsert<C: KeyedStateAccess + ?Sized>(
        &self,
        ctx: &mut C,
        namespace: &N,
        create: impl FnOnce() -> V,
        f: impl FnOnce(&mut V),
    ) -> Result<bool, StateError> {
        let a = namespaced_access!(self, ctx);
        let (mut create, mut f) = (Some(create), Some(f));
        a.slot.0.upsert(
            a.group,
            a.key,
            namespace,
            &mut || (create.take().expect("create is called at most once"))(),
            &mut |v| {
                if let Some(f) = f.take() {
                    f(v)
                }
            },
        )
    }

    /// Calls `f` with the current key's value in `namespace` in place (`None` when
    /// unset) and returns its result, with one hash lookup. If the value is `None`
    /// after `f`, the entry is removed; if it is `Some`, it is stored.
    #[inline]
    pub fn with_value<C: KeyedStateAccess + ?Sized, R>(
        &self,
        ctx: &mut C,
        namespace: &N,
        f: impl FnOnce(&mut Option<V>) -> R,
    ) -> Result<R, StateError> {
        let a = namespaced_access!(self, ctx);
        let mut f = Some(f);
        let mut out = None;
        a.slot
            .0
            .update_in_place(a.group, a.key, namespace, &mut |value| {
                if let Some(f) = f.take() {
                    out = Some(f(value));
                }
            })?;
        out.ok_or_else(|| StateError::Backend {
            state: Self::describe(),
            message: "update_in_place did not call its function".to_string(),
        })
    }

    /// Calls `f` with each namespace of the current key and its value (in no
    /// particular order), without copying. Costs a pass over the entries of the
    /// key's key group: for rare uses such as clearing a key.
    pub fn for_each<C: KeyedStateAccess + ?Sized>(
        &self,
        ctx: &mut C,
        mut f: impl FnMut(&N, &V),
    ) -> Result<(), StateError> {
        let a = namespaced_access!(self, ctx);
        a.slot.0.for_each(a.group, a.key, &mut f)
    }

    /// The namespaces in which the current key has a value (in no particular
    /// order). Costs a pass over the entries of the key's key group.
    pub fn namespaces<C: KeyedStateAccess + ?Sized>(
        &self,
        ctx: &mut C,
    ) -> Result<Vec<N>, StateError> {
        let mut out = Vec::new();
        self.for_each(ctx, |n, _| out.push(n.clone()))?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::{
        KeyedStateStore, MapStateDescriptor, StateBackendKind, StateError, StateKind,
        StateTtlConfig, ValueStateDescriptor,
    };
    use runnel_types::KeyGroupRange;
    use serde::{Deserialize, Serialize};
    use std::rc::Rc;
    use std::time::Duration;

    /// A window as window operators use it: a 16-byte `Copy` namespace.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    struct Window {
        start: i64,
        end: i64,
    }

    const W1: Window = Window { start: 0, end: 10 };
    const W2: Window = Window { start: 10, end: 20 };

    fn store() -> KeyedStateStore<String> {
        let range = KeyGroupRange { start: 0, end: 127 };
        KeyedStateStore::new(StateBackendKind::Heap, range, 128, Rc::new(|| 0))
    }

    #[test]
    fn values_are_scoped_to_the_current_key_and_namespace() {
        let mut s = store();
        let v = s
            .get_namespaced_state::<Window, u64>(&ValueStateDescriptor::new("v"))
            .unwrap();
        assert_eq!(s.state_kind("v"), Some(StateKind::NamespacedValue));
        // (key, namespace, value written, value read afterwards)
        let steps = [
            ("a", W1, None, None),
            ("a", W1, Some(1), Some(1)),
            ("b", W1, None, None),
            ("b", W1, Some(2), Some(2)),
            ("a", W2, None, None),
            ("a", W2, Some(3), Some(3)),
            ("a", W1, None, Some(1)),
            ("b", W2, None, None),
        ];
        for (key, window, write, expected) in steps {
            s.set_current_key(key.to_string()).unwrap();
            if let Some(w) = write {
                v.put(&mut s, window, w).unwrap();
            }
            assert_eq!(
                v.get(&mut s, &window).unwrap(),
                expected,
                "{key} {window:?}"
            );
            assert_eq!(v.contains(&mut s, &window).unwrap(), expected.is_some());
        }
        assert_eq!(s.entry_count("v"), Some(3));
        s.set_current_key("a".to_string()).unwrap();
        let mut windows = v.namespaces(&mut s).unwrap();
        windows.sort_by_key(|w| w.start);
        assert_eq!(windows, [W1, W2]);
        let mut seen = Vec::new();
        v.for_each(&mut s, |w, n| seen.push((w.start, *n))).unwrap();
        seen.sort();
        assert_eq!(seen, [(0, 1), (10, 3)]);

        v.put(&mut s, W1, 10).unwrap();
        assert_eq!(v.get(&mut s, &W1).unwrap(), Some(10), "put replaces");
        assert_eq!(v.take(&mut s, &W1).unwrap(), Some(10));
        assert_eq!(v.take(&mut s, &W1).unwrap(), None);
        v.remove(&mut s, &W2).unwrap();
        v.remove(&mut s, &W2).unwrap();
        assert!(v.namespaces(&mut s).unwrap().is_empty());
        s.set_current_key("b".to_string()).unwrap();
        assert_eq!(v.get(&mut s, &W1).unwrap(), Some(2), "other keys are kept");
        assert_eq!(s.entry_count("v"), Some(1));
    }

    #[test]
    fn upsert_creates_once_and_updates_in_place() {
        let mut s = store();
        let v = s
            .get_namespaced_state::<Window, Vec<u32>>(&ValueStateDescriptor::new("v"))
            .unwrap();
        s.set_current_key("k".to_string()).unwrap();
        let mut creates = 0;
        for (i, window) in [W1, W1, W2, W1].into_iter().enumerate() {
            let created = v
                .upsert(
                    &mut s,
                    &window,
                    || {
                        creates += 1;
                        Vec::new()
                    },
                    |list| list.push(i as u32),
                )
                .unwrap();
            assert_eq!(created, i == 0 || i == 2, "upsert {i}");
        }
        assert_eq!(creates, 2);
        assert_eq!(v.get(&mut s, &W1).unwrap(), Some(vec![0, 1, 3]));
        assert_eq!(v.get(&mut s, &W2).unwrap(), Some(vec![2]));
        s.set_current_key("other".to_string()).unwrap();
        assert!(v.upsert(&mut s, &W1, Vec::new, |l| l.push(9)).unwrap());
        assert_eq!(v.get(&mut s, &W1).unwrap(), Some(vec![9]));
        assert_eq!(s.entry_count("v"), Some(3));
    }

    thread_local! {
        static CLONES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    /// A key or namespace that counts its clones.
    #[derive(Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
    struct Counted(u64);

    impl Clone for Counted {
        fn clone(&self) -> Self {
            CLONES.with(|c| c.set(c.get() + 1));
            Counted(self.0)
        }
    }

    #[test]
    fn key_and_namespace_are_cloned_only_when_an_entry_is_created() {
        let range = KeyGroupRange { start: 0, end: 127 };
        let mut s =
            KeyedStateStore::<Counted>::new(StateBackendKind::Heap, range, 128, Rc::new(|| 0));
        let v = s
            .get_namespaced_state::<Counted, u64>(&ValueStateDescriptor::new("v"))
            .unwrap();
        let clones = || CLONES.with(|c| c.get());
        s.set_current_key(Counted(1)).unwrap();
        let ns = Counted(7);
        assert!(v.upsert(&mut s, &ns, || 0, |n| *n += 1).unwrap());
        assert_eq!(
            clones(),
            2,
            "creating clones the key and the namespace once"
        );
        for _ in 0..10 {
            assert!(!v.upsert(&mut s, &ns, || 0, |n| *n += 1).unwrap());
            v.with_value(&mut s, &ns, |n| *n = n.map(|n| n + 1))
                .unwrap();
            assert!(v.contains(&mut s, &ns).unwrap());
            assert!(v.get(&mut s, &ns).unwrap().is_some());
        }
        assert_eq!(clones(), 2, "existing entries are found by reference");
        assert_eq!(v.take(&mut s, &ns).unwrap(), Some(21));
        v.with_value(&mut s, &ns, |n| *n = Some(1)).unwrap();
        assert_eq!(clones(), 4, "with_value creating an entry clones once");
    }

    #[test]
    fn with_value_updates_in_place_and_removes_on_none() {
        let mut s = store();
        let v = s
            .get_namespaced_state::<Window, String>(&ValueStateDescriptor::new("v"))
            .unwrap();
        s.set_current_key("k".to_string()).unwrap();
        assert!(!v.with_value(&mut s, &W1, |x| x.is_some()).unwrap());
        assert_eq!(
            s.entry_count("v"),
            Some(0),
            "looking at an unset value creates nothing"
        );
        v.with_value(&mut s, &W1, |x| *x = Some("a".into()))
            .unwrap();
        v.with_value(&mut s, &W1, |x| x.as_mut().unwrap().push('b'))
            .unwrap();
        v.with_value(&mut s, &W2, |x| *x = Some("w2".into()))
            .unwrap();
        assert_eq!(v.get(&mut s, &W1).unwrap().as_deref(), Some("ab"));
        let taken = v.with_value(&mut s, &W1, Option::take).unwrap();
        assert_eq!(taken.as_deref(), Some("ab"));
        assert_eq!(v.get(&mut s, &W1).unwrap(), None);
        assert_eq!(v.get(&mut s, &W2).unwrap().as_deref(), Some("w2"));
        assert_eq!(s.entry_count("v"), Some(1));
    }

    #[test]
    fn registration_is_checked() {
        let mut s = store();
        let d = ValueStateDescriptor::<u64>::new("v");
        let a = s.get_namespaced_state::<Window, u64>(&d).unwrap();
        assert_eq!(s.get_namespaced_state::<Window, u64>(&d).unwrap(), a);
        // (what the second registration does, the message it must give)
        let cases: Vec<(Result<(), StateError>, &str)> = vec![
            (
                s.get_namespaced_state::<Window, i64>(&ValueStateDescriptor::new("v"))
                    .map(drop),
                "state `v` is registered as namespaced value state of u64 per Window, \
                 not namespaced value state of i64 per Window",
            ),
            (
                s.get_namespaced_state::<u64, u64>(&d).map(drop),
                "not namespaced value state of u64 per u64",
            ),
            (s.get_state(&d).map(drop), "not value state of u64"),
            (
                s.get_map_state(&MapStateDescriptor::<Window, u64>::new("v"))
                    .map(drop),
                "not map state of Window -> u64",
            ),
        ];
        for (result, message) in cases {
            let err = result.unwrap_err();
            assert!(matches!(err, StateError::Incompatible { .. }), "{err}");
            assert!(err.to_string().contains(message), "{err}");
        }
        s.get_state(&ValueStateDescriptor::<u64>::new("plain"))
            .unwrap();
        let err = s
            .get_namespaced_state::<Window, u64>(&ValueStateDescriptor::new("plain"))
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("registered as value state of u64, not namespaced value state"),
            "{err}"
        );

        let ttl = StateTtlConfig::new(Duration::from_secs(1));
        let err = s
            .get_namespaced_state::<Window, u64>(&ValueStateDescriptor::new("t").with_ttl(ttl))
            .unwrap_err();
        assert!(matches!(err, StateError::Unsupported { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            "state `t`: time-to-live is not supported for namespaced state"
        );
        assert_eq!(s.state_names(), ["v", "plain"]);
    }

    #[test]
    fn accesses_need_a_current_key_and_their_own_store() {
        let mut s = store();
        let v = s
            .get_namespaced_state::<Window, u64>(&ValueStateDescriptor::new("v"))
            .unwrap();
        let err = v.get(&mut s, &W1).unwrap_err();
        assert!(matches!(err, StateError::NoCurrentKey { .. }), "{err}");
        let mut other = store();
        other
            .get_namespaced_state::<Window, String>(&ValueStateDescriptor::new("v"))
            .unwrap();
        other.set_current_key("k".to_string()).unwrap();
        let err = v.upsert(&mut other, &W1, || 0, |_| {}).unwrap_err();
        assert!(matches!(err, StateError::ForeignHandle { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("namespaced value state of u64 per Window"),
            "{err}"
        );
    }
}
