//! The wire shapes of `docs/design/cluster-jobs.md`: a submission's query,
//! the deployments and cancel orders of a heartbeat answer, the attempts a
//! heartbeat reports, the commands a status report is answered with, a
//! savepoint's result, and where an attempt's process 0 listens.

use crate::JobManagerError;
use crate::resource_manager::MAX_SLOTS;
use serde::{Deserialize, Serialize};

/// The longest `config` (the text of the job's YAML configuration file).
pub const MAX_CONFIG_BYTES: usize = 64 * 1024;

/// What `POST /jobs` asks for, from its query (the body is the binary).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Submission {
    /// The job's name.
    pub name: String,
    /// Slots it needs in the cluster (its highest vertex parallelism).
    pub slots: u32,
    /// `RUNNEL_PARALLELISM`, if given.
    pub parallelism: Option<u32>,
    /// The savepoint the first attempt starts from.
    pub savepoint_path: Option<String>,
    /// Start even if the savepoint has state no operator claims.
    pub allow_non_restored_state: bool,
    /// The program's arguments, in order.
    pub args: Vec<String>,
    /// The text of the job's YAML configuration file.
    pub config: Option<String>,
}

impl Submission {
    /// Parses the query pairs of `POST /jobs` (decoded, in order). A
    /// [`BadRequest`](JobManagerError::BadRequest) names the parameter; a
    /// `config` longer than [`MAX_CONFIG_BYTES`] is
    /// [`PayloadTooLarge`](JobManagerError::PayloadTooLarge).
    pub fn from_query(pairs: &[(String, String)]) -> Result<Submission, JobManagerError> {
        let bad = |m: String| Err(JobManagerError::bad_request(m));
        let mut s = Submission::default();
        let (mut slots, mut name) = (None, None);
        for (key, value) in pairs {
            if key != "programArg" && pairs.iter().filter(|(k, _)| k == key).count() > 1 {
                return bad(format!("query parameter {key} is given more than once"));
            }
            match key.as_str() {
                "slots" => slots = Some(positive(key, value)?),
                "name" => name = Some(value.clone()),
                "parallelism" => s.parallelism = Some(positive(key, value)?),
                "savepointPath" if value.is_empty() => return bad("savepointPath is empty".into()),
                "savepointPath" => s.savepoint_path = Some(value.clone()),
                "allowNonRestoredState" => {
                    s.allow_non_restored_state = match value.as_str() {
                        "true" => true,
                        "false" => false,
                        _ => {
                            return bad(format!(
                                "allowNonRestoredState {value:?}: expected true or false"
                            ));
                        }
                    }
                }
                "programArg" => s.args.push(value.clone()),
                "config" if value.len() > MAX_CONFIG_BYTES => {
                    return Err(JobManagerError::PayloadTooLarge {
                        what: format!("config of {} bytes", value.len()),
                        limit: MAX_CONFIG_BYTES,
                    });
                }
                "config" => s.config = Some(value.clone()),
                other => {
                    return bad(format!(
                        "unknown query parameter {other:?}; expected slots, name, parallelism, \
                         savepointPath, allowNonRestoredState, programArg or config"
                    ));
                }
            }
        }
        let Some(slots) = slots else {
            return bad("query parameter slots is missing".into());
        };
        if slots > MAX_SLOTS {
            return bad(format!("slots must be at most {MAX_SLOTS}, not {slots}"));
        }
        match name {
            Some(n) if !n.trim().is_empty() => s.name = n,
            _ => return bad("query parameter name is missing or empty".into()),
        }
        s.slots = slots;
        Ok(s)
    }
}

fn positive(key: &str, value: &str) -> Result<u32, JobManagerError> {
    match value.parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(JobManagerError::bad_request(format!(
            "query parameter {key} {value:?}: expected a positive integer"
        ))),
    }
}

/// One process of an attempt to deploy, in a heartbeat answer's `deploy`
/// list (a TaskManager runs at most one process of an attempt).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// The cluster job.
    pub job_id: String,
    /// Its attempt, from 1.
    pub attempt: u32,
    /// The blob key of its binary.
    pub blob: String,
    /// Its slots on this TaskManager (the length of `slot_indices`).
    pub slots: u32,
    /// Its name.
    pub name: String,
    /// The program's arguments, in order.
    pub args: Vec<String>,
    /// `RUNNEL_PARALLELISM`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<u32>,
    /// `RUNNEL_SAVEPOINT_PATH`: the submission's savepoint, or after a failover
    /// the latest completed checkpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub savepoint_path: Option<String>,
    /// `RUNNEL_ALLOW_NON_RESTORED_STATE`.
    pub allow_non_restored_state: bool,
    /// The text of `RUNNEL_CONFIG`'s file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    /// `RUNNEL_CLUSTER_PROCESS`: which process of the attempt this is, from 0
    /// (process 0 reports the status and posts its control address).
    pub process: u32,
    /// `RUNNEL_CLUSTER_PROCESSES`: how many processes the attempt has.
    pub processes: u32,
    /// `RUNNEL_CLUSTER_SLOTS`: the job's slot indices this process runs,
    /// ascending and consecutive.
    pub slot_indices: Vec<u32>,
}

/// The body of `POST /jobs/{jobId}/attempts/{attempt}/leader` and the answer
/// of its `GET`: where process 0 of the attempt listens for its peers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderAddress {
    /// `host:port`, an IP address and a port.
    pub control: String,
}

