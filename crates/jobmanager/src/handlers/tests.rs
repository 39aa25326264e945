//! The routes answer in the web UI's shapes and with Flink's errors.

use super::routes;
use crate::fake::FakeJob;
use crate::{Dispatcher, DispatcherConfig, JobHandle, vertex_id};
use runnel_rest::{Method, Request, Response, Router};
use runnel_runtime::clock::ManualClock;
use runnel_runtime::status::{CheckpointRecord, CheckpointState, JobException, JobState};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

const JOB: &str = "0123456789abcdef0123456789abcdef";

/// A router over a Dispatcher with one fake job, at time 5_000.
fn setup() -> (Router, Arc<FakeJob>) {
    let d = Dispatcher::with_config(DispatcherConfig {
        slots: Some(4),
        ..DispatcherConfig::default()
    })
    .with_clock(Arc::new(ManualClock::new(5_000)));
    let job = FakeJob::new(JOB);
    d.register(job.clone()).unwrap();
    (routes(Arc::new(d)), job)
}

fn call(router: &Router, method: Method, target: &str, body: &str) -> (u16, Value) {
    let req = Request::new(method, target).unwrap().with_body(body);
    let r: Response = router.handle(req);
    let value = serde_json::from_slice(r.body()).unwrap_or(Value::Null);
    (r.status(), value)
}

fn get(router: &Router, target: &str) -> Value {
    let (status, body) = call(router, Method::Get, target, "");
    assert_eq!(status, 200, "GET {target}: {body}");
    body
}

/// Fills the fake job with checkpoints of every kind and a failure.
fn with_history(job: &FakeJob) {
    let mut s = job.status.lock().unwrap();
    let record = |id, state, is_savepoint, path: Option<&str>| CheckpointRecord {
        id,
        is_savepoint,
        state,
        trigger_timestamp: 1_000 * id as i64,
        latest_ack_timestamp: 1_000 * id as i64 + 50,
        acknowledged: 4,
        total: 4,
        state_size: 1_024,
        external_path: path.map(String::from),
        failure: None,
    };
    s.checkpoints.history = vec![
        record(1, CheckpointState::Completed, true, Some("/sp/savepoint-1")),
        record(2, CheckpointState::Failed, false, None),
        record(3, CheckpointState::Completed, false, Some("/cp/chk-3")),
        record(4, CheckpointState::InProgress, false, None),
    ];
    s.checkpoints.completed = 2;
    s.checkpoints.failed = 1;
    s.checkpoints.restored = 1;
    s.checkpoints.latest_restore = Some((3, "/cp/chk-3".into(), 4_000));
    s.exceptions.push(JobException {
        timestamp: 3_500,
        task: Some("Window (1/2)".into()),
        message: "operator `Window` (subtask 1/2) panicked: boom".into(),
    });
    s.vertices[0].subtasks[0].ratios.backpressured = 0.87;
}

/// Every key of `fixture` is in `actual`, with a value of the same JSON type
/// (or `null` where the fixture has a value); arrays are compared element by
/// element against the fixture's first element.
fn assert_shape(fixture: &Value, actual: &Value, path: &str) {
    match (fixture, actual) {
        (_, Value::Null) | (Value::Null, _) => {}
        (Value::Object(f), Value::Object(a)) => {
            for (key, value) in f {
                let inner = format!("{path}.{key}");
                let Some(found) = a.get(key) else {
                    panic!("{inner} is missing in {actual}");
                };
                assert_shape(value, found, &inner);
            }
        }
        (Value::Array(f), Value::Array(a)) => {
            if let Some(first) = f.first() {
                for (i, item) in a.iter().enumerate() {
                    assert_shape(first, item, &format!("{path}[{i}]"));
                }
            }
        }
        (Value::Number(_), Value::Number(_))
        | (Value::String(_), Value::String(_))
        | (Value::Bool(_), Value::Bool(_)) => {}
        (f, a) => panic!("{path}: fixture has {f}, the answer {a}"),
    }
}

