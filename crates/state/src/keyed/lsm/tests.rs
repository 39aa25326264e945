//! The LSM backend against the heap backend: random operations must give the same
//! results and entry counts, and snapshots must restore across backends.

use super::LsmOptions;
use crate::{
    KeyedStateStore, ListState, ListStateDescriptor, MapState, MapStateDescriptor,
    NamespacedValueState, ReducingState, ReducingStateDescriptor, StateBackendKind, StateTtlConfig,
    StateVisibility, UpdateType, ValueState, ValueStateDescriptor,
};
use proptest::prelude::*;
use runnel_types::{KeyGroupRange, compute_key_group_range_for_operator_index};
use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

const MAX_P: u32 = 128;

fn lsm() -> StateBackendKind {
    StateBackendKind::Lsm(LsmOptions {
        local_dir: None,
        memory_budget: 4 * 1024 * 1024,
    })
}

fn store(
    backend: StateBackendKind,
    range: KeyGroupRange,
    clock: &Rc<Cell<i64>>,
) -> KeyedStateStore<u64> {
    let time = Rc::clone(clock);
    KeyedStateStore::new(backend, range, MAX_P, Rc::new(move || time.get()))
}

fn full() -> KeyGroupRange {
    KeyGroupRange {
        start: 0,
        end: MAX_P - 1,
    }
}

struct Handles {
    value: ValueState<u64>,
    ttl_value: ValueState<String>,
    list: ListState<u64>,
    map: MapState<u8, u64>,
    ns: NamespacedValueState<u32, u64>,
    sum: ReducingState<u64>,
}

fn ttl(returns_expired: bool) -> StateTtlConfig {
    let t = StateTtlConfig::new(Duration::from_millis(100))
        .update_type(UpdateType::OnReadAndWrite)
        .disable_cleanup_in_background();
    if returns_expired {
        t.state_visibility(StateVisibility::ReturnExpiredIfNotCleanedUp)
    } else {
        t
    }
}

fn register(s: &mut KeyedStateStore<u64>, returns_expired: bool) -> Handles {
    Handles {
        value: s.get_state(&ValueStateDescriptor::new("value")).unwrap(),
        ttl_value: s
            .get_state(&ValueStateDescriptor::new("ttl_value").with_ttl(ttl(returns_expired)))
            .unwrap(),
        list: s
            .get_list_state(&ListStateDescriptor::new("list").with_ttl(ttl(returns_expired)))
            .unwrap(),
        map: s
            .get_map_state(&MapStateDescriptor::new("map").with_ttl(ttl(returns_expired)))
            .unwrap(),
        ns: s
            .get_namespaced_state(&ValueStateDescriptor::new("ns"))
            .unwrap(),
        sum: s
            .get_reducing_state(&ReducingStateDescriptor::new("sum", |a: u64, b| a + b))
            .unwrap(),
    }
}

#[derive(Debug, Clone)]
enum Op {
    Key(u64),
    Tick(i64),
    ValuePut(u64),
    ValueGet,
    ValueClear,
    TtlPut(u64),
    TtlGet,
    TtlClear,
    ListAdd(u64),
    ListAddAll(Vec<u64>),
    ListGet,
    ListUpdate(Vec<u64>),
    ListClear,
    MapPut(u8, u64),
    MapGet(u8),
    MapRemove(u8),
    MapTake(u8),
    MapUpsert(u8, u64),
    MapContains(u8),
    MapEntries,
    MapIsEmpty,
    MapClear,
    NsPut(u32, u64),
    NsGet(u32),
    NsTake(u32),
    NsUpsert(u32, u64),
    NsUpdateInPlace(u32, Option<u64>),
    NsList,
    SumAdd(u64),
    SumGet,
    CleanupAll,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u64..4).prop_map(Op::Key),
        (0i64..150).prop_map(Op::Tick),
        any::<u64>().prop_map(Op::ValuePut),
        Just(Op::ValueGet),
        Just(Op::ValueClear),
        (0u64..1000).prop_map(Op::TtlPut),
        Just(Op::TtlGet),
        Just(Op::TtlClear),
        any::<u64>().prop_map(Op::ListAdd),
        proptest::collection::vec(0u64..9, 0..4).prop_map(Op::ListAddAll),
        Just(Op::ListGet),
        proptest::collection::vec(0u64..9, 0..4).prop_map(Op::ListUpdate),
        Just(Op::ListClear),
        (0u8..5, any::<u64>()).prop_map(|(k, v)| Op::MapPut(k, v)),
        (0u8..5).prop_map(Op::MapGet),
        (0u8..5).prop_map(Op::MapRemove),
        (0u8..5).prop_map(Op::MapTake),
        (0u8..5, 0u64..100).prop_map(|(k, v)| Op::MapUpsert(k, v)),
        (0u8..5).prop_map(Op::MapContains),
        Just(Op::MapEntries),
        Just(Op::MapIsEmpty),
        Just(Op::MapClear),
        (0u32..4, any::<u64>()).prop_map(|(n, v)| Op::NsPut(n, v)),
        (0u32..4).prop_map(Op::NsGet),
        (0u32..4).prop_map(Op::NsTake),
        (0u32..4, 0u64..100).prop_map(|(n, v)| Op::NsUpsert(n, v)),
        (0u32..4, proptest::option::of(0u64..100)).prop_map(|(n, v)| Op::NsUpdateInPlace(n, v)),
        Just(Op::NsList),
        (0u64..100).prop_map(Op::SumAdd),
        Just(Op::SumGet),
        Just(Op::CleanupAll),
    ]
}

