//! A standalone JobManager and TaskManagers in one test process, talking over
//! real sockets on 127.0.0.1: registration, heartbeats, loss, late
//! JobManagers, refusals. TaskManagers talk to the JobManager's RPC endpoint;
//! the tests read its REST API.

use runnel_jobmanager::resource_manager::VERSION;
use runnel_jobmanager::standalone::{self, StandaloneConfig};
use runnel_jobmanager::{Dispatcher, JobManagerEndpoint};
use runnel_rest::{Method, Request, Response, RestConfig, RestServer, Router, client};
use runnel_taskmanager::{TaskManager, TaskManagerConfig, TaskManagerError};
use serde_json::{Value, json};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::{Duration, Instant};

const INTERVAL: Duration = Duration::from_millis(50);
const TIMEOUT: Duration = Duration::from_millis(1_000);

fn rest(address: SocketAddr) -> RestConfig {
    RestConfig {
        address,
        ..RestConfig::default()
    }
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A standalone JobManager with its RPC endpoint on `rpc` (REST on a free
/// port) and short heartbeats.
fn jobmanager_on(rpc: SocketAddr) -> JobManagerEndpoint {
    standalone::start(StandaloneConfig {
        rest: rest(loopback()),
        rpc: rest(rpc),
        heartbeat_interval: INTERVAL,
        heartbeat_timeout: TIMEOUT,
        // The test jobs are scripts that never report: a cancel kills them.
        cancel_timeout: Duration::ZERO,
        ..StandaloneConfig::default()
    })
    .expect("the JobManager starts")
}

/// The RPC address of `jm`, which TaskManagers join.
fn rpc(jm: &JobManagerEndpoint) -> SocketAddr {
    jm.rpc_addr().expect("a standalone JobManager serves RPC")
}

fn task_manager(jobmanager: SocketAddr, id: &str, slots: u32) -> TaskManager {
    TaskManager::start(TaskManagerConfig {
        jobmanager,
        slots,
        id: Some(id.into()),
        registration_timeout: Duration::from_secs(30),
        ..TaskManagerConfig::default()
    })
    .expect("the TaskManager starts")
}

fn send(addr: SocketAddr, method: Method, path: &str, body: Option<&str>) -> (u16, Value) {
    let body = body.map(|b| ("application/json", b.as_bytes()));
    let (status, _, bytes) = client::request(addr, method, path, body, None).expect("an answer");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn get(addr: SocketAddr, path: &str) -> Value {
    let (status, body) = send(addr, Method::Get, path, None);
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

/// `(id, slots, free slots)` of every TaskManager the JobManager lists.
fn listed(addr: SocketAddr) -> Vec<(String, u64, u64)> {
    get(addr, "/taskmanagers")["taskmanagers"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|t| {
            (
                t["id"].as_str().unwrap_or_default().to_string(),
                t["slotsNumber"].as_u64().unwrap_or_default(),
                t["freeSlots"].as_u64().unwrap_or_default(),
            )
        })
        .collect()
}

fn ids(addr: SocketAddr) -> Vec<String> {
    listed(addr).into_iter().map(|(id, _, _)| id).collect()
}

/// Polls `f` every 10 ms until it holds, for at most 20 s.
fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A free port on 127.0.0.1 (free when this returns).
fn free_address() -> SocketAddr {
    let listener = TcpListener::bind(loopback()).expect("a free port");
    listener.local_addr().expect("its address")
}

fn registration(id: &str, version: &str) -> String {
    json!({"id": id, "address": "127.0.0.1:6121", "slots": 2,
           "hardware": {"cpuCores": 2, "physicalMemory": 1_i64 << 30}, "version": version})
    .to_string()
}

#[test]
fn task_managers_register_heartbeat_and_a_silent_one_is_lost() {
    let jm = jobmanager_on(loopback());
    let addr = jm.local_addr();
    assert_eq!(listed(addr), [], "a standalone JobManager has no `local`");
    let a = task_manager(rpc(&jm), "tm-a", 4);
    let b = task_manager(rpc(&jm), "tm-b", 2);
    wait_for("both TaskManagers to register", || listed(addr).len() == 2);
    let mut all = listed(addr);
    all.sort();
    assert_eq!(all, [("tm-a".into(), 4, 4), ("tm-b".into(), 2, 2)]);
    assert!(a.is_registered() && b.is_registered());
    let overview = get(addr, "/overview");
    assert_eq!(
        (
            &overview["taskmanagers"],
            &overview["slots-total"],
            &overview["slots-available"]
        ),
        (&json!(2), &json!(6), &json!(6))
    );
    let details = get(addr, "/taskmanagers/tm-a");
    assert_eq!(details["dataPort"], -1, "no data served yet");
    assert!(
        details["path"]
            .as_str()
            .unwrap_or_default()
            .starts_with("runnel://127.0.0.1:0/"),
        "{details}"
    );
    assert!(details["hardware"]["cpuCores"].as_i64().unwrap_or(0) >= 1);

    // Heartbeats keep them registered well past the timeout.
    std::thread::sleep(TIMEOUT * 2);
    assert_eq!(listed(addr).len(), 2);

    // tm-b stops heartbeating without a word, as if it crashed.
    let stopped = Instant::now();
    b.shutdown();
    b.wait().expect("a clean stop");
    wait_for("tm-b to be declared lost", || ids(addr) == ["tm-a"]);
    let silent = stopped.elapsed();
    assert!(
        silent >= TIMEOUT - INTERVAL * 2,
        "lost after {silent:?}, before the timeout"
    );
    assert_eq!(get(addr, "/overview")["slots-total"], 4);
    assert_eq!(send(addr, Method::Get, "/taskmanagers/tm-b", None).0, 404);
    assert!(a.is_registered());
    a.shutdown();
    a.wait().expect("a clean stop");
}

#[test]
fn a_task_manager_started_first_registers_once_the_jobmanager_is_up() {
    let address = free_address();
    let tm = task_manager(address, "tm-early", 3);
    std::thread::sleep(Duration::from_millis(300));
    assert!(!tm.is_registered());
    assert!(!tm.is_finished(), "it keeps trying");
    let jm = jobmanager_on(address);
    wait_for("the TaskManager to register", || {
        ids(jm.local_addr()) == ["tm-early"]
    });
    wait_for("it to know it", || tm.is_registered());
}

#[test]
fn a_restarted_jobmanager_gets_the_task_manager_back() {
    let mut first = jobmanager_on(loopback());
    let address = rpc(&first);
    let tm = task_manager(address, "tm-1", 2);
    wait_for("the registration", || ids(first.local_addr()) == ["tm-1"]);
    first.shutdown();
    // A new JobManager on the same RPC address knows nothing of tm-1: its
    // next heartbeat is answered 404 and it registers again.
    let second = jobmanager_on(address);
    assert_eq!(second.dispatcher().task_managers().len(), 0);
    wait_for("the registration with the new JobManager", || {
        ids(second.local_addr()) == ["tm-1"]
    });
    assert!(!tm.is_finished());
}

#[test]
fn an_incompatible_version_is_refused_with_409_and_the_task_manager_stops() {
    let jm = jobmanager_on(loopback());
    let (addr, rpc) = (jm.local_addr(), rpc(&jm));
    let (status, body) = send(
        rpc,
        Method::Post,
        "/taskmanagers",
        Some(&registration("tm-old", "99.3.0")),
    );
    assert_eq!(status, 409, "{body}");
    let message = body["errors"][0].as_str().unwrap_or_default();
    assert!(
        message.contains("99.3.0") && message.contains(VERSION),
        "{message}"
    );

    // A TaskManager of another version: a proxy that rewrites the version of
    // the registrations it forwards to the real JobManager.
    let router = Router::new().post("/taskmanagers", move |req: &Request| {
        let mut body: Value = serde_json::from_slice(req.body()).unwrap_or(Value::Null);
        body["version"] = json!("99.3.0");
        let forwarded = body.to_string();
        match client::request(
            rpc,
            Method::Post,
            "/taskmanagers",
            Some(("application/json", forwarded.as_bytes())),
            None,
        ) {
            Ok((status, _, answer)) => Response::bytes(status, "application/json", answer),
            Err(e) => Response::error(502, e.to_string()),
        }
    });
    let proxy = RestServer::bind(rest(loopback()), router).expect("the proxy starts");
    let tm = task_manager(proxy.local_addr(), "tm-old", 2);
    let err = tm.wait().expect_err("an incompatible version is fatal");
    match &err {
        TaskManagerError::IncompatibleVersion {
            jobmanager,
            message,
        } => {
            assert_eq!(*jobmanager, proxy.local_addr());
            assert!(
                message.contains("99.3.0") && message.contains(VERSION),
                "{message}"
            );
        }
        other => panic!("expected IncompatibleVersion, got {other}"),
    }
    assert_eq!(listed(addr), []);
}

#[test]
fn malformed_registrations_are_400_and_change_nothing() {
    let jm = jobmanager_on(loopback());
    let (addr, rpc) = (jm.local_addr(), rpc(&jm));
    let a = task_manager(rpc, "tm-a", 4);
    let b = task_manager(rpc, "tm-b", 2);
    wait_for("both TaskManagers to register", || listed(addr).len() == 2);
    let before = {
        let mut l = listed(addr);
        l.sort();
        l
    };
    let bad = [
        String::new(),
        "not json".into(),
        "[1, 2]".into(),
        "{}".into(),
        json!({"id": "tm-a", "version": VERSION}).to_string(),
        registration("tm-a", "0.x"),
        registration("tm/a", VERSION),
        registration("local", VERSION),
        registration("tm-a", VERSION).replace("\"slots\":2", "\"slots\":0"),
        registration("tm-a", VERSION).replace("\"slots\":2", "\"slots\":-1"),
        registration("tm-a", VERSION).replace("127.0.0.1:6121", "127.0.0.1"),
        registration("tm-a", VERSION).replace("\"cpuCores\":2", "\"cpuCores\":0"),
    ];
    for body in &bad {
        let (status, answer) = send(rpc, Method::Post, "/taskmanagers", Some(body));
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer["errors"][0].is_string(), "{answer}");
    }
    let (status, _) = send(
        rpc,
        Method::Post,
        "/taskmanagers/tm-a/heartbeat",
        Some(r#"{"freeSlots": 99}"#),
    );
    assert_eq!(status, 400);
    let mut after = listed(addr);
    after.sort();
    assert_eq!(after, before);
    // Both keep heartbeating: still there after more than a timeout.
    std::thread::sleep(TIMEOUT + TIMEOUT / 2);
    assert_eq!(listed(addr).len(), 2);
    assert!(a.is_registered() && b.is_registered());
}

#[test]
fn the_registration_timeout_ends_a_task_manager_that_finds_no_jobmanager() {
    let nobody = free_address();
    let started = Instant::now();
    let tm = TaskManager::start(TaskManagerConfig {
        jobmanager: nobody,
        slots: 1,
        registration_timeout: Duration::from_millis(400),
        ..TaskManagerConfig::default()
    })
    .expect("the TaskManager starts");
    assert_eq!(tm.id().len(), 32, "a random id");
    let err = tm.wait().expect_err("no JobManager");
    assert!(
        matches!(&err, TaskManagerError::RegistrationTimeout { jobmanager, .. } if *jobmanager == nobody),
        "{err}"
    );
    assert!(err.to_string().contains(&nobody.to_string()), "{err}");
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[test]
fn a_jobmanager_with_a_token_refuses_task_managers_without_it() {
    let jm = standalone::start(StandaloneConfig {
        rest: RestConfig {
            bearer_token: Some("s3cret".into()),
            ..rest(loopback())
        },
        rpc: RestConfig {
            bearer_token: Some("s3cret".into()),
            ..rest(loopback())
        },
        heartbeat_interval: INTERVAL,
        heartbeat_timeout: TIMEOUT,
        // The test jobs are scripts that never report: a cancel kills them.
        cancel_timeout: Duration::ZERO,
        ..StandaloneConfig::default()
    })
    .expect("the JobManager starts");
    let addr = rpc(&jm);
    let without = task_manager(addr, "tm-x", 1);
    let err = without.wait().expect_err("401 is fatal");
    assert!(
        matches!(err, TaskManagerError::Refused { status: 401, .. }),
        "{err}"
    );
    let with = TaskManager::start(TaskManagerConfig {
        jobmanager: addr,
        bearer_token: Some("s3cret".into()),
        ..TaskManagerConfig::default()
    })
    .expect("the TaskManager starts");
    wait_for("the registration with a token", || with.is_registered());
    assert_eq!(
        jm.dispatcher().task_managers()[0].id.as_str(),
        with.id(),
        "registered under its random id"
    );
}

#[test]
fn run_returns_when_told_to_stop() {
    let jm = jobmanager_on(loopback());
    let dispatcher: Arc<Dispatcher> = Arc::clone(jm.dispatcher());
    let config = TaskManagerConfig {
        jobmanager: rpc(&jm),
        id: Some("tm-run".into()),
        ..TaskManagerConfig::default()
    };
    runnel_taskmanager::run(config, || !dispatcher.task_managers().is_empty())
        .expect("a clean stop");
    assert_eq!(ids(jm.local_addr()), ["tm-run"]);
}

#[test]
fn a_job_spreads_over_two_task_managers_as_one_process_each_and_a_cancel_kills_both() {
    let jm = jobmanager_on(loopback());
    let addr = jm.local_addr();
    let a = task_manager(rpc(&jm), "tm-a", 1);
    wait_for("tm-a to register", || ids(addr) == ["tm-a"]);
    let b = task_manager(rpc(&jm), "tm-b", 1);
    wait_for("tm-b to register", || listed(addr).len() == 2);
    let out = std::env::temp_dir().join(format!("runnel-spread-{}", std::process::id()));
    std::fs::create_dir_all(&out).expect("an output directory");
    // Each process writes what it was told to `<out>/p<process>`, then waits.
    let script = "#!/bin/sh\n\
        f=\"$1/p$RUNNEL_CLUSTER_PROCESS\"\n\
        echo \"$RUNNEL_CLUSTER_PROCESS $RUNNEL_CLUSTER_PROCESSES $RUNNEL_CLUSTER_SLOTS \
        $RUNNEL_TASKMANAGER_HOST $RUNNEL_CLUSTER_ATTEMPT\" > \"$f.part\" && mv \"$f.part\" \"$f\"\n\
        exec sleep 60\n";
    let target = format!(
        "/jobs?slots=2&name=spread&programArg={}",
        out.display().to_string().replace('/', "%2F")
    );
    let body = Some(("application/octet-stream", script.as_bytes()));
    let (status, _, answer) =
        client::request(addr, Method::Post, &target, body, None).expect("an answer");
    assert_eq!(status, 202, "{}", String::from_utf8_lossy(&answer));
    let job: Value = serde_json::from_slice(&answer).expect("JSON");
    let job = job["jobid"].as_str().expect("a job id").to_string();

    let told = |k: u32| std::fs::read_to_string(out.join(format!("p{k}"))).ok();
    wait_for("both processes to start", || {
        told(0).is_some() && told(1).is_some()
    });
    assert_eq!(told(0).unwrap_or_default().trim(), "0 2 0 127.0.0.1 1");
    assert_eq!(told(1).unwrap_or_default().trim(), "1 2 1 127.0.0.1 1");
    assert_eq!(
        listed(addr).iter().map(|t| t.2).sum::<u64>(),
        0,
        "no free slot"
    );

    let (status, _) = send(addr, Method::Patch, &format!("/jobs/{job}"), None);
    assert_eq!(status, 202);
    wait_for("the job to be canceled", || {
        get(addr, &format!("/jobs/{job}"))["state"] == "CANCELED"
    });
    wait_for("both slots to be free", || {
        listed(addr).iter().map(|t| t.2).sum::<u64>() == 2
    });
    for tm in [&a, &b] {
        let log = tm.working_dir().join(format!("{job}-1.log"));
        assert!(log.is_file(), "{} has no process log", tm.id());
    }
    let _ = std::fs::remove_dir_all(&out);
    a.shutdown();
    b.shutdown();
}
