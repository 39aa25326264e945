//! The TaskManager protocol: `POST /taskmanagers` (registration) and
//! `POST /taskmanagers/:taskmanagerid/heartbeat`.
//!
//! A heartbeat may report the attempts the TaskManager runs; its answer lists
//! the attempts to deploy and to kill (see `crate::cluster`).
//!
//! A registration answers the heartbeat settings the TaskManager must follow;
//! a malformed one is `400`, one of another Runnel version `409` naming both
//! versions. A heartbeat of an id the ResourceManager does not know (never
//! registered, or declared lost) is `404`: the TaskManager registers again.

use super::{ok, param};
use crate::cluster::HeartbeatBody;
use crate::resource_manager::{Heartbeat, Registration};
use crate::view::cluster as view;
use crate::{Dispatcher, JobManagerError};
use runnel_rest::{Request, Response};

pub(super) fn register(d: &Dispatcher, req: &Request) -> Result<Response, JobManagerError> {
    let registration = Registration::from_json(req.body()).inspect_err(|e| {
        log::warn!("resource manager: refused a TaskManager registration: {e}");
    })?;
    let registered = d.register_task_manager(registration)?;
    let c = d.config();
    ok(&view::registration_answer(
        registered.id.as_str(),
        c.heartbeat_interval,
        c.heartbeat_timeout,
    ))
}

pub(super) fn heartbeat(d: &Dispatcher, req: &Request) -> Result<Response, JobManagerError> {
    let body = if req.body().iter().all(u8::is_ascii_whitespace) {
        HeartbeatBody::default()
    } else {
        req.json::<HeartbeatBody>().map_err(|e| {
            JobManagerError::bad_request(format!("invalid body of POST {}: {e}", req.path()))
        })?
    };
    let heartbeat = Heartbeat {
        free_slots: body.free_slots,
    };
    let orders = d.cluster_heartbeat(param(req, "taskmanagerid"), heartbeat, &body.attempts)?;
    ok(&orders)
}

#[cfg(test)]
mod tests {
    use crate::handlers::all_routes;
    use crate::resource_manager::VERSION;
    use crate::{Dispatcher, DispatcherConfig};
    use runnel_rest::{Method, Request, Router};
    use runnel_runtime::clock::ManualClock;
    use serde_json::{Value, json};
    use std::sync::Arc;
    use std::time::Duration;

