//! Flink's REST JSON shapes, built from status snapshots.
//!
//! Every function here is pure: a [`JobStatus`] (and `now`, epoch ms) in, a
//! serializable value out. The shapes are those of `docs/rest-api.yaml`, which
//! the web UI's fixtures (`crates/webui/tests/fixtures`) exemplify; field names,
//! casing and units are Flink's. Times are epoch ms (`-1`: not yet), sizes bytes.

pub(crate) mod checkpoints;
pub(crate) mod cluster;
pub(crate) mod exceptions;
pub(crate) mod jobs;
pub(crate) mod metrics;
pub(crate) mod plan;

use runnel_runtime::status::{JobState, JobStatus, SubtaskState, VertexStatus};
use serde::Serialize;

/// Flink's name of a job state.
pub(crate) fn job_state_name(state: JobState) -> &'static str {
    match state {
        JobState::Created => "CREATED",
        JobState::Running => "RUNNING",
        JobState::Failing => "FAILING",
        JobState::Restarting => "RESTARTING",
        JobState::Cancelling => "CANCELLING",
        JobState::Finished => "FINISHED",
        JobState::Canceled => "CANCELED",
        JobState::Failed => "FAILED",
    }
}

/// The state of a task (a subtask), or aggregated, of a vertex (Flink's
/// `ExecutionState`; Runnel's subtasks use five of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum ExecutionState {
    Created,
    Deploying,
    Running,
    Finished,
    Canceling,
    Canceled,
    Failed,
}

impl From<SubtaskState> for ExecutionState {
    fn from(s: SubtaskState) -> Self {
        match s {
            SubtaskState::Deploying => ExecutionState::Deploying,
            SubtaskState::Running => ExecutionState::Running,
            SubtaskState::Finished => ExecutionState::Finished,
            SubtaskState::Canceled => ExecutionState::Canceled,
            SubtaskState::Failed => ExecutionState::Failed,
        }
    }
}

/// Tasks per state (lower-case keys, as Flink's `/jobs/overview`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(crate) struct TaskCounts {
    pub total: u32,
    pub created: u32,
    pub scheduled: u32,
    pub deploying: u32,
    pub running: u32,
    pub finished: u32,
    pub canceling: u32,
    pub canceled: u32,
    pub failed: u32,
    pub reconciling: u32,
    pub initializing: u32,
}

impl TaskCounts {
    /// The tasks of one vertex: its deployed subtasks by state, the rest `created`.
    pub(crate) fn of_vertex(v: &VertexStatus) -> Self {
        let mut counts = TaskCounts {
            total: v.parallelism,
            created: v.parallelism.saturating_sub(v.subtasks.len() as u32),
            ..TaskCounts::default()
        };
        for s in &v.subtasks {
            counts.add(ExecutionState::from(s.state), 1);
        }
        counts
    }

    /// The tasks of a whole job.
    pub(crate) fn of_job(job: &JobStatus) -> Self {
        job.vertices
            .iter()
            .map(TaskCounts::of_vertex)
            .fold(TaskCounts::default(), |a, b| a.plus(&b))
    }

    pub(crate) fn add(&mut self, state: ExecutionState, n: u32) {
        let slot = match state {
            ExecutionState::Created => &mut self.created,
            ExecutionState::Deploying => &mut self.deploying,
            ExecutionState::Running => &mut self.running,
            ExecutionState::Finished => &mut self.finished,
            ExecutionState::Canceling => &mut self.canceling,
            ExecutionState::Canceled => &mut self.canceled,
            ExecutionState::Failed => &mut self.failed,
        };
        *slot += n;
    }

    fn plus(&self, o: &TaskCounts) -> TaskCounts {
        TaskCounts {
            total: self.total + o.total,
            created: self.created + o.created,
            scheduled: self.scheduled + o.scheduled,
            deploying: self.deploying + o.deploying,
            running: self.running + o.running,
            finished: self.finished + o.finished,
            canceling: self.canceling + o.canceling,
            canceled: self.canceled + o.canceled,
            failed: self.failed + o.failed,
            reconciling: self.reconciling + o.reconciling,
            initializing: self.initializing + o.initializing,
        }
    }
}

