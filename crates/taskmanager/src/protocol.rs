//! The TaskManager protocol on the wire (the `TaskManager protocol` tag of
//! `docs/rest-api.yaml`): the two requests a TaskManager sends, and how each
//! answer becomes a session [`Outcome`].
//!
//! - `POST /taskmanagers` with the registration → `200`
//!   `{"id", "heartbeatIntervalMs", "heartbeatTimeoutMs"}`;
//! - `POST /taskmanagers/{id}/heartbeat` with `{"freeSlots", "attempts"}` →
//!   `200` `{"known": true, "deploy": [..], "cancel": [..]}` (both lists may
//!   be absent: empty), or `404` once the JobManager has declared it lost;
//! - `GET /blobs/{hash}` → `200` with a job binary's bytes (see
//!   `docs/design/cluster-jobs.md`).
//!
//! Errors are Flink's `{"errors": ["…"]}`. Classification: no connection, a
//! broken answer, `408`, `429` and `5xx` may pass ([`Outcome::Unreachable`]);
//! `409` is another version and every other `4xx` a refusal
//! ([`Outcome::Refused`]), except a heartbeat's `404` ([`Outcome::Unknown`]).

use crate::TaskManagerError;
use crate::hardware::Hardware;
use crate::session::Outcome;
use runnel_rest::{Method, RestError, client};
use runnel_types::content_hash::blob_key;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::time::Duration;

/// This TaskManager's Runnel version; the JobManager's must have the same
/// major and minor version.
pub(crate) const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The body of `POST /taskmanagers`.
#[derive(Debug, Serialize)]
pub(crate) struct Registration<'a> {
    pub id: &'a str,
    pub address: String,
    pub slots: u32,
    pub hardware: Hardware,
    pub version: &'static str,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Registered {
    heartbeat_interval_ms: u64,
    heartbeat_timeout_ms: u64,
}

/// The body of `POST /taskmanagers/{id}/heartbeat`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Heartbeat {
    pub free_slots: u32,
    pub attempts: Vec<AttemptReport>,
}

/// One attempt of a cluster job: which job, which (re)start of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AttemptId {
    pub job_id: String,
    pub attempt: u32,
}

impl std::fmt::Display for AttemptId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.job_id, self.attempt)
    }
}

/// An attempt as a heartbeat reports it: running, or ended with its exit
/// code (`null` when a signal ended it, or it never started).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AttemptReport {
    #[serde(flatten)]
    pub id: AttemptId,
    pub running: bool,
    pub exit_code: Option<i32>,
}

/// A process of a job attempt to start (an element of a heartbeat answer's
/// `deploy`); a TaskManager runs at most one process of an attempt.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Deployment {
    #[serde(flatten)]
    pub id: AttemptId,
    /// The hash of the job binary in the JobManager's blob store.
    pub blob: String,
    /// Its slots on this TaskManager.
    #[serde(default)]
    pub slots: u32,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub parallelism: Option<u32>,
    #[serde(default)]
    pub savepoint_path: Option<String>,
    #[serde(default)]
    pub allow_non_restored_state: bool,
    /// The text of the job's YAML configuration file.
    #[serde(default)]
    pub config: Option<String>,
    /// Which process of the attempt this is, from 0.
    #[serde(default)]
    pub process: u32,
    /// How many processes the attempt has (1 when absent).
    #[serde(default = "one")]
    pub processes: u32,
    /// The job's slot indices this process runs (`0..slots` when absent).
    #[serde(default)]
    pub slot_indices: Vec<u32>,
}

fn one() -> u32 {
    1
}

impl Deployment {
    /// Its job slot indices, comma-separated: `slotIndices`, else `0..slots`
    /// (at least slot 0).
    pub(crate) fn slot_list(&self) -> String {
        let indices: Vec<u32> = if self.slot_indices.is_empty() {
            (0..self.slots.max(1)).collect()
        } else {
            self.slot_indices.clone()
        };
        let text: Vec<String> = indices.iter().map(u32::to_string).collect();
        text.join(",")
    }
}

/// What a heartbeat answer orders (both empty from a JobManager that answers
/// only `{"known": true}`).
#[derive(Debug, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct Orders {
    #[serde(default)]
    pub deploy: Vec<Deployment>,
    #[serde(default)]
    pub cancel: Vec<AttemptId>,
}

/// Where and as whom requests are sent.
#[derive(Debug, Clone)]
pub(crate) struct JobManager {
    pub address: SocketAddr,
    pub bearer_token: Option<String>,
}

