//! A task executor: a process of a job spread over several processes that
//! runs the subtasks of its slots as the leader's job master directs.

use super::wire::{
    self, CONTROL_VERSION, OperatorCount, RemoteFailure, TaskTimes, ToExecutor, ToMaster, WireTask,
};
use super::{Placement, RENDEZVOUS_TIMEOUT, TaskExecutorRole};
use crate::checkpointing::{TaskMessage, TaskReport, TaskSnapshot};
use crate::clock::Clock;
use crate::deployment::{AttemptContext, SpawnedTask, new_counters, sinks, spawn_task};
use crate::environment::{CounterRegistry, ExecutableJob};
use crate::error::{JobError, TaskError};
use crate::executor::{JobExecutionResult, OperatorResult};
use crate::job_master::operator_totals;
use crate::restoring::{self, DestinationRef};
use crate::snapshot_writer::{self, Destination, WriteDone, WriteJob, WriteQueue};
use crate::status::buffer_usage;
use runnel_checkpoint::{CheckpointStorage, DeclineReason, TaskId};
use runnel_network::{TcpTransport, Transport};
use runnel_types::CheckpointId;
use std::collections::{HashMap, HashSet};
use std::io::{BufReader, BufWriter};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often counters go to the leader.
const COUNTERS_EVERY: Duration = Duration::from_millis(500);
/// How long cancelled tasks get to stop when the executor stops.
const STOP_GRACE: Duration = Duration::from_secs(10);

enum Event {
    Leader(ToExecutor),
    LeaderGone(String),
    Report(TaskMessage),
    Exited {
        task: TaskId,
        attempt: u32,
        result: Result<(), TaskError>,
    },
    Written(WriteDone),
}

struct RunningTask {
    id: TaskId,
    spawned: SpawnedTask,
}

struct Executor {
    job: Arc<ExecutableJob>,
    role: TaskExecutorRole,
    placement: Placement,
    clock: Arc<dyn Clock>,
    out: BufWriter<TcpStream>,
    events: Sender<Event>,
    writer: WriteQueue,
    storage: Arc<dyn CheckpointStorage>,
    attempt: u32,
    transport: Option<Arc<TcpTransport>>,
    counters: Arc<CounterRegistry>,
    tasks: Vec<RunningTask>,
    destinations: HashMap<CheckpointId, Destination>,
    /// Snapshots taken before their checkpoint's destination arrived.
    waiting: Vec<(CheckpointId, TaskId, u32, TaskSnapshot)>,
    /// In-flight bytes of the snapshots being written.
    in_flight: HashMap<(CheckpointId, TaskId), u64>,
    /// Checkpoints deleted (aborted or subsumed): late snapshots are dropped.
    discarded: HashSet<CheckpointId>,
    started: Instant,
}

