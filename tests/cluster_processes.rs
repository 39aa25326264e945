//! A standalone cluster as separate processes on loopback: `runnel
//! jobmanager` and two `runnel taskmanager`s; the TaskManagers register their
//! slots, and one killed with SIGKILL is declared lost after the heartbeat
//! timeout while the other stays.

use runnel::rest::{Method, client};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn runnel(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_runnel"));
    command
        .args(args)
        .env_remove("RUNNEL_CONFIG")
        .env_remove("RUNNEL_CONF_DIR");
    command
}

fn get(addr: SocketAddr, path: &str) -> Value {
    let (status, _, body) = client::request(addr, Method::Get, path, None, None).unwrap();
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

fn task_managers(addr: SocketAddr) -> Vec<String> {
    let mut ids: Vec<String> = get(addr, "/taskmanagers")["taskmanagers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tm| tm["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
    start.elapsed()
}

/// The first line `child` prints; the rest is drained in the background.
fn first_line(child: &mut Child) -> String {
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    line
}

/// Starts a TaskManager and returns it with its id (from its first line).
fn task_manager(jm: &str, slots: &str) -> (Process, String) {
    let mut child = runnel(&["taskmanager", "--jobmanager", jm, "--slots", slots])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let line = first_line(&mut child);
    let id = line
        .strip_prefix("TaskManager ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .to_string();
    (Process(child), id)
}

#[test]
fn task_managers_register_and_a_killed_one_is_declared_lost() {
    let dir = std::env::temp_dir().join(format!("runnel-cluster-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("config.yaml");
    std::fs::write(
        &config,
        "heartbeat.interval: 200 ms\nheartbeat.timeout: 1500 ms\n",
    )
    .unwrap();
    let mut jm = runnel(&["jobmanager", "--port", "0", "-c", config.to_str().unwrap()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let line = first_line(&mut jm);
    let _jm = Process(jm);
    let url = line
        .trim()
        .strip_prefix("JobManager: REST API and web UI on http://")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .trim_end_matches('/')
        .to_string();
    let addr: SocketAddr = url.parse().unwrap();

    let (mut first, first_id) = task_manager(&url, "2");
    let (_second, second_id) = task_manager(&url, "3");
    let mut both = vec![first_id.clone(), second_id.clone()];
    both.sort();
    wait_until(
        "both TaskManagers to register",
        Duration::from_secs(20),
        || task_managers(addr) == both,
    );
    let overview = get(addr, "/overview");
    assert_eq!(overview["taskmanagers"], 2);
    assert_eq!(overview["slots-total"], 5);

    // A crash: no deregistration, the process just goes.
    first.0.kill().unwrap();
    let _ = first.0.wait();
    let silent = wait_until(
        "the killed TaskManager to be declared lost",
        Duration::from_secs(20),
        || task_managers(addr) == [second_id.clone()],
    );
    // Not before the heartbeat timeout (less the last heartbeat's age).
    assert!(silent >= Duration::from_millis(1_000), "{silent:?}");
    assert_eq!(get(addr, "/overview")["slots-total"], 3);
    let _ = std::fs::remove_dir_all(&dir);
}
