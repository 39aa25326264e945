//! The hot path of keyed state (set the key, read, update) allocates nothing for
//! fixed-size keys and values once the keys exist.
//!
//! The counting allocator is process-wide, so this file holds one test: the
//! harness's other threads are idle while it runs.

use runnel_state::{
    KeyedStateStore, ReducingStateDescriptor, StateBackendKind, ValueStateDescriptor,
};
use runnel_types::compute_key_group_range_for_operator_index;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;
use std::rc::Rc;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[test]
fn value_and_reducing_state_access_does_not_allocate() {
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
    let keys = 1_000u64;
    // Create every key first: growing the maps allocates, as it should.
    for k in 0..keys {
        store.set_current_key(k).unwrap();
        count.update(&mut store, 0).unwrap();
        max.add(&mut store, 0).unwrap();
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
    }
    let stats = region.change();
    assert_eq!(
        (stats.allocations, stats.reallocations),
        (0, 0),
        "allocations on the keyed state hot path"
    );
    store.set_current_key(7).unwrap();
    assert_eq!(count.value(&mut store).unwrap(), Some(200));
}