impl JobManager {
    /// Registers; [`Outcome::Registered`] with the JobManager's heartbeat
    /// settings on success.
    pub(crate) fn register(&self, registration: &Registration<'_>) -> Outcome {
        let body = match serde_json::to_vec(registration) {
            Ok(body) => body,
            Err(e) => return self.refused(registration.id, 0, format!("cannot encode: {e}")),
        };
        let answer = self.post("/taskmanagers", &body);
        match answer {
            Ok((200, body)) => match serde_json::from_slice::<Registered>(&body) {
                Ok(r) => Outcome::Registered {
                    interval: Duration::from_millis(r.heartbeat_interval_ms),
                    timeout: Duration::from_millis(r.heartbeat_timeout_ms),
                },
                Err(e) => self.refused(
                    registration.id,
                    200,
                    format!("not a registration answer ({e}): is this a Runnel JobManager?"),
                ),
            },
            other => self.failure(registration.id, other),
        }
    }

    /// Sends a heartbeat of TaskManager `id`; with [`Outcome::HeartbeatTaken`]
    /// come the answer's orders (none otherwise).
    pub(crate) fn heartbeat(&self, id: &str, heartbeat: &Heartbeat) -> (Outcome, Orders) {
        let body = match serde_json::to_vec(heartbeat) {
            Ok(body) => body,
            Err(e) => {
                return (
                    self.refused(id, 0, format!("cannot encode: {e}")),
                    Orders::default(),
                );
            }
        };
        match self.post(&format!("/taskmanagers/{id}/heartbeat"), &body) {
            Ok((200, body)) => (Outcome::HeartbeatTaken, orders(id, &body)),
            Ok((404, _)) => (Outcome::Unknown, Orders::default()),
            other => (self.failure(id, other), Orders::default()),
        }
    }

    /// Fetches the blob `hash` (a job binary) from the JobManager's blob store.
    pub(crate) fn blob(&self, hash: &str) -> Result<Vec<u8>, FetchError> {
        let answer = client::request(
            self.address,
            Method::Get,
            &format!("/blobs/{hash}"),
            None,
            self.bearer_token.as_deref(),
        );
        match answer {
            Ok((200, _, bytes)) => {
                let got = blob_key(&bytes);
                if got == hash {
                    Ok(bytes)
                } else {
                    Err(FetchError::Corrupt {
                        expected: hash.to_string(),
                        got,
                    })
                }
            }
            Ok((status, _, body)) => Err(FetchError::Status {
                status,
                message: message(&body),
            }),
            Err(e) => Err(FetchError::Request(e)),
        }
    }

    fn post(&self, path: &str, body: &[u8]) -> Result<(u16, Vec<u8>), RestError> {
        client::request(
            self.address,
            Method::Post,
            path,
            Some(("application/json", body)),
            self.bearer_token.as_deref(),
        )
        .map(|(status, _, body)| (status, body))
    }

    /// An answer that is not the success of its request.
    fn failure(&self, id: &str, answer: Result<(u16, Vec<u8>), RestError>) -> Outcome {
        match answer {
            Err(e @ RestError::InvalidRequest { .. }) => self.refused(id, 0, e.to_string()),
            Err(e) => Outcome::Unreachable(e.to_string()),
            Ok((409, body)) => Outcome::Refused(TaskManagerError::IncompatibleVersion {
                jobmanager: self.address,
                message: message(&body),
            }),
            Ok((status, body)) if status == 408 || status == 429 || status >= 500 => {
                Outcome::Unreachable(format!("HTTP {status}: {}", message(&body)))
            }
            Ok((status, body)) => self.refused(id, status, message(&body)),
        }
    }

    fn refused(&self, id: &str, status: u16, message: String) -> Outcome {
        Outcome::Refused(TaskManagerError::Refused {
            jobmanager: self.address,
            id: id.to_string(),
            status,
            message,
        })
    }
}

/// Why a blob could not be fetched.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    /// The JobManager answered with an error (`404`: an unknown hash).
    #[error("HTTP {status}: {message}")]
    Status { status: u16, message: String },
    /// No answer (unreachable, a broken connection, a body over 1 GiB).
    #[error(transparent)]
    Request(RestError),
    /// The bytes fetched are not the blob asked for (their hash differs).
    #[error("the blob fetched hashes to {got}, not {expected}")]
    Corrupt { expected: String, got: String },
}

/// The orders of a heartbeat's `200` answer; none (logged) if it is not JSON
/// of the expected shape.
fn orders(id: &str, body: &[u8]) -> Orders {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Orders::default();
    }
    serde_json::from_slice(body).unwrap_or_else(|e| {
        log::warn!("TaskManager {id}: ignoring a heartbeat answer that is not understood: {e}");
        Orders::default()
    })
}