/// Runs the subtasks of `role`'s slots of `job` until the leader says the
/// job is over (the result then holds this process's counters) or goes away
/// (an error).
pub fn run_task_executor(
    job: ExecutableJob,
    role: TaskExecutorRole,
    clock: Arc<dyn Clock>,
) -> Result<JobExecutionResult, JobError> {
    let job = Arc::new(job);
    let name = job.plan.stream_graph.job_name.clone();
    let startup = |message: String| JobError::Startup {
        job: name.clone(),
        message: format!("process {}: {message}", role.process),
    };
    let stream = TcpStream::connect_timeout(&role.leader, RENDEZVOUS_TIMEOUT).map_err(|e| {
        startup(format!(
            "cannot reach the job master at {}: {e}",
            role.leader
        ))
    })?;
    let _ = stream.set_nodelay(true);
    let mut input = BufReader::new(
        stream
            .try_clone()
            .map_err(|e| startup(format!("cannot use the connection to the job master: {e}")))?,
    );
    let mut out = BufWriter::new(stream);
    wire::write_frame(
        &mut out,
        &ToMaster::Hello {
            version: CONTROL_VERSION,
            process: role.process,
            slots: role.slots.clone(),
            plan: super::plan_fingerprint(&job),
        },
    )
    .map_err(|e| startup(format!("cannot greet the job master: {e}")))?;
    let slots = match wire::read_frame::<ToExecutor>(&mut input) {
        Ok(Some(ToExecutor::Welcome { slots })) => slots,
        Ok(Some(other)) => return Err(startup(format!("the job master answered {other:?}"))),
        Ok(None) => {
            return Err(startup(
                "the job master closed the connection (see its log: it may have refused this process)"
                    .to_string(),
            ));
        }
        Err(e) => return Err(startup(format!("the job master's answer: {e}"))),
    };
    let placement = Placement {
        process: role.process,
        slots,
    };
    let (events, inbox) = mpsc::channel();
    let reader_events = events.clone();
    std::thread::Builder::new()
        .name(format!("{name} [process {} control]", role.process))
        .spawn(move || {
            loop {
                match wire::read_frame::<ToExecutor>(&mut input) {
                    Ok(Some(m)) => {
                        if reader_events.send(Event::Leader(m)).is_err() {
                            return;
                        }
                    }
                    Ok(None) => {
                        let _ = reader_events
                            .send(Event::LeaderGone("it closed the connection".into()));
                        return;
                    }
                    Err(e) => {
                        let _ = reader_events.send(Event::LeaderGone(e.to_string()));
                        return;
                    }
                }
            }
        })
        .map_err(|e| startup(format!("cannot start the control reader: {e}")))?;
    let (writer, jobs) = mpsc::channel();
    let done = Mutex::new(events.clone());
    snapshot_writer::spawn(
        jobs,
        move |d| {
            let _ = done
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .send(Event::Written(d));
        },
        &name,
    )
    .map_err(|e| startup(format!("cannot start the checkpoint writer: {e}")))?;
    let storage = restoring::checkpoint_storage(&job).map_err(&startup)?;
    let counters = Arc::new(new_counters(&job));
    let mut executor = Executor {
        job,
        role,
        placement,
        clock,
        out,
        events,
        writer,
        storage,
        attempt: 0,
        transport: None,
        counters,
        tasks: Vec::new(),
        destinations: HashMap::new(),
        waiting: Vec::new(),
        in_flight: HashMap::new(),
        discarded: HashSet::new(),
        started: Instant::now(),
    };
    let outcome = executor.run(&inbox);
    executor.stop_tasks();
    outcome
}

impl Executor {
    fn job_name(&self) -> String {
        self.job.plan.stream_graph.job_name.clone()
    }

    fn send(&mut self, message: &ToMaster) {
        if let Err(e) = wire::write_frame(&mut self.out, message) {
            log::warn!("cannot report to the job master: {e}");
        }
    }

