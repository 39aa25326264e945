//! Cluster jobs end to end through the routes: fake TaskManagers (heartbeats)
//! and fake job processes (status reports) driven by hand, with a manual clock.

use super::blob_key;
use crate::handlers::all_routes;
use crate::resource_manager::VERSION;
use crate::view::tests::status as report_of;
use crate::{Dispatcher, DispatcherConfig};
use runnel_rest::{Method, Request, Router};
use runnel_runtime::clock::ManualClock;
use runnel_runtime::status::{CheckpointRecord, CheckpointState, JobState};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod processes;

struct Cluster {
    router: Router,
    clock: Arc<ManualClock>,
}

/// The cancel timeout of the test clusters, in ms of the manual clock.
const CANCEL_TIMEOUT_MS: i64 = 2_000;

/// A standalone JobManager's settings for the tests: heartbeat interval 1 s,
/// timeout 5 s, restarts at once (no restart delay), kills a cancelled job's
/// processes after [`CANCEL_TIMEOUT_MS`].
fn settings() -> DispatcherConfig {
    DispatcherConfig {
        embedded: false,
        heartbeat_interval: Duration::from_secs(1),
        heartbeat_timeout: Duration::from_secs(5),
        savepoint_timeout: Duration::from_secs(10),
        restart_delay: Duration::ZERO,
        cancel_timeout: Duration::from_millis(CANCEL_TIMEOUT_MS as u64),
        ..DispatcherConfig::default()
    }
}

/// A standalone JobManager as [`settings`] restarting jobs at most
/// `max_restarts` times.
fn cluster(max_restarts: u32) -> Cluster {
    cluster_spread(max_restarts, false)
}

/// A standalone JobManager as [`cluster`], taking slots evenly when `evenly`.
fn cluster_spread(max_restarts: u32, evenly: bool) -> Cluster {
    cluster_with(DispatcherConfig {
        max_restarts,
        evenly_spread_out_slots: evenly,
        ..settings()
    })
}

/// A standalone JobManager with `config`, on a manual clock.
fn cluster_with(config: DispatcherConfig) -> Cluster {
    let clock = Arc::new(ManualClock::new(10_000));
    let d = Dispatcher::with_config(config).with_clock(clock.clone());
    Cluster {
        router: all_routes(Arc::new(d)),
        clock,
    }
}

impl Cluster {
    fn call(&self, method: Method, target: &str, body: impl Into<Vec<u8>>) -> (u16, Value) {
        let r = self
            .router
            .handle(Request::new(method, target).unwrap().with_body(body));
        (
            r.status(),
            serde_json::from_slice(r.body()).unwrap_or(Value::Null),
        )
    }

    fn get(&self, target: &str) -> Value {
        let (status, body) = self.call(Method::Get, target, "");
        assert_eq!(status, 200, "GET {target}: {body}");
        body
    }

    fn register(&self, id: &str, slots: u32) {
        let body = json!({"id": id, "address": "10.0.0.11:6121", "slots": slots,
                          "hardware": {"cpuCores": 8, "physicalMemory": 1_i64 << 34},
                          "version": VERSION});
        let (status, _) = self.call(Method::Post, "/taskmanagers", body.to_string());
        assert_eq!(status, 200);
    }

    /// A heartbeat of `tm` reporting `attempts`; its answer.
    fn beat(&self, tm: &str, attempts: Value) -> Value {
        let body = json!({ "attempts": attempts }).to_string();
        let (status, answer) =
            self.call(Method::Post, &format!("/taskmanagers/{tm}/heartbeat"), body);
        assert_eq!(status, 200, "{answer}");
        answer
    }

    fn submit(&self, query: &str) -> String {
        let (status, answer) = self.call(Method::Post, &format!("/jobs?{query}"), "BIN");
        assert_eq!(status, 202, "{answer}");
        answer["jobid"].as_str().unwrap().to_string()
    }

    /// A status report of `attempt` in `state`; (HTTP status, answer).
    fn report(&self, job: &str, attempt: u32, state: JobState) -> (u16, Value) {
        let mut s = report_of();
        s.state = state;
        self.report_status(job, attempt, &s)
    }

    fn report_status(
        &self,
        job: &str,
        attempt: u32,
        s: &runnel_runtime::status::JobStatus,
    ) -> (u16, Value) {
        let body = serde_json::to_vec(s).unwrap();
        self.call(
            Method::Post,
            &format!("/jobs/{job}/attempts/{attempt}/status"),
            body,
        )
    }

