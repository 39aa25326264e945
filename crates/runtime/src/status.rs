//! What a running job looks like from outside: its state and its history of
//! states, its vertices and their subtasks (state, records, busy, idle and
//! backpressured time), its failures, and its checkpoints.
//!
//! The job master keeps a [`JobStatusBoard`] up to date at its events (a
//! deploy, a failure, a checkpoint triggered or completed) and samples its
//! tasks' time accounting once a second; per-record counters are read live
//! when a [`JobStatus`] is taken. Nothing here is on a task's hot path. The
//! REST API and the metrics reporters of the JobManager read these snapshots.

use crate::environment::{CounterRegistry, ExecutableJob};
use runnel_network::{ChannelUsage, TaskSignal, Transport};
use runnel_types::{JobVertexId, NodeId};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The state of a job (Flink's `JobStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobState {
    /// Submitted, not deployed yet.
    Created,
    /// Its tasks run.
    Running,
    /// A task failed; the tasks are being cancelled before a restart or the end.
    Failing,
    /// Waiting to be deployed again after a failure.
    Restarting,
    /// Cancellation requested; tasks are stopping.
    Cancelling,
    /// Every task finished (or the job stopped with a savepoint).
    Finished,
    /// Cancelled.
    Canceled,
    /// Failed for good.
    Failed,
}

impl JobState {
    /// Whether the job has ended.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Finished | JobState::Canceled | JobState::Failed
        )
    }
}

/// The state of one subtask (Flink's `ExecutionState`, the ones Runnel has).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SubtaskState {
    /// Being started.
    Deploying,
    /// Running.
    Running,
    /// Processed all its input.
    Finished,
    /// Stopped by a cancellation (or a failure elsewhere).
    Canceled,
    /// Failed.
    Failed,
}

/// Time accounting of one subtask over the last sample (about a second).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskTimeRatios {
    /// Fraction of the time spent blocked on a full output (backpressure).
    pub backpressured: f64,
    /// Fraction of the time spent waiting for input.
    pub idle: f64,
    /// Fraction of the time spent working.
    pub busy: f64,
}

/// How full a subtask's network buffers are (Flink's `buffers.inPoolUsage`
/// and `buffers.outPoolUsage`): buffers in use over the capacity of its
/// input channels and of its output channels, 0 to 1.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct BufferUsage {
    /// Of the input channels (queued for the subtask).
    pub in_pool_usage: f64,
    /// Of the output channels (sent and not yet consumed downstream).
    pub out_pool_usage: f64,
}

/// The buffer usage of every task with channels in `usage` (of `job`'s
/// transport in one process).
pub(crate) fn buffer_usage(
    job: &ExecutableJob,
    usage: &[ChannelUsage],
) -> HashMap<(JobVertexId, u32), BufferUsage> {
    let mut fill: HashMap<(JobVertexId, u32), [usize; 4]> = HashMap::new();
    let edges = &job.plan.job_graph.edges;
    for u in usage {
        let Some(edge) = edges.get(u.id.job_edge as usize) else {
            continue;
        };
        if let Some((used, capacity)) = u.input {
            let f = fill.entry((edge.target, u.id.consumer)).or_default();
            f[0] += used;
            f[1] += capacity;
        }
        if let Some((used, capacity)) = u.output {
            let f = fill.entry((edge.source, u.id.producer)).or_default();
            f[2] += used;
            f[3] += capacity;
        }
    }
    let ratio = |used: usize, capacity: usize| {
        if capacity == 0 {
            0.0
        } else {
            (used as f64 / capacity as f64).clamp(0.0, 1.0)
        }
    };
    fill.into_iter()
        .map(|(task, f)| {
            let usage = BufferUsage {
                in_pool_usage: ratio(f[0], f[1]),
                out_pool_usage: ratio(f[2], f[3]),
            };
            (task, usage)
        })
        .collect()
}

