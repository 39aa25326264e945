//! Jobs: the list, the overview and one job's details (Flink's
//! `JobIdsWithStatusOverview`, `MultipleJobsDetails`, `JobDetailsInfo`).

use super::plan::{Plan, plan};
use super::{ExecutionState, TaskCounts, job_state_name, vertex_state};
use crate::ids::vertex_id;
use runnel_runtime::status::{JobStatus, SubtaskState, VertexStatus};
use serde::Serialize;
use std::collections::BTreeMap;

/// Every job state Flink names, for the `timestamps` of a job's details.
const FLINK_JOB_STATES: [&str; 11] = [
    "INITIALIZING",
    "CREATED",
    "RUNNING",
    "FAILING",
    "FAILED",
    "CANCELLING",
    "CANCELED",
    "FINISHED",
    "RESTARTING",
    "SUSPENDED",
    "RECONCILING",
];

#[derive(Debug, Serialize)]
pub(crate) struct JobIdWithStatus {
    id: String,
    status: &'static str,
}

/// `GET /jobs`.
#[derive(Debug, Serialize)]
pub(crate) struct JobsList {
    jobs: Vec<JobIdWithStatus>,
}

pub(crate) fn jobs_list(jobs: &[JobStatus]) -> JobsList {
    JobsList {
        jobs: jobs
            .iter()
            .map(|j| JobIdWithStatus {
                id: j.job_id.clone(),
                status: job_state_name(j.state),
            })
            .collect(),
    }
}

/// One job in `GET /jobs/overview`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) struct JobOverview {
    jid: String,
    name: String,
    state: &'static str,
    start_time: i64,
    end_time: i64,
    duration: i64,
    last_modification: i64,
    tasks: TaskCounts,
}

/// `GET /jobs/overview`.
#[derive(Debug, Serialize)]
pub(crate) struct JobsOverview {
    jobs: Vec<JobOverview>,
}

pub(crate) fn jobs_overview(jobs: &[JobStatus], now: i64) -> JobsOverview {
    JobsOverview {
        jobs: jobs.iter().map(|j| job_overview(j, now)).collect(),
    }
}

pub(crate) fn job_overview(job: &JobStatus, now: i64) -> JobOverview {
    JobOverview {
        jid: job.job_id.clone(),
        name: job.name.clone(),
        state: job_state_name(job.state),
        start_time: job.start_time,
        end_time: job.end_time.unwrap_or(-1),
        duration: job.duration(now),
        last_modification: last_modification(job),
        tasks: TaskCounts::of_job(job),
    }
}

/// When the job last changed state.
fn last_modification(job: &JobStatus) -> i64 {
    job.timestamps
        .iter()
        .map(|(_, t)| *t)
        .max()
        .unwrap_or(job.start_time)
}

/// A vertex's I/O totals over its subtasks (Flink's `IOMetricsInfo`). Records
/// count what crosses the network: a source reads none, a sink writes none.
/// Bytes are not measured yet (`0`, marked incomplete).
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) struct IoMetrics {
    read_bytes: u64,
    read_bytes_complete: bool,
    write_bytes: u64,
    write_bytes_complete: bool,
    read_records: u64,
    read_records_complete: bool,
    write_records: u64,
    write_records_complete: bool,
    accumulated_backpressured_time: u64,
    accumulated_idle_time: u64,
    accumulated_busy_time: f64,
}

/// A vertex in a job's details.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) struct VertexDetails {
    id: String,
    name: String,
    #[serde(rename = "maxParallelism")]
    max_parallelism: u32,
    parallelism: u32,
    status: ExecutionState,
    start_time: i64,
    end_time: i64,
    duration: i64,
    tasks: TaskCounts,
    metrics: IoMetrics,
}

/// `GET /jobs/{jid}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) struct JobDetails {
    jid: String,
    name: String,
    #[serde(rename = "isStoppable")]
    is_stoppable: bool,
    state: &'static str,
    start_time: i64,
    end_time: i64,
    duration: i64,
    now: i64,
    timestamps: BTreeMap<&'static str, i64>,
    vertices: Vec<VertexDetails>,
    status_counts: BTreeMap<ExecutionStateKey, u32>,
    plan: Plan,
}