#[test]
fn answers_have_the_web_uis_shapes() {
    let (router, job) = setup();
    with_history(&job);
    let vertices = job.status().vertices.clone();
    let vertex = |i: usize| vertex_id(&vertices[i]);
    let fixture = |text: &str| serde_json::from_str::<Value>(text).unwrap();
    let table = [
        (
            "/config".to_string(),
            include_str!("../../../webui/tests/fixtures/config.json"),
        ),
        (
            "/overview".into(),
            include_str!("../../../webui/tests/fixtures/overview.json"),
        ),
        (
            "/jobs".into(),
            include_str!("../../../webui/tests/fixtures/jobs.json"),
        ),
        (
            "/jobs/overview".into(),
            include_str!("../../../webui/tests/fixtures/jobs-overview.json"),
        ),
        (
            format!("/jobs/{JOB}"),
            include_str!("../../../webui/tests/fixtures/job.json"),
        ),
        (
            format!("/jobs/{JOB}/plan"),
            include_str!("../../../webui/tests/fixtures/plan.json"),
        ),
        (
            format!("/jobs/{JOB}/exceptions"),
            include_str!("../../../webui/tests/fixtures/exceptions.json"),
        ),
        (
            format!("/jobs/{JOB}/checkpoints"),
            include_str!("../../../webui/tests/fixtures/checkpoints.json"),
        ),
        (
            format!("/jobs/{JOB}/vertices/{}/backpressure", vertex(0)),
            include_str!("../../../webui/tests/fixtures/backpressure-source.json"),
        ),
        (
            format!("/jobs/{JOB}/vertices/{}/backpressure", vertex(1)),
            include_str!("../../../webui/tests/fixtures/backpressure-window.json"),
        ),
        (
            "/taskmanagers".into(),
            include_str!("../../../webui/tests/fixtures/taskmanagers.json"),
        ),
    ];
    for (path, text) in table {
        assert_shape(&fixture(text), &get(&router, &path), &path);
    }
    let source = get(
        &router,
        &format!("/jobs/{JOB}/vertices/{}/backpressure", vertex(0)),
    );
    assert_eq!(source["backpressure-level"], "high");
    let checkpoints = get(&router, &format!("/jobs/{JOB}/checkpoints"));
    assert_eq!(checkpoints["latest"]["restored"]["id"], 3);
    assert_eq!(checkpoints["latest"]["restored"]["is_savepoint"], false);
}

#[test]
fn unknown_ids_are_404_naming_the_id() {
    let (router, _) = setup();
    let unknown = "ffffffffffffffffffffffffffffffff";
    for path in [
        format!("/jobs/{unknown}"),
        format!("/jobs/{unknown}/plan"),
        format!("/jobs/{unknown}/exceptions"),
        format!("/jobs/{unknown}/checkpoints"),
        format!("/jobs/{unknown}/metrics"),
        format!("/jobs/{unknown}/savepoints/abc"),
        format!("/jobs/{unknown}/vertices/{unknown}/backpressure"),
    ] {
        let (status, body) = call(&router, Method::Get, &path, "");
        assert_eq!(status, 404, "{path}");
        assert_eq!(
            body,
            json!({"errors": [format!("Job {unknown} not found.")]}),
            "{path}"
        );
    }
    for (method, path) in [
        (Method::Patch, format!("/jobs/{unknown}")),
        (Method::Post, format!("/jobs/{unknown}/stop")),
    ] {
        assert_eq!(call(&router, method, &path, "").0, 404, "{method} {path}");
    }
    let (status, body) = call(
        &router,
        Method::Get,
        &format!("/jobs/{JOB}/vertices/nope/metrics"),
        "",
    );
    assert_eq!(
        (status, body),
        (
            404,
            json!({"errors": [format!("Vertex nope not found in job {JOB}.")]})
        )
    );
    let (status, body) = call(
        &router,
        Method::Get,
        &format!("/jobs/{JOB}/savepoints/abc"),
        "",
    );
    assert_eq!(status, 404);
    assert!(
        body["errors"][0].as_str().unwrap().contains("abc"),
        "{body}"
    );
    assert_eq!(call(&router, Method::Get, "/taskmanagers/tm-9", "").0, 404);
    assert_eq!(get(&router, "/taskmanagers/local")["slotsNumber"], 4);
    assert_eq!(
        call(&router, Method::Delete, &format!("/jobs/{JOB}"), "").0,
        405
    );
}

