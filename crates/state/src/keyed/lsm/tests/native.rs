//! Native (RocksDB file) snapshots: restoring one gives the same state as the
//! canonical snapshot would, into the same key groups or rescaled; later
//! snapshots keep the data files earlier ones have.

use super::*;
use crate::StateError;
use crate::keyed::{NativeKeyedSnapshot, NativeRestore};

/// What a checkpoint writer and a restore would do: copies the snapshot's
/// files into a restore directory.
fn download(snapshot: &NativeKeyedSnapshot) -> NativeRestore {
    let StateBackendKind::Lsm(options) = lsm() else {
        unreachable!()
    };
    let mut restore =
        NativeRestore::directory(&options, snapshot.key_groups, snapshot.states.clone()).unwrap();
    for f in &snapshot.files {
        std::fs::copy(&f.path, restore.path().join(&f.name)).unwrap();
        if f.shared {
            restore.restored_from.push((
                f.name.clone(),
                format!("mem://{}/{}", snapshot.backend_uid, f.name),
            ));
        }
    }
    restore
}

fn shared_names(s: &NativeKeyedSnapshot) -> Vec<String> {
    s.files
        .iter()
        .filter(|f| f.shared)
        .map(|f| f.name.clone())
        .collect()
}

#[test]
fn a_native_snapshot_restores_the_same_state() {
    for returns_expired in [false, true] {
        let clock = Rc::new(Cell::new(1_000));
        let mut a = store(lsm(), full(), &clock);
        let h = register(&mut a, returns_expired);
        fill(&mut a, &h, 300, 1);
        churn(&mut a, &h, &clock);
        let expected_groups = a.snapshot_key_groups().unwrap();
        let expected_counts = counts(&a);
        let snapshot = a
            .native_snapshot()
            .unwrap()
            .expect("an LSM store with state");
        assert!(snapshot.files.iter().any(|f| f.shared));
        assert!(
            snapshot
                .files
                .iter()
                .any(|f| f.name == "CURRENT" && !f.shared)
        );

        let mut b = store(lsm(), full(), &clock);
        b.restore_native(vec![download(&snapshot)]).unwrap();
        // Before its states are registered the store cannot write a savepoint.
        let err = b.snapshot_key_groups().unwrap_err();
        assert!(matches!(err, StateError::Unsupported { .. }), "{err}");
        let hb = register(&mut b, returns_expired);
        assert_eq!(counts(&b), expected_counts);
        assert_eq!(b.snapshot_key_groups().unwrap(), expected_groups);
        assert_eq!(contents(&mut b, &hb), contents(&mut a, &h));
    }
}

#[test]
fn a_restored_state_must_be_registered_as_its_kind() {
    let clock = Rc::new(Cell::new(0));
    let mut a = store(lsm(), full(), &clock);
    let h = register(&mut a, false);
    fill(&mut a, &h, 10, 1);
    let snapshot = a.native_snapshot().unwrap().unwrap();
    let mut b = store(lsm(), full(), &clock);
    b.restore_native(vec![download(&snapshot)]).unwrap();
    let err = b
        .get_list_state(&ListStateDescriptor::<u64>::new("value"))
        .unwrap_err();
    assert!(
        matches!(err, StateError::RestoredIncompatible { .. }),
        "{err}"
    );

    let mut heap = store(StateBackendKind::Heap, full(), &clock);
    let err = heap.restore_native(vec![download(&snapshot)]).unwrap_err();
    assert!(
        err.to_string().contains("state.backend.type: rocksdb"),
        "{err}"
    );
}

#[test]
fn later_snapshots_keep_the_data_files_of_earlier_ones() {
    let clock = Rc::new(Cell::new(0));
    let mut a = store(lsm(), full(), &clock);
    let h = register(&mut a, false);
    fill(&mut a, &h, 200, 1);
    let first = a.native_snapshot().unwrap().unwrap();
    fill(&mut a, &h, 20, 2);
    let second = a.native_snapshot().unwrap().unwrap();
    let (one, two) = (shared_names(&first), shared_names(&second));
    assert_eq!(first.backend_uid, second.backend_uid);
    // Two flushes, no compaction yet: the second has the first's file and one
    // new file with the changes.
    assert!(one.iter().all(|f| two.contains(f)), "{one:?} {two:?}");
    assert_eq!(two.len(), one.len() + 1, "{one:?} {two:?}");

    // A store restored from the second reports where its files came from, and
    // its next snapshot has them (same names), plus its own new file.
    let mut b = store(lsm(), full(), &clock);
    b.restore_native(vec![download(&second)]).unwrap();
    let hb = register(&mut b, false);
    fill(&mut b, &hb, 5, 3);
    let third = b.native_snapshot().unwrap().unwrap();
    assert_ne!(third.backend_uid, second.backend_uid);
    let restored: Vec<_> = third
        .files
        .iter()
        .filter(|f| f.restored_from.is_some())
        .map(|f| f.name.clone())
        .collect();
    assert_eq!(restored, two);
    assert_eq!(
        third
            .files
            .iter()
            .filter(|f| f.shared && f.restored_from.is_none())
            .count(),
        1
    );
}

#[test]
fn native_snapshots_rescale_by_key_group() {
    let clock = Rc::new(Cell::new(0));
    let mut old = Vec::new();
    // The LSM backend writes canonical snapshots in key order, so they compare
    // byte for byte.
    let mut reference = store(lsm(), full(), &clock);
    let href = register(&mut reference, false);
    fill(&mut reference, &href, 500, 4);
    for i in 0..2 {
        let range = compute_key_group_range_for_operator_index(MAX_P, 2, i);
        let mut s = store(lsm(), range, &clock);
        let h = register(&mut s, false);
        for k in 0..500u64 {
            if s.set_current_key(k).is_ok() {
                h.value.update(&mut s, k * 10 + 4).unwrap();
                h.ttl_value.update(&mut s, format!("{k}-4")).unwrap();
                h.list.add_all(&mut s, vec![k, 4]).unwrap();
                h.map.put(&mut s, (k % 4) as u8, k + 4).unwrap();
                h.ns.put(&mut s, (k % 3) as u32, k * 4).unwrap();
                h.sum.add(&mut s, 5).unwrap();
            }
        }
        old.push(s.native_snapshot().unwrap().unwrap());
    }
    let expected = reference.snapshot_key_groups().unwrap();
    for p in [1u32, 3] {
        let mut groups = Vec::new();
        let mut entries = 0;
        for i in 0..p {
            let range = compute_key_group_range_for_operator_index(MAX_P, p, i);
            let mut s = store(lsm(), range, &clock);
            let restores = old
                .iter()
                .filter(|o| o.key_groups.start <= range.end && range.start <= o.key_groups.end)
                .map(download)
                .collect();
            s.restore_native(restores).unwrap();
            register(&mut s, false);
            entries += s.total_entry_count();
            groups.extend(s.snapshot_key_groups().unwrap());
        }
        assert!(groups == expected, "p={p}: the key groups differ");
        assert_eq!(entries, reference.total_entry_count(), "p={p}");
    }
}