/// Applies `op`; returns what it observed.
fn apply(s: &mut KeyedStateStore<u64>, h: &Handles, clock: &Cell<i64>, op: &Op) -> String {
    match op {
        Op::Key(k) => format!("{:?}", s.set_current_key(*k).map_err(|e| e.to_string())),
        Op::Tick(ms) => {
            clock.set(clock.get() + ms);
            String::new()
        }
        Op::ValuePut(v) => format!("{:?}", h.value.update(s, *v).is_ok()),
        Op::ValueGet => format!("{:?}", h.value.value(s).ok()),
        Op::ValueClear => format!("{:?}", h.value.clear(s).is_ok()),
        Op::TtlPut(v) => format!("{:?}", h.ttl_value.update(s, v.to_string()).is_ok()),
        Op::TtlGet => format!("{:?}", h.ttl_value.value(s).ok()),
        Op::TtlClear => format!("{:?}", h.ttl_value.clear(s).is_ok()),
        Op::ListAdd(v) => format!("{:?}", h.list.add(s, *v).is_ok()),
        Op::ListAddAll(v) => format!("{:?}", h.list.add_all(s, v.clone()).is_ok()),
        Op::ListGet => format!("{:?}", h.list.get(s).ok()),
        Op::ListUpdate(v) => format!("{:?}", h.list.update(s, v.clone()).is_ok()),
        Op::ListClear => format!("{:?}", h.list.clear(s).is_ok()),
        Op::MapPut(k, v) => format!("{:?}", h.map.put(s, *k, *v).is_ok()),
        Op::MapGet(k) => format!("{:?}", h.map.get(s, k).ok()),
        Op::MapRemove(k) => format!("{:?}", h.map.remove(s, k).is_ok()),
        Op::MapTake(k) => format!("{:?}", h.map.take(s, k).ok()),
        Op::MapUpsert(k, v) => format!(
            "{:?}",
            h.map.upsert(s, k, || *v, |x| *x = x.wrapping_mul(3)).ok()
        ),
        Op::MapContains(k) => format!("{:?}", h.map.contains(s, k).ok()),
        Op::MapEntries => format!(
            "{:?}",
            h.map.entries(s).ok().map(|mut e| {
                e.sort();
                e
            })
        ),
        Op::MapIsEmpty => format!("{:?}", h.map.is_empty(s).ok()),
        Op::MapClear => format!("{:?}", h.map.clear(s).is_ok()),
        Op::NsPut(n, v) => format!("{:?}", h.ns.put(s, *n, *v).is_ok()),
        Op::NsGet(n) => format!("{:?}", h.ns.get(s, n).ok()),
        Op::NsTake(n) => format!("{:?}", h.ns.take(s, n).ok()),
        Op::NsUpsert(n, v) => format!("{:?}", h.ns.upsert(s, n, || *v, |x| *x += 1).ok()),
        Op::NsUpdateInPlace(n, v) => format!(
            "{:?}",
            h.ns.with_value(s, n, |slot| {
                let old = *slot;
                *slot = *v;
                old
            })
            .ok()
        ),
        Op::NsList => format!(
            "{:?}",
            h.ns.namespaces(s).ok().map(|mut e| {
                e.sort();
                e
            })
        ),
        Op::SumAdd(v) => format!("{:?}", h.sum.add(s, *v).is_ok()),
        Op::SumGet => format!("{:?}", h.sum.get(s).ok()),
        Op::CleanupAll => format!("{}", s.cleanup_expired()),
    }
}