#[test]
fn bad_queries_and_bodies_are_400_naming_the_problem() {
    let (router, job) = setup();
    let table = [
        (
            Method::Patch,
            format!("/jobs/{JOB}?mode=stop"),
            "",
            "unknown mode stop",
        ),
        (
            Method::Get,
            format!("/jobs/{JOB}/exceptions?maxExceptions=0"),
            "",
            "maxExceptions",
        ),
        (
            Method::Post,
            format!("/jobs/{JOB}/savepoints"),
            "{\"target-directory\": ",
            "invalid body",
        ),
        (
            Method::Post,
            format!("/jobs/{JOB}/savepoints"),
            "{\"cancel-job\": \"yes\"}",
            "cancel-job",
        ),
        (
            Method::Post,
            format!("/jobs/{JOB}/savepoints"),
            "{\"targetDirectory\": \"/x\"}",
            "targetDirectory",
        ),
        (
            Method::Post,
            format!("/jobs/{JOB}/stop"),
            "{\"drain\": true}",
            "drain",
        ),
        (
            Method::Post,
            format!("/jobs/{JOB}/stop"),
            "{\"triggerId\": \"a/b\"}",
            "triggerId",
        ),
    ];
    for (method, path, body, needle) in table {
        let (status, answer) = call(&router, method, &path, body);
        assert_eq!(status, 400, "{method} {path} {body}: {answer}");
        let message = answer["errors"][0].as_str().unwrap_or_default();
        assert!(
            message.contains(needle),
            "{method} {path} {body}: {message}"
        );
    }
    assert!(!*job.cancelled.lock().unwrap());
    assert!(job.requested.lock().unwrap().is_none());
}

/// Polls a savepoint request until it completes.
fn poll(router: &Router, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = get(router, &format!("/jobs/{JOB}/savepoints/{id}"));
        if s["status"]["id"] == "COMPLETED" || Instant::now() > deadline {
            return s;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn savepoints_stop_and_cancel_reach_the_job() {
    let (router, job) = setup();
    let body = r#"{"target-directory": "file:///tmp/sp", "cancel-job": true}"#;
    let (status, answer) = call(
        &router,
        Method::Post,
        &format!("/jobs/{JOB}/savepoints"),
        body,
    );
    assert_eq!(status, 202);
    let id = answer["request-id"].as_str().unwrap().to_string();
    assert_eq!(
        poll(&router, &id)["operation"],
        json!({"location": "file:///sp/savepoint-1"})
    );
    let requested = job.requested.lock().unwrap().clone();
    assert_eq!(requested, Some((Some("/tmp/sp".into()), false)));
    assert!(
        *job.cancelled.lock().unwrap(),
        "cancel-job cancels after the savepoint"
    );

    *job.savepoint.lock().unwrap() = None;
    let (status, answer) = call(
        &router,
        Method::Post,
        &format!("/jobs/{JOB}/stop"),
        r#"{"triggerId": "mine"}"#,
    );
    assert_eq!((status, answer), (202, json!({"request-id": "mine"})));
    let failed = poll(&router, "mine");
    assert_eq!(
        failed["operation"]["failure-cause"]["class"],
        "SavepointError"
    );
    assert!(
        failed["operation"]["failure-cause"]["stack-trace"]
            .as_str()
            .unwrap()
            .contains("no savepoint directory")
    );
    assert_eq!(job.requested.lock().unwrap().clone(), Some((None, true)));

    let (status, answer) = call(&router, Method::Patch, &format!("/jobs/{JOB}"), "");
    assert_eq!((status, answer), (202, json!({})));
    job.end(JobState::Canceled, 6_000);
    assert_eq!(get(&router, "/jobs")["jobs"][0]["status"], "CANCELED");
    assert_eq!(get(&router, "/overview")["jobs-cancelled"], 1);
}

#[test]
fn metrics_list_ids_and_answer_values_as_strings() {
    let (router, job) = setup();
    let ids = get(&router, &format!("/jobs/{JOB}/metrics"));
    assert!(
        ids.as_array()
            .unwrap()
            .contains(&json!({"id": "numRestarts"})),
        "{ids}"
    );
    let values = get(
        &router,
        &format!("/jobs/{JOB}/metrics?get=uptime,numRestarts"),
    );
    assert_eq!(
        values,
        json!([{"id": "uptime", "value": "4000"}, {"id": "numRestarts", "value": "0"}])
    );
    let window = vertex_id(&job.status().vertices[1]);
    let values = get(
        &router,
        &format!("/jobs/{JOB}/vertices/{window}/metrics?get=numRecordsIn,1.numRecordsOut"),
    );
    assert_eq!(
        values,
        json!([{"id": "numRecordsIn", "value": "200"}, {"id": "1.numRecordsOut", "value": "100"}])
    );
    let r = router.handle(Request::new(Method::Get, "/metrics").unwrap());
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(
        String::from_utf8_lossy(r.body()).contains("runnel_taskmanager_job_task_numRecordsOut{")
    );
}
