//! The savepoint format is versioned (H3): a version-1 savepoint written by an
//! earlier build, kept under `tests/fixtures/savepoint-v1`, still restores.
//!
//! The fixture holds a savepoint of `job` (parallelism 2) taken midway; the
//! resumed job must finish the per-key sums exactly. Regenerate it (only when
//! the format version changes, keeping the old one) with
//! `cargo test --test savepoint_format -- --ignored --nocapture`.

use runnel::prelude::*;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const N: u64 = 20_000;
const KEYS: u64 = 5;

type Sums = Arc<Mutex<BTreeMap<u64, u64>>>;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/savepoint-v1")
}

fn job(env: &StreamExecutionEnvironment, sums: &Sums, slow: bool) {
    let sums = sums.clone();
    env.from_generator(N, |i| i)
        .uid("numbers")
        .map(move |i: u64| {
            if slow && i.is_multiple_of(100) {
                std::thread::sleep(Duration::from_millis(1));
            }
            (i % KEYS, i)
        })
        .uid("pairs")
        .key_by(|(k, _)| *k)
        .sum(|(_, v)| v)
        .uid("sums")
        .add_sink(move |(k, v): (u64, u64)| {
            sums.lock().unwrap().insert(k, v);
        })
        .uid("sink");
}

#[test]
fn a_version_1_savepoint_still_restores() {
    let metadata = std::fs::read(fixture().join("_metadata")).unwrap();
    assert_eq!(
        &metadata[..5],
        b"RNLM\x01",
        "the fixture is a version-1 metadata file"
    );
    for p in [1, 2, 3] {
        let env = StreamExecutionEnvironment::local();
        env.set_parallelism(p);
        env.restore_from(fixture(), false);
        let sums = Sums::default();
        job(&env, &sums, false);
        let result = env.execute("from the v1 fixture").unwrap();
        assert!(
            result
                .operator("Source: Data Generator")
                .unwrap()
                .records_out
                < N,
            "the source continued from the savepoint"
        );
        let mut expected = BTreeMap::new();
        for i in 0..N {
            *expected.entry(i % KEYS).or_default() += i;
        }
        assert_eq!(*sums.lock().unwrap(), expected, "parallelism {p}");
    }
}

#[test]
#[ignore = "writes the fixture; run by hand when a new format version is introduced"]
fn generate_the_fixture() {
    let out = std::env::temp_dir().join(format!("runnel-fixture-{}", std::process::id()));
    let env = StreamExecutionEnvironment::local();
    env.set_parallelism(2);
    let sums = Sums::default();
    job(&env, &sums, true);
    let client = env.execute_async("fixture").unwrap();
    while sums.lock().unwrap().values().sum::<u64>() < 10_000_000 {
        std::thread::sleep(Duration::from_millis(2));
    }
    let location = client.stop_with_savepoint(Some(out.clone())).unwrap();
    client.wait().unwrap();
    let target = fixture();
    let _ = std::fs::remove_dir_all(&target);
    std::fs::create_dir_all(&target).unwrap();
    for entry in std::fs::read_dir(&location).unwrap().flatten() {
        std::fs::copy(entry.path(), target.join(entry.file_name())).unwrap();
    }
    println!("fixture written from {location}");
}
