//! A job binary started by a TaskManager for its slots (docs/design/cluster-jobs.md):
//! it runs the job as embedded and reports to the JobManager every 500 ms and
//! at the end, carrying out the commands in the answers (cancel, savepoints).
//! It cancels its job when the JobManager says the attempt is over (410) or
//! when its TaskManager (its parent process) is gone.
//!
//! A job spread over several TaskManagers runs one such process per
//! TaskManager: process 0 runs the job master (and reports), announcing its
//! control address to the JobManager; the others fetch that address and run
//! their slots' subtasks as its task executors.

use runnel_rest::{Method, client};
use runnel_runtime::distributed::{LeaderRole, RENDEZVOUS_TIMEOUT, TaskExecutorRole};
use runnel_runtime::{JobClient, JobControl, JobError};
use serde_json::{Value, json};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, ToSocketAddrs};
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The cluster job id of this process (set by the TaskManager).
pub const ENV_CLUSTER_JOB: &str = "RUNNEL_CLUSTER_JOB";
/// The attempt of the cluster job this process runs.
pub const ENV_CLUSTER_ATTEMPT: &str = "RUNNEL_CLUSTER_ATTEMPT";
/// The JobManager's RPC address (`host:port`): the attempt routes are there.
pub const ENV_JOBMANAGER: &str = "RUNNEL_JOBMANAGER";
/// The JobManager's bearer token (`rest.bearer-token`, also guarding RPC).
pub const ENV_REST_TOKEN: &str = "RUNNEL_REST_TOKEN";
/// This process's index among the processes of the attempt (0 runs the job master).
pub const ENV_CLUSTER_PROCESS: &str = "RUNNEL_CLUSTER_PROCESS";
/// How many processes (one per TaskManager) the attempt has.
pub const ENV_CLUSTER_PROCESSES: &str = "RUNNEL_CLUSTER_PROCESSES";
/// The job slots this process runs (comma-separated indices).
pub const ENV_CLUSTER_SLOTS: &str = "RUNNEL_CLUSTER_SLOTS";
/// The host this process's listeners bind (its TaskManager's address).
pub const ENV_TASKMANAGER_HOST: &str = "RUNNEL_TASKMANAGER_HOST";

/// How often the attempt reports.
const REPORT_EVERY: Duration = Duration::from_millis(500);

/// Where a cluster attempt restores from when its JobManager names
/// checkpoint `path`: the latest completed checkpoint next to it (`chk-N`
/// with the highest N that has `_metadata`), since the attempt that took them
/// may have completed newer ones after its last report. Outside a cluster
/// attempt, and for savepoints, `path` as given (a local directory; other
/// storage is taken as given too).
pub(crate) fn failover_restore_path(path: PathBuf) -> PathBuf {
    if std::env::var_os(ENV_CLUSTER_ATTEMPT).is_none() {
        return path;
    }
    let number = |p: &std::path::Path| {
        p.file_name()?
            .to_str()?
            .strip_prefix("chk-")?
            .parse::<u64>()
            .ok()
    };
    let (Some(current), Some(parent)) = (number(&path), path.parent()) else {
        return path;
    };
    let Ok(entries) = std::fs::read_dir(parent) else {
        return path;
    };
    entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("_metadata").is_file())
        .filter_map(|p| Some((number(&p)?, p)))
        .filter(|(n, _)| *n >= current)
        .max_by_key(|(n, _)| *n)
        .map_or(path, |(_, p)| p)
}

/// Whether this process runs subtasks of a job spread over several
/// processes for another process's job master (its `execute` returns this
/// process's counters only; the job's result is the job master's).
pub fn runs_as_task_executor() -> bool {
    let number = |name| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.trim().parse::<u32>().ok())
    };
    Attempt::from_env().is_some()
        && number(ENV_CLUSTER_PROCESSES).unwrap_or(1) > 1
        && number(ENV_CLUSTER_PROCESS).unwrap_or(0) > 0
}

/// What this process is in a job spread over several processes.
pub(crate) enum ProcessRole {
    Leader(LeaderRole),
    TaskExecutor(TaskExecutorRole),
}

