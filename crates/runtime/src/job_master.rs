//! The job master of a job run by the [`LocalExecutor`](crate::LocalExecutor):
//! it deploys the tasks, drives the checkpoint coordinator, restarts the job
//! from its latest checkpoint after a failure, and reports the outcome.
//!
//! It is one thread with one inbox: task exits, task checkpoint reports, the
//! snapshot writer's results and the client's requests all arrive as
//! [`MasterEvent`]s, and between events the coordinator gets a tick of the
//! job's clock. Events of an earlier attempt are recognised by their attempt
//! number and ignored.

use crate::checkpointing::{
    ReportSink, TaskCheckpointer, TaskControl, TaskMailbox, TaskMessage, TaskReport,
};
use crate::clock::Clock;
use crate::environment::{CounterRegistry, ExecutableJob, TaskEnvironment};
use crate::error::{JobError, TaskError};
use crate::executor::{JobExecutionResult, OperatorResult};
use crate::failover::{RestartBackoff, RestartDecision};
use crate::snapshot_writer::{self, Destination, WriteDone, WriteJob, WriteQueue};
use crate::status::{CheckpointRecord, CheckpointState, JobState, JobStatusBoard, SubtaskState};
use crate::task::{StreamTask, is_consequence_of_cancellation};
use crate::time::ProcessingTimeService;
use runnel_checkpoint::{
    Action, CheckpointCoordinator, CheckpointMetadata, CheckpointStorage, CoordinatorConfig, Event,
    MemoryStorage, NativeFileSource, OperatorId, OperatorMetadata, RestoredJob, S3Options,
    SubtaskStateFile, TaskId, TaskStateFile, restore::JobOperator, storage_for,
};
use runnel_config::{BufferTimeout, CheckpointingMode, S3Config};
use runnel_network::{ChannelId, LocalTransport, TaskSignal, Transport};
use runnel_plan::NodeKind;
use runnel_types::{BarrierAlignment, CheckpointId, JobVertexId, SnapshotKind};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long cancelled tasks get to stop before they are abandoned.
const CANCELLATION_GRACE: Duration = Duration::from_secs(10);
/// Longest wait between two ticks of the coordinator.
const TICK: Duration = Duration::from_millis(10);
/// How often the tasks' busy/idle/backpressured time is sampled.
const TIME_SAMPLE: Duration = Duration::from_secs(1);

/// Where a job restores from at its first start (`-s` / `restore_from`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreSettings {
    /// The savepoint or retained checkpoint directory (holding `_metadata`).
    pub path: PathBuf,
    /// Drop state of operators the job no longer has instead of failing.
    pub allow_non_restored_state: bool,
}

/// A reply to a savepoint request: the savepoint's location.
pub(crate) type SavepointReply = Sender<Result<String, JobError>>;

/// What the job master reacts to.
pub(crate) enum MasterEvent {
    Task(TaskMessage),
    Exited {
        task: TaskId,
        attempt: u32,
        result: Result<(), TaskError>,
    },
    Written(WriteDone),
    Cancel,
    Savepoint {
        kind: SnapshotKind,
        dir: Option<PathBuf>,
        reply: SavepointReply,
    },
}

struct DeployedTask {
    id: TaskId,
    signal: Arc<TaskSignal>,
    mailbox: Arc<TaskMailbox>,
    exited: bool,
}

/// Why the current attempt is being torn down.
enum Ending {
    /// A failure: restart if the strategy allows.
    Failure(TaskError),
    /// The user cancelled.
    Cancel,
}

struct Checkpoints {
    coordinator: CheckpointCoordinator<String>,
    storage: Arc<dyn CheckpointStorage>,
    /// Directory of this job's checkpoints in `storage`.
    root: String,
    savepoint_dir: Option<PathBuf>,
    destinations: HashMap<CheckpointId, Destination>,
    replies: HashMap<CheckpointId, SavepointReply>,
    /// A savepoint request whose id the next trigger tells.
    requested: Option<(Option<PathBuf>, SavepointReply)>,
    /// Where each completed checkpoint is.
    completed: HashMap<CheckpointId, Destination>,
    /// Bytes of in-flight data (unaligned checkpoints) per pending checkpoint.
    in_flight: HashMap<CheckpointId, u64>,
    /// Bytes of in-flight data in all completed checkpoints.
    persisted_in_flight: u64,
}

pub(crate) struct JobMaster {
    job: Arc<ExecutableJob>,
    job_name: String,
    job_id: String,
    clock: Arc<dyn Clock>,
    batch_size: usize,
    inbox: Receiver<MasterEvent>,
    outbox: Sender<MasterEvent>,
    writer: WriteQueue,
    counters: Arc<Mutex<Arc<CounterRegistry>>>,
    attempt: u32,
    tasks: Vec<DeployedTask>,
    threads: Vec<JoinHandle<()>>,
    ending: Option<(Ending, Instant)>,
    checkpoints: Checkpoints,
    restart: RestartBackoff,
    started: Instant,
    stopped_with_savepoint: Option<String>,
    periodic: bool,
    status: Arc<JobStatusBoard>,
}

