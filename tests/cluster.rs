//! A standalone cluster as separate processes on loopback: `runnel
//! jobmanager` and `runnel taskmanager`s. TaskManagers register their slots,
//! and one killed with SIGKILL is declared lost after the heartbeat timeout;
//! `runnel run --jobmanager` uploads a job binary, a TaskManager with free
//! slots runs it, and when that TaskManager is killed mid-job the JobManager
//! restarts the job on another from its latest checkpoint, the exactly-once
//! file sink's committed output holding every order exactly once; a cluster
//! job stops with a savepoint and resumes from it; a failing job binary fails
//! only its own job. A job at parallelism 2 on TaskManagers of one slot each
//! runs spread over two of them (records crossing between the processes over
//! TCP), commits exactly what the same binary commits embedded, and survives
//! the loss of either TaskManager.

mod common;

use common::committed_lines;

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
fn start(command: Command) -> (Process, String) {
    let (process, mut lines) = start_reading(command, 1);
    (process, lines.remove(0))
}

/// Starts `command` and returns it with its first `n` lines of output (the
/// rest is drained in the background).
fn start_reading(mut command: Command, n: usize) -> (Process, Vec<String>) {
    let mut child = command.stdout(Stdio::piped()).spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let lines = (0..n)
        .map(|_| {
            let mut line = String::new();
            out.read_line(&mut line).unwrap();
            line
        })
        .collect();
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    (Process(child), lines)
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
    let c = common::committed_orders(out);
    (c.orders, c.lines)
}

/// A JobManager and TaskManagers as processes on loopback, and a scratch
/// directory for a job's checkpoints and output.
struct Cluster {
    _jm: Process,
    jm: String,
    addr: SocketAddr,
    /// The JobManager's RPC address, which TaskManagers join.
    rpc: SocketAddr,
    tms: Vec<(Process, String)>,
    base: PathBuf,
}

impl Cluster {
    fn start(name: &str, task_managers: usize) -> Cluster {
        Cluster::with_slots(name, &vec!["2"; task_managers])
    }

    /// A JobManager and one TaskManager per entry of `slots`, with that many
    /// slots.
    fn with_slots(name: &str, slots: &[&str]) -> Cluster {
        let task_managers = slots.len();
        let base = std::env::temp_dir().join(format!("runnel-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        let cluster_config = base.join("cluster.yaml");
        std::fs::write(
            &cluster_config,
            "heartbeat.interval: 200 ms\nheartbeat.timeout: 1500 ms\n",
        )
        .unwrap();
        std::fs::write(
            base.join("job.yaml"),
            format!(
                "execution.checkpointing.dir: {}\nexecution.checkpointing.interval: 200 ms\n",
                base.join("checkpoints").display()
            ),
        )
        .unwrap();
        let (jm_process, lines) = start_reading(
            runnel(&[
                "jobmanager",
                "--port",
                "0",
                "--rpc-port",
                "0",
                "-c",
                cluster_config.to_str().unwrap(),
            ]),
            2,
        );
        let jm = lines[0]
            .trim()
            .strip_prefix("JobManager: REST API and web UI on http://")
            .unwrap_or_else(|| panic!("unexpected first line: {}", lines[0]))
            .trim_end_matches('/')
            .to_string();
        let addr: SocketAddr = jm.parse().unwrap();
        let rpc: SocketAddr = lines[1]
            .trim()
            .strip_prefix("JobManager: RPC (TaskManagers) on ")
            .unwrap_or_else(|| panic!("unexpected second line: {}", lines[1]))
            .parse()
            .unwrap();
        assert_ne!(rpc, addr);
        let tms = slots
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let rpc = rpc.to_string();
                // In the scratch directory: a killed TaskManager cannot
                // remove its working directory itself.
                let workdir = base.join(format!("tm-{i}"));
                let (p, line) = start(runnel(&[
                    "taskmanager",
                    "-m",
                    &rpc,
                    "--slots",
                    n,
                    "--working-dir",
                    workdir.to_str().unwrap(),
                ]));
                let id = line.split_whitespace().nth(1).unwrap().to_string();
                (p, id)
            })
            .collect();
        wait_for("the TaskManagers", Duration::from_secs(20), || {
            (get(addr, "/overview")["taskmanagers"] == task_managers).then_some(())
        });
        Cluster {
            _jm: jm_process,
            jm,
            addr,
            rpc,
            tms,
            base,
        }
    }