/// The messages of a Flink error body, else (the start of) the body as text.
fn message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Errors {
        errors: Vec<String>,
    }
    match serde_json::from_slice::<Errors>(body) {
        Ok(e) if !e.errors.is_empty() => e.errors.join("; "),
        _ => String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jm() -> JobManager {
        JobManager {
            address: "127.0.0.1:9".parse().unwrap(),
            bearer_token: None,
        }
    }

    fn answer(status: u16, body: &str) -> Result<(u16, Vec<u8>), RestError> {
        Ok((status, body.as_bytes().to_vec()))
    }

    #[test]
    fn answers_are_classified_by_whether_a_retry_can_help() {
        let errors = r#"{"errors": ["incompatible TaskManager version 0.2.0"]}"#;
        let table = [
            (answer(409, errors), "version"),
            (answer(400, errors), "refused 400"),
            (answer(401, errors), "refused 401"),
            (answer(404, "not json"), "refused 404"),
            (answer(500, errors), "unreachable"),
            (answer(503, ""), "unreachable"),
            (answer(429, ""), "unreachable"),
        ];
        for (a, expected) in table {
            let got = match jm().failure("tm-1", a) {
                Outcome::Refused(TaskManagerError::IncompatibleVersion { message, .. }) => {
                    assert_eq!(message, "incompatible TaskManager version 0.2.0");
                    "version".to_string()
                }
                Outcome::Refused(TaskManagerError::Refused { status, .. }) => {
                    format!("refused {status}")
                }
                Outcome::Unreachable(_) => "unreachable".to_string(),
                other => format!("{other:?}"),
            };
            assert_eq!(got, expected);
        }
    }

    #[test]
    fn heartbeat_answers_become_orders() {
        assert_eq!(orders("tm", br#"{"known": true}"#), Orders::default());
        assert_eq!(orders("tm", b""), Orders::default());
        assert_eq!(orders("tm", b"not json"), Orders::default());
        let o = orders(
            "tm",
            br#"{"known": true,
                 "deploy": [{"jobId": "j1", "attempt": 2, "blob": "ab", "slots": 3, "name": "n",
                             "args": ["x"], "parallelism": 3, "allowNonRestoredState": true,
                             "savepointPath": null, "config": "a: 1"}],
                 "cancel": [{"jobId": "j0", "attempt": 1}]}"#,
        );
        let d = &o.deploy[0];
        assert_eq!((d.id.job_id.as_str(), d.id.attempt, d.slots), ("j1", 2, 3));
        assert_eq!(
            (d.process, d.processes, d.slot_list()),
            (0, 1, "0,1,2".into())
        );
        assert_eq!(
            (d.parallelism, d.savepoint_path.as_deref()),
            (Some(3), None)
        );
        assert!(d.allow_non_restored_state);
        assert_eq!(d.config.as_deref(), Some("a: 1"));
        assert_eq!(
            o.cancel,
            [AttemptId {
                job_id: "j0".into(),
                attempt: 1
            }]
        );
        let o = orders(
            "tm",
            br#"{"deploy": [{"jobId": "j1", "attempt": 1, "blob": "ab", "slots": 2,
                             "process": 1, "processes": 3, "slotIndices": [1, 2]}]}"#,
        );
        let d = &o.deploy[0];
        assert_eq!(
            (d.process, d.processes, d.slot_list()),
            (1, 3, "1,2".into())
        );
    }

    #[test]
    fn heartbeats_report_exit_codes_as_numbers_or_null() {
        let report = |running, exit_code| AttemptReport {
            id: AttemptId {
                job_id: "j".into(),
                attempt: 1,
            },
            running,
            exit_code,
        };
        let body = serde_json::to_value(Heartbeat {
            free_slots: 2,
            attempts: vec![report(true, None), report(false, Some(3))],
        })
        .unwrap();
        assert_eq!(
            body,
            serde_json::json!({"freeSlots": 2, "attempts": [
                {"jobId": "j", "attempt": 1, "running": true, "exitCode": null},
                {"jobId": "j", "attempt": 1, "running": false, "exitCode": 3},
            ]})
        );
    }

    /// A server answering every request with `body` (once per connection).
    fn serving(body: &'static [u8]) -> std::net::SocketAddr {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(body);
            }
        });
        addr
    }

    #[test]
    fn a_fetched_blob_must_hash_to_its_key() {
        let jm = JobManager {
            address: serving(b"\x7fELF the binary"),
            bearer_token: None,
        };
        let key = blob_key(b"\x7fELF the binary");
        assert_eq!(jm.blob(&key).unwrap(), b"\x7fELF the binary");
        let other = blob_key(b"another binary");
        match jm.blob(&other) {
            Err(FetchError::Corrupt { expected, got }) => {
                assert_eq!((expected, got), (other, key));
            }
            answer => panic!("{answer:?}"),
        }
    }

    #[test]
    fn error_bodies_become_messages() {
        assert_eq!(message(br#"{"errors": ["a", "b"]}"#), "a; b");
        assert_eq!(message(b"plain"), "plain");
        assert_eq!(message(&[b'x'; 500]).len(), 200);
    }
}
