//! The TaskManager protocol on the wire (the `TaskManager protocol` tag of
//! `docs/rest-api.yaml`): the two requests a TaskManager sends, and how each
//! answer becomes a session [`Outcome`].
//!
//! - `POST /taskmanagers` with the registration → `200`
//!   `{"id", "heartbeatIntervalMs", "heartbeatTimeoutMs"}`;
//! - `POST /taskmanagers/{id}/heartbeat` with `{"freeSlots"}` → `200`
//!   `{"known": true}`, or `404` once the JobManager has declared it lost.
//!
//! Errors are Flink's `{"errors": ["…"]}`. Classification: no connection, a
//! broken answer, `408`, `429` and `5xx` may pass ([`Outcome::Unreachable`]);
//! `409` is another version and every other `4xx` a refusal
//! ([`Outcome::Refused`]), except a heartbeat's `404` ([`Outcome::Unknown`]).

use crate::TaskManagerError;
use crate::hardware::Hardware;
use crate::session::Outcome;
use runnel_rest::{Method, RestError, client};
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

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Heartbeat {
    free_slots: u32,
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

    /// Sends a heartbeat of TaskManager `id` with `free_slots`.
    pub(crate) fn heartbeat(&self, id: &str, free_slots: u32) -> Outcome {
        let body = match serde_json::to_vec(&Heartbeat { free_slots }) {
            Ok(body) => body,
            Err(e) => return self.refused(id, 0, format!("cannot encode: {e}")),
        };
        match self.post(&format!("/taskmanagers/{id}/heartbeat"), &body) {
            Ok((200, _)) => Outcome::HeartbeatTaken,
            Ok((404, _)) => Outcome::Unknown,
            other => self.failure(id, other),
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
    fn error_bodies_become_messages() {
        assert_eq!(message(br#"{"errors": ["a", "b"]}"#), "a; b");
        assert_eq!(message(b"plain"), "plain");
        assert_eq!(message(&[b'x'; 500]).len(), 200);
    }
}
