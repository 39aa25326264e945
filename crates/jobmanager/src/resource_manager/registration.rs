//! What a TaskManager says about itself when it registers and when it
//! heartbeats, and what makes a registration unusable.
//!
//! The wire shapes are those of `POST /taskmanagers` and
//! `POST /taskmanagers/{id}/heartbeat` in `docs/rest-api.yaml` (tag
//! `TaskManager protocol`); the TaskManager side (`runnel-taskmanager`) writes
//! the same JSON. Unknown fields are ignored, so a newer patch release may add
//! optional ones; anything else changes the minor version, which the version
//! check refuses.

use crate::view::cluster::LOCAL_TASK_MANAGER;
use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

/// This JobManager's Runnel version; a TaskManager must have the same major
/// and minor version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The most slots one TaskManager may offer.
pub const MAX_SLOTS: u32 = 4096;

/// The longest TaskManager id.
pub const MAX_ID_LEN: usize = 64;

/// A registered TaskManager's id: 1 to [`MAX_ID_LEN`] ASCII letters, digits,
/// `.`, `_` or `-` (so it needs no escaping in a URL path), and not `local`,
/// the id of the JobManager's own process in embedded mode.
///
/// ```
/// use runnel_jobmanager::resource_manager::TaskManagerId;
///
/// assert_eq!(TaskManagerId::new("tm-10.0.0.11-1").unwrap().as_str(), "tm-10.0.0.11-1");
/// assert!(TaskManagerId::new("a/b").is_err());
/// assert!(TaskManagerId::new("local").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct TaskManagerId(String);

impl TaskManagerId {
    /// `id` if it is a valid TaskManager id.
    pub fn new(id: impl Into<String>) -> Result<TaskManagerId, Rejection> {
        let id = id.into();
        let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if id.is_empty() || id.len() > MAX_ID_LEN || !id.chars().all(valid) {
            return Err(Rejection::malformed(format!(
                "id {id:?} must be 1 to {MAX_ID_LEN} ASCII letters, digits, '.', '_' or '-'"
            )));
        }
        if id == LOCAL_TASK_MANAGER {
            return Err(Rejection::malformed(format!(
                "id {LOCAL_TASK_MANAGER:?} is reserved for the JobManager's own process"
            )));
        }
        Ok(TaskManagerId(id))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TaskManagerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A TaskManager's machine: `-1` where it could not tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskManagerHardware {
    /// CPU cores available to the process.
    pub cpu_cores: i64,
    /// Physical memory of the machine, bytes.
    pub physical_memory: i64,
}

/// The body of `POST /taskmanagers`.
///
/// ```
/// use runnel_jobmanager::resource_manager::{Registration, VERSION};
///
/// let body = format!(
///     r#"{{"id": "tm-1", "address": "10.0.0.11:6121", "slots": 4,
///         "hardware": {{"cpuCores": 8, "physicalMemory": 17179869184}},
///         "version": "{VERSION}"}}"#
/// );
/// let registration = Registration::from_json(body.as_bytes()).unwrap();
/// assert_eq!(registration.slots, 4);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// The TaskManager's id (see [`TaskManagerId`]); the same id again replaces
    /// the earlier registration.
    pub id: String,
    /// `host:port` it serves data on (the network shuffle); port `0`: it does
    /// not serve data (yet). An IPv6 host is written in brackets.
    pub address: String,
    /// Task slots it offers, 1 to [`MAX_SLOTS`].
    pub slots: u32,
    /// Its machine.
    pub hardware: TaskManagerHardware,
    /// Its Runnel version (`major.minor.patch`, optionally `-pre` and `+build`).
    pub version: String,
}

impl Registration {
    /// Parses a registration body. The version is checked first, on the raw
    /// JSON object, so that a TaskManager of another version is told so
    /// ([`Rejection::IncompatibleVersion`]) even if its body has another shape.
    /// The other fields are validated by
    /// [`ResourceManager::register`](super::ResourceManager::register).
    pub fn from_json(body: &[u8]) -> Result<Registration, Rejection> {
        let value: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| Rejection::malformed(format!("invalid JSON: {e}")))?;
        let Some(fields) = value.as_object() else {
            return Err(Rejection::malformed("expected a JSON object"));
        };
        if let Some(serde_json::Value::String(version)) = fields.get("version") {
            check_version(version)?;
        }
        serde_json::from_value(value).map_err(|e| Rejection::malformed(e.to_string()))
    }

    /// Checks every field; the id on success.
    pub(crate) fn validate(&self) -> Result<TaskManagerId, Rejection> {
        check_version(&self.version)?;
        let id = TaskManagerId::new(self.id.as_str())?;
        data_port(&self.address)?;
        if !(1..=MAX_SLOTS).contains(&self.slots) {
            return Err(Rejection::malformed(format!(
                "slots must be between 1 and {MAX_SLOTS}, not {}",
                self.slots
            )));
        }
        let TaskManagerHardware {
            cpu_cores,
            physical_memory,
        } = self.hardware;
        if cpu_cores == 0 || cpu_cores < -1 || physical_memory < -1 {
            return Err(Rejection::malformed(format!(
                "hardware: cpuCores must be positive and physicalMemory at least 0 \
                 (-1: unknown), not {cpu_cores} and {physical_memory}"
            )));
        }
        Ok(id)
    }
}

