//! Savepoints (H3, D6): taken by hand from a running job, with or without
//! stopping it, and restored into a job of another parallelism; state is
//! matched to operators by uid.

use runnel::prelude::*;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const N: u64 = 40_000;
const KEYS: u64 = 7;

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("runnel-savepoints-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

type Sums = Arc<Mutex<BTreeMap<u64, u64>>>;

fn expected() -> BTreeMap<u64, u64> {
    let mut m = BTreeMap::new();
    for i in 0..N {
        *m.entry(i % KEYS).or_default() += i;
    }
    m
}

/// Sums of 0..N per key; with `slow`, slowed down so a savepoint can be taken
/// while it runs. The sum operator has a uid; `with_extra` adds a stateful
/// operator (with uid "extra") in front of it.
fn job(env: &StreamExecutionEnvironment, sums: &Sums, slow: bool, with_extra: bool) {
    let mut stream = env
        .from_generator(N, |i| i)
        .map(move |i: u64| {
            if slow && i.is_multiple_of(200) {
                std::thread::sleep(Duration::from_millis(1));
            }
            (i % KEYS, i)
        })
        .uid("keyed-values")
        .key_by(key_of);
    if with_extra {
        stream = stream.reduce(|a, b| (a.0, b.1)).uid("extra").key_by(key_of);
    }
    let sums = sums.clone();
    stream
        .sum(|(_, v)| v)
        .uid("sum")
        .add_sink(move |(k, v): (u64, u64)| {
            sums.lock().unwrap().insert(k, v);
        });
}

fn key_of(e: &(u64, u64)) -> u64 {
    e.0
}

fn env(parallelism: u32) -> StreamExecutionEnvironment {
    let env = StreamExecutionEnvironment::local();
    env.set_parallelism(parallelism);
    env
}

/// Runs the slow job at `parallelism` and takes a savepoint once `sums`
/// reports progress; `stop` stops the job with it.
fn savepoint_midway(parallelism: u32, stop: bool, out: &std::path::Path) -> String {
    let env = env(parallelism);
    let sums = Sums::default();
    job(&env, &sums, true, false);
    let client = env.execute_async("savepoint me").unwrap();
    while sums.lock().unwrap().values().sum::<u64>() < 1_000_000 {
        std::thread::sleep(Duration::from_millis(2));
    }
    let location = if stop {
        client.stop_with_savepoint(Some(out.to_path_buf())).unwrap()
    } else {
        client.trigger_savepoint(Some(out.to_path_buf())).unwrap()
    };
    if stop {
        let result = client.wait().unwrap();
        assert_eq!(
            result.stopped_with_savepoint.as_deref(),
            Some(location.as_str())
        );
    } else {
        client.cancel();
        let _ = client.wait();
    }
    location
}

/// Resumes the fast job from `savepoint` at `parallelism`.
fn resume(savepoint: &str, parallelism: u32) -> BTreeMap<u64, u64> {
    let env = env(parallelism);
    env.restore_from(savepoint, false);
    let sums = Sums::default();
    job(&env, &sums, false, false);
    let result = env.execute("resumed").unwrap();
    let source = result.operator("Source: Data Generator").unwrap();
    assert!(
        source.records_out < N,
        "the source continued from the savepoint ({} records)",
        source.records_out
    );
    sums.lock().unwrap().clone()
}

#[test]
fn a_savepoint_resumes_at_a_lower_or_higher_parallelism() {
    let out = dir("rescale");
    let savepoint = savepoint_midway(2, false, &out);
    assert!(
        PathBuf::from(&savepoint).join("_metadata").is_file(),
        "{savepoint} holds the metadata"
    );
    for p in [1, 2, 3] {
        assert_eq!(
            resume(&savepoint, p),
            expected(),
            "resumed at parallelism {p}"
        );
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn stop_with_savepoint_stops_the_job_and_resumes_where_it_stopped() {
    let out = dir("stop");
    let savepoint = savepoint_midway(2, true, &out);
    assert_eq!(resume(&savepoint, 2), expected());
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn state_of_an_operator_the_job_lacks_needs_allow_non_restored_state() {
    let out = dir("unmapped");
    // Take the savepoint of a job with an extra stateful operator.
    let env = env(1);
    let sums = Sums::default();
    job(&env, &sums, true, true);
    let client = env.execute_async("with extra").unwrap();
    std::thread::sleep(Duration::from_millis(30));
    let savepoint = client.trigger_savepoint(Some(out.clone())).unwrap();
    client.cancel();
    let _ = client.wait();

    let env2 = env_for(&savepoint, false);
    let err = env2.execute("without extra").unwrap_err().to_string();
    assert!(err.contains("uid `extra`"), "{err}");
    assert!(err.contains("allow non-restored state"), "{err}");

    let env3 = env_for(&savepoint, true);
    env3.execute("without extra, allowed").unwrap();
    let _ = std::fs::remove_dir_all(&out);
}

fn env_for(savepoint: &str, allow: bool) -> StreamExecutionEnvironment {
    let env = env(1);
    env.restore_from(savepoint, allow);
    job(&env, &Sums::default(), false, false);
    env
}

#[test]
fn a_savepoint_needs_a_directory() {
    let env = env(1);
    job(&env, &Sums::default(), true, false);
    let client = env.execute_async("no dir").unwrap();
    let err = client.trigger_savepoint(None).unwrap_err().to_string();
    assert!(err.contains("no savepoint directory"), "{err}");
    client.cancel();
    let _ = client.wait();
}
