//! `--jobmanager HOST:PORT`: run the workload as a job of a standalone cluster.
//!
//! The bench submits its own binary with its own arguments (without
//! `--jobmanager`, with `--result-file`) to the JobManager, as `runnel run -m`
//! does; a TaskManager runs it in its slots, and the attempt writes its
//! `RESULT` line to the result file (the cluster's processes share this
//! machine's file system), which the bench prints once the job finished.
//! Throughput is measured inside the attempt, as in embedded runs.

use anyhow::{Context, Result, anyhow, bail};
use runnel::rest::client::encode_query_value as encode;
use runnel::rest::{Method, client};
use serde::Deserialize;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// How long a cluster run may take.
const TIMEOUT: Duration = Duration::from_secs(1800);

/// Where the processes of a cluster run whose result goes to `result_file`
/// spool their partial results.
pub fn spool_dir(result_file: &Path) -> std::path::PathBuf {
    result_file.with_extension("spool")
}

/// What the attempt writes to the result file: the RESULT line, then `ok` or
/// the failed check.
pub fn write_result(path: &Path, line: &str, failure: Option<&str>) -> Result<()> {
    std::fs::write(path, format!("{line}\n{}\n", failure.unwrap_or("ok")))
        .with_context(|| format!("cannot write the result file {}", path.display()))
}

#[derive(Deserialize)]
struct Submitted {
    jobid: String,
}

#[derive(Deserialize)]
struct Job {
    state: String,
}

fn call(addr: SocketAddr, method: Method, path: &str, body: Option<&[u8]>) -> Result<Vec<u8>> {
    let (status, _, answer) = client::request(
        addr,
        method,
        path,
        body.map(|b| ("application/octet-stream", b)),
        None,
    )
    .map_err(|e| anyhow!("cannot reach the JobManager at {addr}: {e}"))?;
    if !(200..300).contains(&status) {
        bail!(
            "the JobManager answered {status}: {}",
            String::from_utf8_lossy(&answer)
        );
    }
    Ok(answer)
}

/// Submits this bench run to `jobmanager` with `slots` slots and prints the
/// attempt's RESULT line.
pub fn run(jobmanager: &str, slots: u32, workload: &str) -> Result<ExitCode> {
    let addr = jobmanager
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| anyhow!("--jobmanager {jobmanager}: not a HOST:PORT address"))?;
    let result_file =
        std::env::temp_dir().join(format!("runnel-bench-result-{}", std::process::id()));
    let _ = std::fs::remove_file(&result_file);
    let _ = std::fs::remove_dir_all(spool_dir(&result_file));
    let mut args: Vec<String> = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        if arg == "--jobmanager" {
            it.next();
        } else if !arg.starts_with("--jobmanager=") {
            args.push(arg);
        }
    }
    args.push("--result-file".to_string());
    args.push(result_file.display().to_string());
    let mut query = format!(
        "slots={slots}&name={}",
        encode(&format!("bench {workload}"))
    );
    for arg in &args {
        query.push_str(&format!("&programArg={}", encode(arg)));
    }
    let binary = std::fs::read(std::env::current_exe()?)?;
    let submitted: Submitted = serde_json::from_slice(&call(
        addr,
        Method::Post,
        &format!("/jobs?{query}"),
        Some(&binary),
    )?)?;
    let start = Instant::now();
    loop {
        let job: Job = serde_json::from_slice(&call(
            addr,
            Method::Get,
            &format!("/jobs/{}", submitted.jobid),
            None,
        )?)?;
        match job.state.as_str() {
            "FINISHED" => break,
            "FAILED" | "CANCELED" => {
                let why = call(
                    addr,
                    Method::Get,
                    &format!("/jobs/{}/exceptions", submitted.jobid),
                    None,
                )
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .and_then(|e| e["root-exception"].as_str().map(str::to_string))
                .unwrap_or_default();
                bail!(
                    "the cluster job {} ended {}: {why}",
                    submitted.jobid,
                    job.state
                )
            }
            _ if start.elapsed() > TIMEOUT => {
                bail!("the cluster job did not finish in {TIMEOUT:?}")
            }
            _ => std::thread::sleep(Duration::from_millis(200)),
        }
    }
    let text = std::fs::read_to_string(&result_file)
        .with_context(|| format!("the attempt wrote no result to {}", result_file.display()))?;
    let _ = std::fs::remove_file(&result_file);
    let _ = std::fs::remove_dir_all(spool_dir(&result_file));
    let mut lines = text.lines();
    let line = lines.next().unwrap_or_default();
    println!("{line} jobmanager={jobmanager}");
    match lines.next() {
        Some("ok") => Ok(ExitCode::SUCCESS),
        other => {
            eprintln!(
                "CHECK FAILED (in the cluster): {}",
                other.unwrap_or("no outcome")
            );
            Ok(ExitCode::FAILURE)
        }
    }
}