impl LeaderAddress {
    /// The address, or a [`BadRequest`](JobManagerError::BadRequest) if
    /// `control` is not an IP socket address.
    pub fn socket_address(&self) -> Result<std::net::SocketAddr, JobManagerError> {
        self.control.parse().map_err(|_| {
            JobManagerError::bad_request(format!(
                "control {:?}: expected an IP address and a port, HOST:PORT",
                self.control
            ))
        })
    }
}

/// One attempt a TaskManager must kill, in a heartbeat answer's `cancel` list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttemptRef {
    /// The cluster job.
    pub job_id: String,
    /// The attempt.
    pub attempt: u32,
}

/// An attempt a TaskManager started, as its heartbeat reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttemptState {
    /// The cluster job.
    pub job_id: String,
    /// The attempt.
    pub attempt: u32,
    /// Its process runs.
    pub running: bool,
    /// Once ended: its exit code (`None`: killed by a signal).
    #[serde(default)]
    pub exit_code: Option<i32>,
}

/// The body of a heartbeat, with the cluster's fields (all optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HeartbeatBody {
    #[serde(default)]
    pub free_slots: Option<u32>,
    #[serde(default)]
    pub attempts: Vec<AttemptState>,
}

/// What a heartbeat is answered with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Orders {
    /// Always `true`: the TaskManager is known.
    pub known: bool,
    /// Attempts to start.
    pub deploy: Vec<Deployment>,
    /// Attempts to kill.
    pub cancel: Vec<AttemptRef>,
}

/// A command for an attempt's process, in the answer to its status report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Command {
    /// Cancel the job.
    Cancel,
    /// Take a savepoint and post its result to
    /// `/jobs/{jobId}/attempts/{attempt}/savepoints/{requestId}`.
    #[serde(rename_all = "camelCase")]
    Savepoint {
        /// The request's id.
        request_id: String,
        /// Where to (the job's configured directory when absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target_directory: Option<String>,
        /// Stop the job right after it.
        stop: bool,
    },
}

/// The body of a savepoint result: exactly one of the two.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct SavepointResult {
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
}

impl SavepointResult {
    pub(crate) fn into_result(self) -> Result<Result<String, String>, JobManagerError> {
        match (self.location, self.error) {
            (Some(l), None) => Ok(Ok(l)),
            (None, Some(e)) => Ok(Err(e)),
            _ => Err(JobManagerError::bad_request(
                "a savepoint result has exactly one of location and error",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_full_query_parses_with_arguments_in_order() {
        let s = Submission::from_query(&pairs(&[
            ("slots", "2"),
            ("name", "Shop Revenue"),
            ("programArg", "--input"),
            ("parallelism", "2"),
            ("programArg", "a b"),
            ("savepointPath", "/sp/1"),
            ("allowNonRestoredState", "true"),
            ("config", "a: 1\n"),
        ]))
        .unwrap();
        assert_eq!(s.args, ["--input", "a b"]);
        assert_eq!((s.slots, s.parallelism), (2, Some(2)));
        assert_eq!(s.savepoint_path.as_deref(), Some("/sp/1"));
        assert!(s.allow_non_restored_state);
        assert_eq!(s.config.as_deref(), Some("a: 1\n"));
    }

    #[test]
    fn bad_queries_name_the_problem() {
        let big = "x".repeat(MAX_CONFIG_BYTES + 1);
        let table: [(&[(&str, &str)], &str); 9] = [
            (&[("name", "j")], "slots is missing"),
            (&[("slots", "0"), ("name", "j")], "slots"),
            (&[("slots", "two"), ("name", "j")], "slots"),
            (&[("slots", "1")], "name"),
            (
                &[("slots", "1"), ("name", "j"), ("slots", "2")],
                "more than once",
            ),
            (
                &[("slots", "1"), ("name", "j"), ("parallelism", "-1")],
                "parallelism",
            ),
            (
                &[
                    ("slots", "1"),
                    ("name", "j"),
                    ("allowNonRestoredState", "yes"),
                ],
                "allowNonRestoredState",
            ),
            (
                &[("slots", "1"), ("name", "j"), ("entry", "x")],
                "unknown query parameter",
            ),
            (&[("slots", "1"), ("name", "j"), ("config", &big)], "config"),
        ];
        for (query, needle) in table {
            let err = Submission::from_query(&pairs(query)).unwrap_err();
            assert!(err.to_string().contains(needle), "{query:?}: {err}");
        }
    }

    #[test]
    fn leader_addresses_are_ip_socket_addresses() {
        let at = |control: &str| LeaderAddress {
            control: control.into(),
        };
        assert_eq!(
            at("10.0.0.5:6200").socket_address().unwrap().to_string(),
            "10.0.0.5:6200"
        );
        assert_eq!(at("[::1]:1").socket_address().unwrap().port(), 1);
        for bad in ["", "10.0.0.5", "host:80", "10.0.0.5:x"] {
            let err = at(bad).socket_address().unwrap_err();
            assert!(err.to_string().contains("control"), "{bad}: {err}");
        }
    }

    #[test]
    fn commands_have_the_documented_shape() {
        let savepoint = Command::Savepoint {
            request_id: "r1".into(),
            target_directory: None,
            stop: true,
        };
        assert_eq!(
            serde_json::to_value([Command::Cancel, savepoint]).unwrap(),
            serde_json::json!([{"type": "cancel"},
                               {"type": "savepoint", "requestId": "r1", "stop": true}])
        );
    }
}