/// A vertex's state from its subtasks', as Flink aggregates it: all in one
/// state is that state; else any failed is `FAILED`, then any cancelling,
/// cancelled, running; some finished and others not started is `RUNNING`;
/// nothing deployed is `CREATED`.
pub(crate) fn vertex_state(v: &VertexStatus) -> ExecutionState {
    let c = TaskCounts::of_vertex(v);
    let all = |n: u32| n == c.total && n > 0;
    for (n, state) in [
        (c.created, ExecutionState::Created),
        (c.deploying, ExecutionState::Deploying),
        (c.running, ExecutionState::Running),
        (c.finished, ExecutionState::Finished),
        (c.canceled, ExecutionState::Canceled),
        (c.failed, ExecutionState::Failed),
    ] {
        if all(n) {
            return state;
        }
    }
    if c.failed > 0 {
        ExecutionState::Failed
    } else if c.canceling > 0 {
        ExecutionState::Canceling
    } else if c.canceled > 0 {
        ExecutionState::Canceled
    } else if c.running + c.deploying + c.finished > 0 {
        ExecutionState::Running
    } else {
        ExecutionState::Created
    }
}

/// `x` rounded to 3 decimals: the ratios are sampled as ms per second.
pub(crate) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Hand-built snapshots for the unit tests of every view.
#[cfg(test)]
pub(crate) mod tests {
    use runnel_runtime::status::{
        CheckpointHistory, EdgeStatus, JobState, JobStatus, SubtaskState, SubtaskStatus,
        TaskTimeRatios, VertexStatus,
    };

    /// A subtask of attempt 0, started at 1_000, with `records` in and out.
    pub(crate) fn subtask(subtask: u32, state: SubtaskState, records: u64) -> SubtaskStatus {
        SubtaskStatus {
            subtask,
            state,
            attempt: 0,
            start_time: 1_000,
            records_in: records,
            records_out: records,
            backpressured_ms: 10,
            idle_ms: 20,
            busy_ms: 30,
            ratios: TaskTimeRatios::default(),
            buffers: Default::default(),
            records_in_per_second: 0.0,
            records_out_per_second: 0.0,
            operators: Vec::new(),
        }
    }

    /// A running job `0123…` named "Shop Revenue": a source (parallelism 1)
    /// hashed into a window (parallelism 2), rebalanced into a sink.
    pub(crate) fn status() -> JobStatus {
        let vertex = |id: u32, name: &str, parallelism: u32, ops: &[&str]| VertexStatus {
            id: runnel_types::JobVertexId(id),
            name: name.to_string(),
            parallelism,
            max_parallelism: 128,
            operators: ops.iter().map(|s| s.to_string()).collect(),
            subtasks: (0..parallelism)
                .map(|i| subtask(i, SubtaskState::Running, 100))
                .collect(),
        };
        let vertices = vec![
            vertex(
                0,
                "Source: Orders -> Watermarks",
                1,
                &["Source: Orders", "Watermarks"],
            ),
            vertex(1, "Window", 2, &["Window"]),
            vertex(2, "Sink: Report", 1, &["Sink: Report"]),
        ];
        let edge = |s: usize, t: usize, strategy: &str| EdgeStatus {
            source: vertices[s].id,
            target: vertices[t].id,
            ship_strategy: strategy.to_string(),
        };
        let edges = vec![edge(0, 1, "HASH"), edge(1, 2, "REBALANCE")];
        JobStatus {
            job_id: "0123456789abcdef0123456789abcdef".to_string(),
            name: "Shop Revenue".to_string(),
            state: JobState::Running,
            timestamps: vec![(JobState::Created, 900), (JobState::Running, 1_000)],
            start_time: 900,
            end_time: None,
            restarts: 0,
            vertices,
            edges,
            exceptions: Vec::new(),
            checkpoints: CheckpointHistory::default(),
        }
    }
}