    fn state(&self, job: &str) -> Value {
        self.get(&format!("/jobs/{job}"))["state"].clone()
    }

    fn free_slots(&self, tm: &str) -> Value {
        self.get(&format!("/taskmanagers/{tm}"))["freeSlots"].clone()
    }
}

const SHOP: &str = "slots=2&name=Shop+Revenue&programArg=--input&parallelism=2\
                    &programArg=a%20b&config=a%3A%201%0A";

#[test]
fn a_submitted_job_waits_for_enough_free_slots_and_reports_its_status() {
    let c = cluster(3);
    c.register("tm-small", 1);
    let job = c.submit(SHOP);
    let listed = c.get(&format!("/jobs/{job}"));
    assert_eq!(
        (&listed["state"], &listed["name"]),
        (&json!("CREATED"), &json!("Shop Revenue"))
    );
    assert_eq!(listed["vertices"], json!([]));
    assert_eq!(
        c.get("/jobs")["jobs"],
        json!([{"id": job, "status": "CREATED"}])
    );
    let nothing = json!({"known": true, "deploy": [], "cancel": []});
    assert_eq!(
        c.beat("tm-small", json!([])),
        nothing,
        "one slot is too few"
    );

    // Slot 0 on tm-small (registered first), slot 1 on tm-big.
    c.register("tm-big", 4);
    let answer = c.beat("tm-big", json!([]));
    assert_eq!(
        answer["deploy"],
        json!([{"jobId": job, "attempt": 1, "blob": blob_key(b"BIN"), "slots": 1,
                "name": "Shop Revenue", "args": ["--input", "a b"], "parallelism": 2,
                "allowNonRestoredState": false, "config": "a: 1\n",
                "process": 1, "processes": 2, "slotIndices": [1]}])
    );
    assert_eq!(c.beat("tm-big", json!([])), nothing, "deployed once");
    let leader = &c.beat("tm-small", json!([]))["deploy"][0];
    assert_eq!(
        (&leader["process"], &leader["slotIndices"], &leader["slots"]),
        (&json!(0), &json!([0]), &json!(1))
    );
    assert_eq!(
        (c.free_slots("tm-big"), c.free_slots("tm-small")),
        (json!(3), json!(0))
    );
    let blob = c
        .router
        .handle(Request::new(Method::Get, &format!("/blobs/{}", blob_key(b"BIN"))).unwrap());
    assert_eq!((blob.status(), blob.body()), (200, &b"BIN"[..]));
    assert_eq!(
        blob.header("Content-Type"),
        Some("application/octet-stream")
    );

    let (status, answer) = c.report(&job, 1, JobState::Running);
    assert_eq!((status, answer), (200, json!({"commands": []})));
    let running = c.get(&format!("/jobs/{job}"));
    assert_eq!(running["state"], "RUNNING");
    assert_eq!(running["jid"], job, "the cluster job id, not the process's");
    assert_eq!(running["vertices"].as_array().unwrap().len(), 3);
    let vertex = running["vertices"][1]["id"].as_str().unwrap().to_string();
    assert_eq!(c.get(&format!("/jobs/{job}/plan"))["plan"]["jid"], job);
    c.get(&format!("/jobs/{job}/checkpoints"));
    c.get(&format!("/jobs/{job}/vertices/{vertex}/backpressure"));
    assert_eq!(c.get("/overview")["jobs-running"], 1);

    assert_eq!(c.report(&job, 1, JobState::Finished).0, 200);
    assert_eq!(c.state(&job), "FINISHED");
    assert_eq!(
        (c.free_slots("tm-big"), c.free_slots("tm-small")),
        (json!(4), json!(1)),
        "slots released"
    );
    assert_eq!(c.get("/overview")["jobs-finished"], 1);
    let (status, gone) = c.report(&job, 1, JobState::Running);
    assert_eq!(status, 410, "{gone}");
    assert!(gone["errors"][0].as_str().unwrap().contains("ended"));
}