/// This process's role when its attempt spans several processes; `None` for
/// an embedded job or an attempt in one process. Process 0 binds its control
/// listener and announces it to the JobManager; the others wait for that
/// announcement.
pub(crate) fn process_role(job: &str) -> Result<Option<ProcessRole>, JobError> {
    let fail = |message: String| JobError::Startup {
        job: job.to_string(),
        message,
    };
    let Some(attempt) = Attempt::from_env() else {
        return Ok(None);
    };
    let number = |name: &str| -> Result<Option<u32>, JobError> {
        std::env::var(name)
            .ok()
            .map(|v| {
                v.trim()
                    .parse::<u32>()
                    .map_err(|e| fail(format!("{name}={v:?} is not a number: {e}")))
            })
            .transpose()
    };
    let processes = number(ENV_CLUSTER_PROCESSES)?.unwrap_or(1);
    if processes <= 1 {
        return Ok(None);
    }
    let process = number(ENV_CLUSTER_PROCESS)?.unwrap_or(0);
    let slots = std::env::var(ENV_CLUSTER_SLOTS).unwrap_or_default();
    let slots = slots
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            s.trim()
                .parse::<u32>()
                .map_err(|e| fail(format!("{ENV_CLUSTER_SLOTS}={slots:?}: {e}")))
        })
        .collect::<Result<Vec<u32>, _>>()?;
    let host = match std::env::var(ENV_TASKMANAGER_HOST) {
        Ok(h) => h
            .parse::<IpAddr>()
            .map_err(|e| fail(format!("{ENV_TASKMANAGER_HOST}={h:?}: {e}")))?,
        Err(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
    };
    let path = format!("{}/leader", attempt.base());
    if process == 0 {
        let control = TcpListener::bind(SocketAddr::new(host, 0))
            .map_err(|e| fail(format!("cannot listen on {host}: {e}")))?;
        let address = control
            .local_addr()
            .map_err(|e| fail(format!("cannot listen on {host}: {e}")))?;
        let deadline = Instant::now() + RENDEZVOUS_TIMEOUT;
        loop {
            match attempt.post(&path, &json!({ "control": address.to_string() })) {
                Some((200, _)) => break,
                Some((410, _)) => {
                    return Err(fail("the JobManager superseded this attempt".into()));
                }
                answer if Instant::now() >= deadline => {
                    return Err(fail(format!(
                        "cannot announce the job master to the JobManager: {answer:?}"
                    )));
                }
                _ => std::thread::sleep(Duration::from_millis(200)),
            }
        }
        return Ok(Some(ProcessRole::Leader(LeaderRole {
            control,
            host,
            processes,
            slots,
        })));
    }
    let deadline = Instant::now() + RENDEZVOUS_TIMEOUT;
    let leader = loop {
        match attempt.get(&path) {
            Some((200, answer)) => {
                let text = answer["control"].as_str().unwrap_or_default().to_string();
                break text
                    .parse::<SocketAddr>()
                    .map_err(|e| fail(format!("the job master's address {text:?}: {e}")))?;
            }
            Some((410, _)) => return Err(fail("the JobManager superseded this attempt".into())),
            answer if Instant::now() >= deadline => {
                return Err(fail(format!(
                    "process 0 of the attempt did not announce itself within {RENDEZVOUS_TIMEOUT:?} ({answer:?})"
                )));
            }
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    exit_with_parent();
    Ok(Some(ProcessRole::TaskExecutor(TaskExecutorRole {
        leader,
        host,
        process,
        slots,
    })))
}

/// A task executor ends when the TaskManager that started it is gone (as
/// that TaskManager's processes would).
fn exit_with_parent() {
    let parent = std::os::unix::process::parent_id();
    let _ = std::thread::Builder::new()
        .name("cluster parent watch".to_string())
        .spawn(move || {
            loop {
                std::thread::sleep(REPORT_EVERY);
                if std::os::unix::process::parent_id() != parent {
                    log::warn!("the TaskManager that started this process is gone; exiting");
                    std::process::exit(1);
                }
            }
        });
}

/// Where and as what this process reports.
#[derive(Clone)]
struct Attempt {
    jobmanager: SocketAddr,
    job: String,
    attempt: u32,
    token: Option<String>,
}

impl Attempt {
    /// The attempt this process runs, if a TaskManager started it.
    fn from_env() -> Option<Attempt> {
        let job = std::env::var(ENV_CLUSTER_JOB).ok()?;
        let attempt = std::env::var(ENV_CLUSTER_ATTEMPT).ok()?.parse().ok()?;
        let jobmanager = std::env::var(ENV_JOBMANAGER)
            .ok()?
            .to_socket_addrs()
            .ok()?
            .next()?;
        Some(Attempt {
            jobmanager,
            job,
            attempt,
            token: std::env::var(ENV_REST_TOKEN).ok().filter(|t| !t.is_empty()),
        })
    }

    fn post(&self, path: &str, body: &Value) -> Option<(u16, Value)> {
        let bytes = body.to_string().into_bytes();
        let (status, _, answer) = client::request(
            self.jobmanager,
            Method::Post,
            path,
            Some(("application/json", &bytes)),
            self.token.as_deref(),
        )
        .ok()?;
        Some((
            status,
            serde_json::from_slice(&answer).unwrap_or(Value::Null),
        ))
    }

    fn get(&self, path: &str) -> Option<(u16, Value)> {
        let (status, _, answer) = client::request(
            self.jobmanager,
            Method::Get,
            path,
            None,
            self.token.as_deref(),
        )
        .ok()?;
        Some((
            status,
            serde_json::from_slice(&answer).unwrap_or(Value::Null),
        ))
    }

    fn base(&self) -> String {
        format!("/jobs/{}/attempts/{}", self.job, self.attempt)
    }
}

/// Starts reporting `client`'s job when this process is a cluster attempt;
/// the handle ends after the final report.
pub(crate) fn start(client: &JobClient) -> Option<JoinHandle<()>> {
    let attempt = Attempt::from_env()?;
    let board = client.status_board();
    let control = client.control();
    let parent = std::os::unix::process::parent_id();
    std::thread::Builder::new()
        .name(format!("{} [cluster report]", client.job_name()))
        .spawn(move || {
            loop {
                let status = board.snapshot();
                let ended = status.state.is_terminal();
                let body = serde_json::to_value(&status).unwrap_or(Value::Null);
                match attempt.post(&format!("{}/status", attempt.base()), &body) {
                    Some((410, _)) => {
                        control.cancel();
                        if ended {
                            return;
                        }
                    }
                    Some((200, answer)) => {
                        for command in answer["commands"].as_array().into_iter().flatten() {
                            carry_out(&attempt, &control, command);
                        }
                    }
                    // The JobManager is away for now: report again later.
                    _ => {}
                }
                if ended {
                    return;
                }
                if std::os::unix::process::parent_id() != parent {
                    // Stop reporting at once: a final CANCELED report would end
                    // the job, which the JobManager restarts elsewhere instead.
                    log::warn!("the TaskManager that started this job is gone; cancelling");
                    control.cancel();
                    return;
                }
                std::thread::sleep(REPORT_EVERY);
            }
        })
        .ok()
}

/// Carries out one command of the JobManager (savepoints on their own thread).
fn carry_out(attempt: &Attempt, control: &JobControl, command: &Value) {
    match command["type"].as_str() {
        Some("cancel") => control.cancel(),
        Some("savepoint") => {
            let Some(request) = command["requestId"].as_str() else {
                return;
            };
            let path = format!("{}/savepoints/{request}", attempt.base());
            let dir = command["targetDirectory"].as_str().map(PathBuf::from);
            let stop = command["stop"].as_bool().unwrap_or(false);
            let (control, reporter) = (control.clone(), attempt.clone());
            std::thread::spawn(move || {
                let result = if stop {
                    control.stop_with_savepoint(dir)
                } else {
                    control.trigger_savepoint(dir)
                };
                let body = match result {
                    Ok(location) => json!({ "location": location }),
                    Err(e) => json!({ "error": e.to_string() }),
                };
                let _ = reporter.post(&path, &body);
            });
        }
        other => log::warn!("unknown command from the JobManager: {other:?}"),
    }
}
