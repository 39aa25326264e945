//! The crate's error type and how each error answers an HTTP request.

use crate::resource_manager::{HeartbeatError, Rejection};
use runnel_rest::{Response, RestError};
use thiserror::Error;

/// A failure of the JobManager: a lookup the caller got wrong, a request it
/// cannot serve, or the endpoint failing to start.
///
/// Whose fault: the `*NotFound` variants and [`BadRequest`](Self::BadRequest)
/// are the REST client's (`404`, `400`; retrying the same request cannot help);
/// [`LeaderUnknown`](Self::LeaderUnknown) is nobody's (`404` until process 0
/// posts; polling again helps);
/// [`DuplicateJob`](Self::DuplicateJob) is the registering program's (a bug);
/// [`Registration`](Self::Registration) is the registering TaskManager's (`400`,
/// or `409` for another version; registering again unchanged cannot help);
/// [`InvalidConfig`](Self::InvalidConfig) is the operator's (fix the settings);
/// [`Rest`](Self::Rest) (binding the endpoint) and [`Spawn`](Self::Spawn) are the
/// environment's (a port in use, no threads left; a retry may help).
#[derive(Debug, Error)]
pub enum JobManagerError {
    /// No job with this id is known (never registered, or evicted from the
    /// finished jobs kept for the overview).
    #[error("Job {job_id} not found.")]
    JobNotFound {
        /// The id asked for.
        job_id: String,
    },
    /// The job has no vertex with this id.
    #[error("Vertex {vertex_id} not found in job {job_id}.")]
    VertexNotFound {
        /// The job.
        job_id: String,
        /// The vertex id asked for.
        vertex_id: String,
    },
    /// No savepoint request with this id was made for the job (or it was
    /// forgotten: the Dispatcher keeps the newest few hundred).
    #[error("Savepoint request {trigger_id} not found for job {job_id}.")]
    TriggerNotFound {
        /// The job.
        job_id: String,
        /// The request id asked for.
        trigger_id: String,
    },
    /// No TaskManager with this id is registered.
    #[error("TaskManager {id} not found.")]
    TaskManagerNotFound {
        /// The id asked for.
        id: String,
    },
    /// A request's query or body cannot be used.
    #[error("{reason}")]
    BadRequest {
        /// What is wrong, naming the parameter or field.
        reason: String,
    },
    /// A status report or savepoint result of an attempt that is no longer
    /// the job's current one, or of a job that has ended (`410`): the
    /// attempt's process must cancel its job and exit.
    #[error("Attempt {attempt} of job {job_id} is gone: {reason}.")]
    AttemptGone {
        /// The job.
        job_id: String,
        /// The attempt that reported.
        attempt: u32,
        /// Superseded, or the job has ended.
        reason: String,
    },
    /// Process 0 of the attempt has not posted where it listens yet (`404`):
    /// the asking process polls again.
    #[error("The leader of attempt {attempt} of job {job_id} is not known yet.")]
    LeaderUnknown {
        /// The job.
        job_id: String,
        /// The attempt asked for.
        attempt: u32,
    },
    /// No blob with this key is stored.
    #[error("Blob {key} not found.")]
    BlobNotFound {
        /// The key asked for.
        key: String,
    },
    /// A part of a request is larger than allowed (`413`).
    #[error("{what} exceeds the limit of {limit} bytes")]
    PayloadTooLarge {
        /// What is too large.
        what: String,
        /// The limit, bytes.
        limit: usize,
    },
    /// The blob store could not store or read a blob (`500`; a full or
    /// unwritable disk: the operator's, a retry may help).
    #[error("blob store: {0}")]
    BlobStore(#[source] std::io::Error),
    /// A TaskManager's registration was refused.
    #[error(transparent)]
    Registration(#[from] Rejection),
    /// A setting of the JobManager is unusable.
    #[error("invalid JobManager configuration: {reason}")]
    InvalidConfig {
        /// What is wrong, naming the setting.
        reason: String,
    },
    /// A job with this id is already registered.
    #[error("a job with id {job_id} is already registered")]
    DuplicateJob {
        /// The id.
        job_id: String,
    },
    /// The REST server could not start (address in use, invalid config).
    #[error("cannot start the JobManager's REST endpoint: {0}")]
    Rest(#[from] RestError),
    /// The RPC endpoint's server (TaskManagers, job processes) could not start.
    #[error("cannot start the JobManager's RPC endpoint: {0}")]
    Rpc(RestError),
    /// A thread could not be started.
    #[error("cannot start a thread to {what}: {source}")]
    Spawn {
        /// What the thread was for.
        what: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
}

impl JobManagerError {
    /// The HTTP status this error answers a request with.
    pub fn status(&self) -> u16 {
        match self {
            JobManagerError::JobNotFound { .. }
            | JobManagerError::VertexNotFound { .. }
            | JobManagerError::TriggerNotFound { .. }
            | JobManagerError::TaskManagerNotFound { .. }
            | JobManagerError::LeaderUnknown { .. }
            | JobManagerError::BlobNotFound { .. } => 404,
            JobManagerError::AttemptGone { .. } => 410,
            JobManagerError::PayloadTooLarge { .. } => 413,
            JobManagerError::BadRequest { .. }
            | JobManagerError::Registration(Rejection::Malformed { .. }) => 400,
            JobManagerError::Registration(Rejection::IncompatibleVersion { .. }) => 409,
            JobManagerError::Rest(e) | JobManagerError::Rpc(e) => e.status(),
            JobManagerError::DuplicateJob { .. }
            | JobManagerError::InvalidConfig { .. }
            | JobManagerError::BlobStore(_)
            | JobManagerError::Spawn { .. } => 500,
        }
    }

    pub(crate) fn bad_request(reason: impl Into<String>) -> Self {
        JobManagerError::BadRequest {
            reason: reason.into(),
        }
    }

    pub(crate) fn invalid_config(reason: impl Into<String>) -> Self {
        JobManagerError::InvalidConfig {
            reason: reason.into(),
        }
    }
}

impl From<HeartbeatError> for JobManagerError {
    /// An unknown TaskManager is `404` (it registers again), a malformed
    /// heartbeat `400`.
    fn from(e: HeartbeatError) -> Self {
        match e {
            HeartbeatError::UnknownTaskManager { id } => {
                JobManagerError::TaskManagerNotFound { id }
            }
            malformed @ HeartbeatError::Malformed { .. } => {
                JobManagerError::bad_request(malformed.to_string())
            }
        }
    }
}

impl From<JobManagerError> for Response {
    /// Flink's error shape, `{"errors": ["<message>"]}`, with [`JobManagerError::status`].
    fn from(e: JobManagerError) -> Self {
        Response::error(e.status(), e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_answer_with_flinks_shape_and_status() {
        let table = [
            (
                JobManagerError::JobNotFound {
                    job_id: "ab12".into(),
                },
                404,
                "Job ab12 not found.",
            ),
            (
                JobManagerError::VertexNotFound {
                    job_id: "j".into(),
                    vertex_id: "v".into(),
                },
                404,
                "Vertex v not found in job j.",
            ),
            (
                JobManagerError::bad_request("unknown mode stop; expected cancel"),
                400,
                "unknown mode stop; expected cancel",
            ),
            (
                JobManagerError::from(Rejection::IncompatibleVersion {
                    jobmanager: "0.1.0".into(),
                    taskmanager: "0.2.0".into(),
                }),
                409,
                "incompatible TaskManager version 0.2.0: this JobManager runs Runnel 0.1.0, \
                 and a TaskManager must have the same major and minor version",
            ),
            (
                JobManagerError::from(HeartbeatError::UnknownTaskManager { id: "tm-1".into() }),
                404,
                "TaskManager tm-1 not found.",
            ),
        ];
        for (error, status, message) in table {
            let r = Response::from(error);
            assert_eq!(r.status(), status);
            let body: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
            assert_eq!(body, serde_json::json!({ "errors": [message] }));
        }
    }
}
