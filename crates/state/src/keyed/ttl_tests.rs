//! State TTL (D2) on keyed state, with a manual clock.

use crate::{
    KeyedStateStore, ListStateDescriptor, MapStateDescriptor, ReducingStateDescriptor,
    StateBackendKind, StateTtlConfig, StateVisibility, UpdateType, ValueStateDescriptor,
};
use runnel_types::{KeyGroupRange, assign_to_key_group};
use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

const MAX_P: u32 = 128;

/// A store over all key groups and the clock driving it.
fn store() -> (KeyedStateStore<u64>, Rc<Cell<i64>>) {
    let clock = Rc::new(Cell::new(1_000));
    let time = Rc::clone(&clock);
    let range = KeyGroupRange {
        start: 0,
        end: MAX_P - 1,
    };
    let store = KeyedStateStore::new(
        StateBackendKind::Heap,
        range,
        MAX_P,
        Rc::new(move || time.get()),
    );
    (store, clock)
}

fn ttl(ms: u64) -> StateTtlConfig {
    StateTtlConfig::new(Duration::from_millis(ms))
}

#[test]
fn a_value_expires_at_exactly_write_time_plus_ttl() {
    let (mut s, clock) = store();
    let v = s
        .get_state(&ValueStateDescriptor::<u64>::new("v").with_ttl(ttl(100)))
        .unwrap();
    s.set_current_key(1).unwrap();
    v.update(&mut s, 7).unwrap(); // written at 1000
    // (now, value read)
    for (now, expected) in [
        (1_000, Some(7)),
        (1_099, Some(7)),
        (1_100, None),
        (1_101, None),
    ] {
        clock.set(now);
        assert_eq!(v.value(&mut s).unwrap(), expected, "at {now}");
    }
    assert_eq!(s.entry_count("v"), Some(0), "the expired read removed it");
}

#[test]
fn writes_refresh_and_reads_refresh_only_on_read_and_write() {
    // (update type, read at 1050 extends the life to 1150?)
    for (update, read_refreshes) in [
        (UpdateType::OnCreateAndWrite, false),
        (UpdateType::OnReadAndWrite, true),
    ] {
        let (mut s, clock) = store();
        let d = ValueStateDescriptor::<u64>::new("v").with_ttl(ttl(100).update_type(update));
        let v = s.get_state(&d).unwrap();
        s.set_current_key(1).unwrap();
        v.update(&mut s, 1).unwrap(); // 1000
        clock.set(1_050);
        assert_eq!(v.value(&mut s).unwrap(), Some(1));
        clock.set(1_120);
        let expected = read_refreshes.then_some(1);
        assert_eq!(v.value(&mut s).unwrap(), expected, "{update:?}");

        // A write always refreshes.
        v.update(&mut s, 2).unwrap(); // 1120
        clock.set(1_219);
        assert_eq!(v.value(&mut s).unwrap(), Some(2), "{update:?}");
        clock.set(1_320);
        assert_eq!(v.value(&mut s).unwrap(), None, "{update:?}");
    }
}

#[test]
fn visibility_modes() {
    // (visibility, first read after expiry, second read)
    for (visibility, first, second) in [
        (StateVisibility::NeverReturnExpired, None, None),
        (StateVisibility::ReturnExpiredIfNotCleanedUp, Some(5), None),
    ] {
        let (mut s, clock) = store();
        let config = ttl(10)
            .state_visibility(visibility)
            .disable_cleanup_in_background();
        let v = s
            .get_state(&ValueStateDescriptor::<u64>::new("v").with_ttl(config))
            .unwrap();
        s.set_current_key(1).unwrap();
        v.update(&mut s, 5).unwrap();
        clock.set(2_000);
        assert_eq!(v.value(&mut s).unwrap(), first, "{visibility:?}");
        assert_eq!(
            v.value(&mut s).unwrap(),
            second,
            "{visibility:?}: the read removed it"
        );

        // Cleanup removes it before any read can return it.
        v.update(&mut s, 6).unwrap();
        clock.set(3_000);
        assert_eq!(s.cleanup_expired(), 1);
        assert_eq!(v.value(&mut s).unwrap(), None, "{visibility:?}");
    }
}

