//! A TaskManager against a fake JobManager (a REST server with this test's
//! handlers): deployments in heartbeat answers start shell-script "binaries"
//! fetched from `GET /blobs/{hash}`, heartbeats report the attempts and each
//! end once, a `cancel` kills one, and shutting down kills the rest.

use runnel_rest::{Request, Response, RestConfig, RestServer, Router};
use runnel_taskmanager::{TaskManager, TaskManagerConfig};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TOKEN: &str = "s3cret";

/// What the fake JobManager saw and will answer.
#[derive(Default)]
struct State {
    heartbeats: Vec<Value>,
    deploy: Vec<Value>,
    cancel: Vec<Value>,
    blobs: HashMap<String, Vec<u8>>,
}

struct FakeJobManager {
    state: Arc<Mutex<State>>,
    server: RestServer,
}

impl FakeJobManager {
    fn start() -> FakeJobManager {
        let state = Arc::new(Mutex::new(State::default()));
        let (hb, blobs) = (Arc::clone(&state), Arc::clone(&state));
        let router = Router::new()
            .post("/taskmanagers", |_: &Request| {
                Response::json(
                    200,
                    &json!({"id": "tm", "heartbeatIntervalMs": 20, "heartbeatTimeoutMs": 2000}),
                )
            })
            .post("/taskmanagers/:id/heartbeat", move |req: &Request| {
                let mut s = hb.lock().unwrap();
                s.heartbeats.push(req.json().unwrap_or(Value::Null));
                let deploy = std::mem::take(&mut s.deploy);
                let cancel = std::mem::take(&mut s.cancel);
                if deploy.is_empty() && cancel.is_empty() {
                    // What a JobManager without cluster jobs answers.
                    Response::json(200, &json!({"known": true}))
                } else {
                    Response::json(
                        200,
                        &json!({"known": true, "deploy": deploy, "cancel": cancel}),
                    )
                }
            })
            .get("/blobs/:hash", move |req: &Request| {
                let s = blobs.lock().unwrap();
                match s.blobs.get(req.param("hash").unwrap_or_default()) {
                    Some(bytes) => Response::bytes(200, "application/octet-stream", bytes.clone()),
                    None => Response::error(404, "no such blob"),
                }
            });
        let server = RestServer::bind(
            RestConfig {
                address: "127.0.0.1:0".parse().unwrap(),
                bearer_token: Some(TOKEN.into()),
                ..RestConfig::default()
            },
            router,
        )
        .expect("the fake JobManager starts");
        FakeJobManager { state, server }
    }

    /// Serves `script` under its blob key; returns the key.
    fn add_blob(&self, script: &str) -> String {
        let bytes = format!("#!/bin/sh\n{script}\n").into_bytes();
        let key = runnel_jobmanager::cluster::blob_key(&bytes);
        self.state.lock().unwrap().blobs.insert(key.clone(), bytes);
        key
    }

    /// Serves `script` under a key that is not its hash.
    fn add_blob_under(&self, key: &str, script: &str) {
        let bytes = format!("#!/bin/sh\n{script}\n").into_bytes();
        self.state.lock().unwrap().blobs.insert(key.into(), bytes);
    }

    fn deploy(&self, deployment: Value) {
        self.state.lock().unwrap().deploy.push(deployment);
    }

    fn cancel(&self, job: &str, attempt: u32) {
        let cancel = json!({"jobId": job, "attempt": attempt});
        self.state.lock().unwrap().cancel.push(cancel);
    }

    /// `(running, exitCode)` of every report of `job`'s `attempt`, in order.
    fn reports(&self, job: &str, attempt: u64) -> Vec<(bool, Value)> {
        let s = self.state.lock().unwrap();
        s.heartbeats
            .iter()
            .flat_map(|h| h["attempts"].as_array().cloned().unwrap_or_default())
            .filter(|a| a["jobId"] == job && a["attempt"] == attempt)
            .map(|a| (a["running"].as_bool().unwrap(), a["exitCode"].clone()))
            .collect()
    }

    fn heartbeat_count(&self) -> usize {
        self.state.lock().unwrap().heartbeats.len()
    }

    fn last_heartbeat(&self) -> Value {
        let s = self.state.lock().unwrap();
        s.heartbeats.last().cloned().unwrap_or(Value::Null)
    }

    /// Waits for `n` more heartbeats.
    fn heartbeats_pass(&self, n: usize) {
        let target = self.heartbeat_count() + n;
        wait_for(&format!("{n} heartbeats"), || {
            self.heartbeat_count() >= target
        });
    }