/// Records into the head and out of the tails of subtask `subtask` of the
/// `vertex`-th vertex, as its counters read now.
fn subtask_records(board: &Board, vertex: usize, subtask: u32) -> (u64, u64) {
    let plan = &board.job.plan;
    let Some(v) = plan.job_graph.vertices.get(vertex) else {
        return (0, 0);
    };
    let count = |node, f: fn(&crate::metrics::OperatorCounters) -> u64| {
        board.counters.get(&(node, subtask)).map(f).unwrap_or(0)
    };
    let is_tail = |n: &NodeId| {
        v.chained_edges
            .iter()
            .all(|e| plan.stream_graph.edge(*e).source != *n)
    };
    let records_out = v
        .operators
        .iter()
        .filter(|n| is_tail(n))
        .map(|n| count(*n, |c| c.records_out.get()))
        .sum();
    (count(v.head, |c| c.records_in.get()), records_out)
}

/// One subtask of a vertex.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubtaskStatus {
    /// Its index.
    pub subtask: u32,
    /// Its state.
    pub state: SubtaskState,
    /// The attempt (0, then one more per restart of the job).
    pub attempt: u32,
    /// When it was deployed (epoch ms).
    pub start_time: i64,
    /// Records into the chain's head operator.
    pub records_in: u64,
    /// Records out of the chain's last operators.
    pub records_out: u64,
    /// Total time blocked on output, waiting for input, and busy (ms).
    pub backpressured_ms: u64,
    /// See `backpressured_ms`.
    pub idle_ms: u64,
    /// See `backpressured_ms`.
    pub busy_ms: u64,
    /// The ratios of the last sample.
    pub ratios: TaskTimeRatios,
    /// Its network buffers at the last sample.
    #[serde(default)]
    pub buffers: BufferUsage,
    /// Records in per second over the last sample (`numRecordsInPerSecond`).
    #[serde(default)]
    pub records_in_per_second: f64,
    /// Records out per second over the last sample (`numRecordsOutPerSecond`).
    #[serde(default)]
    pub records_out_per_second: f64,
    /// The counters of each operator of the chain, head first.
    pub operators: Vec<OperatorMetrics>,
}

/// The built-in counters of one operator instance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OperatorMetrics {
    /// The operator's name.
    pub name: String,
    /// Records it received (`numRecordsIn`).
    pub records_in: u64,
    /// Records it emitted (`numRecordsOut`).
    pub records_out: u64,
    /// Late records it dropped (`numLateRecordsDropped`).
    pub late_records_dropped: u64,
    /// The last watermark it emitted (`currentOutputWatermark`, ms).
    pub output_watermark: Option<i64>,
}

/// One vertex (a chain of operators).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VertexStatus {
    /// Its id.
    pub id: JobVertexId,
    /// Its name (the chained operators' names).
    pub name: String,
    /// Its parallelism.
    pub parallelism: u32,
    /// Its max parallelism.
    pub max_parallelism: u32,
    /// The names of its operators, head first.
    pub operators: Vec<String>,
    /// Its subtasks.
    pub subtasks: Vec<SubtaskStatus>,
}

/// A job edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdgeStatus {
    /// The producing vertex.
    pub source: JobVertexId,
    /// The consuming vertex.
    pub target: JobVertexId,
    /// Flink's ship strategy name (`HASH`, `FORWARD`, `REBALANCE`, ...).
    pub ship_strategy: String,
}

/// A failure of the job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobException {
    /// When (epoch ms).
    pub timestamp: i64,
    /// The failing task, when one failed.
    pub task: Option<String>,
    /// The error.
    pub message: String,
}

/// The state of a checkpoint in the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CheckpointState {
    /// Triggered, not complete.
    InProgress,
    /// Complete.
    Completed,
    /// Aborted.
    Failed,
}

/// One checkpoint or savepoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointRecord {
    /// Its id.
    pub id: u64,
    /// Whether it is a savepoint.
    pub is_savepoint: bool,
    /// Its state.
    pub state: CheckpointState,
    /// When it was triggered (epoch ms).
    pub trigger_timestamp: i64,
    /// When the last task acknowledged it (epoch ms; the trigger time before).
    pub latest_ack_timestamp: i64,
    /// Tasks that acknowledged it.
    pub acknowledged: u32,
    /// Tasks it needs.
    pub total: u32,
    /// Bytes of state written.
    pub state_size: u64,
    /// Where it is (once complete).
    pub external_path: Option<String>,
    /// Why it failed.
    pub failure: Option<String>,
}

