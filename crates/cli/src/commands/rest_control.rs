//! `runnel list`, `savepoint`, `stop` and `cancel` with `--jobmanager`: the
//! same commands through a JobManager's REST API (Flink's `-m`), for jobs
//! served by a JobManager (an embedded job with `rest.enabled`, or a cluster).

use crate::args::JobManagerArgs;
use anyhow::{Result, anyhow, bail};
use runnel_rest::{Method, client};
use serde_json::{Value, json};
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// How long a savepoint may take before the command gives up waiting.
const TIMEOUT: Duration = Duration::from_secs(600);

/// A JobManager's REST API.
struct JobManager {
    addr: SocketAddr,
    name: String,
    token: Option<String>,
}

impl JobManager {
    fn new(args: &JobManagerArgs, address: &str) -> Result<JobManager> {
        let addr = address
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| anyhow!("--jobmanager {address}: not a HOST:PORT address"))?;
        Ok(JobManager {
            addr,
            name: address.to_string(),
            token: args.token.clone(),
        })
    }

    /// Calls the API; answers other than 2xx are errors with the
    /// JobManager's message.
    fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value> {
        let bytes = body.map(|b| b.to_string().into_bytes());
        let (status, _, answer) = client::request(
            self.addr,
            method,
            path,
            bytes.as_deref().map(|b| ("application/json", b)),
            self.token.as_deref(),
        )
        .map_err(|e| anyhow!("cannot reach the JobManager at {}: {e}", self.name))?;
        let value: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
        if !(200..300).contains(&status) {
            let message = value["errors"]
                .as_array()
                .and_then(|e| e.first())
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| String::from_utf8_lossy(&answer).into_owned());
            bail!(
                "the JobManager at {} answered {status}: {message}",
                self.name
            );
        }
        Ok(value)
    }

    /// Waits for savepoint request `request` of `job` and returns its location.
    fn await_savepoint(&self, job: &str, request: &str) -> Result<String> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let status = self.call(
                Method::Get,
                &format!("/jobs/{job}/savepoints/{request}"),
                None,
            )?;
            if status["status"]["id"] == "COMPLETED" {
                let operation = &status["operation"];
                if let Some(location) = operation["location"].as_str() {
                    return Ok(location.to_string());
                }
                let cause = operation["failure-cause"]["stack-trace"]
                    .as_str()
                    .or_else(|| operation["failure-cause"]["class"].as_str())
                    .unwrap_or("unknown cause");
                bail!("the savepoint of job {job} failed: {cause}");
            }
            if Instant::now() >= deadline {
                bail!("the savepoint of job {job} did not complete within {TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Prints the JobManager's jobs: id, state, name.
pub(crate) fn list(args: &JobManagerArgs, address: &str) -> Result<ExitCode> {
    let jm = JobManager::new(args, address)?;
    let overview = jm.call(Method::Get, "/jobs/overview", None)?;
    let jobs = overview["jobs"].as_array().cloned().unwrap_or_default();
    if jobs.is_empty() {
        println!("No jobs.");
    }
    for job in jobs {
        println!(
            "{}  {}  {}",
            job["jid"].as_str().unwrap_or("?"),
            job["state"].as_str().unwrap_or("?"),
            job["name"].as_str().unwrap_or("?")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Takes a savepoint (or stops the job with one) and prints its path.
pub(crate) fn savepoint(
    args: &JobManagerArgs,
    address: &str,
    job: &str,
    dir: Option<String>,
    stop: bool,
) -> Result<ExitCode> {
    let jm = JobManager::new(args, address)?;
    let (path, body) = if stop {
        (
            format!("/jobs/{job}/stop"),
            json!({ "targetDirectory": dir, "drain": false }),
        )
    } else {
        (
            format!("/jobs/{job}/savepoints"),
            json!({ "target-directory": dir, "cancel-job": false }),
        )
    };
    let triggered = jm.call(Method::Post, &path, Some(body))?;
    let request = triggered["request-id"]
        .as_str()
        .ok_or_else(|| anyhow!("the JobManager at {address} returned no request id"))?;
    let location = jm.await_savepoint(job, request)?;
    println!("Savepoint completed. Path: {location}");
    Ok(ExitCode::SUCCESS)
}

/// Cancels the job.
pub(crate) fn cancel(args: &JobManagerArgs, address: &str, job: &str) -> Result<ExitCode> {
    let jm = JobManager::new(args, address)?;
    jm.call(Method::Patch, &format!("/jobs/{job}?mode=cancel"), None)?;
    println!("Cancelled job {job}.");
    Ok(ExitCode::SUCCESS)
}
