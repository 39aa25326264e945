//! A job submitted to a standalone cluster of separate processes: `runnel run
//! --jobmanager` uploads the job binary, a TaskManager with free slots runs it,
//! and when that TaskManager is killed with SIGKILL mid-job the JobManager
//! restarts the job on the other TaskManager from its latest checkpoint; the
//! exactly-once file sink's committed output holds every order exactly once.

use runnel::rest::{Method, client};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
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
    command.args(args);
    for var in [
        "RUNNEL_CONFIG",
        "RUNNEL_CONF_DIR",
        "RUNNEL_PARALLELISM",
        "RUNNEL_EXECUTION_MODE",
    ] {
        command.env_remove(var);
    }
    command
}

/// Starts `command` and returns it with its first line of output (the rest is
/// drained in the background).
fn start(mut command: Command) -> (Process, String) {
    let mut child = command.stdout(Stdio::piped()).spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    (Process(child), line)
}

fn get(addr: SocketAddr, path: &str) -> Value {
    let (status, _, body) = client::request(addr, Method::Get, path, None, None).unwrap();
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn example(name: &str) -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_runnel"));
    let path = bin.parent().unwrap().join("examples").join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `cargo test --workspace`",
        path.display()
    );
    path
}

/// Orders in the committed part files, and their lines.
fn committed(out: &Path) -> (u64, usize) {
    let (mut orders, mut lines) = (0, 0);
    for entry in std::fs::read_dir(out).unwrap().flatten() {
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        for line in std::fs::read_to_string(entry.path()).unwrap().lines() {
            lines += 1;
            orders += line
                .split_whitespace()
                .find_map(|f| f.strip_prefix("count="))
                .unwrap()
                .parse::<u64>()
                .unwrap();
        }
    }
    (orders, lines)
}

#[test]
fn a_submitted_job_survives_the_loss_of_its_task_manager_exactly_once() {
    const ORDERS: u64 = 24_000;
    let base = std::env::temp_dir().join(format!("runnel-cluster-job-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let (out, checkpoints) = (base.join("out"), base.join("checkpoints"));
    std::fs::create_dir_all(&base).unwrap();
    let cluster_config = base.join("cluster.yaml");
    std::fs::write(
        &cluster_config,
        "heartbeat.interval: 200 ms\nheartbeat.timeout: 1500 ms\n",
    )
    .unwrap();
    let job_config = base.join("job.yaml");
    std::fs::write(
        &job_config,
        format!(
            "execution.checkpointing.dir: {}\nexecution.checkpointing.interval: 200 ms\n",
            checkpoints.display()
        ),
    )
    .unwrap();

    let (_jm, line) = start(runnel(&[
        "jobmanager",
        "--port",
        "0",
        "-c",
        cluster_config.to_str().unwrap(),
    ]));
    let jm = line
        .trim()
        .strip_prefix("JobManager: REST API and web UI on http://")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .trim_end_matches('/')
        .to_string();
    let addr: SocketAddr = jm.parse().unwrap();
    let mut tms: Vec<(Process, String)> = (0..2)
        .map(|_| {
            let (p, line) = start(runnel(&["taskmanager", "-m", &jm, "--slots", "2"]));
            let id = line.split_whitespace().nth(1).unwrap().to_string();
            (p, id)
        })
        .collect();
    wait_for("two TaskManagers", Duration::from_secs(20), || {
        (get(addr, "/overview")["taskmanagers"] == 2).then_some(())
    });

    let submit = runnel(&[
        "run",
        "--jobmanager",
        &jm,
        "--detached",
        "-c",
        job_config.to_str().unwrap(),
        example("checkpointing").to_str().unwrap(),
        "--orders",
        &ORDERS.to_string(),
        "--rate",
        "4000",
        "--fail-after",
        "0",
        "--out",
        out.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&submit.stdout);
    assert!(
        submit.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&submit.stderr)
    );
    let id = stdout
        .trim()
        .strip_prefix("Job has been submitted with JobID ")
        .unwrap_or_else(|| panic!("{stdout}"))
        .to_string();

    // Running, with a few checkpoints behind it, on one of the TaskManagers.
    wait_for(
        "checkpoints of the running job",
        Duration::from_secs(30),
        || {
            let job = get(addr, &format!("/jobs/{id}"));
            let done = get(addr, &format!("/jobs/{id}/checkpoints"))["counts"]["completed"]
                .as_u64()
                .unwrap_or(0);
            (job["state"] == "RUNNING" && done >= 3).then_some(())
        },
    );
    let busy = wait_for(
        "the TaskManager running the job",
        Duration::from_secs(10),
        || {
            get(addr, "/taskmanagers")["taskmanagers"]
                .as_array()
                .unwrap()
                .iter()
                .find(|tm| tm["freeSlots"].as_u64() < tm["slotsNumber"].as_u64())
                .and_then(|tm| tm["id"].as_str().map(str::to_string))
        },
    );
    let victim = tms.iter().position(|(_, tm)| *tm == busy).unwrap();
    let (mut process, _) = tms.remove(victim);
    process.0.kill().unwrap();
    let _ = process.0.wait();

    let job = wait_for("the job to finish", Duration::from_secs(120), || {
        let job = get(addr, &format!("/jobs/{id}"));
        match job["state"].as_str() {
            Some("FINISHED") => Some(job),
            Some(state @ ("FAILED" | "CANCELED")) => panic!(
                "the job ended {state}: {}",
                get(addr, &format!("/jobs/{id}/exceptions"))
            ),
            _ => None,
        }
    });
    let exceptions = get(addr, &format!("/jobs/{id}/exceptions"));
    assert!(
        exceptions["root-exception"].is_string(),
        "the loss is recorded: {exceptions}"
    );
    assert!(job["vertices"].as_array().is_some_and(|v| !v.is_empty()));
    let (orders, lines) = committed(&out);
    assert_eq!(orders, ORDERS, "every order exactly once");
    assert_eq!(
        lines,
        50 * (ORDERS / 1000) as usize,
        "one line per user and second"
    );
    let _ = std::fs::remove_dir_all(&base);
}
