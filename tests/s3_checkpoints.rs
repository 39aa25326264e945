//! Checkpoints on S3 (feature `s3`) through whole jobs, against a moto S3
//! server on loopback: a job that fails restarts from its latest checkpoint
//! in the bucket, a later job restores from a retained one given as an
//! `s3://` path, and a savepoint taken into an `s3://` directory resumes
//! exactly.

#![cfg(feature = "s3")]

#[path = "../crates/checkpoint/tests/moto/mod.rs"]
mod moto;

use moto::Moto;
use runnel::config::S3Config;
use runnel::prelude::*;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const N: u64 = 20_000;
const KEYS: u64 = 10;

fn expected_sums() -> BTreeMap<u64, u64> {
    let mut m = BTreeMap::new();
    for x in 1..=N {
        *m.entry(x % KEYS).or_default() += x;
    }
    m
}

/// The last sum of each key, shared with the job's sink.
type Sums = Arc<Mutex<BTreeMap<u64, u64>>>;

/// Numbers 1..=N, slowed down so checkpoints complete while they flow, summed
/// per key; the sink keeps the last sum of each key, `seen` counts records.
fn sums_job(env: &StreamExecutionEnvironment, seen: Arc<AtomicU64>) -> Sums {
    env.set_parallelism(2);
    let last = Sums::default();
    let sink = last.clone();
    env.from_sequence(1, N)
        .map(move |x: u64| {
            seen.fetch_add(1, Ordering::Relaxed);
            if x.is_multiple_of(20) {
                std::thread::sleep(Duration::from_millis(1));
            }
            (x % KEYS, x)
        })
        .name("Slow")
        .key_by(|(k, _)| *k)
        .sum(|(_, v)| v)
        .name("Sum")
        .add_sink(move |(k, v): (u64, u64)| {
            sink.lock().unwrap().insert(k, v);
        });
    last
}

fn run_sums(
    config: Configuration,
    restore: Option<String>,
) -> (JobExecutionResult, BTreeMap<u64, u64>) {
    let env = StreamExecutionEnvironment::with_config(config);
    if let Some(path) = restore {
        env.restore_from(path, false);
    }
    let last = sums_job(&env, Arc::default());
    let result = env.execute("s3 sums").unwrap();
    let sums = last.lock().unwrap().clone();
    (result, sums)
}

fn on_s3(moto: &Moto, dir: &str) -> Configuration {
    let mut c = Configuration {
        restart_strategy: Some(RestartStrategyConfig::FixedDelay {
            attempts: 3,
            delay: Duration::ZERO,
        }),
        s3: S3Config {
            endpoint: Some(moto.endpoint()),
            access_key: Some("testing".to_string()),
            secret_key: Some("testing".to_string()),
            region: Some("us-east-1".to_string()),
            path_style_access: Some(true),
        },
        ..Configuration::default()
    };
    c.checkpointing.interval = Some(Duration::from_millis(20));
    c.checkpointing.dir = Some(PathBuf::from(dir));
    c
}

#[test]
fn a_failed_job_recovers_from_checkpoints_on_s3_and_a_new_job_restores_from_one() {
    let Some(moto) = Moto::start("a_failed_job_recovers_from_checkpoints_on_s3") else {
        return;
    };
    moto.create_bucket("ckpt");
    let mut config = on_s3(&moto, "s3://ckpt/e2e");
    let mut fault = FaultInjection::new("Sum", N / 4);
    fault.subtask = 1;
    config.fault_injection = Some(fault);
    let (result, sums) = run_sums(config, None);
    assert_eq!(sums, expected_sums(), "no record lost or counted twice");
    assert_eq!(result.restarts, 1);
    let source = result.operator("Source: Sequence Source").unwrap();
    assert!(
        source.records_out < N,
        "the last attempt resumed from a checkpoint on S3 ({} records)",
        source.records_out
    );

    // The retained (final) checkpoint is in the bucket, in the file system's layout.
    let keys = moto.keys("ckpt", "e2e/");
    let metadata = keys
        .iter()
        .filter_map(|k| k.strip_suffix("/_metadata"))
        .max_by_key(|dir| {
            dir.rsplit_once("/chk-")
                .and_then(|(_, n)| n.parse::<u64>().ok())
                .unwrap_or(0)
        })
        .unwrap_or_else(|| panic!("no checkpoint metadata in the bucket: {keys:?}"));

    // A new job restores from it by its s3:// path: the sources resume at
    // their end, so nothing is read again.
    let (result, _) = run_sums(
        on_s3(&moto, "s3://ckpt/second"),
        Some(format!("s3://ckpt/{metadata}")),
    );
    assert_eq!(result.restarts, 0);
    let source = result.operator("Source: Sequence Source").unwrap();
    assert_eq!(source.records_out, 0, "restored from s3://ckpt/{metadata}");

    // A missing one is a clear error naming it.
    let env = StreamExecutionEnvironment::with_config(on_s3(&moto, "s3://ckpt/third"));
    env.restore_from("s3://ckpt/e2e/none", false);
    env.from_sequence(1, 10).add_sink(|_: u64| {});
    let err = env.execute("missing").unwrap_err().to_string();
    assert!(err.contains("s3://ckpt/e2e/none"), "{err}");
}

#[test]
fn a_savepoint_goes_to_an_s3_directory_and_a_job_resumes_from_it_exactly() {
    let Some(moto) = Moto::start("a_savepoint_goes_to_an_s3_directory") else {
        return;
    };
    moto.create_bucket("ckpt");
    let env = StreamExecutionEnvironment::with_config(on_s3(&moto, "s3://ckpt/chk"));
    let seen = Arc::new(AtomicU64::new(0));
    let before = sums_job(&env, seen.clone());
    let client = env.execute_async("before").unwrap();
    while seen.load(Ordering::Relaxed) < N / 4 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let savepoint = client
        .stop_with_savepoint(Some(PathBuf::from("s3://ckpt/savepoints")))
        .unwrap();
    client.wait().unwrap();
    assert!(
        savepoint.starts_with("s3://ckpt/savepoints/savepoint-"),
        "{savepoint}"
    );
    let name = savepoint.strip_prefix("s3://ckpt/").unwrap();
    assert!(
        moto.keys("ckpt", name)
            .contains(&format!("{name}/_metadata")),
        "{savepoint} is in the bucket"
    );
    assert_ne!(*before.lock().unwrap(), expected_sums(), "stopped midway");

    let (result, sums) = run_sums(on_s3(&moto, "s3://ckpt/chk"), Some(savepoint));
    assert_eq!(sums, expected_sums(), "no record lost or counted twice");
    let source = result.operator("Source: Sequence Source").unwrap();
    assert!(source.records_out < N, "{} records", source.records_out);
}
