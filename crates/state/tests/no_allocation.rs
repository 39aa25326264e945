//! The hot path of keyed state (set the key, read, update) allocates nothing for
//! fixed-size keys and values once the keys exist; nor does an upsert of an
//! existing (key, namespace) of namespaced state.
//!
//! The counting allocator is process-wide, so this file holds one test: the
//! harness's other threads are idle while it runs.

use runnel_state::{
    KeyedStateStore, ReducingStateDescriptor, StateBackendKind, ValueStateDescriptor,
};
use runnel_types::compute_key_group_range_for_operator_index;
use serde::{Deserialize, Serialize};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;
use std::rc::Rc;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// A window as a window operator keys its state: a 16-byte `Copy` namespace.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
struct Window {
    start: i64,
    end: i64,
}

#[test]
fn keyed_state_access_does_not_allocate() {
    let range = compute_key_group_range_for_operator_index(128, 1, 0);
    let mut store = KeyedStateStore::<u64>::new(StateBackendKind::Heap, range, 128, Rc::new(|| 0));
    let count = store
        .get_state(&ValueStateDescriptor::<u64>::new("count"))
        .unwrap();
    let max = store
        .get_reducing_state(&ReducingStateDescriptor::new("max", |a: u64, b: u64| {
            a.max(b)
        }))
        .unwrap();
    let per_window = store
        .get_namespaced_state::<Window, u64>(&ValueStateDescriptor::new("per-window"))
        .unwrap();
    let windows = [0, 1, 2].map(|w| Window {
        start: w * 10,
        end: w * 10 + 10,
    });
    let keys = 1_000u64;
    // Create every key first: growing the maps allocates, as it should.
    for k in 0..keys {
        store.set_current_key(k).unwrap();
        count.update(&mut store, 0).unwrap();
        max.add(&mut store, 0).unwrap();
        for w in &windows {
            per_window.put(&mut store, *w, 0).unwrap();
        }
    }
    let region = Region::new(GLOBAL);
    for i in 0..100_000u64 {
        store.set_current_key(i % keys).unwrap();
        let n = count.value(&mut store).unwrap().unwrap_or(0);
        count.update(&mut store, n + 1).unwrap();
        max.add(&mut store, i).unwrap();
        count
            .with_value(&mut store, |v| {
                if let Some(n) = v {
                    *n += 1;
                }
            })
            .unwrap();
        let window = &windows[(i % 3) as usize];
        let created = per_window
            .upsert(&mut store, window, || 0, |n| *n += 1)
            .unwrap();
        assert!(!created);
        per_window
            .with_value(&mut store, window, |v| {
                if let Some(n) = v {
                    *n += 1;
                }
            })
            .unwrap();
    }
    let stats = region.change();
    assert_eq!(
        (stats.allocations, stats.reallocations),
        (0, 0),
        "allocations on the keyed state hot path"
    );
    store.set_current_key(7).unwrap();
    assert_eq!(count.value(&mut store).unwrap(), Some(200));
    // Key 7 saw i = 7 + 1000 j for j in 0..100: 34 of them in window 1.
    assert_eq!(per_window.get(&mut store, &windows[1]).unwrap(), Some(68));
}
