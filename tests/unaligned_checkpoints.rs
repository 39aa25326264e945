//! Unaligned checkpoints (H1): under backpressure the barriers overtake the
//! queued buffers, which are stored with the checkpoint and replayed after a
//! restore; an aligned checkpoint whose alignment outlasts its timeout turns
//! unaligned. Either way the state counts every record exactly once.

use runnel::prelude::*;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const N: u64 = 80_000;
const KEYS: u64 = 10;

fn expected_sums() -> BTreeMap<u64, u64> {
    let mut m = BTreeMap::new();
    for x in 1..=N {
        *m.entry(x % KEYS).or_default() += x;
    }
    m
}

/// A fast source feeding a slow keyed sum through an exchange, so the
/// exchange's queues stay full (backpressure) while checkpoints run.
fn run_backpressured(config: Configuration) -> (JobExecutionResult, BTreeMap<u64, u64>) {
    run_slowed(config, 400, Duration::from_millis(1))
}

/// The backpressured job, its keyed stage sleeping `pause` every `every`
/// records.
fn run_slowed(
    config: Configuration,
    every: u64,
    pause: Duration,
) -> (JobExecutionResult, BTreeMap<u64, u64>) {
    let env = StreamExecutionEnvironment::with_config(config);
    env.set_parallelism(2);
    let last = Arc::new(Mutex::new(BTreeMap::new()));
    let sink = last.clone();
    env.from_sequence(1, N)
        .map(|x: u64| (x % KEYS, x))
        .key_by(|(k, _)| *k)
        .map(move |(k, x): (u64, u64)| {
            if x.is_multiple_of(every) {
                std::thread::sleep(pause);
            }
            (k, x)
        })
        .name("Slow")
        .key_by(|(k, _)| *k)
        .sum(|(_, v)| v)
        .name("Sum")
        .add_sink(move |(k, v): (u64, u64)| {
            sink.lock().unwrap().insert(k, v);
        });
    let result = env.execute("backpressured sums").unwrap();
    let sums = last.lock().unwrap().clone();
    (result, sums)
}

fn checkpointed(configure: impl FnOnce(&mut CheckpointingConfig)) -> Configuration {
    let mut c = Configuration {
        restart_strategy: Some(RestartStrategyConfig::FixedDelay {
            attempts: 10,
            delay: Duration::ZERO,
        }),
        ..Configuration::default()
    };
    c.checkpointing.interval = Some(Duration::from_millis(10));
    configure(&mut c.checkpointing);
    c
}

fn unaligned(c: &mut CheckpointingConfig) {
    c.unaligned = true;
}

#[test]
fn aligned_checkpoints_store_no_in_flight_data() {
    let (result, sums) = run_backpressured(checkpointed(|_| {}));
    assert_eq!(sums, expected_sums());
    assert!(result.completed_checkpoints >= 2);
    assert_eq!(result.checkpointed_in_flight_bytes, 0);
}

#[test]
fn unaligned_checkpoints_complete_under_backpressure_storing_in_flight_data() {
    let (result, sums) = run_backpressured(checkpointed(unaligned));
    assert_eq!(sums, expected_sums());
    assert!(
        result.completed_checkpoints >= 3,
        "checkpoints complete while the job is backpressured: {}",
        result.completed_checkpoints
    );
    assert!(
        result.checkpointed_in_flight_bytes > 0,
        "the overtaken buffers were stored"
    );
}

#[test]
fn after_failures_unaligned_checkpoints_replay_their_in_flight_data_exactly_once() {
    for seed in [5u64, 6, 7] {
        let mut config = checkpointed(unaligned);
        let mut fault = FaultInjection::new("Sum", 30_000);
        fault.failures = 3;
        fault.seed = Some(seed);
        fault.subtask = (seed % 2) as u32;
        config.fault_injection = Some(fault);
        let (result, sums) = run_backpressured(config);
        assert_eq!(
            sums,
            expected_sums(),
            "seed {seed}: no record lost or counted twice"
        );
        assert!(result.restarts >= 1, "seed {seed}: the job failed over");
        assert!(result.checkpointed_in_flight_bytes > 0, "seed {seed}");
    }
}

#[test]
fn an_aligned_checkpoint_that_outlasts_its_timeout_turns_unaligned() {
    let config = checkpointed(|c| {
        c.unaligned = true;
        c.aligned_timeout = Duration::from_millis(1);
    });
    let (result, sums) = run_backpressured(config);
    assert_eq!(sums, expected_sums());
    assert!(result.completed_checkpoints >= 2);
    assert!(
        result.checkpointed_in_flight_bytes > 0,
        "alignment under backpressure takes longer than 1 ms, so some checkpoint stored in-flight data"
    );

    let mut config = checkpointed(|c| {
        c.unaligned = true;
        c.aligned_timeout = Duration::from_millis(1);
    });
    let mut fault = FaultInjection::new("Sum", 30_000);
    fault.failures = 2;
    fault.seed = Some(3);
    config.fault_injection = Some(fault);
    let (result, sums) = run_backpressured(config);
    assert_eq!(sums, expected_sums(), "no record lost or counted twice");
    assert!(result.restarts >= 1);
}

#[test]
fn under_heavy_backpressure_only_unaligned_checkpoints_complete_within_the_timeout() {
    // Draining the queued buffers takes far longer than the timeout, so an
    // aligned barrier waits behind them and expires; an unaligned one
    // overtakes them.
    let run = |unaligned: bool| {
        let mut config = checkpointed(|c| {
            c.unaligned = unaligned;
            c.timeout = Duration::from_millis(40);
            c.tolerable_failures = u32::MAX;
        });
        config.checkpointing.interval = Some(Duration::from_millis(20));
        let (result, sums) = run_slowed(config, 100, Duration::from_millis(2));
        assert_eq!(sums, expected_sums(), "unaligned: {unaligned}");
        result.completed_checkpoints
    };
    let aligned = run(false);
    let unaligned = run(true);
    assert!(
        unaligned >= aligned + 3,
        "unaligned {unaligned} vs aligned {aligned} completed checkpoints"
    );
}
