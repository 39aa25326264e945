//! End-to-end exactly-once (H4, J2) proven by failure injection: a keyed,
//! windowed, event-time job writes through the exactly-once file sink while
//! tasks fail at seeded random points; the committed output equals the output
//! of a run without failures, line for line.

mod common;

use common::committed_lines;
use runnel::connectors::{FileSink, RollingPolicy};
use runnel::prelude::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

const EVENTS: u64 = 40_000;

/// Event `i`: key `i % 13`, value `i % 97`, at `i` ms (slightly out of order).
fn event(i: u64) -> (u64, u64, i64) {
    let jitter = (i * 7919) % 50;
    (i % 13, i % 97, i as i64 + 50 - jitter as i64)
}

/// The number of (key, window) pairs with events.
fn windows() -> usize {
    let set: std::collections::BTreeSet<(u64, i64)> = (0..EVENTS)
        .map(event)
        .map(|e| (e.0, e.2.div_euclid(1000)))
        .collect();
    set.len()
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("runnel-exactly-once-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// The job both sinks follow, at parallelism 2: the events, slowed down so
/// checkpoints complete between failures, summed per key and 1 s event-time
/// window as `(key, sum, last timestamp)`.
fn window_sums(env: &StreamExecutionEnvironment) -> SingleOutputStreamOperator<(u64, u64, i64)> {
    env.set_parallelism(2);
    let strategy = WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_millis(60))
        .with_timestamp_assigner(|e: &(u64, u64, i64), _| e.2);
    env.from_generator(EVENTS, event)
        .map(|e: (u64, u64, i64)| {
            if e.1 == 0 {
                std::thread::sleep(Duration::from_micros(500));
            }
            e
        })
        .assign_timestamps_and_watermarks(strategy)
        .key_by(|e| e.0)
        .window(TumblingEventTimeWindows::of(Duration::from_secs(1)))
        .reduce(|a, b| (a.0, a.1 + b.1, a.2.max(b.2)))
        .name("Window Sums")
}

/// Sums per key and 1 s window, written to part files under `out`.
fn run(out: &Path, config: Configuration) -> JobExecutionResult {
    let env = StreamExecutionEnvironment::with_config(config);
    window_sums(&env)
        .map(|(k, sum, last): (u64, u64, i64)| format!("key {k} window {} sum {sum}", last / 1000))
        .sink_to_file(
            FileSink::new(out)
                .with_part_names("part", ".txt")
                .with_rolling_policy(RollingPolicy {
                    max_part_size: 4096,
                    rollover_interval: Duration::from_secs(60),
                })
                .with_bucket_assigner(|line: &String| format!("k{}", line.as_bytes()[4] % 3)),
        );
    env.execute("exactly once").unwrap()
}

fn checkpointed() -> Configuration {
    let mut c = Configuration {
        restart_strategy: Some(RestartStrategyConfig::FixedDelay {
            attempts: 100,
            delay: Duration::ZERO,
        }),
        ..Configuration::default()
    };
    c.checkpointing.interval = Some(Duration::from_millis(15));
    // Frequent watermarks: windows fire, and results are written, between
    // checkpoints and failures (not all at the end of input).
    c.auto_watermark_interval = Duration::from_millis(2);
    c
}

/// Runs the job with seeded failures under checkpoints set by `configure` and
/// compares the committed output with a failure-free run's.
fn assert_committed_output_equals_a_run_without_failures(
    name: &str,
    configure: impl Fn(&mut Configuration),
) {
    let clean_dir = dir(&format!("{name}-clean"));
    run(&clean_dir, Configuration::default());
    let expected = committed_lines(&clean_dir);
    assert_eq!(expected.len(), windows(), "one line per key and window");

    let mut resumed = 0;
    for seed in [1u64, 2, 3] {
        let failing_dir = dir(&format!("{name}-failing-{seed}"));
        let mut config = checkpointed();
        configure(&mut config);
        let mut fault = FaultInjection::new("Window Sums", 8_000);
        fault.failures = 4;
        fault.seed = Some(seed);
        fault.subtask = (seed % 2) as u32;
        config.fault_injection = Some(fault);
        let result = run(&failing_dir, config);
        // A failure point beyond what a (resumed) attempt still has to read
        // does not fire, so up to four restarts.
        assert!(
            (1..=4).contains(&result.restarts),
            "seed {seed}: {}",
            result.restarts
        );
        assert_eq!(
            committed_lines(&failing_dir),
            expected,
            "seed {seed}: no line lost or duplicated"
        );
        let source = result.operator("Source: Data Generator").unwrap();
        if source.records_out < EVENTS {
            resumed += 1;
        }
        let _ = std::fs::remove_dir_all(&failing_dir);
    }
    assert!(
        resumed > 0,
        "some run resumed from a checkpoint rather than from the start"
    );
    let _ = std::fs::remove_dir_all(&clean_dir);
}

#[test]
fn committed_output_equals_a_run_without_failures() {
    assert_committed_output_equals_a_run_without_failures("aligned", |_| {});
}

#[test]
fn with_unaligned_checkpoints_committed_output_equals_a_run_without_failures() {
    assert_committed_output_equals_a_run_without_failures("unaligned", |c| {
        c.checkpointing.unaligned = true;
    });
}

#[test]
fn with_an_aligned_checkpoint_timeout_committed_output_equals_a_run_without_failures() {
    assert_committed_output_equals_a_run_without_failures("timeout", |c| {
        c.checkpointing.unaligned = true;
        c.checkpointing.aligned_timeout = Duration::from_millis(2);
    });
}

#[test]
fn with_checkpoints_but_no_failure_the_final_checkpoint_commits_everything() {
    let out = dir("final");
    let result = run(&out, checkpointed());
    assert_eq!(result.restarts, 0);
    assert_eq!(committed_lines(&out).len(), windows());
    let hidden: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .flat_map(|d| std::fs::read_dir(d.path()).unwrap().flatten())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "no in-progress file is left: {hidden:?}");
    let _ = std::fs::remove_dir_all(&out);
}

