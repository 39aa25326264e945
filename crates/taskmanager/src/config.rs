//! [`TaskManagerConfig`]: which JobManager to join, with how many slots, as
//! whom.

use crate::TaskManagerError;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// The longest TaskManager id the JobManager accepts.
const MAX_ID_LEN: usize = 64;

/// The most slots the JobManager accepts of one TaskManager.
const MAX_SLOTS: u32 = 4096;

/// The settings of a [`TaskManager`](crate::TaskManager). Build with struct
/// update syntax:
///
/// ```
/// use runnel_taskmanager::TaskManagerConfig;
///
/// let config = TaskManagerConfig {
///     jobmanager: "10.0.0.2:6123".parse().unwrap(),
///     slots: 4,
///     ..TaskManagerConfig::default()
/// };
/// assert_eq!(config.registration_timeout.as_secs(), 300);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskManagerConfig {
    /// The JobManager's RPC address (Flink's `jobmanager.rpc.address` and
    /// `jobmanager.rpc.port`, `127.0.0.1:6123` by default): registration,
    /// heartbeats and job binaries go there, and the job processes it starts
    /// report there.
    pub jobmanager: SocketAddr,
    /// Task slots offered (Flink's `taskmanager.numberOfTaskSlots`, 1 by
    /// default), 1 to 4096.
    pub slots: u32,
    /// Where it will serve data to other TaskManagers (the network shuffle).
    /// An unspecified IP (`0.0.0.0`) is replaced by the address this host
    /// reaches the JobManager from; `None` registers that address with port
    /// `0`: no data served yet.
    pub data_address: Option<SocketAddr>,
    /// Its id (`None`: 32 random hex digits): 1 to 64 ASCII letters, digits,
    /// `.`, `_` or `-`, not `local`. Registering again with the same id
    /// replaces the earlier registration, so give each TaskManager its own.
    pub id: Option<String>,
    /// The JobManager's bearer token, if it is configured with one.
    pub bearer_token: Option<String>,
    /// How long it keeps trying to register — at start, and again after
    /// losing the JobManager — before it gives up (Flink's
    /// `taskmanager.registration.timeout`, 5 min).
    pub registration_timeout: Duration,
    /// Where it caches job binaries (by hash) and writes each job attempt's
    /// configuration and log (`<jobId>-<attempt>.log`); made if missing and
    /// left in place. `None` (the default): a fresh directory under the
    /// system's temporary directory, removed when the TaskManager stops.
    pub working_dir: Option<PathBuf>,
}

impl Default for TaskManagerConfig {
    fn default() -> Self {
        TaskManagerConfig {
            jobmanager: SocketAddr::from((Ipv4Addr::LOCALHOST, 6123)),
            slots: 1,
            data_address: None,
            id: None,
            bearer_token: None,
            registration_timeout: Duration::from_secs(300),
            working_dir: None,
        }
    }
}

impl TaskManagerConfig {
    /// Checks every setting; returns the id to register with.
    pub(crate) fn validate(&self) -> Result<String, TaskManagerError> {
        let invalid = |reason: String| Err(TaskManagerError::InvalidConfig { reason });
        if !(1..=MAX_SLOTS).contains(&self.slots) {
            return invalid(format!(
                "slots must be between 1 and {MAX_SLOTS}, not {}",
                self.slots
            ));
        }
        if self.registration_timeout.is_zero() {
            return invalid("the registration timeout must be positive".into());
        }
        if let Some(token) = &self.bearer_token
            && (token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()))
        {
            return invalid(
                "the bearer token must be non-empty visible ASCII without spaces".into(),
            );
        }
        let id = self.id.clone().unwrap_or_else(random_id);
        let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if id.is_empty() || id.len() > MAX_ID_LEN || !id.chars().all(valid) || id == "local" {
            return invalid(format!(
                "id {id:?} must be 1 to {MAX_ID_LEN} ASCII letters, digits, '.', '_' or '-', \
                 and not \"local\""
            ));
        }
        Ok(id)
    }
}

/// 32 random hex digits, different in every call.
pub(crate) fn random_id() -> String {
    let half = |salt: u64| {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(salt);
        h.write_u32(std::process::id());
        h.finish()
    };
    format!("{:016x}{:016x}", half(1), half(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_id_is_random_hex() {
        let a = TaskManagerConfig::default().validate().unwrap();
        let b = TaskManagerConfig::default().validate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        let named = TaskManagerConfig {
            id: Some("tm-1".into()),
            ..TaskManagerConfig::default()
        };
        assert_eq!(named.validate().unwrap(), "tm-1");
    }

    #[test]
    fn unusable_settings_are_refused_naming_them() {
        let table = [
            (
                TaskManagerConfig {
                    slots: 0,
                    ..TaskManagerConfig::default()
                },
                "slots",
            ),
            (
                TaskManagerConfig {
                    id: Some("a/b".into()),
                    ..TaskManagerConfig::default()
                },
                "id",
            ),
            (
                TaskManagerConfig {
                    id: Some("local".into()),
                    ..TaskManagerConfig::default()
                },
                "id",
            ),
            (
                TaskManagerConfig {
                    bearer_token: Some("a b".into()),
                    ..TaskManagerConfig::default()
                },
                "bearer token",
            ),
            (
                TaskManagerConfig {
                    registration_timeout: Duration::ZERO,
                    ..TaskManagerConfig::default()
                },
                "registration timeout",
            ),
        ];
        for (config, needle) in table {
            let err = config.validate().unwrap_err();
            assert!(err.to_string().contains(needle), "{err}");
        }
    }
}