/// A job's checkpoints.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckpointHistory {
    /// The most recent checkpoints, oldest first (at most
    /// [`CHECKPOINT_HISTORY`]).
    pub history: Vec<CheckpointRecord>,
    /// Checkpoints completed since the job started.
    pub completed: u64,
    /// Checkpoints failed since the job started.
    pub failed: u64,
    /// Restores from a checkpoint (restarts after failures, and the start).
    pub restored: u64,
    /// The latest restore: checkpoint id, location, when (epoch ms).
    pub latest_restore: Option<(u64, String, i64)>,
}

/// How many checkpoints the history keeps.
pub const CHECKPOINT_HISTORY: usize = 20;
/// How many failures the history keeps.
pub const EXCEPTION_HISTORY: usize = 16;

/// A snapshot of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobStatus {
    /// The job id.
    pub job_id: String,
    /// Its name.
    pub name: String,
    /// Its state.
    pub state: JobState,
    /// When each state was entered (epoch ms), in order.
    pub timestamps: Vec<(JobState, i64)>,
    /// When it was submitted (epoch ms).
    pub start_time: i64,
    /// When it ended (epoch ms).
    pub end_time: Option<i64>,
    /// Restarts after failures.
    pub restarts: u32,
    /// Vertices in topological order.
    pub vertices: Vec<VertexStatus>,
    /// Job edges.
    pub edges: Vec<EdgeStatus>,
    /// Failures, oldest first (the root cause of the current state last).
    pub exceptions: Vec<JobException>,
    /// Checkpoints.
    pub checkpoints: CheckpointHistory,
}

impl JobStatus {
    /// How long the job has run, or ran (ms), at `now`.
    pub fn duration(&self, now: i64) -> i64 {
        self.end_time.unwrap_or(now) - self.start_time
    }
}

/// One deployed task's live parts, for sampling.
struct TaskProbe {
    vertex: usize,
    subtask: usize,
    signal: Arc<TaskSignal>,
    /// The previous sample: (when, idle ns, backpressured ns).
    last: (Instant, u64, u64),
    /// Records in and out at the previous sample.
    records: (u64, u64),
}

/// The job master's record of its job, shared with whoever reports on it.
pub struct JobStatusBoard {
    inner: Mutex<Board>,
}

struct Board {
    status: JobStatus,
    counters: Arc<CounterRegistry>,
    job: Arc<ExecutableJob>,
    probes: Vec<TaskProbe>,
    /// The attempt's transport in this process, for buffer usage.
    transport: Option<Arc<dyn Transport>>,
    /// Buffer usage reported by other processes of the job.
    remote_buffers: HashMap<(JobVertexId, u32), BufferUsage>,
}

impl std::fmt::Debug for JobStatusBoard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobStatusBoard").finish_non_exhaustive()
    }
}

fn ship_strategy(p: &runnel_plan::Partitioner) -> String {
    use runnel_plan::Partitioner as P;
    match p {
        P::Forward => "FORWARD",
        P::Rebalance => "REBALANCE",
        P::Rescale => "RESCALE",
        P::Shuffle => "SHUFFLE",
        P::Broadcast => "BROADCAST",
        P::Global => "GLOBAL",
        _ => "HASH",
    }
    .to_string()
}

impl JobStatusBoard {
    /// The board of `job` (id `job_id`), created at `now` (epoch ms).
    pub(crate) fn new(job: Arc<ExecutableJob>, job_id: String, now: i64) -> Self {
        let plan = &job.plan;
        let vertices = plan
            .job_graph
            .vertices
            .iter()
            .map(|v| VertexStatus {
                id: v.id,
                name: v.name.clone(),
                parallelism: v.parallelism,
                max_parallelism: v.max_parallelism,
                operators: v
                    .operators
                    .iter()
                    .map(|n| plan.stream_graph.node(*n).name.clone())
                    .collect(),
                subtasks: Vec::new(),
            })
            .collect();
        let edges = plan
            .job_graph
            .edges
            .iter()
            .map(|e| EdgeStatus {
                source: e.source,
                target: e.target,
                ship_strategy: ship_strategy(&e.partitioner),
            })
            .collect();
        let status = JobStatus {
            job_id,
            name: plan.stream_graph.job_name.clone(),
            state: JobState::Created,
            timestamps: vec![(JobState::Created, now)],
            start_time: now,
            end_time: None,
            restarts: 0,
            vertices,
            edges,
            exceptions: Vec::new(),
            checkpoints: CheckpointHistory::default(),
        };
        JobStatusBoard {
            inner: Mutex::new(Board {
                status,
                counters: Arc::new(CounterRegistry::new()),
                job,
                probes: Vec::new(),
                transport: None,
                remote_buffers: HashMap::new(),
            }),
        }
    }

