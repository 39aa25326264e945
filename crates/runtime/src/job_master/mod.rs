//! The job master of a job run by the [`LocalExecutor`](crate::LocalExecutor):
//! it deploys the tasks, drives the checkpoint coordinator, restarts the job
//! from its latest checkpoint after a failure, and reports the outcome.
//!
//! It is one thread with one inbox: task exits, task checkpoint reports, the
//! snapshot writer's results and the client's requests all arrive as
//! [`MasterEvent`]s, and between events the coordinator gets a tick of the
//! job's clock. Events of an earlier attempt are recognised by their attempt
//! number and ignored.

mod remote;

use crate::checkpointing::{TaskControl, TaskMailbox, TaskMessage, TaskReport};
use crate::clock::Clock;
use crate::deployment::{AttemptContext, new_counters, sinks, spawn_task};
use crate::distributed::LeaderRole;
use crate::distributed::leader::Followers;
use crate::distributed::wire::{ToExecutor, ToMaster};
use crate::environment::{CounterRegistry, ExecutableJob};
use crate::error::{JobError, TaskError};
use crate::executor::{JobExecutionResult, OperatorResult};
use crate::failover::{RestartBackoff, RestartDecision};
use crate::restoring::{self, RestoreSource, s3_options};
use crate::snapshot_writer::{self, Destination, WriteDone, WriteJob, WriteQueue};
use crate::status::{CheckpointRecord, CheckpointState, JobState, JobStatusBoard, SubtaskState};
use crate::task::is_consequence_of_cancellation;
use runnel_checkpoint::{
    Action, CheckpointCoordinator, CheckpointMetadata, CheckpointStorage, CoordinatorConfig, Event,
    OperatorId, OperatorMetadata, RestoredJob, SubtaskStateFile, TaskId, TaskStateFile,
    storage_for,
};
use runnel_config::CheckpointingMode;
use runnel_network::{ChannelId, TaskSignal, Transport};
use runnel_plan::NodeKind;
use runnel_types::{BarrierAlignment, CheckpointId, JobVertexId, SnapshotKind};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
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
    /// A message of the task executor `process` (cluster mode).
    Executor {
        process: u32,
        message: ToMaster,
    },
    /// The connection to the task executor `process` broke.
    ExecutorLost {
        process: u32,
        reason: String,
    },
}