impl JobMaster {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        job: Arc<ExecutableJob>,
        job_id: String,
        clock: Arc<dyn Clock>,
        batch_size: usize,
        inbox: Receiver<MasterEvent>,
        outbox: Sender<MasterEvent>,
        counters: Arc<Mutex<Arc<CounterRegistry>>>,
        status: Arc<JobStatusBoard>,
    ) -> Result<Self, JobError> {
        let job_name = job.plan.stream_graph.job_name.clone();
        let startup = |message: String| JobError::Startup {
            job: job_name.clone(),
            message,
        };
        let (writer, jobs) = mpsc::channel();
        let done_tx = outbox.clone();
        snapshot_writer::spawn(
            jobs,
            move |done| {
                let _ = done_tx.send(MasterEvent::Written(done));
            },
            &job_name,
        )
        .map_err(|e| startup(format!("cannot start the checkpoint writer: {e}")))?;
        let config = &job.config.checkpointing;
        let storage: Arc<dyn CheckpointStorage> = match &config.dir {
            Some(dir) => storage_for(dir, &s3_options(&job.config.s3))
                .map_err(|e| startup(format!("cannot open the checkpoint storage: {e}")))?,
            None => Arc::new(MemoryStorage::new()),
        };
        let plan = &job.plan;
        let mut all = Vec::new();
        let mut sources = Vec::new();
        for v in &plan.job_graph.vertices {
            for subtask in 0..v.parallelism {
                let id = TaskId {
                    vertex: v.id,
                    subtask,
                };
                all.push(id);
                if plan.stream_graph.node(v.head).kind == NodeKind::Source {
                    sources.push(id);
                }
            }
        }
        let coordinator = CheckpointCoordinator::new(
            CoordinatorConfig {
                interval: config.interval,
                timeout: config.timeout,
                min_pause: config.min_pause,
                max_concurrent: config.max_concurrent,
                num_retained: config.num_retained,
                tolerable_failures: config.tolerable_failures,
                alignment: match (config.mode, config.unaligned) {
                    (CheckpointingMode::AtLeastOnce, _) => BarrierAlignment::AtLeastOnce,
                    (CheckpointingMode::ExactlyOnce, true) if config.aligned_timeout.is_zero() => {
                        BarrierAlignment::Unaligned
                    }
                    (CheckpointingMode::ExactlyOnce, _) => BarrierAlignment::Aligned,
                },
                aligned_timeout: (config.unaligned && !config.aligned_timeout.is_zero())
                    .then_some(config.aligned_timeout),
            },
            sources,
            all,
        )
        .with_upstream(upstream_tasks(plan));
        let periodic = config.is_enabled();
        Ok(JobMaster {
            restart: RestartBackoff::new(job.config.effective_restart_strategy()),
            checkpoints: Checkpoints {
                coordinator,
                storage,
                root: job_id.clone(),
                savepoint_dir: config.savepoint_dir.clone(),
                destinations: HashMap::new(),
                replies: HashMap::new(),
                requested: None,
                completed: HashMap::new(),
                in_flight: HashMap::new(),
                persisted_in_flight: 0,
            },
            job,
            job_name,
            job_id,
            clock,
            batch_size,
            inbox,
            outbox,
            writer,
            counters,
            attempt: 0,
            tasks: Vec::new(),
            threads: Vec::new(),
            ending: None,
            started: Instant::now(),
            stopped_with_savepoint: None,
            periodic,
            status,
        })
    }

    /// Runs the job to its end and returns the outcome.
    pub(crate) fn run(mut self) -> Result<JobExecutionResult, JobError> {
        let outcome = self
            .initial_restore()
            .and_then(|restored| self.deploy(restored))
            .and_then(|()| self.event_loop());
        let state = match &outcome {
            Ok(_) => JobState::Finished,
            Err(JobError::Cancelled { .. }) => JobState::Canceled,
            Err(e) => {
                if !matches!(e, JobError::Failed { .. }) {
                    self.status.failed(None, e.to_string(), self.now());
                }
                JobState::Failed
            }
        };
        self.status.set_state(state, self.now());
        // Leave no task behind on the way out.
        for t in &self.tasks {
            t.signal.cancel();
        }
        // A task reports its end before it drops its operators; wait for those
        // drops (an on-disk state backend closes its database there) so that
        // nothing of the job runs once `execute` returns. A thread stuck in
        // user code is left behind after the grace period.
        let deadline = Instant::now() + CANCELLATION_GRACE;
        for t in std::mem::take(&mut self.threads) {
            while !t.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
        outcome
    }

    fn now(&self) -> i64 {
        self.clock.now_millis()
    }

    fn job_operators(&self) -> Vec<JobOperator> {
        self.job
            .plan
            .stream_graph
            .nodes
            .iter()
            .map(|n| JobOperator {
                id: OperatorId::of(n.uid.as_deref(), n.id),
                name: n.name.clone(),
                parallelism: n.parallelism,
                max_parallelism: n.max_parallelism,
            })
            .collect()
    }

    /// A fingerprint of the job's tasks and channels (vertices with their
    /// operators and parallelism, job edges with their ends and partitioner).
    fn topology(&self) -> u64 {
        // FNV-1a over a plain description: stable across builds and runs, as a
        // fingerprint stored in checkpoints must be.
        let graph = &self.job.plan.job_graph;
        let mut text = String::new();
        for v in &graph.vertices {
            text.push_str(&format!(
                "v{}:{}:{}:",
                v.id.0, v.parallelism, v.max_parallelism
            ));
            for op in &v.operators {
                text.push_str(&format!("{},", op.0));
            }
        }
        for e in &graph.edges {
            text.push_str(&format!(
                "e{}>{}:{:?};",
                e.source.0, e.target.0, e.partitioner
            ));
        }
        text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    }

    fn initial_restore(&mut self) -> Result<RestoredJob, JobError> {
        let Some(settings) = self.job.restore.clone() else {
            return Ok(RestoredJob::empty());
        };
        let storage =
            storage_for(&settings.path, &s3_options(&self.job.config.s3)).map_err(|e| {
                JobError::Startup {
                    job: self.job_name.clone(),
                    message: format!("cannot restore from {}: {e}", settings.path.display()),
                }
            })?;
        let restored = RestoredJob::load(
            storage.as_ref(),
            "",
            &self.job_operators(),
            self.topology(),
            settings.allow_non_restored_state,
        )
        .map_err(|e| JobError::Startup {
            job: self.job_name.clone(),
            message: format!("cannot restore from {}: {e}", settings.path.display()),
        })?;
        // The shared files of an incremental checkpoint are next to its
        // directory.
        let restored = match settings.path.parent() {
            Some(parent) if restored.has_native_state() => {
                let shared =
                    storage_for(parent, &s3_options(&self.job.config.s3)).map_err(|e| {
                        JobError::Startup {
                            job: self.job_name.clone(),
                            message: format!("cannot restore from {}: {e}", parent.display()),
                        }
                    })?;
                restored.with_native_files(NativeFileSource::new(shared, ""))
            }
            _ => restored,
        };
        if let Some(id) = restored.checkpoint_id {
            self.checkpoints.coordinator.restored_from(id);
            self.record_restore(id, &restored.location);
        }
        Ok(restored)
    }

    /// The state to restart from: the latest completed checkpoint, else what
    /// the job started from.
    fn restore_after_failure(&mut self) -> Result<RestoredJob, JobError> {
        let latest = self.checkpoints.coordinator.latest_completed();
        let Some(destination) = latest.and_then(|id| self.checkpoints.completed.get(&id).cloned())
        else {
            return self.initial_restore();
        };
        let parent = destination.parent();
        RestoredJob::load(
            destination.storage.as_ref(),
            &destination.dir,
            &self.job_operators(),
            self.topology(),
            true,
        )
        .map(|r| r.with_native_files(NativeFileSource::new(destination.storage.clone(), parent)))
        .inspect(|r| {
            if let Some(id) = r.checkpoint_id {
                self.record_restore(id, &r.location);
            }
        })
        .map_err(|e| JobError::Startup {
            job: self.job_name.clone(),
            message: format!("cannot restore from {}: {e}", destination.location()),
        })
    }

    fn deploy(&mut self, restored: RestoredJob) -> Result<(), JobError> {
        let job = self.job.clone();
        let plan = &job.plan;
        let restored = Arc::new(restored);
        let transport: Arc<dyn Transport> = Arc::new(LocalTransport::new(channel_capacities(&job)));
        let mut counters: CounterRegistry = HashMap::new();
        for node in &plan.stream_graph.nodes {
            for s in 0..node.parallelism {
                counters.insert((node.id, s), Default::default());
            }
        }
        let counters = Arc::new(counters);
        *self.counters.lock().unwrap_or_else(|e| e.into_inner()) = counters.clone();
        let flush_interval = match job.config.buffer_timeout {
            BufferTimeout::Interval(d) if !d.is_zero() => Some(d),
            _ => None,
        };
        let attempt = self.attempt;
        let outbox = self.outbox.clone();
        let sink: ReportSink = {
            let outbox = Mutex::new(outbox.clone());
            Arc::new(move |message| {
                let _ = outbox
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .send(MasterEvent::Task(message));
            })
        };
        self.tasks.clear();
        let mut probes = Vec::new();
        for vertex in &plan.job_graph.vertices {
            for subtask in 0..vertex.parallelism {
                let id = TaskId {
                    vertex: vertex.id,
                    subtask,
                };
                let signal = Arc::new(TaskSignal::new());
                probes.push((vertex.id, subtask, signal.clone()));
                let mailbox = Arc::new(TaskMailbox::new(signal.clone()));
                self.tasks.push(DeployedTask {
                    id,
                    signal: signal.clone(),
                    mailbox: mailbox.clone(),
                    exited: false,
                });
                let checkpointer = TaskCheckpointer::new(id, attempt, sink.clone(), self.periodic);
                let (job, transport, counters, clock, outbox, restored) = (
                    job.clone(),
                    transport.clone(),
                    counters.clone(),
                    self.clock.clone(),
                    outbox.clone(),
                    restored.clone(),
                );
                let batch_size = self.batch_size;
                let vertex_id = vertex.id;
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
                            attempt,
                            transport: transport.as_ref(),
                            signal: &signal,
                            clock: &clock,
                            counters: &counters,
                            batch_size,
                            task_name: Arc::from(vertex.name.as_str()),
                            job_name: Arc::from(job.plan.stream_graph.job_name.as_str()),
                            time: ProcessingTimeService::new(clock.clone()),
                            checkpointer,
                            restored,
                        };
                        let result = match job.factories[vertex.head.index()].create_head(&mut env)
                        {
                            Ok(processor) => {
                                let time = env.time.clone();
                                let mut task = StreamTask::new(
                                    signal.clone(),
                                    processor,
                                    flush_interval,
                                    time,
                                    mailbox,
                                    env.checkpointer.clone(),
                                );
                                let result = task.run();
                                // Report before dropping the task: dropping closes its
                                // channels, which upstream tasks would see as an error.
                                let _ = outbox.send(MasterEvent::Exited {
                                    task: id,
                                    attempt,
                                    result,
                                });
                                drop(task);
                                return;
                            }
                            Err(e) => Err(e),
                        };
                        let _ = outbox.send(MasterEvent::Exited {
                            task: id,
                            attempt,
                            result,
                        });
                    });
                match spawned {
                    Ok(handle) => self.threads.push(handle),
                    Err(e) => {
                        for t in &self.tasks {
                            t.signal.cancel();
                        }
                        return Err(JobError::Startup {
                            job: self.job_name.clone(),
                            message: format!("cannot start task `{name}`: {e}"),
                        });
                    }
                }
            }
        }
        let now = self.now();
        self.status.deployed(self.attempt, counters, probes, now);
        self.status.set_state(JobState::Running, now);
        Ok(())
    }

    fn event_loop(&mut self) -> Result<JobExecutionResult, JobError> {
        loop {
            let event = match self.inbox.recv_timeout(TICK) {
                Ok(e) => Some(e),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(JobError::Startup {
                        job: self.job_name.clone(),
                        message: "the job master's inbox closed".to_string(),
                    });
                }
            };
            if let Some(event) = event
                && let Some(outcome) = self.handle(event)?
            {
                return outcome;
            }
            self.status.sample(TIME_SAMPLE);
            if self.ending.is_none() {
                let now = self.now();
                let actions = self.checkpoints.coordinator.handle(Event::Tick { now });
                if let Some(outcome) = self.apply(actions)? {
                    return outcome;
                }
            }
            if let Some(outcome) = self.check_ending()? {
                return outcome;
            }
        }
    }

    /// Handles one event; `Some` ends the job.
    #[allow(clippy::type_complexity)]
    fn handle(
        &mut self,
        event: MasterEvent,
    ) -> Result<Option<Result<JobExecutionResult, JobError>>, JobError> {
        match event {
            MasterEvent::Exited {
                task,
                attempt,
                result,
            } => {
                if attempt != self.attempt {
                    return Ok(None);
                }
                if let Some(t) = self.tasks.iter_mut().find(|t| t.id == task) {
                    t.exited = true;
                }
                let state = match &result {
                    Ok(()) => SubtaskState::Finished,
                    Err(e) if is_consequence_of_cancellation(e) => SubtaskState::Canceled,
                    Err(_) => SubtaskState::Failed,
                };
                self.status.subtask_ended(task.vertex, task.subtask, state);
                if let Err(e) = result {
                    self.fail(e);
                }
                self.check_ending()
            }
            MasterEvent::Task(message) => {
                if message.attempt != self.attempt || self.ending.is_some() {
                    return Ok(None);
                }
                let task = message.task;
                let actions = match message.report {
                    // A late snapshot of an aborted checkpoint is not written.
                    TaskReport::Snapshot { id, .. }
                        if !self.checkpoints.coordinator.is_pending(id) =>
                    {
                        Vec::new()
                    }
                    TaskReport::Snapshot { id, kind, snapshot } => {
                        let bytes: usize = snapshot
                            .state
                            .channels
                            .iter()
                            .flat_map(|c| &c.buffers)
                            .map(Vec::len)
                            .sum();
                        *self.checkpoints.in_flight.entry(id).or_default() += bytes as u64;
                        let destination = self.destination(id, kind);
                        let _ = self.writer.send(WriteJob::TaskState {
                            destination,
                            file: task_file(task),
                            id,
                            task,
                            attempt: self.attempt,
                            snapshot,
                        });
                        Vec::new()
                    }
                    TaskReport::Decline { id, reason } => self
                        .checkpoints
                        .coordinator
                        .handle(Event::Decline { id, task, reason }),
                    TaskReport::Finished => {
                        let now = self.now();
                        self.checkpoints
                            .coordinator
                            .handle(Event::TaskFinished { task, now })
                    }
                };
                self.apply(actions)
            }
            MasterEvent::Written(WriteDone::TaskState {
                id,
                task,
                attempt,
                result,
            }) => {
                if attempt != self.attempt || self.ending.is_some() {
                    return Ok(None);
                }
                let event = match result {
                    Ok((file, bytes)) => {
                        let now = self.now();
                        self.status.checkpoints(|c| {
                            if let Some(r) = c.history.iter_mut().find(|r| r.id == id.0) {
                                r.acknowledged += 1;
                                r.latest_ack_timestamp = now;
                                r.state_size += bytes;
                            }
                        });
                        Event::Acknowledge {
                            id,
                            task,
                            state: file,
                        }
                    }
                    Err(message) => Event::Decline {
                        id,
                        task,
                        reason: runnel_checkpoint::DeclineReason::Failed(format!(
                            "writing its state failed: {message}"
                        )),
                    },
                };
                let actions = self.checkpoints.coordinator.handle(event);
                self.apply(actions)
            }
            MasterEvent::Written(WriteDone::Metadata { id, result }) => {
                let event = match result {
                    Ok(location) => {
                        self.status.checkpoints(|c| {
                            if let Some(r) = c.history.iter_mut().find(|r| r.id == id.0) {
                                r.state = CheckpointState::Completed;
                                r.external_path = Some(location.clone());
                                c.completed += 1;
                            }
                        });
                        if let Some(d) = self.checkpoints.destinations.get(&id) {
                            self.checkpoints.completed.insert(id, d.clone());
                        }
                        self.checkpoints.persisted_in_flight +=
                            self.checkpoints.in_flight.remove(&id).unwrap_or(0);
                        self.checkpoints
                            .in_flight
                            .retain(|pending, _| *pending > id);
                        Event::Persisted {
                            id,
                            now: self.now(),
                        }
                    }
                    Err(reason) => Event::PersistFailed { id, reason },
                };
                let actions = self.checkpoints.coordinator.handle(event);
                self.apply(actions)
            }
            MasterEvent::Cancel => {
                if !matches!(self.ending, Some((Ending::Cancel, _))) {
                    self.status.set_state(JobState::Cancelling, self.now());
                    self.cancel_tasks();
                    self.ending = Some((Ending::Cancel, Instant::now() + CANCELLATION_GRACE));
                }
                self.check_ending()
            }
            MasterEvent::Savepoint { kind, dir, reply } => {
                if self.ending.is_some() {
                    let _ = reply.send(Err(self.savepoint_error("the job is not running")));
                    return Ok(None);
                }
                if dir.is_none() && self.checkpoints.savepoint_dir.is_none() {
                    let _ = reply.send(Err(self.savepoint_error(
                        "no savepoint directory: pass one or set `execution.checkpointing.savepoint-dir`",
                    )));
                    return Ok(None);
                }
                if let Some(d) = &dir
                    && let Err(e) = storage_for(d, &s3_options(&self.job.config.s3))
                {
                    let _ = reply.send(Err(
                        self.savepoint_error(&format!("cannot write to {}: {e}", d.display()))
                    ));
                    return Ok(None);
                }
                self.checkpoints.requested = Some((dir, reply));
                let now = self.now();
                let actions = self
                    .checkpoints
                    .coordinator
                    .handle(Event::TriggerSavepoint { kind, now });
                let outcome = self.apply(actions);
                if let Some((_, reply)) = self.checkpoints.requested.take() {
                    let _ =
                        reply.send(Err(self.savepoint_error("the savepoint was not triggered")));
                }
                outcome
            }
        }
    }

    /// Notes a restore from checkpoint `id` at `location`.
    fn record_restore(&self, id: CheckpointId, location: &str) {
        let now = self.now();
        self.status.checkpoints(|c| {
            c.restored += 1;
            c.latest_restore = Some((id.0, location.to_string(), now));
        });
    }

    /// Deletes what an aborted checkpoint or savepoint had written.
    fn delete_incomplete(&mut self, id: CheckpointId) {
        self.checkpoints.in_flight.remove(&id);
        if let Some(destination) = self.checkpoints.destinations.remove(&id) {
            let _ = self.writer.send(WriteJob::Delete {
                destination,
                id: Some(id),
            });
        }
    }

    fn savepoint_error(&self, message: &str) -> JobError {
        JobError::Savepoint {
            job: self.job_name.clone(),
            message: message.to_string(),
        }
    }

    /// Where checkpoint `id` is written (decided when it is first seen).
    fn destination(&mut self, id: CheckpointId, kind: SnapshotKind) -> Destination {
        if let Some(d) = self.checkpoints.destinations.get(&id) {
            return d.clone();
        }
        let d = if kind.is_savepoint() {
            // Set when the savepoint was triggered; a fallback keeps it usable.
            Destination {
                storage: self.checkpoints.storage.clone(),
                dir: format!("{}/savepoint-{}", self.checkpoints.root, id.0),
            }
        } else {
            Destination {
                storage: self.checkpoints.storage.clone(),
                dir: format!("{}/chk-{}", self.checkpoints.root, id.0),
            }
        };
        self.checkpoints.destinations.insert(id, d.clone());
        d
    }

    /// Carries out the coordinator's actions; `Some` ends the job.
    #[allow(clippy::type_complexity)]
    fn apply(
        &mut self,
        actions: Vec<Action<String>>,
    ) -> Result<Option<Result<JobExecutionResult, JobError>>, JobError> {
        for action in actions {
            match action {
                Action::Trigger { barrier, tasks } => {
                    if barrier.kind.is_savepoint()
                        && !self.checkpoints.destinations.contains_key(&barrier.id)
                        && let Some((dir, reply)) = self.checkpoints.requested.take()
                    {
                        let base = dir
                            .or_else(|| self.checkpoints.savepoint_dir.clone())
                            .expect("checked when requested");
                        let name = format!(
                            "savepoint-{}-{}",
                            &self.job_id[..6.min(self.job_id.len())],
                            random_hex(12)
                        );
                        match storage_for(&base, &s3_options(&self.job.config.s3)) {
                            Ok(storage) => {
                                self.checkpoints
                                    .destinations
                                    .insert(barrier.id, Destination { storage, dir: name });
                                self.checkpoints.replies.insert(barrier.id, reply);
                            }
                            // The savepoint is still taken, at the fallback
                            // place in the checkpoint storage.
                            Err(e) => {
                                let _ = reply.send(Err(self.savepoint_error(&e.to_string())));
                            }
                        }
                    }
                    self.destination(barrier.id, barrier.kind);
                    let total = self.tasks.len() as u32;
                    // Tasks triggered later for the same checkpoint (their
                    // inputs finished) do not start another record.
                    self.status.checkpoints(|c| {
                        if c.history.iter().any(|r| r.id == barrier.id.0) {
                            return;
                        }
                        c.history.push(CheckpointRecord {
                            id: barrier.id.0,
                            is_savepoint: barrier.kind.is_savepoint(),
                            state: CheckpointState::InProgress,
                            trigger_timestamp: barrier.timestamp,
                            latest_ack_timestamp: barrier.timestamp,
                            acknowledged: 0,
                            total,
                            state_size: 0,
                            external_path: None,
                            failure: None,
                        })
                    });
                    for t in &tasks {
                        self.post(*t, TaskControl::Trigger(barrier));
                    }
                }
                Action::Persist {
                    id,
                    kind,
                    timestamp,
                    states,
                } => {
                    let files: HashMap<TaskId, String> = states.into_iter().collect();
                    let metadata = self.metadata(id, kind, timestamp, &files);
                    let destination = self.destination(id, kind);
                    let _ = self.writer.send(WriteJob::Metadata {
                        destination,
                        id,
                        metadata,
                    });
                }
                Action::NotifyComplete { id, tasks } => {
                    for t in &tasks {
                        self.post(*t, TaskControl::Complete(id));
                    }
                }
                Action::NotifyAborted { id, tasks, reason } => {
                    log::info!("job `{}`: {reason}", self.job_name);
                    self.status.checkpoints(|c| {
                        if let Some(r) = c.history.iter_mut().find(|r| r.id == id.0) {
                            r.state = CheckpointState::Failed;
                            r.failure = Some(reason.clone());
                            c.failed += 1;
                        }
                    });
                    for t in &tasks {
                        self.post(*t, TaskControl::Abort(id));
                    }
                    self.delete_incomplete(id);
                }
                Action::Discard { id } => {
                    if let Some(destination) = self.checkpoints.completed.remove(&id) {
                        let _ = self.writer.send(WriteJob::Delete {
                            destination,
                            id: Some(id),
                        });
                    }
                    self.checkpoints.destinations.remove(&id);
                }
                Action::SavepointCompleted { id, kind } => {
                    let location = self
                        .checkpoints
                        .destinations
                        .get(&id)
                        .map(Destination::location)
                        .unwrap_or_default();
                    if let Some(reply) = self.checkpoints.replies.remove(&id) {
                        let _ = reply.send(Ok(location.clone()));
                    }
                    if kind == SnapshotKind::SavepointTerminate {
                        self.stopped_with_savepoint = Some(location);
                        for t in 0..self.tasks.len() {
                            let id = self.tasks[t].id;
                            self.post(id, TaskControl::Stop);
                        }
                    }
                }
                Action::SavepointFailed { id, reason } => {
                    let reply = match id {
                        Some(id) => self.checkpoints.replies.remove(&id),
                        None => self.checkpoints.requested.take().map(|(_, r)| r),
                    };
                    if let Some(reply) = reply {
                        let _ = reply.send(Err(self.savepoint_error(&reason)));
                    }
                }
                Action::FailJob { reason } => {
                    self.fail(TaskError::Checkpoint {
                        task: "checkpoint coordinator".to_string(),
                        message: reason,
                    });
                }
                Action::Finished => {
                    for t in 0..self.tasks.len() {
                        let id = self.tasks[t].id;
                        self.post(id, TaskControl::Terminate);
                    }
                }
            }
        }
        Ok(None)
    }

    fn post(&self, task: TaskId, message: TaskControl) {
        if let Some(t) = self.tasks.iter().find(|t| t.id == task) {
            t.mailbox.post(message);
        }
    }

    fn metadata(
        &self,
        id: CheckpointId,
        kind: SnapshotKind,
        timestamp: i64,
        files: &HashMap<TaskId, String>,
    ) -> CheckpointMetadata {
        let plan = &self.job.plan;
        let vertex_of = |node| -> JobVertexId {
            plan.job_graph
                .vertices
                .iter()
                .find(|v| v.operators.contains(&node))
                .map(|v| v.id)
                .expect("every node is in a vertex")
        };
        let operators = plan
            .stream_graph
            .nodes
            .iter()
            .map(|n| {
                let vertex = vertex_of(n.id);
                OperatorMetadata {
                    id: OperatorId::of(n.uid.as_deref(), n.id),
                    name: n.name.clone(),
                    parallelism: n.parallelism,
                    max_parallelism: n.max_parallelism,
                    subtasks: (0..n.parallelism)
                        .map(|subtask| SubtaskStateFile {
                            subtask,
                            file: files
                                .get(&TaskId { vertex, subtask })
                                .cloned()
                                .unwrap_or_else(|| task_file(TaskId { vertex, subtask })),
                        })
                        .collect(),
                }
            })
            .collect();
        let tasks = plan
            .job_graph
            .vertices
            .iter()
            .flat_map(|v| {
                (0..v.parallelism).map(move |subtask| {
                    let task = TaskId {
                        vertex: v.id,
                        subtask,
                    };
                    TaskStateFile {
                        vertex: v.id.0,
                        subtask,
                        file: files.get(&task).cloned().unwrap_or_else(|| task_file(task)),
                    }
                })
            })
            .collect();
        CheckpointMetadata {
            checkpoint_id: id,
            timestamp,
            kind,
            job_name: self.job_name.clone(),
            operators,
            topology: self.topology(),
            tasks,
        }
    }

    fn cancel_tasks(&self) {
        for t in &self.tasks {
            t.signal.cancel();
        }
    }

    /// The current attempt failed with `e` (the first failure is the cause).
    fn fail(&mut self, e: TaskError) {
        match &mut self.ending {
            None => {
                self.status.set_state(JobState::Failing, self.now());
                self.cancel_tasks();
                self.ending = Some((Ending::Failure(e), Instant::now() + CANCELLATION_GRACE));
            }
            Some((Ending::Failure(cause), _)) => {
                if is_consequence_of_cancellation(cause) && !is_consequence_of_cancellation(&e) {
                    *cause = e;
                }
            }
            Some((Ending::Cancel, _)) => {}
        }
    }

    /// When every task of the attempt has exited (or the grace period is over),
    /// finishes, restarts or fails the job.
    #[allow(clippy::type_complexity)]
    fn check_ending(&mut self) -> Result<Option<Result<JobExecutionResult, JobError>>, JobError> {
        let all_exited = self.tasks.iter().all(|t| t.exited);
        let Some((_, give_up_at)) = &self.ending else {
            return Ok(all_exited.then(|| Ok(self.result())));
        };
        if !all_exited {
            if Instant::now() < *give_up_at {
                return Ok(None);
            }
            log::warn!(
                "{} task(s) of job `{}` did not stop within {:?}; abandoning them",
                self.tasks.iter().filter(|t| !t.exited).count(),
                self.job_name,
                CANCELLATION_GRACE
            );
        }
        let (ending, _) = self.ending.take().expect("checked");
        match ending {
            Ending::Cancel => Ok(Some(Err(JobError::Cancelled {
                job: self.job_name.clone(),
            }))),
            Ending::Failure(cause) => {
                self.status.failed(None, cause.to_string(), self.now());
                let decision = if cause.is_retryable() {
                    self.restart.on_failure(self.now())
                } else {
                    RestartDecision::Fail
                };
                let RestartDecision::Restart(delay) = decision else {
                    return Ok(Some(Err(JobError::Failed {
                        job: self.job_name.clone(),
                        cause,
                    })));
                };
                log::warn!(
                    "job `{}` failed ({cause}); restarting in {delay:?} from {}",
                    self.job_name,
                    self.checkpoints
                        .coordinator
                        .latest_completed()
                        .map(|id| id.to_string())
                        .unwrap_or_else(|| "its start".to_string())
                );
                let now = self.now();
                self.status.set_state(JobState::Restarting, now);
                let actions = self.checkpoints.coordinator.reset(now);
                self.apply(actions)?;
                self.checkpoints.replies.clear();
                // What the aborted checkpoints had written goes away.
                let aborted: Vec<CheckpointId> = self
                    .checkpoints
                    .destinations
                    .keys()
                    .filter(|id| !self.checkpoints.completed.contains_key(id))
                    .copied()
                    .collect();
                for id in aborted {
                    self.delete_incomplete(id);
                }
                self.checkpoints.in_flight.clear();
                if let Some(outcome) = self.wait_before_restart(delay) {
                    return Ok(Some(outcome));
                }
                self.attempt += 1;
                let restored = match self.restore_after_failure() {
                    Ok(r) => r,
                    Err(e) => return Ok(Some(Err(e))),
                };
                self.deploy(restored)?;
                Ok(None)
            }
        }
    }

    /// Waits `delay`, still answering the client; `Some` if the job was
    /// cancelled meanwhile.
    fn wait_before_restart(
        &mut self,
        delay: Duration,
    ) -> Option<Result<JobExecutionResult, JobError>> {
        let until = Instant::now() + delay;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            match self.inbox.recv_timeout(left) {
                Ok(MasterEvent::Cancel) => {
                    return Some(Err(JobError::Cancelled {
                        job: self.job_name.clone(),
                    }));
                }
                Ok(MasterEvent::Savepoint { reply, .. }) => {
                    let _ = reply.send(Err(self.savepoint_error("the job is restarting")));
                }
                Ok(_) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    fn result(&self) -> JobExecutionResult {
        let counters = self
            .counters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        JobExecutionResult {
            job_name: self.job_name.clone(),
            job_id: self.job_id.clone(),
            net_runtime: self.started.elapsed(),
            operators: operator_totals(&self.job, &counters),
            restarts: self.restart.restarts(),
            completed_checkpoints: self.checkpoints.coordinator.completed_count(),
            checkpointed_in_flight_bytes: self.checkpoints.persisted_in_flight,
            latest_checkpoint: self
                .checkpoints
                .coordinator
                .latest_completed()
                .and_then(|id| self.checkpoints.completed.get(&id))
                .map(Destination::location),
            stopped_with_savepoint: self.stopped_with_savepoint.clone(),
        }
    }
}

/// The file a task's state is written to.
fn task_file(task: TaskId) -> String {
    format!("task-{}-{}.state", task.vertex.0, task.subtask)
}

/// Current records in/out per operator.
pub(crate) fn operator_totals(
    job: &ExecutableJob,
    counters: &CounterRegistry,
) -> Vec<OperatorResult> {
    job.plan
        .stream_graph
        .nodes
        .iter()
        .map(|n| {
            let (mut records_in, mut records_out, mut late_records_dropped) = (0, 0, 0);
            for s in 0..n.parallelism {
                if let Some(c) = counters.get(&(n.id, s)) {
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

/// `n` random hex digits (for directory names; not cryptographic): the
/// process's random hash keys mixed with a counter.
pub(crate) fn random_hex(n: usize) -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let mut out = String::new();
    while out.len() < n {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(NEXT.fetch_add(1, Ordering::Relaxed));
        h.write_u32(std::process::id());
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out.truncate(n);
    out
}

/// Channel capacity in buffers: the exclusive buffers of a channel plus its share
/// of the floating buffers of the consumer's input gate.
/// Per task, the tasks it reads from.
fn upstream_tasks(plan: &runnel_plan::Plan) -> BTreeMap<TaskId, Vec<TaskId>> {
    let mut upstream: BTreeMap<TaskId, Vec<TaskId>> = BTreeMap::new();
    for edge in &plan.execution_graph.edges {
        let je = &plan.job_graph.edges[edge.job_edge];
        for c in &edge.channels {
            let consumer = TaskId {
                vertex: je.target,
                subtask: c.consumer,
            };
            let producer = TaskId {
                vertex: je.source,
                subtask: c.producer,
            };
            let list = upstream.entry(consumer).or_default();
            if !list.contains(&producer) {
                list.push(producer);
            }
        }
    }
    upstream
}

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

/// The `s3.*` settings as the checkpoint storage takes them.
fn s3_options(s3: &S3Config) -> S3Options {
    S3Options {
        endpoint: s3.endpoint.clone(),
        access_key: s3.access_key.clone(),
        secret_key: s3.secret_key.clone(),
        region: s3.region.clone(),
        path_style_access: s3.path_style_access,
    }
}