    fn run(&mut self, inbox: &Receiver<Event>) -> Result<JobExecutionResult, JobError> {
        let mut next_counters = Instant::now() + COUNTERS_EVERY;
        loop {
            let wait = next_counters.saturating_duration_since(Instant::now());
            match inbox.recv_timeout(wait) {
                Ok(Event::Leader(ToExecutor::Shutdown)) => return Ok(self.result()),
                Ok(Event::LeaderGone(why)) => {
                    return Err(JobError::Startup {
                        job: self.job_name(),
                        message: format!(
                            "process {} lost its job master at {}: {why}",
                            self.role.process, self.role.leader
                        ),
                    });
                }
                Ok(event) => self.handle(event),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Ok(self.result()),
            }
            if Instant::now() >= next_counters {
                self.send_counters(None);
                next_counters = Instant::now() + COUNTERS_EVERY;
            }
        }
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Leader(message) => self.on_leader_message(message),
            Event::Report(TaskMessage {
                task,
                attempt,
                report,
            }) => {
                if attempt != self.attempt {
                    return;
                }
                match report {
                    TaskReport::Snapshot { id, .. } if self.discarded.contains(&id) => {}
                    TaskReport::Snapshot { id, snapshot, .. } => {
                        let bytes: usize = snapshot
                            .state
                            .channels
                            .iter()
                            .flat_map(|c| &c.buffers)
                            .map(Vec::len)
                            .sum();
                        self.in_flight.insert((id, task), bytes as u64);
                        self.waiting.push((id, task, attempt, snapshot));
                        self.write_waiting();
                    }
                    TaskReport::Decline { id, reason } => self.send(&ToMaster::Declined {
                        task: task.into(),
                        attempt,
                        id,
                        reason: match reason {
                            DeclineReason::Subsumed => None,
                            DeclineReason::Failed(m) => Some(m),
                        },
                    }),
                    TaskReport::Finished => self.send(&ToMaster::Finished {
                        task: task.into(),
                        attempt,
                    }),
                }
            }
            Event::Exited {
                task,
                attempt,
                result,
            } => {
                if attempt == self.attempt {
                    // The final counts go first, on the same connection.
                    self.send_counters(Some(task));
                }
                let failure = result.err().map(|e| RemoteFailure::of(&e));
                self.send(&ToMaster::Exited {
                    task: task.into(),
                    attempt,
                    failure,
                });
            }
            Event::Written(WriteDone::TaskState {
                id,
                task,
                attempt,
                result,
            }) => {
                let in_flight_bytes = self.in_flight.remove(&(id, task)).unwrap_or(0);
                self.send(&ToMaster::Written {
                    task: task.into(),
                    attempt,
                    id,
                    in_flight_bytes,
                    result,
                });
            }
            Event::Written(WriteDone::Metadata { .. }) | Event::LeaderGone(_) => {}
        }
    }

    fn on_leader_message(&mut self, message: ToExecutor) {
        match message {
            ToExecutor::Welcome { .. } | ToExecutor::Shutdown => {}
            ToExecutor::Prepare { attempt } => {
                self.stop_tasks();
                self.attempt = attempt;
                self.destinations.clear();
                self.waiting.clear();
                self.in_flight.clear();
                match self.placement.bind_transport(&self.job, self.role.host) {
                    Ok(t) => {
                        let data = t.local_addr();
                        self.transport = Some(Arc::new(t));
                        self.send(&ToMaster::Bound { attempt, data });
                    }
                    Err(e) => {
                        self.transport = None;
                        log::error!("cannot bind the data transport: {e}");
                        self.fail_deployment(
                            attempt,
                            format!("cannot bind the data transport: {e}"),
                        );
                    }
                }
            }
            ToExecutor::Deploy {
                attempt,
                restore,
                data,
            } => {
                if attempt != self.attempt {
                    return;
                }
                if let Err(message) = self.deploy(&restore, &data) {
                    self.fail_deployment(attempt, message);
                }
            }
            ToExecutor::Checkpoint { id, destination } => {
                if !self.discarded.contains(&id) {
                    self.open_destination(id, &destination);
                    self.write_waiting();
                }
            }
            ToExecutor::Discard { id, destination } => {
                self.discarded.insert(id);
                self.waiting.retain(|(w, ..)| *w != id);
                self.in_flight.retain(|(w, _), _| *w != id);
                let destination = match self.destinations.remove(&id) {
                    Some(d) => Some(d),
                    None => destination.open(&self.job, &self.storage).ok(),
                };
                // Releases the shared files only this process's tasks wrote.
                if let Some(destination) = destination {
                    let _ = self.writer.send(WriteJob::Delete {
                        destination,
                        id: Some(id),
                    });
                }
            }
            ToExecutor::Post {
                attempt,
                task,
                control,
            } => {
                let id = TaskId::from(task);
                if attempt != self.attempt {
                    return;
                }
                if let Some(t) = self.tasks.iter().find(|t| t.id == id) {
                    t.spawned.mailbox.post(control);
                }
            }
            ToExecutor::Cancel { attempt } => {
                if attempt == self.attempt {
                    for t in &self.tasks {
                        t.spawned.signal.cancel();
                    }
                }
            }
        }
    }

    fn open_destination(&mut self, id: CheckpointId, at: &DestinationRef) {
        match at.open(&self.job, &self.storage) {
            Ok(d) => {
                self.destinations.insert(id, d);
            }
            Err(e) => log::error!("checkpoint {}: {e}", id.0),
        }
    }

    /// Hands the snapshots whose destination is known to the writer.
    fn write_waiting(&mut self) {
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|(id, ..)| self.destinations.contains_key(id));
        self.waiting = waiting;
        for (id, task, attempt, snapshot) in ready {
            let destination = self.destinations[&id].clone();
            let _ = self.writer.send(WriteJob::TaskState {
                destination,
                file: crate::job_master::task_file(task),
                id,
                task,
                attempt,
                snapshot,
            });
        }
    }

    /// Every task of the attempt reports a failed deployment.
    fn fail_deployment(&mut self, attempt: u32, message: String) {
        let failure = RemoteFailure {
            message: format!("process {}: {message}", self.role.process),
            retryable: false,
            consequence_of_cancellation: false,
        };
        for task in self.local_tasks() {
            self.send(&ToMaster::Exited {
                task: task.into(),
                attempt,
                failure: Some(failure.clone()),
            });
        }
    }

    fn local_tasks(&self) -> Vec<TaskId> {
        let mut out = Vec::new();
        for v in &self.job.plan.job_graph.vertices {
            for subtask in 0..v.parallelism {
                if self.placement.is_local(subtask) {
                    out.push(TaskId {
                        vertex: v.id,
                        subtask,
                    });
                }
            }
        }
        out
    }

    fn deploy(
        &mut self,
        restore: &restoring::RestoreSource,
        data: &[SocketAddr],
    ) -> Result<(), String> {
        let transport = self
            .transport
            .clone()
            .ok_or_else(|| "no data transport was bound".to_string())?;
        self.placement.route(&self.job, &transport, data)?;
        let restored = restoring::load(&self.job, restore, &self.storage)?;
        self.counters = Arc::new(new_counters(&self.job));
        let attempt = self.attempt;
        let (reports, exited) = sinks(&self.events, Event::Report, |task, attempt, result| {
            Event::Exited {
                task,
                attempt,
                result,
            }
        });
        let ctx = AttemptContext {
            job: self.job.clone(),
            attempt,
            transport,
            counters: self.counters.clone(),
            clock: self.clock.clone(),
            restored: Arc::new(restored),
            batch_size: crate::executor::DEFAULT_BATCH_SIZE,
            reports,
            periodic: self.job.config.checkpointing.is_enabled(),
            exited,
        };
        for id in self.local_tasks() {
            let spawned = spawn_task(&ctx, id)?;
            self.tasks.push(RunningTask { id, spawned });
        }
        Ok(())
    }

    /// Cancels the tasks still running and waits (a while) for their threads.
    fn stop_tasks(&mut self) {
        for t in &self.tasks {
            t.spawned.signal.cancel();
        }
        let deadline = Instant::now() + STOP_GRACE;
        for t in std::mem::take(&mut self.tasks) {
            while !t.spawned.thread.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            if t.spawned.thread.is_finished() {
                let _ = t.spawned.thread.join();
            }
        }
        self.transport = None;
    }

    /// Sends the counters of every local task (or of `only`).
    fn send_counters(&mut self, only: Option<TaskId>) {
        let mut operators = Vec::new();
        let mut tasks = Vec::new();
        let buffers = self
            .transport
            .as_ref()
            .map(|t| buffer_usage(&self.job, &t.buffer_usage()))
            .unwrap_or_default();
        for t in &self.tasks {
            if only.is_some_and(|o| o != t.id) {
                continue;
            }
            let vertex = self.job.plan.job_graph.vertex(t.id.vertex);
            for node in &vertex.operators {
                if let Some(c) = self.counters.get(&(*node, t.id.subtask)) {
                    operators.push(OperatorCount {
                        node: *node,
                        subtask: t.id.subtask,
                        records_in: c.records_in.get(),
                        records_out: c.records_out.get(),
                        late_records_dropped: c.late_records_dropped.get(),
                        output_watermark: c.output_watermark.get(),
                    });
                }
            }
            let (idle_nanos, backpressured_nanos) = t.spawned.signal.blocked_nanos();
            tasks.push(TaskTimes {
                task: WireTask::from(t.id),
                idle_nanos,
                backpressured_nanos,
                buffers: buffers
                    .get(&(t.id.vertex, t.id.subtask))
                    .copied()
                    .unwrap_or_default(),
            });
        }
        if operators.is_empty() && tasks.is_empty() {
            return;
        }
        let attempt = self.attempt;
        self.send(&ToMaster::Counters {
            attempt,
            operators,
            tasks,
        });
    }

    fn result(&self) -> JobExecutionResult {
        let operators: Vec<OperatorResult> = operator_totals(&self.job, &self.counters);
        JobExecutionResult {
            job_name: self.job_name(),
            job_id: String::new(),
            net_runtime: self.started.elapsed(),
            operators,
            restarts: self.attempt.saturating_sub(1),
            completed_checkpoints: 0,
            checkpointed_in_flight_bytes: 0,
            latest_checkpoint: None,
            stopped_with_savepoint: None,
        }
    }
}
