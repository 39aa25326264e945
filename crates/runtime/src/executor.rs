//! The local executor: runs every subtask of a job as a thread of this process,
//! connected by the in-process transport (embedded mode, A4).
//!
//! It is the same task code the cluster runs; only the transport and who spawns the
//! threads differ. A job master thread (see `job_master`) deploys the tasks,
//! coordinates checkpoints and, on the first task failure, cancels the others and
//! either restarts the job from its latest checkpoint (with a restart strategy)
//! or reports that failure (the root cause, not the cancellations it caused).

use crate::clock::{Clock, SystemClock};
use crate::environment::{CounterRegistry, ExecutableJob};
use crate::error::JobError;
use crate::job_master::{JobMaster, MasterEvent, operator_totals, random_hex};
use crate::status::{JobStatus, JobStatusBoard};
use runnel_types::{NodeId, SnapshotKind};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Records handed between chained operators in one call.
pub const DEFAULT_BATCH_SIZE: usize = 512;

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
    /// The id of this run of the job (its checkpoints are under a directory of
    /// this name).
    pub job_id: String,
    /// Time from the start of the first task to the end of the last.
    pub net_runtime: Duration,
    /// Records in and out per operator, summed over its subtasks, in node order
    /// (of the last attempt, if the job restarted).
    pub operators: Vec<OperatorResult>,
    /// How many times the job restarted after a failure.
    pub restarts: u32,
    /// Checkpoints completed (including the final one of a job with
    /// checkpoints).
    pub completed_checkpoints: u64,
    /// Bytes of in-flight channel data stored by the completed checkpoints
    /// (only unaligned checkpoints store any; Flink's "persisted data").
    pub checkpointed_in_flight_bytes: u64,
    /// Where the latest retained checkpoint is.
    pub latest_checkpoint: Option<String>,
    /// With stop-with-savepoint: where the savepoint is.
    pub stopped_with_savepoint: Option<String>,
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

    /// Starts `job` and returns a handle to wait for, cancel or savepoint it.
    pub fn submit(&self, job: ExecutableJob) -> Result<JobClient, JobError> {
        self.start(job, None)
    }

    /// Starts `job` as process 0 of a job spread over several processes
    /// (cluster mode): this process runs the job master and the subtasks of
    /// `role.slots`; the other processes run
    /// [`run_task_executor`](crate::distributed::run_task_executor).
    pub fn submit_as_leader(
        &self,
        job: ExecutableJob,
        role: crate::distributed::LeaderRole,
    ) -> Result<JobClient, JobError> {
        self.start(job, Some(role))
    }

    fn start(
        &self,
        job: ExecutableJob,
        leader: Option<crate::distributed::LeaderRole>,
    ) -> Result<JobClient, JobError> {
        let job = Arc::new(job);
        let job_name = job.plan.stream_graph.job_name.clone();
        let job_id = random_hex(32);
        let (outbox, inbox) = mpsc::channel();
        let counters: Arc<Mutex<Arc<CounterRegistry>>> =
            Arc::new(Mutex::new(Arc::new(HashMap::new())));
        let status = Arc::new(JobStatusBoard::new(
            job.clone(),
            job_id.clone(),
            self.clock.now_millis(),
        ));
        let master = JobMaster::new(
            job.clone(),
            job_id.clone(),
            self.clock.clone(),
            self.batch_size,
            inbox,
            outbox.clone(),
            counters.clone(),
            status.clone(),
            leader,
        )?;
        let (result_tx, result_rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(format!("{job_name} [job master]"))
            .spawn(move || {
                let _ = result_tx.send(master.run());
            })
            .map_err(|e| JobError::Startup {
                job: job_name.clone(),
                message: format!("cannot start the job master: {e}"),
            })?;
        Ok(JobClient {
            job,
            job_name,
            job_id,
            cancel: JobCancelHandle {
                requested: Arc::new(AtomicBool::new(false)),
                master: Arc::new(Mutex::new(outbox)),
            },
            result: result_rx,
            thread: Some(thread),
            counters,
            status,
        })
    }
}

/// Cancels a running job; cheap to clone and usable from any thread (Ctrl-C).
#[derive(Debug, Clone)]
pub struct JobCancelHandle {
    requested: Arc<AtomicBool>,
    master: Arc<Mutex<Sender<MasterEvent>>>,
}

impl std::fmt::Debug for MasterEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterEvent")
    }
}