    /// Waits until `job`'s `attempt` is reported ended; its exit code.
    fn ended(&self, job: &str, attempt: u64) -> Value {
        wait_for(&format!("the end of {job}-{attempt}"), || {
            self.reports(job, attempt)
                .iter()
                .any(|(running, _)| !running)
        });
        // Later heartbeats must not report it again.
        self.heartbeats_pass(5);
        let ended: Vec<Value> = self
            .reports(job, attempt)
            .into_iter()
            .filter(|(running, _)| !running)
            .map(|(_, code)| code)
            .collect();
        assert_eq!(
            ended.len(),
            1,
            "{job}-{attempt} reported ended once: {ended:?}"
        );
        ended[0].clone()
    }
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn deployment(job: &str, attempt: u32, blob: &str, slots: u32, args: &[&str]) -> Value {
    json!({"jobId": job, "attempt": attempt, "blob": blob, "slots": slots, "name": "test job",
           "args": args, "allowNonRestoredState": false})
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn deployed_attempts_run_are_reported_cancelled_and_killed_on_shutdown() {
    let jm = FakeJobManager::start();
    let out = std::env::temp_dir().join(format!("runnel-tm-attempts-{}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    let tm = TaskManager::start(TaskManagerConfig {
        jobmanager: jm.server.local_addr(),
        slots: 4,
        id: Some("tm-attempts".into()),
        bearer_token: Some(TOKEN.into()),
        ..TaskManagerConfig::default()
    })
    .expect("the TaskManager starts");
    let workdir = tm.working_dir().to_path_buf();
    jm.heartbeats_pass(1);
    assert_eq!(jm.last_heartbeat(), json!({"freeSlots": 4, "attempts": []}));

    // 1. A script that writes what it was given and exits with 3.
    let a1 = jm.add_blob(
        r#"echo "$RUNNEL_CLUSTER_JOB $RUNNEL_CLUSTER_ATTEMPT $RUNNEL_EXECUTION_MODE $RUNNEL_JOBMANAGER $RUNNEL_PARALLELISM $RUNNEL_REST_TOKEN $RUNNEL_ALLOW_NON_RESTORED_STATE|$RUNNEL_SAVEPOINT_PATH|$*" > "$1"
cat "$RUNNEL_CONFIG" > "$1.config"
echo "to the log" >&2
exit 3"#,
    );
    let args_out = out.join("args");
    let mut d = deployment("j1", 1, &a1, 2, &[args_out.to_str().unwrap(), "two words"]);
    d["parallelism"] = json!(2);
    d["allowNonRestoredState"] = json!(true);
    d["config"] = json!("parallelism.default: 2\n");
    jm.deploy(d);
    assert_eq!(jm.ended("j1", 1), json!(3));
    assert_eq!(
        read(&args_out),
        format!(
            "j1 1 local {} 2 {TOKEN} true||{} two words\n",
            jm.server.local_addr(),
            args_out.display()
        )
    );
    assert_eq!(read(&out.join("args.config")), "parallelism.default: 2\n");
    assert_eq!(read(&workdir.join("j1-1.log")), "to the log\n");

    // 2. A long-running one, cancelled.
    let b2 = jm.add_blob("exec sleep 60");
    jm.deploy(deployment("j2", 1, &b2, 3, &[]));
    wait_for("j2-1 running", || {
        jm.reports("j2", 1).iter().any(|(running, _)| *running)
    });
    jm.heartbeats_pass(1);
    assert_eq!(jm.last_heartbeat()["freeSlots"], 1, "j2 holds 3 of 4 slots");
    jm.cancel("j2", 1);
    assert_eq!(jm.ended("j2", 1), Value::Null, "killed by a signal");
    assert_eq!(jm.last_heartbeat()["freeSlots"], 4);

    // 3. An unknown blob: reported ended at once, without an exit code.
    jm.deploy(deployment("j3", 1, "ffff", 1, &[]));
    assert_eq!(jm.ended("j3", 1), Value::Null);
    assert!(
        jm.reports("j3", 1).iter().all(|(running, _)| !running),
        "never running"
    );
    // ... and a blob whose bytes are not what its key names: not run either.
    let marker = out.join("ran");
    let key = "0123456789abcdef0123456789abcdef";
    jm.add_blob_under(key, &format!("touch {}", marker.display()));
    jm.deploy(deployment("j5", 1, key, 1, &[]));
    assert_eq!(jm.ended("j5", 1), Value::Null);
    assert!(!marker.exists(), "a corrupt blob is never started");

    // 4. Shutting down kills what runs and removes the working directory.
    let pid_file = out.join("pid");
    let c3 = jm.add_blob(r#"echo $$ > "$1"; exec sleep 60"#);
    jm.deploy(deployment("j4", 1, &c3, 1, &[pid_file.to_str().unwrap()]));
    wait_for("j4's pid", || read(&pid_file).ends_with('\n'));
    let pid = read(&pid_file).trim().to_string();
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    tm.shutdown();
    tm.wait().expect("a clean stop");
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "the child {pid} was killed and reaped"
    );
    assert!(!workdir.exists(), "the temporary working directory is gone");
    std::fs::remove_dir_all(&out).unwrap();
}
