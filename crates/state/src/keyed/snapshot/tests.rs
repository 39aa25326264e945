//! Key-group snapshots: rescaling 2 → 3 (namespaced state too), pending states,
//! damage.

use crate::{
    KeyedStateStore, ListState, ListStateDescriptor, MapState, MapStateDescriptor,
    NamespacedValueState, StateBackendKind, StateError, ValueState, ValueStateDescriptor,
};
use runnel_types::{KeyGroup, assign_to_key_group, compute_key_group_range_for_operator_index};
use std::rc::Rc;

const MAX_P: u32 = 128;
const KEYS: u64 = 5_000;

fn store(parallelism: u32, index: u32) -> KeyedStateStore<u64> {
    let range = compute_key_group_range_for_operator_index(MAX_P, parallelism, index);
    KeyedStateStore::new(StateBackendKind::Heap, range, MAX_P, Rc::new(|| 0))
}

struct Handles {
    value: ValueState<u64>,
    list: ListState<String>,
    map: MapState<u8, u64>,
}

fn register(s: &mut KeyedStateStore<u64>) -> Handles {
    Handles {
        value: s.get_state(&ValueStateDescriptor::new("value")).unwrap(),
        list: s.get_list_state(&ListStateDescriptor::new("list")).unwrap(),
        map: s.get_map_state(&MapStateDescriptor::new("map")).unwrap(),
    }
}

/// The subtask of `parallelism` that owns `key`.
fn owner(key: u64, parallelism: u32) -> u32 {
    runnel_types::assign_key_to_parallel_operator(&key, MAX_P, parallelism)
}

#[test]
fn key_groups_rescale_from_two_subtasks_to_three() {
    // Fill two stores, each with the keys routed to it.
    let mut old: Vec<_> = (0..2).map(|i| store(2, i)).collect();
    let handles: Vec<_> = old.iter_mut().map(register).collect();
    for key in 0..KEYS {
        let i = owner(key, 2) as usize;
        let (s, h) = (&mut old[i], &handles[i]);
        s.set_current_key(key).unwrap();
        h.value.update(s, key * 10).unwrap();
        h.list
            .add_all(s, vec![key.to_string(), "x".into()])
            .unwrap();
        h.map.put(s, (key % 7) as u8, key).unwrap();
    }

    // Snapshot every key group, then restore each into the new store owning it —
    // before the new stores register their states (they are pending until then).
    let snapshots: Vec<(KeyGroup, Vec<u8>)> = old
        .iter()
        .flat_map(|s| s.snapshot_key_groups().unwrap())
        .collect();
    assert_eq!(
        snapshots.len(),
        MAX_P as usize,
        "5000 keys fill every key group"
    );
    let mut new: Vec<_> = (0..3).map(|i| store(3, i)).collect();
    for (group, bytes) in &snapshots {
        let target = runnel_types::compute_operator_index_for_key_group(MAX_P, 3, *group);
        new[target as usize]
            .restore_key_group(*group, bytes)
            .unwrap();
    }
    for s in &new {
        assert_eq!(s.pending_state_names(), ["value", "list", "map"]);
    }
    let handles: Vec<_> = new.iter_mut().map(register).collect();

    // Every key is found in the store that owns its key group, and nowhere else.
    for key in 0..KEYS {
        for (i, (s, h)) in new.iter_mut().zip(&handles).enumerate() {
            if i as u32 == owner(key, 3) {
                s.set_current_key(key).unwrap();
                assert_eq!(h.value.value(s).unwrap(), Some(key * 10), "key {key}");
                assert_eq!(h.list.get(s).unwrap(), [key.to_string(), "x".into()]);
                assert_eq!(h.map.entries(s).unwrap(), [((key % 7) as u8, key)]);
            } else {
                let err = s.set_current_key(key).unwrap_err();
                assert!(matches!(err, StateError::KeyOutOfRange { .. }));
            }
        }
    }
    let counts: Vec<_> = new
        .iter()
        .map(|s| s.entry_count("value").unwrap())
        .collect();
    assert_eq!(counts.iter().sum::<usize>(), KEYS as usize);
    for (i, s) in new.iter().enumerate() {
        let owned = (0..KEYS).filter(|k| owner(*k, 3) == i as u32).count();
        assert_eq!(counts[i], owned);
        assert_eq!(s.entry_count("list"), Some(2 * owned));
        assert!(s.pending_state_names().is_empty());
    }
}