/// An upper-case `ExecutionState` name, as a map key.
type ExecutionStateKey = &'static str;

pub(crate) fn job_details(job: &JobStatus, now: i64) -> JobDetails {
    let mut timestamps: BTreeMap<&'static str, i64> =
        FLINK_JOB_STATES.iter().map(|s| (*s, 0)).collect();
    for (state, at) in &job.timestamps {
        timestamps.insert(job_state_name(*state), *at);
    }
    let mut status_counts: BTreeMap<ExecutionStateKey, u32> = [
        "CREATED",
        "SCHEDULED",
        "DEPLOYING",
        "RUNNING",
        "FINISHED",
        "CANCELING",
        "CANCELED",
        "FAILED",
        "RECONCILING",
        "INITIALIZING",
    ]
    .iter()
    .map(|s| (*s, 0))
    .collect();
    let vertices: Vec<VertexDetails> = job
        .vertices
        .iter()
        .map(|v| vertex_details(job, v, now))
        .collect();
    for v in &vertices {
        *status_counts
            .entry(execution_state_name(v.status))
            .or_default() += 1;
    }
    JobDetails {
        jid: job.job_id.clone(),
        name: job.name.clone(),
        is_stoppable: false,
        state: job_state_name(job.state),
        start_time: job.start_time,
        end_time: job.end_time.unwrap_or(-1),
        duration: job.duration(now),
        now,
        timestamps,
        vertices,
        status_counts,
        plan: plan(job),
    }
}

fn execution_state_name(s: ExecutionState) -> &'static str {
    match s {
        ExecutionState::Created => "CREATED",
        ExecutionState::Deploying => "DEPLOYING",
        ExecutionState::Running => "RUNNING",
        ExecutionState::Finished => "FINISHED",
        ExecutionState::Canceling => "CANCELING",
        ExecutionState::Canceled => "CANCELED",
        ExecutionState::Failed => "FAILED",
    }
}