/// A "database table" with a primary key, counting the upserts it received.
#[derive(Clone, Default)]
struct Table {
    rows: std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<(u64, i64), u64>>>,
    upserts: std::sync::Arc<std::sync::atomic::AtomicU64>,
    flushes: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl UpsertWriter<(u64, i64), (u64, u64, i64)> for Table {
    fn upsert(&mut self, key: (u64, i64), value: (u64, u64, i64)) -> Result<(), BoxError> {
        self.upserts
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.rows.lock().unwrap().insert(key, value.1);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), BoxError> {
        self.flushes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }
}

/// Sums per key and 1 s window, upserted by (key, window).
fn run_into_table(config: Configuration, table: &Table) -> JobExecutionResult {
    let env = StreamExecutionEnvironment::with_config(config);
    window_sums(&env).add_sink(IdempotentSink::new(
        |r: &(u64, u64, i64)| (r.0, r.2.div_euclid(1000)),
        table.clone(),
    ));
    env.execute("idempotent").unwrap()
}

#[test]
fn an_idempotent_sink_ends_with_the_results_of_a_run_without_failures() {
    let clean = Table::default();
    run_into_table(Configuration::default(), &clean);
    let expected = clean.rows.lock().unwrap().clone();
    assert_eq!(expected.len(), windows());

    let failing = Table::default();
    let mut config = checkpointed();
    let mut fault = FaultInjection::new("Window Sums", 8_000);
    fault.failures = 3;
    fault.seed = Some(21);
    config.fault_injection = Some(fault);
    let result = run_into_table(config, &failing);
    assert!(result.restarts >= 1);
    assert_eq!(*failing.rows.lock().unwrap(), expected);
    assert!(
        failing.upserts.load(std::sync::atomic::Ordering::Relaxed) > expected.len() as u64,
        "some results were written again after a restore, and overwrote themselves"
    );
    assert!(
        failing.flushes.load(std::sync::atomic::Ordering::Relaxed) >= result.completed_checkpoints,
        "the writer is flushed at every checkpoint"
    );
}

#[cfg(feature = "rocksdb")]
#[test]
fn with_the_lsm_backend_committed_output_equals_a_run_without_failures() {
    use runnel::config::{RocksDbOptions, StateBackendType};
    assert_committed_output_equals_a_run_without_failures("lsm", |c| {
        c.state_backend = StateBackendType::RocksDb(RocksDbOptions {
            local_dir: None,
            memory_budget: 8 << 20,
        });
    });
}
