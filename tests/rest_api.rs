//! The REST API over real jobs of the local executor: overview, details, plan,
//! cancellation, savepoints, checkpoints and unknown ids.

#[path = "rest_support/mod.rs"]
mod common;

use common::{TempDir, endless_sum, get, send, serve, wait_for, wait_for_state};
use runnel::api::StreamExecutionEnvironment;
use runnel::rest::{Method, client};
use serde_json::Value;
use std::time::Duration;

#[test]
fn a_running_job_is_listed_detailed_planned_and_cancelled() {
    let env = StreamExecutionEnvironment::local();
    endless_sum(&env, 2);
    let client = env.execute_async("Endless Sum").unwrap();
    let jid = client.job_id().to_string();
    let endpoint = serve(&client);
    let addr = endpoint.local_addr();

    let job = wait_for("records to flow through both vertices", || {
        let job = get(addr, &format!("/jobs/{jid}"));
        let flowing = job["vertices"][0]["metrics"]["write-records"].as_u64() > Some(0)
            && job["vertices"][1]["metrics"]["read-records"].as_u64() > Some(0);
        flowing.then_some(job)
    });
    assert_eq!(job["name"], "Endless Sum");
    assert_eq!(job["state"], "RUNNING");
    let vertices = job["vertices"].as_array().unwrap();
    assert_eq!(vertices.len(), 2, "source -> map, then sum -> sink: {job}");
    for v in vertices {
        assert_eq!(v["parallelism"], 2, "{v}");
        assert_eq!(v["status"], "RUNNING", "{v}");
        assert_eq!(v["tasks"]["running"], 2, "{v}");
    }
    assert_eq!(job["status-counts"]["RUNNING"], 2);

    let overview = get(addr, "/overview");
    assert_eq!(overview["taskmanagers"], 1);
    assert_eq!(overview["jobs-running"], 1);
    assert_eq!(overview["slots-total"], 2);
    assert_eq!(overview["slots-available"], 0);
    let jobs = get(addr, "/jobs/overview");
    assert_eq!(jobs["jobs"][0]["jid"], jid.as_str());
    assert_eq!(jobs["jobs"][0]["tasks"]["total"], 4);
    assert_eq!(
        get(addr, "/taskmanagers")["taskmanagers"][0]["slotsNumber"],
        2
    );

    let plan = get(addr, &format!("/jobs/{jid}/plan"));
    let nodes = plan["plan"]["nodes"].as_array().unwrap();
    assert_eq!(nodes[0].get("inputs"), None);
    assert_eq!(nodes[1]["inputs"][0]["id"], nodes[0]["id"]);
    assert_eq!(nodes[1]["inputs"][0]["ship_strategy"], "HASH");
    assert!(
        nodes[0]["description"]
            .as_str()
            .unwrap()
            .contains("+- Pairs<br/>"),
        "{plan}"
    );

    let sum = vertices[1]["id"].as_str().unwrap();
    let metrics = get(
        addr,
        &format!("/jobs/{jid}/vertices/{sum}/metrics?get=numRecordsIn,0.numRecordsIn"),
    );
    assert_eq!(metrics[0]["id"], "numRecordsIn");
    assert!(
        metrics[0]["value"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );

    let (status, body) = send(
        addr,
        Method::Patch,
        &format!("/jobs/{jid}?mode=cancel"),
        None,
    );
    assert_eq!((status, body), (202, serde_json::json!({})));
    let ended = wait_for_state(addr, &jid, "CANCELED");
    assert!(ended["end-time"].as_i64() > Some(0));
    assert!(client.wait().is_err(), "a cancelled job reports an error");
    let overview = get(addr, "/overview");
    assert_eq!(
        (
            overview["jobs-running"].clone(),
            overview["jobs-cancelled"].clone()
        ),
        (0.into(), 1.into())
    );
    assert_eq!(get(addr, "/jobs")["jobs"][0]["status"], "CANCELED");
}

#[test]
fn unknown_jobs_and_vertices_are_404_and_bad_requests_400() {
    let env = StreamExecutionEnvironment::local();
    endless_sum(&env, 1);
    let client = env.execute_async("Endless Sum").unwrap();
    let jid = client.job_id().to_string();
    let endpoint = serve(&client);
    let addr = endpoint.local_addr();

    let unknown = "00000000000000000000000000000000";
    for path in [
        format!("/jobs/{unknown}"),
        format!("/jobs/{unknown}/checkpoints"),
    ] {
        let (status, body) = send(addr, Method::Get, &path, None);
        assert_eq!(status, 404, "{path}");
        assert_eq!(body["errors"][0], format!("Job {unknown} not found."));
    }
    let (status, body) = send(
        addr,
        Method::Get,
        &format!("/jobs/{jid}/vertices/{unknown}/backpressure"),
        None,
    );
    assert_eq!(status, 404);
    assert!(body["errors"][0].as_str().unwrap().contains(unknown));
    let (status, body) = send(
        addr,
        Method::Post,
        &format!("/jobs/{jid}/savepoints"),
        Some("[1, 2"),
    );
    assert_eq!(status, 400);
    assert!(
        body["errors"][0].as_str().unwrap().contains("invalid body"),
        "{body}"
    );
    assert_eq!(
        send(addr, Method::Delete, &format!("/jobs/{jid}"), None).0,
        405
    );
    // The web UI is served next to the API.
    assert_eq!(
        runnel::rest::client::request(addr, Method::Get, "/", None, None)
            .unwrap()
            .0,
        200
    );

    client.cancel();
    assert!(client.wait().is_err());
}

/// Polls a savepoint request until it is complete; returns its `operation`.
fn savepoint_outcome(addr: std::net::SocketAddr, jid: &str, request: &Value) -> Value {
    let id = request["request-id"].as_str().expect("a request id");
    wait_for("the savepoint", || {
        let s = get(addr, &format!("/jobs/{jid}/savepoints/{id}"));
        (s["status"]["id"] == "COMPLETED").then(|| s["operation"].clone())
    })
}

#[test]
fn savepoints_complete_with_a_location_and_stop_finishes_the_job() {
    let dir = TempDir::new("savepoints");
    let env = StreamExecutionEnvironment::local();
    env.checkpoint_config().set_savepoint_dir(&dir.0);
    endless_sum(&env, 1);
    let client = env.execute_async("Savepointed Sum").unwrap();
    let jid = client.job_id().to_string();
    let endpoint = serve(&client);
    let addr = endpoint.local_addr();
    wait_for_state(addr, &jid, "RUNNING");

    let (status, request) = send(
        addr,
        Method::Post,
        &format!("/jobs/{jid}/savepoints"),
        Some("{}"),
    );
    assert_eq!(status, 202, "{request}");
    let outcome = savepoint_outcome(addr, &jid, &request);
    let location = outcome["location"]
        .as_str()
        .unwrap_or_else(|| panic!("{outcome}"));
    let dir_name = dir.0.to_string_lossy().to_string();
    assert!(
        location.contains(&dir_name),
        "{location} is under {dir_name}"
    );
    assert_eq!(get(addr, &format!("/jobs/{jid}"))["state"], "RUNNING");

    let (status, request) = send(
        addr,
        Method::Post,
        &format!("/jobs/{jid}/stop"),
        Some(r#"{"drain": false}"#),
    );
    assert_eq!(status, 202, "{request}");
    let outcome = savepoint_outcome(addr, &jid, &request);
    assert!(outcome["location"].as_str().is_some(), "{outcome}");
    wait_for_state(addr, &jid, "FINISHED");
    let result = client.wait().expect("a stopped job finishes");
    assert_eq!(
        result.stopped_with_savepoint.as_deref(),
        outcome["location"].as_str()
    );

    let checkpoints = get(addr, &format!("/jobs/{jid}/checkpoints"));
    assert_eq!(
        checkpoints["latest"]["savepoint"]["is_savepoint"], true,
        "{checkpoints}"
    );
    // A savepoint of an ended job fails at once, with the reason.
    let (_, request) = send(addr, Method::Post, &format!("/jobs/{jid}/savepoints"), None);
    let outcome = savepoint_outcome(addr, &jid, &request);
    assert!(
        outcome["failure-cause"]["stack-trace"]
            .as_str()
            .unwrap()
            .contains("FINISHED"),
        "{outcome}"
    );
}

#[test]
fn a_checkpointed_run_reports_its_checkpoint_history() {
    let env = StreamExecutionEnvironment::local();
    env.enable_checkpointing(Duration::from_millis(20));
    env.set_parallelism(2);
    env.from_sequence(1, 20_000)
        .map(|x: u64| {
            if x.is_multiple_of(200) {
                std::thread::sleep(Duration::from_millis(2));
            }
            (x % 10, x)
        })
        .key_by(|e: &(u64, u64)| e.0)
        .sum(|e: &mut (u64, u64)| &mut e.1)
        .add_sink(|_: (u64, u64)| {});
    let client = env.execute_async("Checkpointed").unwrap();
    let jid = client.job_id().to_string();
    let endpoint = serve(&client);
    let addr = endpoint.local_addr();
    client.wait().expect("the job finishes");

    assert_eq!(get(addr, &format!("/jobs/{jid}"))["state"], "FINISHED");
    let c = get(addr, &format!("/jobs/{jid}/checkpoints"));
    let completed = c["counts"]["completed"].as_u64().unwrap();
    assert!(completed >= 1, "{c}");
    let history = c["history"].as_array().unwrap();
    assert!(!history.is_empty());
    let ids: Vec<u64> = history.iter().map(|h| h["id"].as_u64().unwrap()).collect();
    assert!(
        ids.windows(2).all(|w| w[0] > w[1]),
        "newest first: {ids:?} {c:#}"
    );
    let latest = &c["latest"]["completed"];
    assert_eq!(latest["status"], "COMPLETED");
    assert_eq!(latest["num_acknowledged_subtasks"], latest["num_subtasks"]);
    assert!(latest["external_path"].is_string(), "{latest}");
    let summary = &c["summary"]["end_to_end_duration"];
    assert!(
        summary["min"].as_u64() <= summary["max"].as_u64(),
        "{summary}"
    );

    let metrics = get(
        addr,
        &format!("/jobs/{jid}/metrics?get=numberOfCompletedCheckpoints"),
    );
    assert_eq!(metrics[0]["value"], completed.to_string());
}

#[test]
fn an_embedded_job_serves_the_rest_api_and_the_web_ui_when_enabled() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = runnel::config::Configuration::from_yaml_str(
        &format!("rest.enabled: true\nrest.port: {port}\nrest.bearer-token: t0ken\n"),
        "test",
    )
    .unwrap();
    let env = StreamExecutionEnvironment::with_config(config);
    env.from_sequence(1, u64::MAX)
        .map(|x: u64| {
            std::thread::sleep(Duration::from_millis(1));
            x
        })
        .add_sink(|_: u64| {});
    let client = env.execute_async("served").unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    // The UI's files need no token; the API does.
    let (status, _, page) = client::request(addr, Method::Get, "/", None, None).unwrap();
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&page).contains("<html"));
    let (status, _, _) = client::request(addr, Method::Get, "/jobs/overview", None, None).unwrap();
    assert_eq!(status, 401);
    let (status, _, body) =
        client::request(addr, Method::Get, "/jobs/overview", None, Some("t0ken")).unwrap();
    assert_eq!(status, 200);
    let overview: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(overview["jobs"][0]["jid"], client.job_id());
    assert_eq!(overview["jobs"][0]["name"], "served");
    client.cancel();
    assert!(client.wait().is_err());
    // The endpoint goes away with the job.
    wait_for("the endpoint to stop", || {
        client::request(addr, Method::Get, "/config", None, None)
            .is_err()
            .then_some(())
    });
}
