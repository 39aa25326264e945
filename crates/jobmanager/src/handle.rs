//! [`JobHandle`]: the Dispatcher's view of one job, whoever runs it.

use runnel_runtime::status::{JobStatus, JobStatusBoard};
use runnel_runtime::{JobClient, JobControl, JobError};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// What the Dispatcher needs of a running job: a snapshot of its status, and
/// the three things a user can ask of it.
///
/// The local executor's jobs implement it with [`LocalJob`]; a JobMaster
/// running a job on remote TaskManagers will implement it the same way.
///
/// Contract: every method may be called from any thread, at any time, also
/// after the job has ended. [`status`](Self::status) is cheap (no I/O; it may
/// take a lock the job master holds briefly). [`trigger_savepoint`](Self::trigger_savepoint)
/// blocks until the savepoint is complete or has failed, so the Dispatcher calls
/// it on a thread of its own.
pub trait JobHandle: Send + Sync {
    /// The job's id (32 lower-case hex digits).
    fn job_id(&self) -> &str;

    /// The job as of now.
    fn status(&self) -> JobStatus;

    /// Requests cancellation; returns at once. A no-op for an ended job.
    fn cancel(&self);

    /// Takes a savepoint into `dir` (the job's configured savepoint directory
    /// when `None`) and returns its location; with `stop`, the job stops right
    /// after it (stop-with-savepoint). Blocks until done.
    fn trigger_savepoint(&self, dir: Option<PathBuf>, stop: bool) -> Result<String, JobError>;
}

/// A job of the local executor, as the Dispatcher sees it: the job master's
/// status board and the job's control handle (neither keeps the job alive).
///
/// ```no_run
/// # fn run(client: runnel_runtime::JobClient) {
/// use runnel_jobmanager::{Dispatcher, LocalJob};
/// use std::sync::Arc;
///
/// let dispatcher = Dispatcher::new();
/// dispatcher.register(Arc::new(LocalJob::new(&client))).expect("a new job id");
/// let result = client.wait(); // the Dispatcher keeps reporting on the job
/// # }
/// ```
#[derive(Clone)]
pub struct LocalJob {
    job_id: String,
    board: Arc<JobStatusBoard>,
    control: JobControl,
}

impl LocalJob {
    /// The handle of `client`'s job.
    pub fn new(client: &JobClient) -> Self {
        LocalJob {
            job_id: client.job_id().to_string(),
            board: client.status_board(),
            control: client.control(),
        }
    }
}

impl fmt::Debug for LocalJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalJob")
            .field("job_id", &self.job_id)
            .finish_non_exhaustive()
    }
}

impl JobHandle for LocalJob {
    fn job_id(&self) -> &str {
        &self.job_id
    }

    fn status(&self) -> JobStatus {
        self.board.snapshot()
    }

    fn cancel(&self) {
        self.control.cancel();
    }

    fn trigger_savepoint(&self, dir: Option<PathBuf>, stop: bool) -> Result<String, JobError> {
        if stop {
            self.control.stop_with_savepoint(dir)
        } else {
            self.control.trigger_savepoint(dir)
        }
    }
}