    /// A router over a standalone Dispatcher (interval 1 s, timeout 5 s) whose
    /// clock the test moves.
    fn setup(embedded: bool) -> (Router, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(10_000));
        let d = Dispatcher::with_config(DispatcherConfig {
            embedded,
            slots: Some(2),
            heartbeat_interval: Duration::from_secs(1),
            heartbeat_timeout: Duration::from_secs(5),
            ..DispatcherConfig::default()
        })
        .with_clock(clock.clone());
        (all_routes(Arc::new(d)), clock)
    }

    fn call(router: &Router, method: Method, target: &str, body: &str) -> (u16, Value) {
        let r = router.handle(Request::new(method, target).unwrap().with_body(body));
        let value = serde_json::from_slice(r.body()).unwrap_or(Value::Null);
        (r.status(), value)
    }

    fn registration(id: &str, slots: u32, version: &str) -> String {
        json!({"id": id, "address": "10.0.0.11:6121", "slots": slots,
               "hardware": {"cpuCores": 8, "physicalMemory": 1_i64 << 34}, "version": version})
        .to_string()
    }

    fn register(router: &Router, id: &str, slots: u32) -> Value {
        let (status, body) = call(
            router,
            Method::Post,
            "/taskmanagers",
            &registration(id, slots, VERSION),
        );
        assert_eq!(status, 200, "{body}");
        body
    }

    fn listed(router: &Router) -> Vec<(String, u64)> {
        let (_, list) = call(router, Method::Get, "/taskmanagers", "");
        list["taskmanagers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["id"].as_str().unwrap().to_string(),
                    t["slotsNumber"].as_u64().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn registration_answers_the_heartbeat_settings_and_lists_the_task_manager() {
        let (router, _) = setup(false);
        assert_eq!(
            listed(&router),
            [],
            "a standalone JobManager has no `local`"
        );
        assert_eq!(
            register(&router, "tm-a", 4),
            json!({"id": "tm-a", "heartbeatIntervalMs": 1_000, "heartbeatTimeoutMs": 5_000})
        );
        register(&router, "tm-b", 2);
        assert_eq!(listed(&router), [("tm-a".into(), 4), ("tm-b".into(), 2)]);
        let (_, overview) = call(&router, Method::Get, "/overview", "");
        assert_eq!(
            (
                &overview["taskmanagers"],
                &overview["slots-total"],
                &overview["slots-available"]
            ),
            (&json!(2), &json!(6), &json!(6))
        );
        let (status, tm) = call(&router, Method::Get, "/taskmanagers/tm-b", "");
        assert_eq!(status, 200);
        assert_eq!(tm["timeSinceLastHeartbeat"], 10_000);
        assert_eq!(tm["dataPort"], 6121);
        assert_eq!(tm["allocatedSlots"], json!([]));
        assert_eq!(call(&router, Method::Get, "/taskmanagers/local", "").0, 404);
        let (_, metrics) = call(&router, Method::Get, "/metrics", "");
        assert_eq!(metrics, Value::Null, "Prometheus text, not JSON");
        let text = String::from_utf8_lossy(
            router
                .handle(Request::new(Method::Get, "/metrics").unwrap())
                .body(),
        )
        .into_owned();
        assert!(
            text.contains(r#"runnel_jobmanager_taskSlotsTotal{host="localhost"} 6"#),
            "{text}"
        );
    }

    #[test]
    fn embedded_jobmanagers_also_report_local() {
        let (router, _) = setup(true);
        assert_eq!(listed(&router), [("local".into(), 2)]);
        register(&router, "tm-a", 4);
        assert_eq!(listed(&router), [("local".into(), 2), ("tm-a".into(), 4)]);
        let (_, overview) = call(&router, Method::Get, "/overview", "");
        assert_eq!(overview["slots-total"], 6);
        assert_eq!(call(&router, Method::Get, "/taskmanagers/local", "").0, 200);
    }

    #[test]
    fn bad_registrations_are_400_and_other_versions_409() {
        let (router, _) = setup(false);
        register(&router, "tm-a", 4);
        let table = [
            ("", "invalid JSON"),
            ("{", "invalid JSON"),
            ("[]", "expected a JSON object"),
            ("{}", "missing field"),
            (r#"{"id": "tm-b"}"#, "missing field"),
            (&registration("tm-b", 0, VERSION), "slots"),
            (&registration("tm b", 1, VERSION), "id"),
            (&registration("local", 1, VERSION), "reserved"),
            (&registration("tm-a", 1, "latest"), "version"),
            (
                &registration("tm-a", 1, VERSION).replace("10.0.0.11:6121", "10.0.0.11"),
                "address",
            ),
        ];
        for (body, needle) in table {
            let (status, answer) = call(&router, Method::Post, "/taskmanagers", body);
            assert_eq!(status, 400, "{body}: {answer}");
            let message = answer["errors"][0].as_str().unwrap();
            assert!(message.contains(needle), "{body}: {message}");
        }
        let (status, answer) = call(
            &router,
            Method::Post,
            "/taskmanagers",
            &registration("tm-a", 8, "99.0.1"),
        );
        assert_eq!(status, 409);
        let message = answer["errors"][0].as_str().unwrap();
        assert!(
            message.contains("99.0.1") && message.contains(VERSION),
            "{message}"
        );
        assert_eq!(
            listed(&router),
            [("tm-a".into(), 4)],
            "nothing else changed"
        );
    }

    #[test]
    fn heartbeats_keep_a_task_manager_until_the_timeout() {
        let (router, clock) = setup(false);
        register(&router, "tm-a", 4);
        register(&router, "tm-b", 2);
        let beat = |id: &str, body: &str| {
            call(
                &router,
                Method::Post,
                &format!("/taskmanagers/{id}/heartbeat"),
                body,
            )
        };
        clock.advance(4_000);
        assert_eq!(
            beat("tm-a", r#"{"freeSlots": 4}"#),
            (200, json!({"known": true, "deploy": [], "cancel": []}))
        );
        assert_eq!(beat("tm-b", "").0, 200, "an empty body is {{}}");
        assert_eq!(beat("tm-a", r#"{"freeSlots": 5}"#).0, 400);
        assert_eq!(beat("tm-a", r#"{"freeSlots": "all"}"#).0, 400);
        clock.advance(5_000);
        assert_eq!(beat("tm-a", "{}").0, 200, "silent exactly the timeout");
        clock.advance(1);
        // tm-b's last heartbeat was 5 001 ms ago: lost, and told so.
        let (status, body) = beat("tm-b", "{}");
        assert_eq!(
            (status, body),
            (404, json!({"errors": ["TaskManager tm-b not found."]}))
        );
        assert_eq!(listed(&router), [("tm-a".into(), 4)]);
        assert_eq!(beat("nope", "{}").0, 404);
        register(&router, "tm-b", 2);
        assert_eq!(beat("tm-b", "{}").0, 200, "known again once re-registered");
    }
}
