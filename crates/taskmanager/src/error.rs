//! The crate's error type.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use thiserror::Error;

/// Why a TaskManager could not start or stopped on its own.
///
/// Whose fault, and whether a retry helps:
/// [`InvalidConfig`](Self::InvalidConfig) is the operator's (fix the settings);
/// [`IncompatibleVersion`](Self::IncompatibleVersion) is the deployment's (run
/// the JobManager's Runnel version; retrying cannot help);
/// [`Refused`](Self::Refused) is the operator's or ours (a wrong bearer token,
/// an address that is not a Runnel JobManager, a registration the JobManager
/// finds malformed; retrying unchanged cannot help);
/// [`RegistrationTimeout`](Self::RegistrationTimeout) is the environment's (the
/// JobManager stayed unreachable; starting again later may help);
/// [`WorkingDir`](Self::WorkingDir) and [`Spawn`](Self::Spawn) are the
/// machine's (no such directory or permission, no threads left) and
/// [`Panicked`](Self::Panicked) ours (a bug).
#[derive(Debug, Error)]
pub enum TaskManagerError {
    /// A setting is unusable (no slots, an id with a `/`, an empty token).
    #[error("invalid TaskManager configuration: {reason}")]
    InvalidConfig {
        /// What is wrong, naming the setting.
        reason: String,
    },
    /// The JobManager runs another major or minor version of Runnel (`409`).
    #[error("the JobManager at {jobmanager} refused this TaskManager: {message}")]
    IncompatibleVersion {
        /// The JobManager's RPC address.
        jobmanager: SocketAddr,
        /// The JobManager's reason, naming both versions.
        message: String,
    },
    /// The JobManager answered a registration or heartbeat with an error that
    /// repeating the request cannot change (`400`, `401`, `404` for a
    /// registration, …) or with something that is not the protocol's answer.
    #[error("the JobManager at {jobmanager} refused TaskManager {id} (HTTP {status}): {message}")]
    Refused {
        /// The JobManager's RPC address.
        jobmanager: SocketAddr,
        /// This TaskManager's id.
        id: String,
        /// The HTTP status.
        status: u16,
        /// The JobManager's reason.
        message: String,
    },
    /// No registration succeeded within the registration timeout.
    #[error(
        "TaskManager {id} could not register with the JobManager at {jobmanager} within \
         {} s: {last_error}", timeout.as_secs_f64()
    )]
    RegistrationTimeout {
        /// The JobManager's RPC address.
        jobmanager: SocketAddr,
        /// This TaskManager's id.
        id: String,
        /// The registration timeout.
        timeout: Duration,
        /// Why the last attempt failed.
        last_error: String,
    },
    /// The working directory could not be made.
    #[error("cannot make the TaskManager's working directory {}: {source}", path.display())]
    WorkingDir {
        /// The directory (the configured one, or the temporary directory).
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A thread could not be started.
    #[error("cannot start a thread to {what}: {source}")]
    Spawn {
        /// What the thread was for.
        what: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The TaskManager's thread panicked (a bug; the panic was logged).
    #[error("the thread of TaskManager {id} panicked")]
    Panicked {
        /// This TaskManager's id.
        id: String,
    },
}