fn counts(s: &KeyedStateStore<u64>) -> Vec<Option<usize>> {
    ["value", "ttl_value", "list", "map", "ns", "sum"]
        .iter()
        .map(|n| s.entry_count(n))
        .collect()
}

/// Everything a store holds for keys `0..12`, read without refreshing TTLs.
fn contents(s: &mut KeyedStateStore<u64>, h: &Handles) -> String {
    let mut out = String::new();
    for k in 0..12u64 {
        s.set_current_key(k).unwrap();
        let mut m = h.map.entries(s).unwrap();
        m.sort();
        let mut ns = h.ns.namespaces(s).unwrap();
        ns.sort();
        let ns: Vec<_> = ns
            .into_iter()
            .map(|n| (n, h.ns.get(s, &n).unwrap()))
            .collect();
        out += &format!(
            "{k}: {:?} {:?} {:?} {m:?} {ns:?} {:?}\n",
            h.value.value(s).unwrap(),
            h.ttl_value.value(s).unwrap(),
            h.list.get(s).unwrap(),
            h.sum.get(s).unwrap()
        );
    }
    out
}

/// A copy of `from` in a new store of `backend`, through key-group snapshots.
fn copy(
    from: &KeyedStateStore<u64>,
    backend: StateBackendKind,
    clock: &Rc<Cell<i64>>,
    register_first: bool,
    returns_expired: bool,
) -> (KeyedStateStore<u64>, Handles) {
    let mut to = store(backend, from.key_group_range(), clock);
    let early = register_first.then(|| register(&mut to, returns_expired));
    for (group, bytes) in from.snapshot_key_groups().unwrap() {
        to.restore_key_group(group, &bytes).unwrap();
    }
    let h = early.unwrap_or_else(|| register(&mut to, returns_expired));
    (to, h)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn lsm_behaves_like_heap(
        ops in proptest::collection::vec(op(), 1..200),
        returns_expired in any::<bool>(),
        register_first in any::<bool>(),
        cache_budget in prop_oneof![Just(None), (0usize..2_000).prop_map(Some)],
    ) {
        let clock = Rc::new(Cell::new(1_000));
        let mut heap = store(StateBackendKind::Heap, full(), &clock);
        let mut disk = store(lsm(), full(), &clock);
        let hh = register(&mut heap, returns_expired);
        let hd = register(&mut disk, returns_expired);
        // Tiny caches evict on (nearly) every access.
        let limit = |s: &KeyedStateStore<u64>| {
            if let Some(bytes) = cache_budget {
                s.lsm.as_ref().unwrap().set_cache_budget(bytes);
            }
        };
        limit(&disk);
        for (i, op) in ops.iter().enumerate() {
            let a = apply(&mut heap, &hh, &clock, op);
            let b = apply(&mut disk, &hd, &clock, op);
            prop_assert_eq!(&a, &b, "op {} {:?}", i, op);
            prop_assert_eq!(counts(&heap), counts(&disk), "counts after op {} {:?}", i, op);
        }
        // Snapshots restore across backends, in both directions.
        let (mut heap_from_disk, h1) = copy(&disk, StateBackendKind::Heap, &clock, register_first, returns_expired);
        let (mut disk_from_heap, h2) = copy(&heap, lsm(), &clock, register_first, returns_expired);
        let (mut disk_from_disk, h3) = copy(&disk, lsm(), &clock, !register_first, returns_expired);
        limit(&disk_from_heap);
        limit(&disk_from_disk);
        let expected = contents(&mut heap, &hh);
        prop_assert_eq!(&contents(&mut heap_from_disk, &h1), &expected);
        prop_assert_eq!(&contents(&mut disk_from_heap, &h2), &expected);
        prop_assert_eq!(&contents(&mut disk_from_disk, &h3), &expected);
        prop_assert_eq!(&contents(&mut disk, &hd), &expected);
    }
}