    fn board(&self) -> std::sync::MutexGuard<'_, Board> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The job as of now (`now` in epoch ms), with live record counts.
    pub fn snapshot(&self) -> JobStatus {
        let board = self.board();
        let mut status = board.status.clone();
        let plan = &board.job.plan;
        for (v, vertex) in plan.job_graph.vertices.iter().enumerate() {
            for s in &mut status.vertices[v].subtasks {
                let count = |node, f: fn(&crate::metrics::OperatorCounters) -> u64| {
                    board.counters.get(&(node, s.subtask)).map(f).unwrap_or(0)
                };
                (s.records_in, s.records_out) = subtask_records(&board, v, s.subtask);
                s.operators = vertex
                    .operators
                    .iter()
                    .map(|n| OperatorMetrics {
                        name: plan.stream_graph.node(*n).name.clone(),
                        records_in: count(*n, |c| c.records_in.get()),
                        records_out: count(*n, |c| c.records_out.get()),
                        late_records_dropped: count(*n, |c| c.late_records_dropped.get()),
                        output_watermark: board
                            .counters
                            .get(&(*n, s.subtask))
                            .and_then(|c| c.output_watermark.get()),
                    })
                    .collect();
            }
        }
        status
    }

    /// Moves the job to `state` at `now`.
    pub(crate) fn set_state(&self, state: JobState, now: i64) {
        let mut board = self.board();
        let status = &mut board.status;
        if status.state == state {
            return;
        }
        status.state = state;
        status.timestamps.push((state, now));
        if state.is_terminal() {
            status.end_time = Some(now);
            for v in &mut status.vertices {
                for s in &mut v.subtasks {
                    if matches!(s.state, SubtaskState::Deploying | SubtaskState::Running) {
                        s.state = SubtaskState::Canceled;
                    }
                }
            }
        }
    }

    /// A new attempt is deployed: every subtask starts again.
    pub(crate) fn deployed(
        &self,
        attempt: u32,
        counters: Arc<CounterRegistry>,
        tasks: Vec<(JobVertexId, u32, Arc<TaskSignal>)>,
        transport: Arc<dyn Transport>,
        now: i64,
    ) {
        let mut board = self.board();
        board.counters = counters;
        board.transport = Some(transport);
        board.remote_buffers.clear();
        board.status.restarts = attempt;
        for v in &mut board.status.vertices {
            v.subtasks = (0..v.parallelism)
                .map(|subtask| SubtaskStatus {
                    subtask,
                    state: SubtaskState::Running,
                    attempt,
                    start_time: now,
                    records_in: 0,
                    records_out: 0,
                    backpressured_ms: 0,
                    idle_ms: 0,
                    busy_ms: 0,
                    ratios: TaskTimeRatios::default(),
                    buffers: BufferUsage::default(),
                    records_in_per_second: 0.0,
                    records_out_per_second: 0.0,
                    operators: Vec::new(),
                })
                .collect();
        }
        let started = Instant::now();
        board.probes = tasks
            .into_iter()
            .map(|(vertex, subtask, signal)| {
                let (idle, backpressured) = signal.blocked_nanos();
                TaskProbe {
                    vertex: vertex.index(),
                    subtask: subtask as usize,
                    signal,
                    last: (started, idle, backpressured),
                    records: (0, 0),
                }
            })
            .collect();
    }

    /// Takes the buffer usage of a subtask running in another process.
    pub(crate) fn mirror_buffers(&self, vertex: JobVertexId, subtask: u32, usage: BufferUsage) {
        self.board().remote_buffers.insert((vertex, subtask), usage);
    }