fn vertex_details(job: &JobStatus, v: &VertexStatus, now: i64) -> VertexDetails {
    let start = v.subtasks.iter().map(|s| s.start_time).min().unwrap_or(-1);
    let ended = !v.subtasks.is_empty()
        && v.subtasks.iter().all(|s| {
            matches!(
                s.state,
                SubtaskState::Finished | SubtaskState::Canceled | SubtaskState::Failed
            )
        });
    // Subtasks carry no end time: a vertex ends, as far as shown, with its job.
    let end = match job.end_time {
        Some(end) if ended => end,
        _ => -1,
    };
    let duration = match (start, end) {
        (s, _) if s < 0 => -1,
        (s, e) if e >= 0 => e - s,
        (s, _) => now - s,
    };
    let has_input = job.edges.iter().any(|e| e.target == v.id);
    let has_output = job.edges.iter().any(|e| e.source == v.id);
    let sum = |f: fn(&runnel_runtime::status::SubtaskStatus) -> u64| -> u64 {
        v.subtasks.iter().map(f).sum()
    };
    VertexDetails {
        id: vertex_id(v),
        name: v.name.clone(),
        max_parallelism: v.max_parallelism,
        parallelism: v.parallelism,
        status: vertex_state(v),
        start_time: start,
        end_time: end,
        duration,
        tasks: TaskCounts::of_vertex(v),
        metrics: IoMetrics {
            read_bytes: 0,
            read_bytes_complete: false,
            write_bytes: 0,
            write_bytes_complete: false,
            read_records: if has_input { sum(|s| s.records_in) } else { 0 },
            read_records_complete: true,
            write_records: if has_output {
                sum(|s| s.records_out)
            } else {
                0
            },
            write_records_complete: true,
            accumulated_backpressured_time: sum(|s| s.backpressured_ms),
            accumulated_idle_time: sum(|s| s.idle_ms),
            accumulated_busy_time: sum(|s| s.busy_ms) as f64,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::tests::{status, subtask};
    use runnel_runtime::status::JobState;
    use serde_json::{Value, json};

    fn to_json<T: Serialize>(v: &T) -> Value {
        serde_json::to_value(v).unwrap()
    }

    #[test]
    fn details_show_vertices_records_states_and_the_plan() {
        let mut job = status();
        job.vertices[2].subtasks[0].state = SubtaskState::Finished;
        let d = to_json(&job_details(&job, 5_000));
        assert_eq!(d["state"], "RUNNING");
        assert_eq!(
            (d["duration"].clone(), d["end-time"].clone()),
            (json!(4_100), json!(-1))
        );
        assert_eq!(d["timestamps"]["CREATED"], 900);
        assert_eq!(d["timestamps"]["RUNNING"], 1_000);
        assert_eq!(d["timestamps"]["CANCELED"], 0);
        assert_eq!(d["timestamps"].as_object().unwrap().len(), 11);
        assert_eq!(d["status-counts"]["RUNNING"], 2);
        assert_eq!(d["status-counts"]["FINISHED"], 1);
        // (name, parallelism, status, read records, write records, running tasks)
        let table = [
            ("Source: Orders -> Watermarks", 1, "RUNNING", 0, 100, 1),
            ("Window", 2, "RUNNING", 200, 200, 2),
            ("Sink: Report", 1, "FINISHED", 100, 0, 0),
        ];
        for (v, (name, p, state, read, write, running)) in
            d["vertices"].as_array().unwrap().iter().zip(table)
        {
            assert_eq!(v["name"], name);
            assert_eq!(v["parallelism"], p);
            assert_eq!(v["maxParallelism"], 128);
            assert_eq!(v["status"], state, "{name}");
            assert_eq!(v["metrics"]["read-records"], read, "{name}");
            assert_eq!(v["metrics"]["write-records"], write, "{name}");
            assert_eq!(v["tasks"]["running"], running, "{name}");
            assert_eq!(v["tasks"]["total"], p, "{name}");
            assert_eq!(v["start-time"], 1_000);
            assert_eq!(v["duration"], 4_000);
            assert_eq!(
                v["metrics"]["accumulated-busy-time"],
                json!(30.0 * p as f64)
            );
            assert_eq!(v["id"].as_str().map(str::len), Some(32));
        }
        assert_eq!(d["plan"], to_json(&plan(&job)));
    }

    #[test]
    fn vertex_state_aggregates_like_flink() {
        use SubtaskState::*;
        let table: [(&[SubtaskState], ExecutionState); 7] = [
            (&[], ExecutionState::Created),
            (&[Running, Running], ExecutionState::Running),
            (&[Finished, Finished], ExecutionState::Finished),
            (&[Finished, Running], ExecutionState::Running),
            (&[Running, Failed], ExecutionState::Failed),
            (&[Canceled, Finished], ExecutionState::Canceled),
            (&[Deploying, Running], ExecutionState::Running),
        ];
        for (states, expected) in table {
            let mut v = status().vertices[1].clone();
            v.subtasks = states
                .iter()
                .enumerate()
                .map(|(i, s)| subtask(i as u32, *s, 0))
                .collect();
            assert_eq!(vertex_state(&v), expected, "{states:?}");
        }
    }

    #[test]
    fn overview_counts_tasks_and_ended_jobs_have_an_end() {
        let mut job = status();
        job.state = JobState::Canceled;
        job.end_time = Some(3_000);
        job.timestamps.push((JobState::Canceled, 3_000));
        let o = to_json(&jobs_overview(&[job.clone()], 9_999));
        let j = &o["jobs"][0];
        assert_eq!(j["state"], "CANCELED");
        assert_eq!(
            (j["end-time"].clone(), j["duration"].clone()),
            (json!(3_000), json!(2_100))
        );
        assert_eq!(j["last-modification"], 3_000);
        assert_eq!(j["tasks"]["total"], 4);
        assert_eq!(j["tasks"]["running"], 4);
        assert_eq!(
            to_json(&jobs_list(&[job])),
            json!({"jobs": [{"id": "0123456789abcdef0123456789abcdef", "status": "CANCELED"}]})
        );
    }
}