impl JobCancelHandle {
    /// Requests cancellation of every task.
    pub fn cancel(&self) {
        self.requested.store(true, Ordering::Release);
        let _ = self
            .master
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(MasterEvent::Cancel);
    }

    /// Whether cancellation was requested.
    pub fn is_cancelled(&self) -> bool {
        self.requested.load(Ordering::Acquire)
    }

    /// Whether both handles cancel the same job.
    pub fn same_job(&self, other: &JobCancelHandle) -> bool {
        Arc::ptr_eq(&self.requested, &other.requested)
    }

    fn send(&self, event: MasterEvent) {
        let _ = self
            .master
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(event);
    }
}

/// Savepoints and cancellation of a running job, from any thread.
#[derive(Debug, Clone)]
pub struct JobControl {
    job_name: String,
    cancel: JobCancelHandle,
}

impl JobControl {
    /// See [`JobClient::trigger_savepoint`].
    pub fn trigger_savepoint(&self, dir: Option<PathBuf>) -> Result<String, JobError> {
        self.savepoint(SnapshotKind::Savepoint, dir)
    }

    /// See [`JobClient::stop_with_savepoint`].
    pub fn stop_with_savepoint(&self, dir: Option<PathBuf>) -> Result<String, JobError> {
        self.savepoint(SnapshotKind::SavepointTerminate, dir)
    }

    /// Cancels the job.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    fn savepoint(&self, kind: SnapshotKind, dir: Option<PathBuf>) -> Result<String, JobError> {
        let (reply, answer) = mpsc::channel();
        self.cancel
            .send(MasterEvent::Savepoint { kind, dir, reply });
        answer.recv().unwrap_or_else(|_| {
            Err(JobError::Savepoint {
                job: self.job_name.clone(),
                message: "the job ended before the savepoint completed".to_string(),
            })
        })
    }
}

/// A running job.
pub struct JobClient {
    job: Arc<ExecutableJob>,
    job_name: String,
    job_id: String,
    cancel: JobCancelHandle,
    result: Receiver<Result<JobExecutionResult, JobError>>,
    thread: Option<JoinHandle<()>>,
    counters: Arc<Mutex<Arc<CounterRegistry>>>,
    status: Arc<JobStatusBoard>,
}

impl JobClient {
    /// The job's state, vertices, failures and checkpoints as of now.
    pub fn status(&self) -> JobStatus {
        self.status.snapshot()
    }

    /// The job master's live record of the job (it outlives the job).
    pub fn status_board(&self) -> Arc<JobStatusBoard> {
        self.status.clone()
    }

    /// The job's name.
    pub fn job_name(&self) -> &str {
        &self.job_name
    }

    /// The id of this run of the job.
    pub fn job_id(&self) -> &str {
        &self.job_id
    }

    /// A handle that cancels the job.
    pub fn cancel_handle(&self) -> JobCancelHandle {
        self.cancel.clone()
    }

    /// Cancels the job; `wait` then returns [`JobError::Cancelled`].
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Takes a savepoint into `dir` (or `execution.checkpointing.savepoint-dir`)
    /// and returns its location; the job keeps running.
    pub fn trigger_savepoint(&self, dir: Option<PathBuf>) -> Result<String, JobError> {
        self.control().trigger_savepoint(dir)
    }

    /// Takes a savepoint and stops the job (Flink's stop-with-savepoint):
    /// sources stop right after it, sinks commit what it covers, and `wait`
    /// returns with [`JobExecutionResult::stopped_with_savepoint`] set.
    pub fn stop_with_savepoint(&self, dir: Option<PathBuf>) -> Result<String, JobError> {
        self.control().stop_with_savepoint(dir)
    }

    /// A handle for savepoints and cancellation, usable from any thread.
    pub fn control(&self) -> JobControl {
        JobControl {
            job_name: self.job_name.clone(),
            cancel: self.cancel.clone(),
        }
    }

    /// Current records in/out per operator, while the job runs.
    pub fn operator_totals(&self) -> Vec<OperatorResult> {
        let counters = self
            .counters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        operator_totals(&self.job, &counters)
    }

    /// Waits until the job has ended; returns the result or the failure.
    pub fn wait(mut self) -> Result<JobExecutionResult, JobError> {
        let result = self.result.recv().unwrap_or_else(|_| {
            Err(JobError::Startup {
                job: self.job_name.clone(),
                message: "the job master stopped without a result".to_string(),
            })
        });
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        result
    }
}
