//! Task and job errors: each names the operator and subtask at fault and says
//! whose fault it is.

use runnel_network::NetworkError;
use runnel_plan::PlanError;
use runnel_types::CodecError;
use std::fmt;
use thiserror::Error;

/// An error raised by user code: any `std::error::Error`, boxed. Functions return
/// `Result<_, BoxError>` so `?` works on every error type.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Who has to act for a failure to go away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The job's code or input (a panic, an error returned by a function, bad data).
    User,
    /// Something outside Runnel (a file, a socket, another service); a retry may help.
    External,
    /// A bug in Runnel.
    Internal,
}

/// Identifies one operator instance in error messages: `Map (2/4)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorInstance {
    /// Operator name.
    pub operator: String,
    /// 0-based subtask index.
    pub subtask: u32,
    /// Parallelism of the operator.
    pub parallelism: u32,
}

impl fmt::Display for OperatorInstance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` (subtask {}/{})",
            self.operator,
            self.subtask + 1,
            self.parallelism
        )
    }
}

/// Why a task failed.
#[derive(Debug, Error)]
pub enum TaskError {
    /// A user function returned an error.
    #[error("operator {at} failed: {source}")]
    UserFunction {
        /// Where.
        at: OperatorInstance,
        /// The function's error.
        #[source]
        source: BoxError,
    },
    /// A user function panicked. The panic is contained to the job.
    #[error("operator {at} panicked: {message}")]
    UserPanic {
        /// Where.
        at: OperatorInstance,
        /// The panic message.
        message: String,
    },
    /// A record could not be encoded or decoded on its way between tasks.
    #[error("operator {at}: {source}")]
    Codec {
        /// Where.
        at: OperatorInstance,
        /// The codec error.
        #[source]
        source: CodecError,
    },
    /// Data exchange failed.
    #[error("task `{task}`: {source}")]
    Network {
        /// The task.
        task: String,
        /// The network error.
        #[source]
        source: NetworkError,
    },
    /// The task could not be set up (a bug in Runnel: the plan and the code disagree).
    #[error("task `{task}` cannot be deployed: {message}")]
    Deployment {
        /// The task.
        task: String,
        /// What went wrong.
        message: String,
    },
    /// A failure injected on purpose (`execution.fault-injection.*`).
    #[error("operator {at}: injected failure after {records} records (attempt {attempt})")]
    InjectedFailure {
        /// Where.
        at: OperatorInstance,
        /// After how many records.
        records: u64,
        /// In which attempt of the job.
        attempt: u32,
    },
    /// A checkpoint could not be taken or restored.
    #[error("task `{task}`: {message}")]
    Checkpoint {
        /// The task.
        task: String,
        /// What went wrong.
        message: String,
    },
    /// A task in another process of the job (cluster mode) failed, or that
    /// process is gone.
    #[error("{message} (in process {process} of the job)")]
    Remote {
        /// The job's process (0 runs the job master).
        process: u32,
        /// The failure as that process reported it.
        message: String,
        /// Whether a restart could succeed.
        retryable: bool,
        /// Whether it only followed from cancelling the task.
        consequence_of_cancellation: bool,
    },
    /// The task was cancelled.
    #[error("task cancelled")]
    Cancelled,
}

impl TaskError {
    /// Whose fault the failure is.
    pub fn fault(&self) -> Fault {
        match self {
            TaskError::UserFunction { .. }
            | TaskError::UserPanic { .. }
            | TaskError::Codec { .. } => Fault::User,
            TaskError::Network { .. } | TaskError::InjectedFailure { .. } => Fault::External,
            TaskError::Checkpoint { .. } => Fault::External,
            TaskError::Deployment { .. } => Fault::Internal,
            TaskError::Remote { .. } => Fault::External,
            TaskError::Cancelled => Fault::User,
        }
    }

    /// Whether restarting the task could succeed (with a restart strategy, once
    /// checkpoints exist). Panics and errors in user code may be transient (a
    /// connection refused), so they count as retryable, as in Flink.
    pub fn is_retryable(&self) -> bool {
        match self {
            TaskError::Deployment { .. } | TaskError::Cancelled => false,
            TaskError::Remote { retryable, .. } => *retryable,
            _ => true,
        }
    }
}

/// Why a job did not complete.
///
/// `Debug` prints the message and its causes, so a `main` returning this error
/// shows a readable report.
#[derive(Error)]
pub enum JobError {
    /// The job's graph is invalid; nothing ran.
    #[error("invalid job: {0}")]
    Plan(#[from] PlanError),
    /// A task failed; the job was cancelled. `cause` is the first failure.
    #[error("job `{job}` failed: {cause}")]
    Failed {
        /// The job's name.
        job: String,
        /// The root cause.
        #[source]
        cause: TaskError,
    },
    /// The job was cancelled (by the user or Ctrl-C).
    #[error("job `{job}` was cancelled")]
    Cancelled {
        /// The job's name.
        job: String,
    },
    /// A savepoint could not be taken.
    #[error("job `{job}`: savepoint failed: {message}")]
    Savepoint {
        /// The job's name.
        job: String,
        /// Why.
        message: String,
    },
    /// The job could not be started.
    #[error("job `{job}` cannot start: {message}")]
    Startup {
        /// The job's name.
        job: String,
        /// What went wrong.
        message: String,
    },
}

impl fmt::Debug for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")?;
        let mut source = std::error::Error::source(self);
        // The first level of cause is already part of the message.
        if source.is_some() {
            source = source.and_then(std::error::Error::source);
        }
        while let Some(cause) = source {
            write!(f, "\n  caused by: {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// Turns a caught panic payload into a message.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}