struct DeployedTask {
    id: TaskId,
    /// The task's own signal, or (in another process) the one mirroring its
    /// accounting.
    signal: Arc<TaskSignal>,
    mailbox: Arc<TaskMailbox>,
    /// The process running it, if not this one.
    remote: Option<u32>,
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
    /// Cluster mode: the task executors to connect (taken at the start) and
    /// the connections to them.
    leader: Option<LeaderRole>,
    followers: Option<Followers>,
    /// Events set aside while a deployment waited for the task executors.
    deferred: VecDeque<MasterEvent>,
    /// Checkpoints whose destination the task executors know.
    announced: HashSet<CheckpointId>,
    /// The current attempt's transport, kept until the attempt is over: a
    /// task's output may still be on its way to another process after the
    /// task (and every other task of this process) ended.
    transport: Option<Arc<dyn Transport>>,
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
        leader: Option<LeaderRole>,
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
        let storage = restoring::checkpoint_storage(&job).map_err(startup)?;
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
            leader,
            followers: None,
            deferred: VecDeque::new(),
            announced: HashSet::new(),
            transport: None,
        })
    }

    /// Runs the job to its end and returns the outcome.
    pub(crate) fn run(mut self) -> Result<JobExecutionResult, JobError> {
        let outcome = self
            .connect_followers()
            .and_then(|()| self.initial_restore())
            .and_then(|(restored, source)| self.deploy(restored, source))
            .and_then(|()| self.event_loop());
        if let Some(f) = &self.followers {
            f.shut_down();
        }
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

    /// What the job starts from (`-s`), loaded.
    fn initial_restore(&mut self) -> Result<(RestoredJob, RestoreSource), JobError> {
        let source = match self.job.restore.clone() {
            None => RestoreSource::Nothing,
            Some(settings) => RestoreSource::Savepoint {
                path: settings.path,
                allow_non_restored_state: settings.allow_non_restored_state,
            },
        };
        self.load(source)
    }

    /// The state to restart from: the latest completed checkpoint, else what
    /// the job started from.
    fn restore_after_failure(&mut self) -> Result<(RestoredJob, RestoreSource), JobError> {
        let latest = self.checkpoints.coordinator.latest_completed();
        let Some(destination) = latest.and_then(|id| self.checkpoints.completed.get(&id).cloned())
        else {
            return self.initial_restore();
        };
        self.load(RestoreSource::Checkpoint(destination.to_ref()))
    }

    fn load(&mut self, source: RestoreSource) -> Result<(RestoredJob, RestoreSource), JobError> {
        let restored =
            restoring::load(&self.job, &source, &self.checkpoints.storage).map_err(|message| {
                JobError::Startup {
                    job: self.job_name.clone(),
                    message,
                }
            })?;
        if let Some(id) = restored.checkpoint_id {
            if matches!(source, RestoreSource::Savepoint { .. }) {
                self.checkpoints.coordinator.restored_from(id);
            }
            self.record_restore(id, &restored.location);
        }
        Ok((restored, source))
    }

    fn deploy(&mut self, restored: RestoredJob, source: RestoreSource) -> Result<(), JobError> {
        let job = self.job.clone();
        let plan = &job.plan;
        self.transport = None;
        let transport = self.bind_transport(source)?;
        self.transport = Some(transport.clone());
        let counters = Arc::new(new_counters(&job));
        *self.counters.lock().unwrap_or_else(|e| e.into_inner()) = counters.clone();
        let attempt = self.attempt;
        let (reports, exited) = sinks(&self.outbox, MasterEvent::Task, |task, attempt, result| {
            MasterEvent::Exited {
                task,
                attempt,
                result,
            }
        });
        let ctx = AttemptContext {
            job: job.clone(),
            attempt,
            transport,
            counters: counters.clone(),
            clock: self.clock.clone(),
            restored: Arc::new(restored),
            batch_size: self.batch_size,
            reports,
            periodic: self.periodic,
            exited,
        };
        self.tasks.clear();
        self.announced.clear();
        let mut probes = Vec::new();
        for vertex in &plan.job_graph.vertices {
            for subtask in 0..vertex.parallelism {
                let id = TaskId {
                    vertex: vertex.id,
                    subtask,
                };
                let remote = self
                    .followers
                    .as_ref()
                    .map(|f| f.placement.process_of(subtask))
                    .filter(|p| *p != 0);
                let (signal, mailbox) = if remote.is_some() {
                    let signal = Arc::new(TaskSignal::new());
                    (signal.clone(), Arc::new(TaskMailbox::new(signal)))
                } else {
                    match spawn_task(&ctx, id) {
                        Ok(t) => {
                            self.threads.push(t.thread);
                            (t.signal, t.mailbox)
                        }
                        Err(message) => {
                            self.cancel_tasks();
                            return Err(JobError::Startup {
                                job: self.job_name.clone(),
                                message,
                            });
                        }
                    }
                };
                probes.push((vertex.id, subtask, signal.clone()));
                self.tasks.push(DeployedTask {
                    id,
                    signal,
                    mailbox,
                    remote,
                    exited: false,
                });
            }
        }
        let now = self.now();
        self.status
            .deployed(self.attempt, counters, probes, ctx.transport.clone(), now);
        self.status.set_state(JobState::Running, now);
        Ok(())
    }

    fn event_loop(&mut self) -> Result<JobExecutionResult, JobError> {
        loop {
            let next = match self.deferred.pop_front() {
                Some(e) => Ok(e),
                None => self.inbox.recv_timeout(TICK),
            };
            let event = match next {
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
                self.task_report(message.task, message.attempt, message.report)
            }
            MasterEvent::Executor { process, message } => {
                self.on_executor_message(process, message)
            }
            MasterEvent::ExecutorLost { process, reason } => self.executor_lost(process, reason),
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

    /// A task's checkpoint report.
    #[allow(clippy::type_complexity)]
    fn task_report(
        &mut self,
        task: TaskId,
        attempt: u32,
        report: TaskReport,
    ) -> Result<Option<Result<JobExecutionResult, JobError>>, JobError> {
        if attempt != self.attempt || self.ending.is_some() {
            return Ok(None);
        }
        let actions = match report {
            // A late snapshot of an aborted checkpoint is not written.
            TaskReport::Snapshot { id, .. } if !self.checkpoints.coordinator.is_pending(id) => {
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
            self.discard_remote(id, &destination);
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
                base: None,
                dir: format!("{}/savepoint-{}", self.checkpoints.root, id.0),
            }
        } else {
            Destination {
                storage: self.checkpoints.storage.clone(),
                base: None,
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
                                self.checkpoints.destinations.insert(
                                    barrier.id,
                                    Destination {
                                        storage,
                                        base: Some(base),
                                        dir: name,
                                    },
                                );
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
                    if self.followers.is_some() && self.announced.insert(barrier.id) {
                        let destination = self.destination(barrier.id, barrier.kind).to_ref();
                        if let Some(f) = &self.followers {
                            f.broadcast(&ToExecutor::Checkpoint {
                                id: barrier.id,
                                destination,
                            });
                        }
                    }
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
                        self.discard_remote(id, &destination);
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
        let Some(t) = self.tasks.iter().find(|t| t.id == task) else {
            return;
        };
        match (t.remote, &self.followers) {
            (Some(process), Some(f)) => f.send(
                process,
                &ToExecutor::Post {
                    attempt: self.attempt,
                    task: task.into(),
                    control: message,
                },
            ),
            _ => t.mailbox.post(message),
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
            topology: restoring::topology(&self.job),
            tasks,
        }
    }

    fn cancel_tasks(&self) {
        for t in &self.tasks {
            t.signal.cancel();
        }
        if let Some(f) = &self.followers {
            f.broadcast(&ToExecutor::Cancel {
                attempt: self.attempt,
            });
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
                let (restored, source) = match self.restore_after_failure() {
                    Ok(r) => r,
                    Err(e) => return Ok(Some(Err(e))),
                };
                self.deploy(restored, source)?;
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
pub(crate) fn task_file(task: TaskId) -> String {
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

pub(crate) fn channel_capacities(job: &ExecutableJob) -> Vec<(ChannelId, usize)> {
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
