//! Backpressure per vertex (Flink's `JobVertexBackPressureInfo`) and the
//! metric values of jobs and vertices, for `…/metrics?get=…` and Prometheus.

use super::checkpoints::distinct;
use super::round3;
use runnel_metrics::BackPressureLevel;
use runnel_metrics::names::{
    BACK_PRESSURED_TIME_MS_PER_SECOND, BUSY_TIME_MS_PER_SECOND, IDLE_TIME_MS_PER_SECOND,
    IN_POOL_USAGE, LAST_CHECKPOINT_DURATION, LAST_CHECKPOINT_SIZE, NUM_RECORDS_IN,
    NUM_RECORDS_IN_PER_SECOND, NUM_RECORDS_OUT, NUM_RECORDS_OUT_PER_SECOND, NUM_RESTARTS,
    NUMBER_OF_COMPLETED_CHECKPOINTS, NUMBER_OF_FAILED_CHECKPOINTS, OUT_POOL_USAGE,
};
use runnel_runtime::status::{
    CheckpointState, JobState, JobStatus, SubtaskStatus, TaskTimeRatios, VertexStatus,
};
use serde::Serialize;

/// One subtask's share of time backpressured, idle and busy in the last sample.
#[derive(Debug, Serialize, PartialEq)]
pub(crate) struct SubtaskBackPressure {
    subtask: u32,
    #[serde(rename = "attempt-number")]
    attempt_number: u32,
    #[serde(rename = "backpressure-level")]
    level: BackPressureLevel,
    ratio: f64,
    #[serde(rename = "idleRatio")]
    idle_ratio: f64,
    #[serde(rename = "busyRatio")]
    busy_ratio: f64,
}

/// `GET /jobs/{jid}/vertices/{vid}/backpressure`.
#[derive(Debug, Serialize, PartialEq)]
pub(crate) struct VertexBackPressure {
    status: &'static str,
    #[serde(rename = "backpressure-level")]
    level: BackPressureLevel,
    #[serde(rename = "end-timestamp")]
    end_timestamp: i64,
    subtasks: Vec<SubtaskBackPressure>,
}

/// The backpressure of `v` as sampled by its job master (about once a second;
/// `now` stamps the answer): each subtask's level from its backpressured-time
/// ratio (rounded to ms per second), the vertex's level the highest of them
/// (`ok` before any subtask runs).
pub(crate) fn backpressure(v: &VertexStatus, now: i64) -> VertexBackPressure {
    let subtasks: Vec<SubtaskBackPressure> = v
        .subtasks
        .iter()
        .map(|s| {
            let ratio = round3(s.ratios.backpressured);
            SubtaskBackPressure {
                subtask: s.subtask,
                attempt_number: s.attempt,
                level: BackPressureLevel::from_ratio(ratio),
                ratio,
                idle_ratio: round3(s.ratios.idle),
                busy_ratio: round3(s.ratios.busy),
            }
        })
        .collect();
    VertexBackPressure {
        status: "ok",
        level: subtasks
            .iter()
            .map(|s| s.level)
            .max()
            .unwrap_or(BackPressureLevel::Ok),
        end_timestamp: now,
        subtasks,
    }
}

/// One metric in `…/metrics` answers: with a value when asked for by `get`.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub(crate) struct MetricValue {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
}

/// A metric's value: a count or time, or a fraction (a ratio or a rate).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum MetricNumber {
    Int(i64),
    Ratio(f64),
}

impl std::fmt::Display for MetricNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MetricNumber::Int(n) => write!(f, "{n}"),
            MetricNumber::Ratio(r) => write!(f, "{r}"),
        }
    }
}

