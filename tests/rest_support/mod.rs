//! Helpers of the integration tests: a JobManager over real local jobs,
//! asked over HTTP.

#![allow(dead_code)]

use runnel::api::StreamExecutionEnvironment;
use runnel::jobmanager::{Dispatcher, JobManagerEndpoint, LocalJob};
use runnel::rest::{Method, RestConfig, client};
use runnel::runtime::JobClient;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A JobManager on a free loopback port serving `client`'s job.
pub fn serve(client: &JobClient) -> JobManagerEndpoint {
    let dispatcher = Arc::new(Dispatcher::new());
    dispatcher
        .register(Arc::new(LocalJob::new(client)))
        .expect("a new job");
    let config = RestConfig {
        address: "127.0.0.1:0".parse().unwrap(),
        ..RestConfig::default()
    };
    JobManagerEndpoint::start(config, dispatcher).expect("the endpoint starts")
}

/// Sends a request; returns the status and the body as JSON (`Null` if it is not).
pub fn send(addr: SocketAddr, method: Method, path: &str, body: Option<&str>) -> (u16, Value) {
    let body = body.map(|b| ("application/json", b.as_bytes()));
    let (status, _, bytes) = client::request(addr, method, path, body, None).expect("an answer");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// `GET path`, expecting `200`.
pub fn get(addr: SocketAddr, path: &str) -> Value {
    let (status, body) = send(addr, Method::Get, path, None);
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

/// Polls `f` every 20 ms until it returns `Some`, for at most 30 s.
pub fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(found) = f() {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until job `jid` is in `state` as the REST API reports it.
pub fn wait_for_state(addr: SocketAddr, jid: &str, state: &str) -> Value {
    wait_for(&format!("job {jid} to be {state}"), || {
        let job = get(addr, &format!("/jobs/{jid}"));
        (job["state"] == state).then_some(job)
    })
}

/// An endless keyed job: numbers (slowed down a little) keyed by `x % 10` and
/// counted per key into a sink that drops them; source and sum at `parallelism`.
pub fn endless_sum(env: &StreamExecutionEnvironment, parallelism: u32) {
    env.set_parallelism(parallelism);
    env.from_sequence(1, u64::MAX)
        .map(|x: u64| {
            if x.is_multiple_of(1_000) {
                std::thread::sleep(Duration::from_millis(1));
            }
            // Counts, not the numbers: a sum of numbers from the top half of
            // the range would overflow.
            (x % 10, 1)
        })
        .name("Pairs")
        .key_by(|e: &(u64, u64)| e.0)
        .sum(|e: &mut (u64, u64)| &mut e.1)
        .name("Sum")
        .add_sink(|_: (u64, u64)| {})
        .name("Discard");
}

/// A fresh, empty directory under the system's temporary directory; removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let unique = format!(
            "runnel-jobmanager-{name}-{}-{:?}",
            std::process::id(),
            Instant::now()
        )
        .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "");
        let dir = std::env::temp_dir().join(unique);
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
