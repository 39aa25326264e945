//! What the job master reports about a running job (the data behind the REST
//! API and the web UI): states and their history, vertices with records,
//! failures, checkpoints, and busy/idle/backpressured time per subtask.

mod common;

use common::start_slow_sink_job;
use runnel::prelude::*;
use runnel::runtime::status::{CheckpointState, JobState, SubtaskState};
use std::time::{Duration, Instant};

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_finished_job_reports_its_states_records_and_checkpoints() {
    let mut config = Configuration::default();
    config.checkpointing.interval = Some(Duration::from_millis(20));
    config.restart_strategy = Some(RestartStrategyConfig::FixedDelay {
        attempts: 2,
        delay: Duration::ZERO,
    });
    let mut fault = FaultInjection::new("Sum", 3_000);
    fault.subtask = 0;
    config.fault_injection = Some(fault);
    let env = StreamExecutionEnvironment::with_config(config);
    env.set_parallelism(2);
    env.from_sequence(1, 20_000)
        .map(|x: u64| {
            if x.is_multiple_of(100) {
                std::thread::sleep(Duration::from_millis(2));
            }
            (x % 10, x)
        })
        .key_by(|e: &(u64, u64)| e.0)
        .sum(|(_, v)| v)
        .name("Sum")
        .add_sink(|_: (u64, u64)| {});
    let client = env.execute_async("status").unwrap();
    let board = client.status_board();
    let result = client.wait().unwrap();
    let status = board.snapshot();

    assert_eq!(status.state, JobState::Finished);
    let states: Vec<JobState> = status.timestamps.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        states,
        [
            JobState::Created,
            JobState::Running,
            JobState::Failing,
            JobState::Restarting,
            JobState::Running,
            JobState::Finished
        ]
    );
    assert!(status.end_time.is_some());
    assert_eq!(status.restarts, 1);
    assert_eq!(status.exceptions.len(), 1);
    assert!(
        status.exceptions[0].message.contains("Sum"),
        "{:?}",
        status.exceptions
    );

    // Source -> Map (chained), then Sum -> Sink (chained), joined by a hash edge.
    assert_eq!(status.vertices.len(), 2);
    assert_eq!(status.edges.len(), 1);
    assert_eq!(status.edges[0].ship_strategy, "HASH");
    let source = &status.vertices[0];
    assert_eq!(source.parallelism, 2);
    assert!(
        source
            .subtasks
            .iter()
            .all(|s| s.state == SubtaskState::Finished && s.attempt == 1),
        "{:?}",
        source.subtasks
    );
    // The second attempt resumed from a checkpoint: fewer records than all.
    let sum_in: u64 = status.vertices[1]
        .subtasks
        .iter()
        .map(|s| s.records_in)
        .sum();
    let reported = result.operator("Sum").unwrap().records_in;
    assert_eq!(sum_in, reported);
    assert!(sum_in > 0 && sum_in <= 20_000, "{sum_in}");

    // At the end of its input the source emitted the final watermark (+∞).
    let source_op = &source.subtasks[0].operators[0];
    assert_eq!(source_op.output_watermark, Some(i64::MAX), "{source_op:?}");

    let checkpoints = &status.checkpoints;
    assert!(checkpoints.completed >= 1, "{checkpoints:?}");
    assert_eq!(checkpoints.restored, 1);
    let last = checkpoints.history.last().unwrap();
    assert_eq!(last.state, CheckpointState::Completed);
    assert_eq!(last.acknowledged, last.total);
    assert!(last.external_path.is_some());
    assert!(last.latest_ack_timestamp >= last.trigger_timestamp);
}

#[test]
fn a_slow_sink_backpressures_its_upstream_and_idles_nobody() {
    let client = start_slow_sink_job("backpressure");
    let board = client.status_board();
    wait_until("the upstream to report backpressure", || {
        let s = board.snapshot();
        s.vertices[0]
            .subtasks
            .first()
            .is_some_and(|t| t.ratios.backpressured > 0.5)
    });
    let status = board.snapshot();
    assert_eq!(status.state, JobState::Running);
    let sink = &status.vertices[1].subtasks[0];
    assert!(sink.ratios.backpressured < 0.1, "{sink:?}");
    assert!(sink.ratios.busy > 0.5, "{sink:?}");
    client.cancel();
    assert!(client.wait().is_err());
    assert_eq!(board.snapshot().state, JobState::Canceled);
}