#[test]
fn cancel_before_deployment_is_immediate_and_after_it_the_process_has_a_grace_period() {
    let c = cluster(3);
    let waiting = c.submit("slots=1&name=w");
    assert_eq!(
        c.call(Method::Patch, &format!("/jobs/{waiting}"), "").0,
        202
    );
    assert_eq!(c.state(&waiting), "CANCELED");

    c.register("tm-a", 2);
    let job = c.submit("slots=2&name=j");
    assert_eq!(c.beat("tm-a", json!([]))["deploy"][0]["jobId"], job);
    c.report(&job, 1, JobState::Running);
    assert_eq!(c.call(Method::Patch, &format!("/jobs/{job}"), "").0, 202);
    assert_eq!(c.state(&job), "CANCELLING");
    assert_eq!(
        c.report(&job, 1, JobState::Running).1,
        json!({"commands": [{"type": "cancel"}]})
    );
    assert_eq!(
        c.report(&job, 1, JobState::Cancelling).1,
        json!({"commands": []}),
        "once"
    );
    // The process cancels on its own: no kill within the cancel timeout.
    let running = json!([{"jobId": job, "attempt": 1, "running": true}]);
    assert_eq!(c.beat("tm-a", running.clone())["cancel"], json!([]));
    c.clock.advance(CANCEL_TIMEOUT_MS - 1);
    assert_eq!(c.beat("tm-a", running.clone())["cancel"], json!([]));
    assert_eq!(c.state(&job), "CANCELLING");
    // Still running when it is over: killed.
    c.clock.advance(1);
    assert_eq!(
        c.beat("tm-a", running.clone())["cancel"],
        json!([{"jobId": job, "attempt": 1}])
    );
    assert_eq!(c.beat("tm-a", running)["cancel"], json!([]), "once");
    c.beat(
        "tm-a",
        json!([{"jobId": job, "attempt": 1, "running": false, "exitCode": null}]),
    );
    assert_eq!(
        c.state(&job),
        "CANCELED",
        "killed after a cancel: no restart"
    );
    assert_eq!(c.free_slots("tm-a"), 2);
    assert_eq!(c.report(&job, 1, JobState::Running).0, 410);
}

#[test]
fn a_job_reporting_canceled_within_the_cancel_timeout_is_not_killed() {
    let c = cluster(3);
    c.register("tm-a", 1);
    let job = c.submit("slots=1&name=j");
    c.beat("tm-a", json!([]));
    c.report(&job, 1, JobState::Running);
    assert_eq!(c.call(Method::Patch, &format!("/jobs/{job}"), "").0, 202);
    let running = json!([{"jobId": job, "attempt": 1, "running": true}]);
    c.clock.advance(CANCEL_TIMEOUT_MS / 2);
    assert_eq!(
        c.report(&job, 1, JobState::Running).1["commands"],
        json!([{"type": "cancel"}])
    );
    assert_eq!(c.beat("tm-a", running)["cancel"], json!([]));
    assert_eq!(c.report(&job, 1, JobState::Canceled).0, 200);
    assert_eq!(c.state(&job), "CANCELED");
    assert_eq!(c.free_slots("tm-a"), 1);
    let exited = json!([{"jobId": job, "attempt": 1, "running": false, "exitCode": 0}]);
    assert_eq!(c.beat("tm-a", exited)["cancel"], json!([]));
    c.clock.advance(CANCEL_TIMEOUT_MS);
    assert_eq!(c.beat("tm-a", json!([]))["cancel"], json!([]));
    assert_eq!(c.state(&job), "CANCELED");
    let exceptions = c.get(&format!("/jobs/{job}/exceptions")).to_string();
    assert!(!exceptions.contains("killed"), "{exceptions}");
}

#[test]
fn a_failed_job_is_placed_again_only_after_the_restart_delay() {
    let c = cluster_with(DispatcherConfig {
        restart_delay: Duration::from_secs(3),
        ..settings()
    });
    c.register("tm-a", 2);
    let job = c.submit("slots=2&name=j");
    assert_eq!(c.beat("tm-a", json!([]))["deploy"][0]["attempt"], 1);
    c.report(&job, 1, JobState::Running);
    let failed = json!([{"jobId": job, "attempt": 1, "running": false, "exitCode": 1}]);
    let answer = c.beat("tm-a", failed);
    assert_eq!(answer["deploy"], json!([]), "not at once");
    assert_eq!(c.state(&job), "RESTARTING");
    assert_eq!(c.free_slots("tm-a"), 2, "its slots are released meanwhile");
    c.clock.advance(2_999);
    assert_eq!(c.beat("tm-a", json!([]))["deploy"], json!([]));
    assert_eq!(c.state(&job), "RESTARTING");
    assert_eq!(c.report(&job, 2, JobState::Running).0, 410, "not placed");
    c.clock.advance(1);
    let answer = c.beat("tm-a", json!([]));
    assert_eq!(answer["deploy"][0]["attempt"], 2, "{answer}");
    assert_eq!(c.free_slots("tm-a"), 0);
    assert_eq!(c.report(&job, 2, JobState::Running).0, 200);
    assert_eq!(c.state(&job), "RUNNING");
}

