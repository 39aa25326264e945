//! One job spread over several processes (A1/A7, I1): a leader (job master
//! and the subtasks of its slots) and task executors, each building the same
//! job and exchanging records over the TCP transport. Here the "processes"
//! are threads with their own environment, transport and control
//! connection; tests/cluster.rs runs real processes under a JobManager.

mod common;

use common::{Collected, committed_lines, temp_dir};
use runnel::connectors::FileSink;
use runnel::prelude::*;
use runnel::runtime::distributed::{LeaderRole, TaskExecutorRole};
use runnel::runtime::{JobClient, JobError};
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::Path;
use std::time::Duration;

const EVENTS: u64 = 20_000;

/// Event `i`: key `i % 11`, value `i % 89`, at `i` ms, slightly out of order.
fn event(i: u64) -> (u64, u64, i64) {
    let jitter = (i * 7919) % 40;
    (i % 11, i % 89, i as i64 + 40 - jitter as i64)
}

/// Per key and 1 s event-time window: (key, window start, sum, count).
fn window_sums(
    env: &StreamExecutionEnvironment,
    p: u32,
) -> SingleOutputStreamOperator<(u64, i64, u64, u64)> {
    env.set_parallelism(p);
    let strategy = WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_millis(50))
        .with_timestamp_assigner(|e: &(u64, u64, i64), _| e.2);
    env.from_generator(EVENTS, event)
        .assign_timestamps_and_watermarks(strategy)
        .map(|e: (u64, u64, i64)| (e.0, e.2.div_euclid(1000) * 1000, e.1, 1u64))
        .key_by(|e| e.0)
        .window(TumblingEventTimeWindows::of(Duration::from_secs(1)))
        .reduce(|a, b| (a.0, a.1, a.2 + b.2, a.3 + b.3))
        .name("Window Sums")
}

fn host() -> IpAddr {
    IpAddr::V4(Ipv4Addr::LOCALHOST)
}

type TaskExecutor = std::thread::JoinHandle<Result<JobExecutionResult, JobError>>;

/// Runs the job built by `build` with its slots split as `slots` (process 0
/// first), each process on its own thread; returns the leader's result (the
/// whole job's) and each task executor's (its own subtasks' counters).
fn run_spread(
    slots: Vec<Vec<u32>>,
    config: Configuration,
    build: impl Fn(&StreamExecutionEnvironment) + Send + Sync + Clone + 'static,
) -> (JobExecutionResult, Vec<JobExecutionResult>) {
    let (client, executors) = start_spread(slots, config, build);
    let result = client.wait().unwrap();
    let own = executors
        .into_iter()
        .map(|e| e.join().unwrap().unwrap())
        .collect();
    (result, own)
}

/// Starts the job as [`run_spread`] does: the leader's client and the task
/// executors' threads.
fn start_spread(
    slots: Vec<Vec<u32>>,
    config: Configuration,
    build: impl Fn(&StreamExecutionEnvironment) + Send + Sync + Clone + 'static,
) -> (JobClient, Vec<TaskExecutor>) {
    let control = TcpListener::bind((host(), 0)).unwrap();
    let leader = control.local_addr().unwrap();
    let processes = slots.len() as u32;
    let mut executors = Vec::new();
    for (process, own) in slots.iter().enumerate().skip(1) {
        let (build, config, own) = (build.clone(), config.clone(), own.clone());
        executors.push(std::thread::spawn(move || {
            let env = StreamExecutionEnvironment::with_config(config);
            build(&env);
            env.execute_as_task_executor(
                "spread",
                TaskExecutorRole {
                    leader,
                    host: host(),
                    process: process as u32,
                    slots: own,
                },
            )
        }));
    }
    let env = StreamExecutionEnvironment::with_config(config);
    build(&env);
    let client = env
        .execute_as_leader(
            "spread",
            LeaderRole {
                control,
                host: host(),
                processes,
                slots: slots[0].clone(),
            },
        )
        .unwrap();
    (client, executors)
}

#[test]
fn a_keyed_windowed_job_spread_over_two_processes_equals_the_embedded_run() {
    let embedded = Collected::new();
    let env = StreamExecutionEnvironment::local();
    window_sums(&env, 2).add_sink(embedded.sink());
    let alone = env.execute("embedded").unwrap();

    let spread = Collected::new();
    let sink = spread.clone();
    let (result, executors) = run_spread(
        vec![vec![0], vec![1]],
        Configuration::default(),
        move |env| {
            window_sums(env, 2).add_sink(sink.sink());
        },
    );
    assert!(!embedded.values().is_empty());
    assert_eq!(spread.sorted(), embedded.sorted());
    // Subtask 1 ran in the other process, and only there (the output equals
    // the embedded run's: nothing ran twice): its own counters hold part of
    // the records.
    let own = executors[0].operator("Window Sums").unwrap();
    assert!(
        own.records_in > 0 && own.records_in < EVENTS,
        "{}",
        own.records_in
    );
    // The leader's totals include the other process's operators.
    assert_eq!(alone.operators.len(), result.operators.len());
    for (a, b) in alone.operators.iter().zip(&result.operators) {
        assert_eq!(
            (&a.name, a.records_in, a.records_out),
            (&b.name, b.records_in, b.records_out)
        );
    }
    let sums = result.operator("Window Sums").unwrap();
    assert_eq!(sums.records_in, EVENTS);
}