#[test]
fn key_groups_rescale_across_backends() {
    let clock = Rc::new(Cell::new(0));
    let mut a = store(
        lsm(),
        compute_key_group_range_for_operator_index(MAX_P, 2, 0),
        &clock,
    );
    let mut b = store(
        lsm(),
        compute_key_group_range_for_operator_index(MAX_P, 2, 1),
        &clock,
    );
    let ha = register(&mut a, false);
    let hb = register(&mut b, false);
    for k in 0..2_000u64 {
        let (s, h) = if a.set_current_key(k).is_ok() {
            (&mut a, &ha)
        } else {
            b.set_current_key(k).unwrap();
            (&mut b, &hb)
        };
        h.value.update(s, k * 2).unwrap();
        h.list.add_all(s, vec![k, k + 1]).unwrap();
        h.map.put(s, (k % 3) as u8, k).unwrap();
        h.ns.put(s, (k % 5) as u32, k).unwrap();
    }
    // Into three heap and three LSM stores.
    for backend in [StateBackendKind::Heap, lsm()] {
        let mut total = 0;
        for i in 0..3 {
            let range = compute_key_group_range_for_operator_index(MAX_P, 3, i);
            let mut s = store(backend, range, &clock);
            for from in [&a, &b] {
                for (group, bytes) in from.snapshot_key_groups().unwrap() {
                    if range.contains(group) {
                        s.restore_key_group(group, &bytes).unwrap();
                    }
                }
            }
            let h = register(&mut s, false);
            for k in 0..2_000u64 {
                if s.set_current_key(k).is_err() {
                    continue;
                }
                total += 1;
                assert_eq!(h.value.value(&mut s).unwrap(), Some(k * 2));
                assert_eq!(h.list.get(&mut s).unwrap(), [k, k + 1]);
                assert_eq!(h.map.entries(&mut s).unwrap(), [((k % 3) as u8, k)]);
                assert_eq!(h.ns.get(&mut s, &((k % 5) as u32)).unwrap(), Some(k));
            }
        }
        assert_eq!(total, 2_000);
    }
}

#[test]
fn the_directory_is_deleted_with_the_store() {
    let clock = Rc::new(Cell::new(0));
    let dir = std::env::temp_dir().join(format!("runnel-lsm-test-{}", std::process::id()));
    let leaked: &'static std::path::Path = Box::leak(dir.clone().into_boxed_path());
    let backend = StateBackendKind::Lsm(LsmOptions {
        local_dir: Some(leaked),
        memory_budget: 1 << 20,
    });
    let mut s = store(backend, full(), &clock);
    let v = s.get_state(&ValueStateDescriptor::<u64>::new("v")).unwrap();
    s.set_current_key(1).unwrap();
    v.update(&mut s, 5).unwrap();
    let path = s.lsm.as_ref().unwrap().path().to_path_buf();
    assert!(path.starts_with(&dir) && path.exists());
    drop(s);
    assert!(!path.exists());
    let _ = std::fs::remove_dir(&dir);
}

#[test]
fn key_encodings_are_prefix_free_for_strings() {
    // Map entries of key "a" must not include those of key "ab".
    let clock = Rc::new(Cell::new(0));
    let mut s = KeyedStateStore::<String>::new(lsm(), full(), MAX_P, {
        let c = Rc::clone(&clock);
        Rc::new(move || c.get())
    });
    let m = s
        .get_map_state(&MapStateDescriptor::<String, u64>::new("m"))
        .unwrap();
    for key in ["a", "ab", "", "b"] {
        s.set_current_key(key.to_string()).unwrap();
        m.put(&mut s, format!("{key}-x"), 1).unwrap();
    }
    for key in ["a", "ab", "", "b"] {
        s.set_current_key(key.to_string()).unwrap();
        assert_eq!(m.keys(&mut s).unwrap(), [format!("{key}-x")]);
    }
}

/// Writes a detached snapshot on another thread, as the checkpoint writer does.
fn write_elsewhere(
    detached: crate::DetachedKeyedSnapshot,
) -> Vec<(runnel_types::KeyGroup, Vec<u8>)> {
    std::thread::spawn(move || detached.write().unwrap())
        .join()
        .unwrap()
}

/// Fills every kind of state for keys `0..n`, with values depending on `round`.
fn fill(s: &mut KeyedStateStore<u64>, h: &Handles, n: u64, round: u64) {
    for k in 0..n {
        s.set_current_key(k).unwrap();
        h.value.update(s, k * 10 + round).unwrap();
        h.ttl_value.update(s, format!("{k}-{round}")).unwrap();
        h.list.add_all(s, vec![k, round]).unwrap();
        h.map.put(s, (k % 4) as u8, k + round).unwrap();
        h.ns.put(s, (k % 3) as u32, k * round).unwrap();
        h.sum.add(s, round + 1).unwrap();
    }
}