#[test]
fn pending_states_survive_a_snapshot_and_must_match_their_kind() {
    let mut a = store(1, 0);
    let h = register(&mut a);
    a.set_current_key(3).unwrap();
    h.value.update(&mut a, 33).unwrap();
    let group = assign_to_key_group(&3u64, MAX_P);
    let bytes = a.snapshot_key_group(group).unwrap();

    // b restores but never registers; c restores b's snapshot.
    let mut b = store(1, 0);
    b.restore_key_group(group, &bytes).unwrap();
    assert_eq!(b.pending_state_names(), ["value"]);
    let again = b.snapshot_key_group(group).unwrap();
    let mut c = store(1, 0);
    c.restore_key_group(group, &again).unwrap();
    let err = c
        .get_list_state(&ListStateDescriptor::<u64>::new("value"))
        .unwrap_err();
    assert!(matches!(err, StateError::RestoredIncompatible { .. }));
    assert_eq!(
        c.pending_state_names(),
        ["value"],
        "a failed registration keeps them"
    );
    assert_eq!(
        err.to_string(),
        "state `value` was restored as value state, not as list state of u64"
    );
    let value = c
        .get_state(&ValueStateDescriptor::<u64>::new("value"))
        .unwrap();
    c.set_current_key(3).unwrap();
    assert_eq!(value.value(&mut c).unwrap(), Some(33));

    // Restoring into a registered state of another kind fails too.
    let mut d = store(1, 0);
    d.get_map_state(&MapStateDescriptor::<u8, u8>::new("value"))
        .unwrap();
    let err = d.restore_key_group(group, &bytes).unwrap_err();
    assert!(
        err.to_string().contains("not as map state of u8 -> u8"),
        "{err}"
    );
}

#[test]
fn empty_states_and_groups_are_left_out() {
    let mut s = store(1, 0);
    let h = register(&mut s);
    s.set_current_key(1).unwrap();
    h.value.update(&mut s, 1).unwrap();
    let groups = s.snapshot_key_groups().unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].0, assign_to_key_group(&1u64, MAX_P));
    // Header (4 + 1 + 2 + 4), name "value" (4 + 5), kind, length, count and one
    // entry (key, value, no timestamp: 8 + 8 + 1).
    assert_eq!(groups[0].1.len(), 11 + 9 + 1 + 8 + 8 + 17);
}

#[test]
fn damaged_or_misplaced_snapshots_are_rejected() {
    let mut s = store(2, 0);
    let h = register(&mut s);
    let key = (0..).find(|k| owner(*k, 2) == 0).unwrap();
    s.set_current_key(key).unwrap();
    h.value.update(&mut s, 5).unwrap();
    let group = assign_to_key_group(&key, MAX_P);
    let bytes = s.snapshot_key_group(group).unwrap();
    let other = KeyGroup(if group.0 == 0 { 1 } else { 0 });
    let mut fresh = store(2, 0);
    // (bytes, key group, expected message)
    let cases: Vec<(Vec<u8>, KeyGroup, &str)> = vec![
        (bytes[..bytes.len() - 1].to_vec(), group, "truncated"),
        ([bytes.as_slice(), &[0]].concat(), group, "trailing"),
        (b"nope".to_vec(), group, "not a key-group snapshot"),
        (bytes.clone(), other, "cannot be restored as key group"),
        (bytes.clone(), KeyGroup(100), "not held by this store"),
    ];
    for (bytes, group, message) in cases {
        let err = fresh.restore_key_group(group, &bytes).unwrap_err();
        assert!(err.to_string().contains(message), "{err}");
    }
    assert!(s.snapshot_key_group(KeyGroup(127)).is_err());
}

/// A window-like namespace: `(start, end)`.
type Window = (i64, i64);

/// The windows key `key` has values in: one to three of them.
fn windows_of(key: u64) -> Vec<Window> {
    (0..=(key % 3) as i64)
        .map(|w| (w * 10, w * 10 + 10))
        .collect()
}

fn register_namespaced(s: &mut KeyedStateStore<u64>) -> NamespacedValueState<Window, String> {
    s.get_namespaced_state(&ValueStateDescriptor::new("windows"))
        .unwrap()
}

