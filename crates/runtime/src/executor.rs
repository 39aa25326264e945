//! The local executor: runs every subtask of a job as a thread of this process,
//! connected by the in-process transport (embedded mode, A4).
//!
//! It is the same task code the cluster runs; only the transport and who spawns the
//! threads differ. On the first task failure it cancels the others and reports
//! that failure (the root cause, not the cancellations it caused).

use crate::clock::{Clock, SystemClock};
use crate::environment::{CounterRegistry, ExecutableJob, TaskEnvironment};
use crate::error::{JobError, TaskError};
use crate::metrics::OperatorCounters;
use crate::task::{StreamTask, is_consequence_of_cancellation};
use crate::time::ProcessingTimeService;
use runnel_config::BufferTimeout;
use runnel_network::{ChannelId, LocalTransport, TaskSignal, Transport};
use runnel_types::{JobVertexId, NodeId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Records handed between chained operators in one call.
pub const DEFAULT_BATCH_SIZE: usize = 512;

/// How long cancelled tasks get to stop before they are abandoned.
const CANCELLATION_GRACE: Duration = Duration::from_secs(10);

/// Runs jobs inside this process.
#[derive(Debug, Clone)]
pub struct LocalExecutor {
    clock: Arc<dyn Clock>,
    batch_size: usize,
}

impl Default for LocalExecutor {
    fn default() -> Self {
        LocalExecutor {
            clock: Arc::new(SystemClock),
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

/// What a finished job reports (Flink's `JobExecutionResult`).
#[derive(Debug, Clone)]
pub struct JobExecutionResult {
    /// The job's name.
    pub job_name: String,
    /// Time from the start of the first task to the end of the last.
    pub net_runtime: Duration,
    /// Records in and out per operator, summed over its subtasks, in node order.
    pub operators: Vec<OperatorResult>,
}

/// The totals of one operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorResult {
    /// StreamGraph node.
    pub id: NodeId,
    /// Operator name.
    pub name: String,
    /// Parallelism it ran at.
    pub parallelism: u32,
    /// Records received.
    pub records_in: u64,
    /// Records emitted.
    pub records_out: u64,
    /// Late records dropped (window and interval join operators).
    pub late_records_dropped: u64,
}

impl JobExecutionResult {
    /// The totals of the first operator named `name`.
    pub fn operator(&self, name: &str) -> Option<&OperatorResult> {
        self.operators.iter().find(|o| o.name == name)
    }
}

impl LocalExecutor {
    /// An executor using the system clock for processing time.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses `clock` for processing time (tests drive a `ManualClock`).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Records per batch between chained operators.
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// Runs `job` to completion.
    pub fn execute(&self, job: ExecutableJob) -> Result<JobExecutionResult, JobError> {
        self.submit(job)?.wait()
    }

    /// Starts `job` and returns a handle to wait for or cancel it.
    pub fn submit(&self, job: ExecutableJob) -> Result<JobClient, JobError> {
        let job = Arc::new(job);
        let plan = &job.plan;
        let job_name = plan.stream_graph.job_name.clone();
        let transport: Arc<dyn Transport> = Arc::new(LocalTransport::new(channel_capacities(&job)));

        let mut counters: CounterRegistry = HashMap::new();
        for node in &plan.stream_graph.nodes {
            for s in 0..node.parallelism {
                counters.insert((node.id, s), OperatorCounters::default());
            }
        }
        let counters = Arc::new(counters);

        let flush_interval = match job.config.buffer_timeout {
            BufferTimeout::Interval(d) if !d.is_zero() => Some(d),
            _ => None,
        };
        let (tx, rx) = mpsc::channel();
        let mut signals = Vec::new();
        let mut threads = Vec::new();
        let started = Instant::now();
        for vertex in &plan.job_graph.vertices {
            for subtask in 0..vertex.parallelism {
                let signal = Arc::new(TaskSignal::new());
                signals.push(signal.clone());
                let (job, transport, counters, clock, tx) = (
                    job.clone(),
                    transport.clone(),
                    counters.clone(),
                    self.clock.clone(),
                    tx.clone(),
                );
                let vertex_id = vertex.id;
                let batch_size = self.batch_size;
                let name = format!("{} ({}/{})", vertex.name, subtask + 1, vertex.parallelism);
                let spawned = std::thread::Builder::new()
                    .name(name.clone())
                    .spawn(move || {
                        signal.bind_current_thread();
                        clock.register(&signal);
                        let vertex = job.plan.job_graph.vertex(vertex_id);
                        let mut env = TaskEnvironment {
                            job: &job,
                            vertex,
                            subtask,
                            attempt: 0,
                            transport: transport.as_ref(),
                            signal: &signal,
                            clock: &clock,
                            counters: &counters,
                            batch_size,
                            task_name: Arc::from(vertex.name.as_str()),
                            job_name: Arc::from(job.plan.stream_graph.job_name.as_str()),
                            time: ProcessingTimeService::new(clock.clone()),
                        };
                        let built = job.factories[vertex.head.index()].create_head(&mut env);
                        match built {
                            Ok(processor) => {
                                let time = env.time.clone();
                                let mut task = StreamTask::new(
                                    signal.clone(),
                                    processor,
                                    flush_interval,
                                    time,
                                );
                                let result = task.run();
                                // Report before dropping the task: dropping closes its
                                // channels, which upstream tasks would see as an error.
                                let _ = tx.send(TaskOutcome {
                                    vertex: vertex_id,
                                    subtask,
                                    result,
                                });
                                drop(task);
                            }
                            Err(e) => {
                                let _ = tx.send(TaskOutcome {
                                    vertex: vertex_id,
                                    subtask,
                                    result: Err(e),
                                });
                            }
                        }
                    });
                match spawned {
                    Ok(handle) => threads.push(handle),
                    Err(e) => {
                        for s in &signals {
                            s.cancel();
                        }
                        return Err(JobError::Startup {
                            job: job_name,
                            message: format!("cannot start task `{name}`: {e}"),
                        });
                    }
                }
            }
        }
        Ok(JobClient {
            job,
            job_name,
            cancel: JobCancelHandle {
                requested: Arc::new(AtomicBool::new(false)),
                signals: Arc::new(Mutex::new(signals)),
            },
            results: rx,
            threads,
            counters,
            started,
        })
    }
}

struct TaskOutcome {
    #[allow(dead_code)] // kept for diagnostics in debug output
    vertex: JobVertexId,
    #[allow(dead_code)]
    subtask: u32,
    result: Result<(), TaskError>,
}

/// Channel capacity in buffers: the exclusive buffers of a channel plus its share
/// of the floating buffers of the consumer's input gate.
fn channel_capacities(job: &ExecutableJob) -> Vec<(ChannelId, usize)> {
    let plan = &job.plan;
    let mut gate_sizes: HashMap<(JobVertexId, u32, u8), usize> = HashMap::new();
    for edge in &plan.execution_graph.edges {
        let je = &plan.job_graph.edges[edge.job_edge];
        let input = plan.stream_graph.edge(je.stream_edge).input;
        for c in &edge.channels {
            *gate_sizes
                .entry((je.target, c.consumer, input))
                .or_default() += 1;
        }
    }
    let exclusive = job.config.buffers_per_channel as usize;
    let floating = job.config.floating_buffers_per_gate as usize;
    let mut out = Vec::new();
    for edge in &plan.execution_graph.edges {
        let je = &plan.job_graph.edges[edge.job_edge];
        let input = plan.stream_graph.edge(je.stream_edge).input;
        for c in &edge.channels {
            let gate = gate_sizes[&(je.target, c.consumer, input)].max(1);
            let id = ChannelId {
                job_edge: edge.job_edge as u32,
                producer: c.producer,
                consumer: c.consumer,
            };
            out.push((id, exclusive + floating.div_ceil(gate)));
        }
    }
    out
}

/// Cancels a running job; cheap to clone and usable from any thread (Ctrl-C).
#[derive(Debug, Clone)]
pub struct JobCancelHandle {
    requested: Arc<AtomicBool>,
    signals: Arc<Mutex<Vec<Arc<TaskSignal>>>>,
}

impl JobCancelHandle {
    /// Requests cancellation of every task.
    pub fn cancel(&self) {
        self.requested.store(true, Ordering::Release);
        self.cancel_tasks();
    }

    fn cancel_tasks(&self) {
        for s in self
            .signals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            s.cancel();
        }
    }

    /// Whether cancellation was requested.
    pub fn is_cancelled(&self) -> bool {
        self.requested.load(Ordering::Acquire)
    }

    /// Whether both handles cancel the same job.
    pub fn same_job(&self, other: &JobCancelHandle) -> bool {
        Arc::ptr_eq(&self.requested, &other.requested)
    }
}

/// A running job.
pub struct JobClient {
    job: Arc<ExecutableJob>,
    job_name: String,
    cancel: JobCancelHandle,
    results: Receiver<TaskOutcome>,
    threads: Vec<JoinHandle<()>>,
    counters: Arc<CounterRegistry>,
    started: Instant,
}

impl JobClient {
    /// The job's name.
    pub fn job_name(&self) -> &str {
        &self.job_name
    }

    /// A handle that cancels the job.
    pub fn cancel_handle(&self) -> JobCancelHandle {
        self.cancel.clone()
    }

    /// Cancels the job; `wait` then returns [`JobError::Cancelled`].
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Current records in/out per operator, while the job runs.
    pub fn operator_totals(&self) -> Vec<OperatorResult> {
        self.job
            .plan
            .stream_graph
            .nodes
            .iter()
            .map(|n| {
                let (mut records_in, mut records_out, mut late_records_dropped) = (0, 0, 0);
                for s in 0..n.parallelism {
                    if let Some(c) = self.counters.get(&(n.id, s)) {
                        records_in += c.records_in.get();
                        records_out += c.records_out.get();
                        late_records_dropped += c.late_records_dropped.get();
                    }
                }
                OperatorResult {
                    id: n.id,
                    name: n.name.clone(),
                    parallelism: n.parallelism,
                    records_in,
                    records_out,
                    late_records_dropped,
                }
            })
            .collect()
    }

    /// Waits until every task has finished; returns the result or the first failure.
    pub fn wait(mut self) -> Result<JobExecutionResult, JobError> {
        let total = self.threads.len();
        let mut finished = 0;
        let mut failure: Option<TaskError> = None;
        let mut give_up_at: Option<Instant> = None;
        while finished < total {
            if give_up_at.is_none() && self.cancel.is_cancelled() {
                give_up_at = Some(Instant::now() + CANCELLATION_GRACE);
            }
            let timeout = match give_up_at {
                Some(at) => at.saturating_duration_since(Instant::now()),
                None => Duration::from_millis(200),
            };
            match self.results.recv_timeout(timeout) {
                Ok(outcome) => {
                    finished += 1;
                    if let Err(e) = outcome.result {
                        let replaces = match &failure {
                            None => true,
                            Some(f) => {
                                is_consequence_of_cancellation(f)
                                    && !is_consequence_of_cancellation(&e)
                            }
                        };
                        if replaces && !matches!(e, TaskError::Cancelled) {
                            failure = Some(e);
                        }
                        if give_up_at.is_none() {
                            self.cancel.cancel_tasks();
                            give_up_at = Some(Instant::now() + CANCELLATION_GRACE);
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    if give_up_at.is_some_and(|at| Instant::now() >= at) {
                        log::warn!(
                            "{} task(s) of job `{}` did not stop within {:?}; abandoning them",
                            total - finished,
                            self.job_name,
                            CANCELLATION_GRACE
                        );
                        break;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        let net_runtime = self.started.elapsed();
        for t in std::mem::take(&mut self.threads) {
            if t.is_finished() {
                let _ = t.join();
            }
        }
        if self.cancel.is_cancelled() && failure.as_ref().is_none_or(is_consequence_of_cancellation)
        {
            return Err(JobError::Cancelled {
                job: self.job_name.clone(),
            });
        }
        if let Some(cause) = failure {
            return Err(JobError::Failed {
                job: self.job_name.clone(),
                cause,
            });
        }
        Ok(JobExecutionResult {
            job_name: self.job_name.clone(),
            net_runtime,
            operators: self.operator_totals(),
        })
    }
}