#[test]
fn a_savepoint_goes_to_the_process_as_a_command_and_comes_back_as_a_result() {
    let c = cluster(3);
    c.register("tm-a", 2);
    let job = c.submit("slots=1&name=j");
    c.beat("tm-a", json!([]));
    c.report(&job, 1, JobState::Running);
    let (status, answer) = c.call(
        Method::Post,
        &format!("/jobs/{job}/savepoints"),
        r#"{"target-directory": "/sp"}"#,
    );
    assert_eq!(status, 202);
    let trigger = answer["request-id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    let command = loop {
        let (_, answer) = c.report(&job, 1, JobState::Running);
        if let Some(command) = answer["commands"].get(0) {
            break command.clone();
        }
        assert!(Instant::now() < deadline, "no savepoint command");
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(
        (
            &command["type"],
            &command["targetDirectory"],
            &command["stop"]
        ),
        (&json!("savepoint"), &json!("/sp"), &json!(false))
    );
    let request = command["requestId"].as_str().unwrap();
    let result_path = format!("/jobs/{job}/attempts/1/savepoints/{request}");
    assert_eq!(
        c.call(Method::Post, &result_path, r#"{"location": 1, "error": 2}"#)
            .0,
        400
    );
    assert_eq!(c.call(Method::Post, &result_path, "{}").0, 400);
    let (status, _) = c.call(
        Method::Post,
        &result_path,
        r#"{"location": "file:///sp/savepoint-7"}"#,
    );
    assert_eq!(status, 200);
    let unknown = format!("/jobs/{job}/attempts/1/savepoints/nope");
    assert_eq!(c.call(Method::Post, &unknown, r#"{"error": "x"}"#).0, 404);
    let done = loop {
        let s = c.get(&format!("/jobs/{job}/savepoints/{trigger}"));
        if s["status"]["id"] == "COMPLETED" || Instant::now() > deadline {
            break s;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(
        done["operation"],
        json!({"location": "file:///sp/savepoint-7"})
    );
}

#[test]
fn a_lost_task_manager_redeploys_the_job_elsewhere_from_its_latest_checkpoint() {
    let c = cluster(3);
    c.register("tm-a", 2);
    c.register("tm-b", 2);
    let job = c.submit("slots=2&name=j&savepointPath=/sp/start");
    let first = c.beat("tm-a", json!([]));
    assert_eq!(first["deploy"][0]["savepointPath"], "/sp/start");
    let mut s = report_of();
    let checkpoint = |id, is_savepoint, state, path: &str| CheckpointRecord {
        id,
        is_savepoint,
        state,
        trigger_timestamp: 1_000,
        latest_ack_timestamp: 1_100,
        acknowledged: 4,
        total: 4,
        state_size: 10,
        external_path: Some(path.to_string()),
        failure: None,
    };
    s.checkpoints.history = vec![
        checkpoint(2, false, CheckpointState::Completed, "/cp/chk-2"),
        checkpoint(3, false, CheckpointState::Completed, "/cp/chk-3"),
        checkpoint(4, true, CheckpointState::Completed, "/sp/savepoint-4"),
        checkpoint(5, false, CheckpointState::InProgress, "/cp/chk-5"),
    ];
    assert_eq!(c.report_status(&job, 1, &s).0, 200);
    c.clock.advance(3_000);
    c.beat("tm-b", json!([]));
    c.clock.advance(3_000);
    // tm-a has been silent for 6 s: lost; attempt 2 goes to tm-b.
    let second = c.beat("tm-b", json!([]));
    let deploy = &second["deploy"][0];
    assert_eq!(
        (&deploy["jobId"], &deploy["attempt"]),
        (&json!(job), &json!(2))
    );
    assert_eq!(deploy["savepointPath"], "/cp/chk-3");
    let restarting = c.get(&format!("/jobs/{job}"));
    assert_eq!(restarting["state"], "RESTARTING");
    assert_eq!(
        restarting["vertices"].as_array().unwrap().len(),
        3,
        "kept from the last report"
    );
    let exceptions = c.get(&format!("/jobs/{job}/exceptions"));
    assert!(
        exceptions
            .to_string()
            .contains("TaskManager tm-a of attempt 1 was lost"),
        "{exceptions}"
    );
    assert_eq!(c.report(&job, 1, JobState::Running).0, 410, "superseded");
    assert_eq!(c.report(&job, 2, JobState::Running).0, 200);
    assert_eq!(c.state(&job), "RUNNING");
    assert_eq!(c.free_slots("tm-b"), 0);
    // tm-b still runs attempt 1 of nothing; a stray old attempt is killed.
    let stray = json!([{"jobId": job, "attempt": 1, "running": true}]);
    assert_eq!(
        c.beat("tm-b", stray)["cancel"],
        json!([{"jobId": job, "attempt": 1}])
    );
}

#[test]
fn a_job_whose_attempts_keep_failing_fails_after_the_maximum_restarts() {
    let c = cluster(1);
    c.register("tm-a", 2);
    let job = c.submit("slots=2&name=j");
    assert_eq!(c.beat("tm-a", json!([]))["deploy"][0]["attempt"], 1);
    c.report(&job, 1, JobState::Running);
    let ended = |attempt, code: Value| json!([{"jobId": job, "attempt": attempt, "running": false, "exitCode": code}]);
    let answer = c.beat("tm-a", ended(1, json!(1)));
    assert_eq!(
        answer["deploy"][0]["attempt"], 2,
        "restarted on the freed slots"
    );
    let restarting = c.get(&format!("/jobs/{job}"));
    assert_eq!(
        (
            &restarting["state"],
            &restarting["vertices"].as_array().unwrap().len()
        ),
        (&json!("RESTARTING"), &3)
    );
    c.beat("tm-a", ended(2, Value::Null));
    assert_eq!(c.state(&job), "FAILED");
    let exceptions = c.get(&format!("/jobs/{job}/exceptions")).to_string();
    assert!(
        exceptions.contains("attempt 1 exited with code 1"),
        "{exceptions}"
    );
    assert!(
        exceptions.contains("attempt 2 was killed by a signal"),
        "{exceptions}"
    );
    assert!(exceptions.contains("restarted 1 times"), "{exceptions}");
    assert_eq!(c.free_slots("tm-a"), 2);
    assert_eq!(c.get("/overview")["jobs-failed"], 1);
}

#[test]
fn an_attempt_ending_with_exit_code_zero_finishes_the_job() {
    let c = cluster(3);
    c.register("tm-a", 1);
    let job = c.submit("slots=1&name=j");
    c.beat("tm-a", json!([]));
    c.report(&job, 1, JobState::Running);
    c.beat(
        "tm-a",
        json!([{"jobId": job, "attempt": 1, "running": false, "exitCode": 0}]),
    );
    assert_eq!(c.state(&job), "FINISHED");
    assert_eq!(c.free_slots("tm-a"), 1);
}

#[test]
fn bad_submissions_and_unknown_blobs_and_jobs_are_refused() {
    let c = cluster(3);
    let big = format!(
        "slots=1&name=j&config={}",
        "x".repeat(super::MAX_CONFIG_BYTES + 1)
    );
    let table: [(&str, &str, u16, &str); 6] = [
        ("slots=1&name=j", "", 400, "empty"),
        ("name=j", "BIN", 400, "slots is missing"),
        ("slots=0&name=j", "BIN", 400, "slots"),
        ("slots=1&name=j&parallelism=x", "BIN", 400, "parallelism"),
        (
            "slots=1&name=j&entry=x",
            "BIN",
            400,
            "unknown query parameter",
        ),
        (&big, "BIN", 413, "config"),
    ];
    for (query, body, status, needle) in table {
        let (got, answer) = c.call(Method::Post, &format!("/jobs?{query}"), body);
        assert_eq!(got, status, "{query}: {answer}");
        let message = answer["errors"][0].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{query}: {message}");
    }
    assert_eq!(c.get("/jobs")["jobs"], json!([]), "nothing was registered");
    assert_eq!(
        c.call(Method::Get, &format!("/blobs/{}", blob_key(b"x")), "")
            .0,
        404
    );
    let unknown = "0123456789abcdef0123456789abcdef";
    assert_eq!(c.report(unknown, 1, JobState::Running).0, 404);
    let (status, _) = c.call(
        Method::Post,
        &format!("/jobs/{unknown}/attempts/x/status"),
        "{}",
    );
    assert_eq!(status, 400);
    let job = c.submit("slots=1&name=j");
    assert_eq!(
        c.call(
            Method::Post,
            &format!("/jobs/{job}/attempts/1/status"),
            "{}"
        )
        .0,
        400
    );
    assert_eq!(
        c.report(&job, 1, JobState::Running).0,
        410,
        "not deployed yet"
    );
}