/// The task-level rates and buffer usage gauges of one subtask.
pub(crate) fn subtask_gauges(s: &SubtaskStatus) -> [(&'static str, f64); 4] {
    [
        (NUM_RECORDS_IN_PER_SECOND, s.records_in_per_second),
        (NUM_RECORDS_OUT_PER_SECOND, s.records_out_per_second),
        (IN_POOL_USAGE, s.buffers.in_pool_usage),
        (OUT_POOL_USAGE, s.buffers.out_pool_usage),
    ]
}

/// Without `get`: every available id. With `get=a,b`: the values of the ids
/// asked for that exist, in the order asked (unknown ids are left out, as Flink).
pub(crate) fn select<V: std::fmt::Display>(
    all: Vec<(String, V)>,
    get: Option<&str>,
) -> Vec<MetricValue> {
    match get {
        None => all
            .into_iter()
            .map(|(id, _)| MetricValue { id, value: None })
            .collect(),
        Some(get) => get
            .split(',')
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .filter_map(|id| {
                all.iter()
                    .find(|(known, _)| known == id)
                    .map(|(id, v)| MetricValue {
                        id: id.clone(),
                        value: Some(v.to_string()),
                    })
            })
            .collect(),
    }
}

/// A ratio of the last sample as milliseconds per second.
fn ms_per_second(ratio: f64) -> i64 {
    (ratio.clamp(0.0, 1.0) * 1000.0).round() as i64
}

/// The task-level metrics of one subtask.
pub(crate) fn subtask_metrics(s: &SubtaskStatus) -> [(&'static str, i64); 8] {
    let TaskTimeRatios {
        backpressured,
        idle,
        busy,
    } = s.ratios;
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    [
        (NUM_RECORDS_IN, count(s.records_in)),
        (NUM_RECORDS_OUT, count(s.records_out)),
        (
            BACK_PRESSURED_TIME_MS_PER_SECOND,
            ms_per_second(backpressured),
        ),
        (IDLE_TIME_MS_PER_SECOND, ms_per_second(idle)),
        (BUSY_TIME_MS_PER_SECOND, ms_per_second(busy)),
        ("accumulatedBackPressuredTimeMs", count(s.backpressured_ms)),
        ("accumulatedIdleTimeMs", count(s.idle_ms)),
        ("accumulatedBusyTimeMs", count(s.busy_ms)),
    ]
}

/// The metrics of a vertex: totals of records and rates over its subtasks
/// and the highest time per second and buffer usage of any subtask, then
/// each subtask's as `<subtask>.<name>`.
pub(crate) fn vertex_metrics(v: &VertexStatus) -> Vec<(String, MetricNumber)> {
    use MetricNumber::{Int, Ratio};
    let per_subtask: Vec<_> = v.subtasks.iter().map(subtask_metrics).collect();
    let gauges: Vec<_> = v.subtasks.iter().map(subtask_gauges).collect();
    let column = |i: usize| per_subtask.iter().map(move |m| m[i].1);
    let mut all = vec![
        (NUM_RECORDS_IN.to_string(), Int(column(0).sum())),
        (NUM_RECORDS_OUT.to_string(), Int(column(1).sum())),
    ];
    for (i, name) in [
        (2, BACK_PRESSURED_TIME_MS_PER_SECOND),
        (3, IDLE_TIME_MS_PER_SECOND),
        (4, BUSY_TIME_MS_PER_SECOND),
    ] {
        all.push((name.to_string(), Int(column(i).max().unwrap_or(0))));
    }
    for (i, name) in [
        (0, NUM_RECORDS_IN_PER_SECOND),
        (1, NUM_RECORDS_OUT_PER_SECOND),
    ] {
        let total = gauges.iter().map(|g| g[i].1).sum();
        all.push((name.to_string(), Ratio(total)));
    }
    for (i, name) in [(2, IN_POOL_USAGE), (3, OUT_POOL_USAGE)] {
        let highest = gauges.iter().map(|g| g[i].1).fold(0.0, f64::max);
        all.push((name.to_string(), Ratio(highest)));
    }
    for ((s, metrics), gauges) in v.subtasks.iter().zip(&per_subtask).zip(&gauges) {
        let subtask = s.subtask;
        all.extend(
            metrics
                .iter()
                .map(|(name, value)| (format!("{subtask}.{name}"), Int(*value))),
        );
        all.extend(
            gauges
                .iter()
                .map(|(name, value)| (format!("{subtask}.{name}"), Ratio(*value))),
        );
    }
    all
}

/// The job-level metrics (Flink's JobManager job group): uptime (ms running;
/// 0 before, -1 after the end), restarts, and checkpoint counts and the last
/// completed checkpoint's size, duration and restore time (-1 when none).
pub(crate) fn job_metrics(job: &JobStatus, now: i64) -> Vec<(&'static str, i64)> {
    let running_since = job
        .timestamps
        .iter()
        .rev()
        .find(|(s, _)| *s == JobState::Running)
        .map(|(_, t)| *t);
    let uptime = match (job.state, running_since) {
        (JobState::Running, Some(since)) => now - since,
        (s, _) if s.is_terminal() => -1,
        _ => 0,
    };
    let c = &job.checkpoints;
    let last = c
        .history
        .iter()
        .rev()
        .find(|r| r.state == CheckpointState::Completed && !r.is_savepoint);
    let in_progress = distinct(c)
        .iter()
        .filter(|r| r.state == CheckpointState::InProgress)
        .count() as i64;
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    vec![
        ("uptime", uptime),
        (NUM_RESTARTS, i64::from(job.restarts)),
        (NUMBER_OF_COMPLETED_CHECKPOINTS, count(c.completed)),
        (NUMBER_OF_FAILED_CHECKPOINTS, count(c.failed)),
        ("numberOfInProgressCheckpoints", in_progress),
        (
            "totalNumberOfCheckpoints",
            count(c.completed + c.failed) + in_progress,
        ),
        (
            LAST_CHECKPOINT_SIZE,
            last.map_or(-1, |r| count(r.state_size)),
        ),
        (
            LAST_CHECKPOINT_DURATION,
            last.map_or(-1, |r| r.latest_ack_timestamp - r.trigger_timestamp),
        ),
        (
            "lastCheckpointRestoreTimestamp",
            c.latest_restore.as_ref().map_or(-1, |(_, _, at)| *at),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::tests::status;
    use runnel_runtime::status::BufferUsage;
    use serde_json::json;

    fn with_ratios(ratios: &[(f64, f64, f64)]) -> VertexStatus {
        let mut v = status().vertices[1].clone();
        v.subtasks = ratios
            .iter()
            .enumerate()
            .map(|(i, &(backpressured, idle, busy))| {
                let mut s = crate::view::tests::subtask(
                    i as u32,
                    runnel_runtime::status::SubtaskState::Running,
                    7,
                );
                s.ratios = TaskTimeRatios {
                    backpressured,
                    idle,
                    busy,
                };
                s.buffers = BufferUsage {
                    in_pool_usage: idle,
                    out_pool_usage: busy,
                };
                s.records_in_per_second = 1000.0 * (i + 1) as f64;
                s
            })
            .collect();
        v.parallelism = ratios.len() as u32;
        v
    }

    #[test]
    fn backpressure_levels_at_flinks_edges_and_the_vertex_takes_the_max() {
        // (ratio, level of the subtask)
        let table = [
            (0.0, "ok"),
            (0.10, "ok"),
            (0.1004, "ok"), // 100 ms per second
            (0.101, "low"),
            (0.5, "low"),
            (0.501, "high"),
            (1.0, "high"),
        ];
        for (ratio, level) in table {
            let bp =
                serde_json::to_value(backpressure(&with_ratios(&[(ratio, 0.0, 1.0 - ratio)]), 7))
                    .unwrap();
            assert_eq!(bp["subtasks"][0]["backpressure-level"], level, "{ratio}");
            assert_eq!(bp["backpressure-level"], level, "{ratio}");
        }
        let v = with_ratios(&[(0.05, 0.9, 0.05), (0.87, 0.0, 0.13), (0.3, 0.2, 0.5)]);
        let bp = serde_json::to_value(backpressure(&v, 1_234)).unwrap();
        assert_eq!(bp["status"], "ok");
        assert_eq!(bp["backpressure-level"], "high");
        assert_eq!(bp["end-timestamp"], 1_234);
        assert_eq!(
            bp["subtasks"][1],
            json!({"subtask": 1, "attempt-number": 0, "backpressure-level": "high",
                   "ratio": 0.87, "idleRatio": 0.0, "busyRatio": 0.13})
        );
        assert_eq!(bp["subtasks"][0]["backpressure-level"], "ok");
        assert_eq!(bp["subtasks"][2]["backpressure-level"], "low");
        let none = serde_json::to_value(backpressure(&with_ratios(&[]), 0)).unwrap();
        assert_eq!(
            (none["backpressure-level"].clone(), none["subtasks"].clone()),
            (json!("ok"), json!([]))
        );
    }

    #[test]
    fn vertex_metrics_total_records_and_take_the_highest_times() {
        let v = with_ratios(&[(0.25, 0.5, 0.25), (0.75, 0.0, 0.25)]);
        let all = vertex_metrics(&v);
        let value = |id: &str| {
            all.iter().find(|(k, _)| k == id).map(|(_, v)| match v {
                MetricNumber::Int(n) => *n,
                MetricNumber::Ratio(r) => (r * 1000.0) as i64,
            })
        };
        assert_eq!(value("numRecordsIn"), Some(14));
        assert_eq!(value("numRecordsOut"), Some(14));
        assert_eq!(value("backPressuredTimeMsPerSecond"), Some(750));
        assert_eq!(value("idleTimeMsPerSecond"), Some(500));
        assert_eq!(value("busyTimeMsPerSecond"), Some(250));
        assert_eq!(value("1.backPressuredTimeMsPerSecond"), Some(750));
        assert_eq!(value("0.numRecordsIn"), Some(7));
        assert_eq!(value("0.accumulatedIdleTimeMs"), Some(20));
        assert_eq!(value("buffers.inPoolUsage"), Some(500));
        assert_eq!(value("1.buffers.outPoolUsage"), Some(250));
        assert_eq!(value("numRecordsInPerSecond"), Some(3_000_000));
        assert_eq!(value("1.numRecordsInPerSecond"), Some(2_000_000));
        assert_eq!(all.len(), 9 + 2 * 12);
    }

    #[test]
    fn get_selects_known_ids_in_the_order_asked() {
        let all = vec![("a".to_string(), 1), ("b".to_string(), 2)];
        assert_eq!(
            serde_json::to_value(select(all.clone(), Some("b, nope,a,"))).unwrap(),
            json!([{"id": "b", "value": "2"}, {"id": "a", "value": "1"}])
        );
        assert_eq!(
            serde_json::to_value(select(all, None)).unwrap(),
            json!([{"id": "a"}, {"id": "b"}])
        );
    }

    #[test]
    fn job_metrics_report_uptime_restarts_and_the_last_checkpoint() {
        let mut job = status();
        job.restarts = 2;
        job.checkpoints.completed = 1;
        job.checkpoints
            .history
            .push(runnel_runtime::status::CheckpointRecord {
                id: 7,
                is_savepoint: false,
                state: CheckpointState::Completed,
                trigger_timestamp: 2_000,
                latest_ack_timestamp: 2_250,
                acknowledged: 4,
                total: 4,
                state_size: 4_096,
                external_path: Some("/cp/chk-7".into()),
                failure: None,
            });
        let m: std::collections::HashMap<_, _> = job_metrics(&job, 3_000).into_iter().collect();
        assert_eq!(m["uptime"], 2_000);
        assert_eq!(m["numRestarts"], 2);
        assert_eq!(m["lastCheckpointSize"], 4_096);
        assert_eq!(m["lastCheckpointDuration"], 250);
        assert_eq!(m["numberOfCompletedCheckpoints"], 1);
        assert_eq!(m["totalNumberOfCheckpoints"], 1);
        assert_eq!(m["lastCheckpointRestoreTimestamp"], -1);
        job.state = JobState::Finished;
        let m: std::collections::HashMap<_, _> = job_metrics(&job, 3_000).into_iter().collect();
        assert_eq!(m["uptime"], -1);
    }
}