/// The port of a `host:port` address (`[v6]:port` for IPv6).
pub(crate) fn data_port(address: &str) -> Result<u16, Rejection> {
    let bad = || {
        Rejection::malformed(format!(
            "address {address:?} must be host:port (a host name or IP address, an IPv6 \
             address in brackets, and a port from 0 to 65535)"
        ))
    };
    let (host_ok, port) = match address.strip_prefix('[') {
        Some(rest) => {
            let (v6, port) = rest.split_once("]:").ok_or_else(bad)?;
            (v6.parse::<std::net::Ipv6Addr>().is_ok(), port)
        }
        None => {
            let (host, port) = address.rsplit_once(':').ok_or_else(bad)?;
            let host_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
            (!host.is_empty() && host.chars().all(host_char), port)
        }
    };
    let digits = !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit());
    match port.parse::<u16>() {
        Ok(port) if host_ok && digits => Ok(port),
        _ => Err(bad()),
    }
}

/// The major and minor number of a `major.minor.patch[-pre][+build]` version.
fn major_minor(version: &str) -> Option<(u64, u64)> {
    let core = version.split(['-', '+']).next()?;
    let parts: Vec<&str> = core.split('.').collect();
    let number = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    match parts.as_slice() {
        [major, minor, patch] => {
            number(patch)?;
            Some((number(major)?, number(minor)?))
        }
        _ => None,
    }
}

/// `Ok` if a TaskManager of `theirs` may join this JobManager of [`VERSION`].
pub fn check_version(theirs: &str) -> Result<(), Rejection> {
    compatible(VERSION, theirs)
}

fn compatible(ours: &str, theirs: &str) -> Result<(), Rejection> {
    let Some(their) = major_minor(theirs) else {
        return Err(Rejection::malformed(format!(
            "version {theirs:?} is not major.minor.patch"
        )));
    };
    if major_minor(ours) == Some(their) {
        Ok(())
    } else {
        Err(Rejection::IncompatibleVersion {
            jobmanager: ours.to_string(),
            taskmanager: theirs.to_string(),
        })
    }
}

/// The body of `POST /taskmanagers/{id}/heartbeat` (an empty body is `{}`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Heartbeat {
    /// The slots the TaskManager sees free (at most its slot count). Kept for
    /// reconciliation once jobs run on TaskManagers; the JobManager's own
    /// allocation table is what it reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_slots: Option<u32>,
}

/// Why a registration is refused. Whose fault: the TaskManager's (a bug, or a
/// TaskManager of another release); registering again unchanged cannot help.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Rejection {
    /// The body is not a registration, or a field is out of range (`400`).
    #[error("malformed TaskManager registration: {reason}")]
    Malformed {
        /// What is wrong, naming the field.
        reason: String,
    },
    /// The TaskManager runs another major or minor version of Runnel (`409`).
    #[error(
        "incompatible TaskManager version {taskmanager}: this JobManager runs Runnel \
         {jobmanager}, and a TaskManager must have the same major and minor version"
    )]
    IncompatibleVersion {
        /// This JobManager's version.
        jobmanager: String,
        /// The TaskManager's version.
        taskmanager: String,
    },
}

impl Rejection {
    pub(crate) fn malformed(reason: impl Into<String>) -> Rejection {
        Rejection::Malformed {
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_must_agree_on_major_and_minor() {
        let table = [
            ("0.1.0", "0.1.0", Some(true)),
            ("0.1.0", "0.1.7", Some(true)),
            ("0.1.0", "0.1.2-rc.1+build.5", Some(true)),
            ("0.1.0", "0.2.0", Some(false)),
            ("1.4.2", "2.4.2", Some(false)),
            ("0.1.0", "0.1", None),
            ("0.1.0", "v0.1.0", None),
            ("0.1.0", "", None),
            ("0.1.0", "0.1.x", None),
        ];
        for (ours, theirs, expected) in table {
            let got = match compatible(ours, theirs) {
                Ok(()) => Some(true),
                Err(Rejection::IncompatibleVersion { .. }) => Some(false),
                Err(Rejection::Malformed { .. }) => None,
            };
            assert_eq!(got, expected, "{ours} vs {theirs}");
        }
        let message = compatible("0.1.0", "0.2.3").unwrap_err().to_string();
        assert!(
            message.contains("0.1.0") && message.contains("0.2.3"),
            "{message}"
        );
    }

    #[test]
    fn addresses_are_host_and_port() {
        for (address, port) in [
            ("10.0.0.11:6121", Some(6121)),
            ("tm-1.example.com:0", Some(0)),
            ("[::1]:6121", Some(6121)),
            ("::1:6121", None),
            ("[::1]", None),
            (":6121", None),
            ("host", None),
            ("host:65536", None),
            ("ho st:1", None),
            ("a/b:1", None),
        ] {
            assert_eq!(data_port(address).ok(), port, "{address}");
        }
    }

    #[test]
    fn the_version_is_checked_before_the_shape() {
        let other = r#"{"version": "99.0.0", "name": "a future registration"}"#;
        assert!(matches!(
            Registration::from_json(other.as_bytes()),
            Err(Rejection::IncompatibleVersion { .. })
        ));
        for body in [
            "",
            "[1]",
            "{\"id\": 1}",
            &format!("{{\"version\": \"{VERSION}\"}}"),
        ] {
            assert!(
                matches!(
                    Registration::from_json(body.as_bytes()),
                    Err(Rejection::Malformed { .. })
                ),
                "{body}"
            );
        }
    }
}