    fn out(&self) -> PathBuf {
        self.base.join("out")
    }

    /// `runnel <args>` against this cluster; its standard output.
    fn cli(&self, args: &[&str]) -> String {
        let output = runnel(args).output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "{args:?}: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }

    /// Submits examples/checkpointing (detached), optionally from a savepoint;
    /// returns the job id.
    fn submit(&self, orders: u64, savepoint: Option<&str>) -> String {
        let (orders, out) = (orders.to_string(), self.out());
        let job_args = [
            "--orders",
            &orders,
            "--rate",
            "4000",
            "--fail-after",
            "0",
            "--out",
            out.to_str().unwrap(),
        ];
        self.submit_with(savepoint, &job_args)
    }

    /// Submits examples/checkpointing with `job_args`; returns the job id.
    fn submit_with(&self, savepoint: Option<&str>, job_args: &[&str]) -> String {
        let job_config = self.base.join("job.yaml");
        let mut args = vec![
            "run",
            "--jobmanager",
            &self.jm,
            "--detached",
            "-c",
            job_config.to_str().unwrap(),
        ];
        if let Some(path) = savepoint {
            args.extend(["-s", path]);
        }
        let binary = example("checkpointing");
        args.push(binary.to_str().unwrap());
        args.extend(job_args);
        let stdout = self.cli(&args);
        stdout
            .trim()
            .strip_prefix("Job has been submitted with JobID ")
            .unwrap_or_else(|| panic!("{stdout}"))
            .to_string()
    }

    /// Waits until job `id` runs and has completed `n` checkpoints.
    fn await_checkpoints(&self, id: &str, n: u64) {
        wait_for(
            "checkpoints of the running job",
            Duration::from_secs(30),
            || {
                let job = get(self.addr, &format!("/jobs/{id}"));
                let done =
                    get(self.addr, &format!("/jobs/{id}/checkpoints"))["counts"]["completed"]
                        .as_u64()
                        .unwrap_or(0);
                (job["state"] == "RUNNING" && done >= n).then_some(())
            },
        );
    }

    /// Waits until job `id` ended as `state`; returns its detail.
    fn await_end(&self, id: &str, state: &str) -> Value {
        wait_for(
            &format!("the job to be {state}"),
            Duration::from_secs(120),
            || {
                let job = get(self.addr, &format!("/jobs/{id}"));
                match job["state"].as_str() {
                    Some(s) if s == state => Some(job),
                    Some(s @ ("FINISHED" | "FAILED" | "CANCELED")) => panic!(
                        "the job ended {s}: {}",
                        get(self.addr, &format!("/jobs/{id}/exceptions"))
                    ),
                    _ => None,
                }
            },
        )
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

#[test]
fn a_submitted_job_survives_the_loss_of_its_task_manager_exactly_once() {
    const ORDERS: u64 = 24_000;
    let mut cluster = Cluster::start("cluster-failover", 2);
    let id = cluster.submit(ORDERS, None);
    // Running, with a few checkpoints behind it, on one of the TaskManagers.
    cluster.await_checkpoints(&id, 3);
    let addr = cluster.addr;
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
    let victim = cluster.tms.iter().position(|(_, tm)| *tm == busy).unwrap();
    let (mut process, _) = cluster.tms.remove(victim);
    process.0.kill().unwrap();
    let _ = process.0.wait();

    let job = cluster.await_end(&id, "FINISHED");
    let exceptions = get(addr, &format!("/jobs/{id}/exceptions"));
    assert!(
        exceptions["root-exception"].is_string(),
        "the loss is recorded: {exceptions}"
    );
    assert!(job["vertices"].as_array().is_some_and(|v| !v.is_empty()));
    let (orders, lines) = committed(&cluster.out());
    assert_eq!(orders, ORDERS, "every order exactly once");
    assert_eq!(
        lines,
        50 * (ORDERS / 1000) as usize,
        "one line per user and second"
    );
}

#[test]
fn a_cluster_job_stops_with_a_savepoint_and_resumes_from_it() {
    const ORDERS: u64 = 24_000;
    let cluster = Cluster::start("cluster-savepoint", 1);
    let id = cluster.submit(ORDERS, None);
    cluster.await_checkpoints(&id, 2);
    let savepoints = cluster.base.join("savepoints");
    let stopped = cluster.cli(&[
        "stop",
        "-m",
        &cluster.jm,
        "--savepoint-path",
        savepoints.to_str().unwrap(),
        &id,
    ]);
    let path = stopped
        .trim()
        .strip_prefix("Savepoint completed. Path: ")
        .unwrap_or_else(|| panic!("{stopped}"))
        .to_string();
    assert!(Path::new(&path).join("_metadata").is_file(), "{path}");
    cluster.await_end(&id, "FINISHED");
    let (before, _) = committed(&cluster.out());
    assert!(before < ORDERS, "stopped midway: {before}");

    let resumed = cluster.submit(ORDERS, Some(&path));
    cluster.await_end(&resumed, "FINISHED");
    let (orders, lines) = committed(&cluster.out());
    assert_eq!(orders, ORDERS, "every order exactly once over both runs");
    assert_eq!(lines, 50 * (ORDERS / 1000) as usize);
}

#[test]
fn a_failing_job_binary_fails_its_job_and_nothing_else() {
    let cluster = Cluster::start("cluster-bad-job", 1);
    // The job's sink cannot write its directory: every attempt fails its job
    // (after the job's own restarts) and exits with 1.
    let bad = cluster.submit_with(
        None,
        &[
            "--orders",
            "1000",
            "--fail-after",
            "0",
            "--out",
            "/proc/runnel-cannot-write",
        ],
    );
    let good = cluster.submit(4_000, None);
    wait_for("the bad job to fail", Duration::from_secs(60), || {
        (get(cluster.addr, &format!("/jobs/{bad}"))["state"] == "FAILED").then_some(())
    });
    let exceptions = get(cluster.addr, &format!("/jobs/{bad}/exceptions"));
    let root = exceptions["root-exception"].as_str().unwrap_or_default();
    // The job's own error, naming operator and subtask, reaches the JobManager.
    assert!(
        root.contains("Sink: File Sink") && root.contains("cannot write /proc/runnel-cannot-write"),
        "{root}"
    );
    cluster.await_end(&good, "FINISHED");
    assert_eq!(committed(&cluster.out()).0, 4_000);
    assert_eq!(get(cluster.addr, "/overview")["taskmanagers"], 1);
}

/// The ids of the registered TaskManagers, sorted.
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

#[test]
fn task_managers_register_and_a_killed_one_is_declared_lost() {
    let mut cluster = Cluster::with_slots("cluster-tms", &["2", "3"]);
    let addr = cluster.addr;
    let overview = get(addr, "/overview");
    assert_eq!(overview["taskmanagers"], 2);
    assert_eq!(overview["slots-total"], 5);
    let (mut first, _) = cluster.tms.remove(0);
    let second = cluster.tms[0].1.clone();
    // A crash: no deregistration, the process just goes.
    first.0.kill().unwrap();
    let _ = first.0.wait();
    let killed = Instant::now();
    wait_for(
        "the killed TaskManager to be declared lost",
        Duration::from_secs(20),
        || (task_managers(addr) == [second.clone()]).then_some(()),
    );
    // Not before the heartbeat timeout (less the last heartbeat's age).
    let silent = killed.elapsed();
    assert!(silent >= Duration::from_millis(1_000), "{silent:?}");
    assert_eq!(get(addr, "/overview")["slots-total"], 3);
}

#[test]
fn task_managers_join_on_the_rpc_port_and_clients_use_the_rest_port() {
    let cluster = Cluster::with_slots("cluster-rpc", &[]);
    let (rest, rpc) = (cluster.addr, cluster.rpc);
    let status = |addr, method, path: &str| {
        let body = Some(("application/json", &b"{}"[..]));
        client::request(addr, method, path, body, None).unwrap().0
    };
    let unknown = "0123456789abcdef0123456789abcdef";
    // The cluster-internal routes are not on REST, the API is not on RPC.
    assert_eq!(status(rest, Method::Post, "/taskmanagers"), 405);
    assert_eq!(status(rest, Method::Get, &format!("/blobs/{unknown}")), 404);
    let report = format!("/jobs/{unknown}/attempts/1/status");
    assert_eq!(status(rest, Method::Post, &report), 404);
    assert_eq!(status(rpc, Method::Post, "/taskmanagers"), 400);
    assert_eq!(status(rpc, Method::Get, "/overview"), 404);
    assert_eq!(status(rpc, Method::Get, "/"), 404, "no web UI on RPC");
    // Without -m, a TaskManager joins jobmanager.rpc.address:port of its file.
    let file = cluster.base.join("tm.yaml");
    std::fs::write(
        &file,
        format!(
            "jobmanager.rpc.address: 127.0.0.1\njobmanager.rpc.port: {}\n\
             process.taskmanager.working-dir: {}\n",
            rpc.port(),
            cluster.base.join("tm-from-file").display()
        ),
    )
    .unwrap();
    let (_tm, line) = start(runnel(&["taskmanager", "-c", file.to_str().unwrap()]));
    assert!(line.trim().ends_with(&format!("at {rpc}")), "{line}");
    wait_for("the TaskManager", Duration::from_secs(20), || {
        (task_managers(rest).len() == 1).then_some(())
    });
}

/// The ids of the TaskManagers with slots in use.
fn busy_task_managers(addr: SocketAddr) -> Vec<String> {
    get(addr, "/taskmanagers")["taskmanagers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|tm| tm["freeSlots"].as_u64() < tm["slotsNumber"].as_u64())
        .filter_map(|tm| tm["id"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn a_job_spread_over_two_task_managers_commits_what_it_commits_embedded_despite_kills() {
    const ORDERS: u64 = 24_000;
    let mut cluster = Cluster::with_slots("cluster-spread", &["1", "1", "1", "1"]);
    // The same binary and arguments, embedded.
    let embedded = cluster.base.join("embedded");
    let output = Command::new(example("checkpointing"))
        .args([
            "--orders",
            &ORDERS.to_string(),
            "--rate",
            "4000",
            "--fail-after",
            "0",
        ])
        .arg("--out")
        .arg(&embedded)
        .env_remove("RUNNEL_CONFIG")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let expected = committed_lines(&embedded);
    assert_eq!(expected.len(), 50 * (ORDERS / 1000) as usize);

    let id = cluster.submit(ORDERS, None);
    let addr = cluster.addr;
    // Parallelism 2 on TaskManagers of one slot: two of them run it, the
    // first (in registration order) the job master's process. Lose the other
    // one's process first, then, once the job runs again elsewhere, the job
    // master's.
    for process in [1, 0] {
        cluster.await_checkpoints(&id, 2);
        let busy = wait_for(
            "the job's two TaskManagers",
            Duration::from_secs(20),
            || {
                let busy = busy_task_managers(addr);
                (busy.len() == 2).then_some(busy)
            },
        );
        let victim = cluster
            .tms
            .iter()
            .position(|(_, tm)| *tm == busy[process])
            .unwrap();
        let (mut killed, tm) = cluster.tms.remove(victim);
        killed.0.kill().unwrap();
        let _ = killed.0.wait();
        wait_for("the job to run without it", Duration::from_secs(30), || {
            let busy = busy_task_managers(addr);
            let job = get(addr, &format!("/jobs/{id}"));
            (job["state"] == "RUNNING" && busy.len() == 2 && !busy.contains(&tm)).then_some(())
        });
    }
    cluster.await_end(&id, "FINISHED");
    let exceptions = get(addr, &format!("/jobs/{id}/exceptions"));
    assert!(exceptions["root-exception"].is_string(), "{exceptions}");
    assert_eq!(
        committed_lines(&cluster.out()),
        expected,
        "the embedded run's lines, each exactly once"
    );
}

#[test]
fn a_spread_job_cancels_gracefully_in_every_process() {
    let cluster = Cluster::with_slots("cluster-cancel", &["1", "1"]);
    let id = cluster.submit(1_000_000, None);
    cluster.await_checkpoints(&id, 1);
    let addr = cluster.addr;
    assert_eq!(busy_task_managers(addr).len(), 2);
    let started = Instant::now();
    cluster.cli(&["cancel", "-m", &cluster.jm, &id]);
    cluster.await_end(&id, "CANCELED");
    // Both processes stopped on their own: their slots are free long before
    // the JobManager would kill them (task.cancellation.timeout, 30 s).
    wait_for("the slots to be free", Duration::from_secs(15), || {
        busy_task_managers(addr).is_empty().then_some(())
    });
    assert!(started.elapsed() < Duration::from_secs(20));
    // The job master's process returned from `execute` with the cancellation
    // (a killed process would have written nothing).
    let logs: Vec<String> = (0..2)
        .filter_map(|i| {
            let log = cluster.base.join(format!("tm-{i}/{id}-1.log"));
            std::fs::read_to_string(log).ok()
        })
        .collect();
    assert_eq!(logs.len(), 2, "one log per process");
    assert!(logs.iter().any(|l| l.contains("was cancelled")), "{logs:?}");
}