/// Changes every kind of state: overwrites, removals, clears, TTL expiry and
/// cleanup, and new keys.
fn churn(s: &mut KeyedStateStore<u64>, h: &Handles, clock: &Cell<i64>) {
    fill(s, h, 150, 7);
    for k in (0..150u64).step_by(3) {
        s.set_current_key(k).unwrap();
        h.value.clear(s).unwrap();
        h.ttl_value.clear(s).unwrap();
        h.list.clear(s).unwrap();
        h.map.clear(s).unwrap();
        h.ns.take(s, &((k % 3) as u32)).unwrap();
        h.sum.clear(s).unwrap();
    }
    clock.set(clock.get() + 500);
    s.cleanup_expired();
    fill(s, h, 40, 9);
}

#[test]
fn detached_snapshots_keep_the_state_at_the_detach() {
    for returns_expired in [false, true] {
        for tiny_cache in [false, true] {
            let clock = Rc::new(Cell::new(1_000));
            let mut s = store(lsm(), full(), &clock);
            let h = register(&mut s, returns_expired);
            if tiny_cache {
                s.lsm.as_ref().unwrap().set_cache_budget(500);
            }
            fill(&mut s, &h, 100, 1);
            // Half of the TTL entries are expired at the detach.
            clock.set(clock.get() + 60);
            fill(&mut s, &h, 50, 2);
            clock.set(clock.get() + 60);
            let expected = s.snapshot_key_groups().unwrap();
            assert!(!expected.is_empty());
            let detached = s.detach_snapshot().expect("LSM tables detach");
            churn(&mut s, &h, &clock);
            assert_ne!(s.snapshot_key_groups().unwrap(), expected);
            assert_eq!(
                write_elsewhere(detached),
                expected,
                "returns_expired {returns_expired}, tiny cache {tiny_cache}"
            );
        }
    }
}

#[test]
fn detached_snapshots_restore_into_both_backends() {
    let clock = Rc::new(Cell::new(1_000));
    let mut s = store(lsm(), full(), &clock);
    let h = register(&mut s, false);
    s.lsm.as_ref().unwrap().set_cache_budget(300);
    fill(&mut s, &h, 12, 1);
    let detached = s.detach_snapshot().unwrap();
    let (mut expected_store, eh) = copy(&s, StateBackendKind::Heap, &clock, true, false);
    let expected = contents(&mut expected_store, &eh);
    churn(&mut s, &h, &clock);
    clock.set(1_000);
    let groups = write_elsewhere(detached);
    for backend in [StateBackendKind::Heap, lsm()] {
        let mut to = store(backend, full(), &clock);
        for (group, bytes) in &groups {
            to.restore_key_group(*group, bytes).unwrap();
        }
        let h = register(&mut to, false);
        assert_eq!(contents(&mut to, &h), expected);
    }
}

#[test]
fn a_detached_snapshot_outlives_its_store() {
    let clock = Rc::new(Cell::new(0));
    let mut s = store(lsm(), full(), &clock);
    let h = register(&mut s, false);
    fill(&mut s, &h, 30, 1);
    let expected = s.snapshot_key_groups().unwrap();
    let detached = s.detach_snapshot().unwrap();
    let path = s.lsm.as_ref().unwrap().path().to_path_buf();
    drop(s);
    assert!(
        path.exists(),
        "the directory stays while a snapshot reads it"
    );
    let detached2 = std::thread::spawn(move || {
        assert_eq!(detached.write().unwrap(), expected);
        detached
    })
    .join()
    .unwrap();
    assert!(path.exists());
    drop(detached2);
    // The readers release the database on their own threads.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while path.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(!path.exists(), "the directory goes with the last snapshot");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn detached_snapshots_ignore_later_operations(
        before in proptest::collection::vec(op(), 1..150),
        after in proptest::collection::vec(op(), 1..150),
        returns_expired in any::<bool>(),
        cache_budget in prop_oneof![Just(None), (0usize..2_000).prop_map(Some)],
    ) {
        let clock = Rc::new(Cell::new(1_000));
        let mut s = store(lsm(), full(), &clock);
        let h = register(&mut s, returns_expired);
        if let Some(bytes) = cache_budget {
            s.lsm.as_ref().unwrap().set_cache_budget(bytes);
        }
        for op in &before {
            apply(&mut s, &h, &clock, op);
        }
        let expected = s.snapshot_key_groups().unwrap();
        let detached = s.detach_snapshot().unwrap();
        for op in &after {
            apply(&mut s, &h, &clock, op);
        }
        prop_assert_eq!(write_elsewhere(detached), expected);
    }
}

mod native;