#[test]
fn three_subtasks_over_two_processes_with_uneven_slots() {
    let embedded = Collected::new();
    let env = StreamExecutionEnvironment::local();
    window_sums(&env, 3).add_sink(embedded.sink());
    env.execute("embedded").unwrap();

    let spread = Collected::new();
    let sink = spread.clone();
    let (result, executors) = run_spread(
        vec![vec![1], vec![0, 2]],
        Configuration::default(),
        move |env| {
            window_sums(env, 3).add_sink(sink.sink());
        },
    );
    assert_eq!(spread.sorted(), embedded.sorted());
    // Two of the three window subtasks ran in the other process.
    let own = executors[0].operator("Window Sums").unwrap().records_in;
    let all = result.operator("Window Sums").unwrap().records_in;
    assert!(own > 0 && own < all && all == EVENTS, "{own} of {all}");
}

fn to_files(env: &StreamExecutionEnvironment, out: &Path) {
    window_sums(env, 2)
        .map(|(k, w, sum, n): (u64, i64, u64, u64)| format!("key {k} window {w} sum {sum} n {n}"))
        .sink_to_file(FileSink::new(out).with_part_names("part", ".txt"));
}

#[test]
fn a_failure_in_the_other_process_restarts_every_process_from_the_checkpoint_exactly_once() {
    let clean = temp_dir("clean");
    let env = StreamExecutionEnvironment::local();
    to_files(&env, &clean);
    env.execute("clean").unwrap();
    let expected = committed_lines(&clean);
    assert!(!expected.is_empty());

    let out = temp_dir("failing");
    let checkpoints = temp_dir("checkpoints");
    let mut config = Configuration {
        restart_strategy: Some(RestartStrategyConfig::FixedDelay {
            attempts: 10,
            delay: Duration::ZERO,
        }),
        ..Configuration::default()
    };
    config.checkpointing.interval = Some(Duration::from_millis(20));
    config.checkpointing.dir = Some(checkpoints.clone());
    config.auto_watermark_interval = Duration::from_millis(2);
    // Subtask 1 runs in process 1, the task executor.
    let mut fault = FaultInjection::new("Window Sums", 6_000);
    fault.failures = 2;
    fault.seed = Some(7);
    fault.subtask = 1;
    config.fault_injection = Some(fault);
    let target = out.clone();
    let (result, _) = run_spread(vec![vec![0], vec![1]], config, move |env| {
        // Slow enough that checkpoints complete between the failures.
        env.set_buffer_timeout(1);
        to_files(env, &target);
    });
    assert!((1..=2).contains(&result.restarts), "{}", result.restarts);
    assert!(result.completed_checkpoints > 0);
    assert_eq!(
        committed_lines(&out),
        expected,
        "no line lost or duplicated"
    );
}

#[test]
fn a_spread_job_stops_with_a_savepoint_and_resumes_from_it_spread_again() {
    let out = temp_dir("sp-out");
    let savepoints = temp_dir("savepoints");
    let mut config = Configuration::default();
    config.checkpointing.interval = Some(Duration::from_millis(20));
    config.checkpointing.dir = Some(temp_dir("sp-checkpoints"));
    let slow = |env: &StreamExecutionEnvironment, out: &Path| {
        env.set_parallelism(2);
        env.set_buffer_timeout(1);
        let strategy = WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_millis(50))
            .with_timestamp_assigner(|e: &(u64, u64, i64), _| e.2);
        env.from_generator(EVENTS, event)
            .uid("events")
            .map(|e: (u64, u64, i64)| {
                if e.2 % 10 == 0 {
                    std::thread::sleep(Duration::from_micros(500));
                }
                e
            })
            .assign_timestamps_and_watermarks(strategy)
            .key_by(|e| e.0)
            .window(TumblingEventTimeWindows::of(Duration::from_secs(1)))
            .reduce(|a, b| (a.0, a.1 + b.1, a.2.max(b.2)))
            .uid("sums")
            .map(|(k, sum, last): (u64, u64, i64)| {
                format!("key {k} window {} sum {sum}", last.div_euclid(1000))
            })
            .sink_to_file(FileSink::new(out).with_part_names("part", ".txt"))
            .uid("files");
    };
    let clean = temp_dir("sp-clean");
    let env = StreamExecutionEnvironment::local();
    slow(&env, &clean);
    env.execute("clean").unwrap();
    let expected = committed_lines(&clean);

    let target = out.clone();
    let (client, executors) = start_spread(vec![vec![0], vec![1]], config.clone(), move |env| {
        slow(env, &target)
    });
    // Both processes write: some windows are out before the stop.
    wait_for_lines(&out);
    let savepoint = client
        .control()
        .stop_with_savepoint(Some(savepoints.clone()))
        .unwrap();
    let stopped = client.wait().unwrap();
    assert_eq!(
        stopped.stopped_with_savepoint.as_deref(),
        Some(savepoint.as_str())
    );
    for e in executors {
        e.join().unwrap().unwrap();
    }
    let before = committed_lines(&out);
    assert!(
        !before.is_empty() && before.len() < expected.len(),
        "{}",
        before.len()
    );

    let target = out.clone();
    let from = savepoint.clone();
    run_spread(vec![vec![0], vec![1]], config, move |env| {
        env.restore_from(from.clone(), false);
        slow(env, &target)
    });
    assert_eq!(
        committed_lines(&out),
        expected,
        "each window exactly once over both runs"
    );
}

/// Waits until the file sink under `out` committed a line.
fn wait_for_lines(out: &Path) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while committed_lines(out).is_empty() {
        assert!(std::time::Instant::now() < deadline, "no line committed");
        std::thread::sleep(Duration::from_millis(20));
    }
}