#[test]
fn with_value_sees_no_expired_value_and_counts_as_a_write() {
    let (mut s, clock) = store();
    let v = s
        .get_state(&ValueStateDescriptor::<u64>::new("v").with_ttl(ttl(100)))
        .unwrap();
    s.set_current_key(1).unwrap();
    v.update(&mut s, 1).unwrap();
    clock.set(1_100);
    assert_eq!(v.with_value(&mut s, |x| x.take()).unwrap(), None);
    v.with_value(&mut s, |x| *x = Some(9)).unwrap(); // written at 1100
    clock.set(1_150);
    v.with_value(&mut s, |x| assert_eq!(*x, Some(9))).unwrap(); // refreshed to 1150
    clock.set(1_249);
    assert_eq!(v.value(&mut s).unwrap(), Some(9));
}

#[test]
fn list_elements_expire_one_by_one() {
    let (mut s, clock) = store();
    let l = s
        .get_list_state(&ListStateDescriptor::<u32>::new("l").with_ttl(ttl(100)))
        .unwrap();
    s.set_current_key(1).unwrap();
    l.add(&mut s, 1).unwrap(); // 1000
    clock.set(1_050);
    l.add_all(&mut s, vec![2, 3]).unwrap(); // 1050
    // (now, elements read)
    let steps: [(i64, &[u32]); 3] = [(1_099, &[1, 2, 3]), (1_100, &[2, 3]), (1_150, &[])];
    for (now, expected) in steps {
        clock.set(now);
        assert_eq!(l.get(&mut s).unwrap(), expected, "at {now}");
    }
    assert_eq!(s.entry_count("l"), Some(0));
    // `update` stamps every element anew.
    l.update(&mut s, vec![4, 5]).unwrap();
    clock.set(1_249);
    let mut seen = Vec::new();
    l.for_each(&mut s, |x| seen.push(*x)).unwrap();
    assert_eq!(seen, [4, 5]);
}

#[test]
fn map_entries_expire_one_by_one() {
    let (mut s, clock) = store();
    let d = MapStateDescriptor::<String, u32>::new("m").with_ttl(ttl(100));
    let m = s.get_map_state(&d).unwrap();
    s.set_current_key(1).unwrap();
    m.put(&mut s, "old".into(), 1).unwrap(); // 1000
    clock.set(1_050);
    m.put(&mut s, "new".into(), 2).unwrap(); // 1050
    clock.set(1_100);
    // (check, result at 1100: "old" has expired, "new" has not)
    assert_eq!(m.get(&mut s, &"new".into()).unwrap(), Some(2));
    assert!(!m.contains(&mut s, &"old".into()).unwrap());
    assert_eq!(m.keys(&mut s).unwrap(), ["new"]);
    assert_eq!(m.entries(&mut s).unwrap(), [("new".into(), 2)]);
    assert!(!m.is_empty(&mut s).unwrap());
    assert_eq!(s.entry_count("m"), Some(1));
    clock.set(1_150);
    assert!(m.is_empty(&mut s).unwrap());
    assert_eq!(m.values(&mut s).unwrap(), Vec::<u32>::new());
    assert_eq!(s.entry_count("m"), Some(0));
}

#[test]
fn reducing_state_restarts_after_expiry() {
    let (mut s, clock) = store();
    let d = ReducingStateDescriptor::new("sum", |a: u64, b| a + b).with_ttl(ttl(100));
    let r = s.get_reducing_state(&d).unwrap();
    s.set_current_key(1).unwrap();
    r.add(&mut s, 1).unwrap();
    r.add(&mut s, 2).unwrap();
    clock.set(1_099);
    assert_eq!(r.get(&mut s).unwrap(), Some(3));
    r.add(&mut s, 3).unwrap(); // written at 1099
    clock.set(1_199);
    assert_eq!(r.get(&mut s).unwrap(), None);
    r.add(&mut s, 10).unwrap();
    assert_eq!(
        r.get(&mut s).unwrap(),
        Some(10),
        "the expired sum is not folded in"
    );
}

/// Writes `keys` distinct keys at time 1000; returns a key different from all.
fn fill(s: &mut KeyedStateStore<u64>, v: crate::ValueState<u64>, keys: u64) -> u64 {
    for key in 0..keys {
        s.set_current_key(key).unwrap();
        v.update(s, key).unwrap();
    }
    keys
}