    /// A subtask ended (`ok`: finished, else failed or cancelled).
    pub(crate) fn subtask_ended(&self, vertex: JobVertexId, subtask: u32, state: SubtaskState) {
        let mut board = self.board();
        if let Some(s) = board
            .status
            .vertices
            .get_mut(vertex.index())
            .and_then(|v| v.subtasks.get_mut(subtask as usize))
        {
            s.state = state;
        }
    }

    /// Records a failure.
    pub(crate) fn failed(&self, task: Option<String>, message: String, now: i64) {
        let mut board = self.board();
        let exceptions = &mut board.status.exceptions;
        exceptions.push(JobException {
            timestamp: now,
            task,
            message,
        });
        if exceptions.len() > EXCEPTION_HISTORY {
            exceptions.remove(0);
        }
    }

    /// Changes the history of checkpoints.
    pub(crate) fn checkpoints(&self, f: impl FnOnce(&mut CheckpointHistory)) {
        let mut board = self.board();
        let history = &mut board.status.checkpoints;
        f(history);
        let excess = history.history.len().saturating_sub(CHECKPOINT_HISTORY);
        history.history.drain(..excess);
    }

    /// Samples the tasks' time accounting if `every` has passed since the
    /// last sample.
    pub(crate) fn sample(&self, every: Duration) {
        let mut board = self.board();
        let now = Instant::now();
        // Called at every tick of the job master: most calls have nothing due.
        if !board
            .probes
            .iter()
            .any(|p| now.duration_since(p.last.0) >= every)
        {
            return;
        }
        let records: Vec<(u64, u64)> = board
            .probes
            .iter()
            .map(|p| subtask_records(&board, p.vertex, p.subtask as u32))
            .collect();
        let Board {
            probes,
            status,
            job,
            transport,
            remote_buffers,
            ..
        } = &mut *board;
        let mut buffers: Option<HashMap<(JobVertexId, u32), BufferUsage>> = None;
        for (p, records) in probes.iter_mut().zip(records) {
            let elapsed = now.duration_since(p.last.0);
            if elapsed < every {
                continue;
            }
            let (idle, backpressured) = p.signal.blocked_nanos();
            let span = elapsed.as_nanos().max(1) as f64;
            let d_idle = idle.saturating_sub(p.last.1) as f64;
            let d_bp = backpressured.saturating_sub(p.last.2) as f64;
            let ratio = |x: f64| (x / span).clamp(0.0, 1.0);
            let ratios = TaskTimeRatios {
                backpressured: ratio(d_bp),
                idle: ratio(d_idle),
                busy: (1.0 - ratio(d_bp) - ratio(d_idle)).max(0.0),
            };
            p.last = (now, idle, backpressured);
            let per_second = |now: u64, before: u64| {
                now.saturating_sub(before) as f64 / elapsed.as_secs_f64().max(1e-9)
            };
            let rates = (
                per_second(records.0, p.records.0),
                per_second(records.1, p.records.1),
            );
            p.records = records;
            if let Some(s) = status
                .vertices
                .get_mut(p.vertex)
                .and_then(|v| v.subtasks.get_mut(p.subtask))
            {
                let lived = now.duration_since(p.signal.bound_at().unwrap_or(now));
                s.idle_ms = idle / 1_000_000;
                s.backpressured_ms = backpressured / 1_000_000;
                s.busy_ms =
                    (lived.as_millis() as u64).saturating_sub(s.idle_ms + s.backpressured_ms);
                s.ratios = ratios;
                (s.records_in_per_second, s.records_out_per_second) = rates;
                let usage = buffers.get_or_insert_with(|| {
                    let mut all = transport
                        .as_ref()
                        .map(|t| buffer_usage(job, &t.buffer_usage()))
                        .unwrap_or_default();
                    all.extend(remote_buffers.iter().map(|(k, v)| (*k, *v)));
                    all
                });
                s.buffers = usage
                    .get(&(JobVertexId(p.vertex as u32), p.subtask as u32))
                    .copied()
                    .unwrap_or_default();
            }
        }
    }
}