#[test]
fn namespaced_state_rescales_from_two_subtasks_to_three() {
    let mut old: Vec<_> = (0..2).map(|i| store(2, i)).collect();
    let handles: Vec<_> = old.iter_mut().map(register_namespaced).collect();
    let mut entries = 0;
    for key in 0..KEYS {
        let i = owner(key, 2) as usize;
        let (s, h) = (&mut old[i], &handles[i]);
        s.set_current_key(key).unwrap();
        for w in windows_of(key) {
            h.put(s, w, format!("{key}@{}", w.0)).unwrap();
            entries += 1;
        }
    }
    let snapshots: Vec<(KeyGroup, Vec<u8>)> = old
        .iter()
        .flat_map(|s| s.snapshot_key_groups().unwrap())
        .collect();
    assert_eq!(snapshots.len(), MAX_P as usize);

    // Subtask 0 registers before the restore (entries go straight into its table),
    // the others after it (the entries wait as pending bytes).
    let mut new: Vec<_> = (0..3).map(|i| store(3, i)).collect();
    let first = register_namespaced(&mut new[0]);
    for (group, bytes) in &snapshots {
        let target = runnel_types::compute_operator_index_for_key_group(MAX_P, 3, *group);
        new[target as usize]
            .restore_key_group(*group, bytes)
            .unwrap();
    }
    assert!(new[0].pending_state_names().is_empty());
    assert_eq!(new[1].pending_state_names(), ["windows"]);
    let handles: Vec<_> = new.iter_mut().map(register_namespaced).collect();
    assert_eq!(handles[0], first);

    for key in 0..KEYS {
        let i = owner(key, 3) as usize;
        let (s, h) = (&mut new[i], &handles[i]);
        s.set_current_key(key).unwrap();
        let mut windows = h.namespaces(s).unwrap();
        windows.sort();
        assert_eq!(windows, windows_of(key), "key {key}");
        for w in windows {
            assert_eq!(h.get(s, &w).unwrap(), Some(format!("{key}@{}", w.0)));
        }
        assert_eq!(h.get(s, &(30, 40)).unwrap(), None);
    }
    let counts: Vec<_> = new
        .iter()
        .map(|s| s.entry_count("windows").unwrap())
        .collect();
    assert_eq!(counts.iter().sum::<usize>(), entries);
    for (i, count) in counts.into_iter().enumerate() {
        let owned: usize = (0..KEYS)
            .filter(|k| owner(*k, 3) == i as u32)
            .map(|k| windows_of(k).len())
            .sum();
        assert_eq!(count, owned);
    }

    // A snapshot of the restored state restores the same entries again.
    let group = assign_to_key_group(&7u64, MAX_P);
    let i = owner(7, 3) as usize;
    let bytes = new[i].snapshot_key_group(group).unwrap();
    let mut again = store(1, 0);
    again.restore_key_group(group, &bytes).unwrap();
    let h = register_namespaced(&mut again);
    again.set_current_key(7).unwrap();
    assert_eq!(
        h.get(&mut again, &(10, 20)).unwrap().as_deref(),
        Some("7@10")
    );
}

#[test]
fn namespaced_state_is_restored_only_as_namespaced_state() {
    let mut a = store(1, 0);
    let h = register_namespaced(&mut a);
    a.set_current_key(3).unwrap();
    h.put(&mut a, (0, 10), "x".into()).unwrap();
    let group = assign_to_key_group(&3u64, MAX_P);
    let bytes = a.snapshot_key_group(group).unwrap();

    let mut b = store(1, 0);
    b.restore_key_group(group, &bytes).unwrap();
    let err = b
        .get_state(&ValueStateDescriptor::<String>::new("windows"))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "state `windows` was restored as namespaced value state, not as value state of String"
    );
    let mut c = store(1, 0);
    c.get_state(&ValueStateDescriptor::<String>::new("windows"))
        .unwrap();
    let err = c.restore_key_group(group, &bytes).unwrap_err();
    assert!(
        matches!(err, StateError::RestoredIncompatible { .. }),
        "{err}"
    );

    // A value state's snapshot is not restored as namespaced state either.
    let mut d = store(1, 0);
    let v = d
        .get_state(&ValueStateDescriptor::<String>::new("windows"))
        .unwrap();
    d.set_current_key(3).unwrap();
    v.update(&mut d, "v".into()).unwrap();
    let mut e = store(1, 0);
    e.restore_key_group(group, &d.snapshot_key_group(group).unwrap())
        .unwrap();
    let err = e
        .get_namespaced_state::<Window, String>(&ValueStateDescriptor::new("windows"))
        .unwrap_err();
    assert!(
        err.to_string().contains(
            "restored as value state, not as namespaced value state of String per (i64, i64)"
        ),
        "{err}"
    );
}

#[test]
fn a_detached_snapshot_is_the_state_at_the_time_of_the_detach() {
    let mut s = store(1, 0);
    let h = register(&mut s);
    let windows = register_namespaced(&mut s);
    let fill = |s: &mut KeyedStateStore<u64>, round: u64| {
        for key in 0..KEYS {
            s.set_current_key(key).unwrap();
            h.value.update(s, key * 10 + round).unwrap();
            h.list.add(s, format!("{key}/{round}")).unwrap();
            h.map.put(s, (key % 7) as u8, key + round).unwrap();
            windows
                .put(s, (round as i64, 10), format!("{key}"))
                .unwrap();
        }
    };
    fill(&mut s, 1);
    let expected = s.snapshot_key_groups().unwrap();
    let detached = s.detach_snapshot().expect("heap tables detach");
    // The store goes on changing (copying each key group on its first write);
    // the detached snapshot does not.
    fill(&mut s, 2);
    for key in (0..KEYS).step_by(3) {
        s.set_current_key(key).unwrap();
        h.value.clear(&mut s).unwrap();
    }
    let after = s.snapshot_key_groups().unwrap();
    let written = std::thread::spawn(move || detached.write().unwrap())
        .join()
        .unwrap();
    assert_eq!(written, expected);
    assert_ne!(after, expected);
    // A second detach after the first is written sees the new state.
    let again = s.detach_snapshot().unwrap();
    assert_eq!(again.write().unwrap(), after);
}