#[test]
fn incremental_cleanup_alone_keeps_state_bounded() {
    const N: u64 = 10_000;
    let (mut s, clock) = store();
    let d = ValueStateDescriptor::<u64>::new("v").with_ttl(ttl(100).cleanup_incrementally(5));
    let v = s.get_state(&d).unwrap();
    let other = fill(&mut s, v, N);
    assert_eq!(s.entry_count("v"), Some(N as usize));
    clock.set(2_000);
    // Keep accessing one other key; never read the expired ones.
    s.set_current_key(other).unwrap();
    let mut accesses = 0;
    while s.entry_count("v") > Some(1) {
        v.update(&mut s, 1).unwrap();
        accesses += 1;
        assert!(
            accesses <= 2 * (N + 128) / 5,
            "cleanup must finish in about N/5 accesses"
        );
    }
    assert_eq!(s.entry_count("v"), Some(1), "only the live key is left");
}

#[test]
fn cleanup_expired_empties_the_store_at_once() {
    let (mut s, clock) = store();
    let d =
        ValueStateDescriptor::<u64>::new("v").with_ttl(ttl(100).disable_cleanup_in_background());
    let v = s.get_state(&d).unwrap();
    let plain = s
        .get_state(&ValueStateDescriptor::<u64>::new("plain"))
        .unwrap();
    fill(&mut s, v, 1_000);
    plain.update(&mut s, 1).unwrap();
    clock.set(1_099);
    assert_eq!(s.cleanup_expired(), 0);
    // Without background cleanup, accesses to other keys remove nothing.
    clock.set(5_000);
    s.set_current_key(123_456).unwrap();
    v.update(&mut s, 1).unwrap();
    assert_eq!(s.entry_count("v"), Some(1_001));
    clock.set(5_099);
    assert_eq!(s.cleanup_expired(), 1_000);
    assert_eq!(s.entry_count("v"), Some(1));
    assert_eq!(
        s.entry_count("plain"),
        Some(1),
        "state without TTL is untouched"
    );
}

#[test]
fn snapshots_keep_timestamps_and_drop_what_can_never_be_read() {
    let (mut s, clock) = store();
    let d = ValueStateDescriptor::<u64>::new("v").with_ttl(ttl(100));
    let v = s.get_state(&d).unwrap();
    s.set_current_key(1).unwrap();
    v.update(&mut s, 1).unwrap(); // 1000
    let group = assign_to_key_group(&1u64, MAX_P);
    clock.set(1_050);
    let live = s.snapshot_key_group(group).unwrap();
    clock.set(1_100);
    let expired = s.snapshot_key_group(group).unwrap();
    assert!(expired.len() < live.len(), "the expired value is left out");

    let (mut restored, clock2) = store();
    clock2.set(1_050);
    restored.restore_key_group(group, &live).unwrap();
    let v2 = restored.get_state(&d).unwrap();
    restored.set_current_key(1).unwrap();
    clock2.set(1_099);
    assert_eq!(v2.value(&mut restored).unwrap(), Some(1));
    clock2.set(1_100);
    assert_eq!(
        v2.value(&mut restored).unwrap(),
        None,
        "written at 1000, not at restore"
    );

    // A state without TTL restored into one with TTL is stamped at restore time.
    let (mut plain, _) = store();
    let p = plain
        .get_state(&ValueStateDescriptor::<u64>::new("v"))
        .unwrap();
    plain.set_current_key(1).unwrap();
    p.update(&mut plain, 8).unwrap();
    let bytes = plain.snapshot_key_group(group).unwrap();
    let (mut with_ttl, clock3) = store();
    clock3.set(7_000);
    let t = with_ttl.get_state(&d).unwrap();
    with_ttl.restore_key_group(group, &bytes).unwrap();
    with_ttl.set_current_key(1).unwrap();
    clock3.set(7_099);
    assert_eq!(t.value(&mut with_ttl).unwrap(), Some(8));
    clock3.set(7_100);
    assert_eq!(t.value(&mut with_ttl).unwrap(), None);
}
