//! `runnel run --jobmanager HOST:PORT`: submit the job binary to a standalone
//! cluster (docs/design/cluster-jobs.md). The binary's explain mode gives the
//! slots it needs (its highest vertex parallelism) and its name; the binary,
//! its arguments and the configuration file go to `POST /jobs`. Attached, the
//! command follows the job until it ends and exits 0 only if it finished.

use super::explain;
use crate::args::RunArgs;
use anyhow::{Context, Result, anyhow, bail};
use runnel_rest::client::encode_query_value as encode;
use runnel_rest::{Method, client};
use serde_json::Value;
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

/// The slots a plan needs (its highest vertex parallelism) and its name.
fn slots_and_name(plan: &str) -> Result<(u64, String)> {
    let plan: Value = serde_json::from_str(plan).context("the job's plan is not JSON")?;
    let graph = &plan["job_graph"];
    let slots = graph["vertices"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["parallelism"].as_u64())
        .max()
        .ok_or_else(|| anyhow!("the job's plan has no vertices"))?;
    let name = graph["job_name"].as_str().unwrap_or("job").to_string();
    Ok((slots, name))
}

fn call(
    addr: SocketAddr,
    jm: &str,
    method: Method,
    path: &str,
    body: Option<(&str, &[u8])>,
    token: Option<&str>,
) -> Result<Value> {
    let (status, _, answer) = client::request(addr, method, path, body, token)
        .map_err(|e| anyhow!("cannot reach the JobManager at {jm}: {e}"))?;
    let value: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
    if !(200..300).contains(&status) {
        let message = value["errors"][0]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| String::from_utf8_lossy(&answer).into_owned());
        bail!("the JobManager at {jm} answered {status}: {message}");
    }
    Ok(value)
}

/// Submits the job and, unless detached, waits for its end.
pub(crate) fn submit(args: &RunArgs, jm: &str) -> Result<ExitCode> {
    let addr = jm
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| anyhow!("--jobmanager {jm}: not a HOST:PORT address"))?;
    let token = args.token.as_deref();
    let options = &args.job;
    let (_, plan) = explain::plan(options, true)?;
    let (slots, name) = slots_and_name(&plan)?;
    let binary = std::fs::read(options.job())
        .with_context(|| format!("cannot read the job binary {}", options.job().display()))?;
    let mut query = format!("slots={slots}&name={}", encode(&name));
    if let Some(p) = options.parallelism {
        query.push_str(&format!("&parallelism={p}"));
    }
    if let Some(savepoint) = &args.from_savepoint {
        let path = std::path::absolute(savepoint)?;
        query.push_str(&format!(
            "&savepointPath={}",
            encode(&path.display().to_string())
        ));
        if args.allow_non_restored_state {
            query.push_str("&allowNonRestoredState=true");
        }
    }
    for arg in options.args() {
        let arg = arg
            .to_str()
            .ok_or_else(|| anyhow!("job argument {arg:?} is not UTF-8"))?;
        query.push_str(&format!("&programArg={}", encode(arg)));
    }
    if let Some(file) = &options.config {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        query.push_str(&format!("&config={}", encode(&text)));
    }
    let submitted = call(
        addr,
        jm,
        Method::Post,
        &format!("/jobs?{query}"),
        Some(("application/octet-stream", &binary)),
        token,
    )?;
    let id = submitted["jobid"]
        .as_str()
        .ok_or_else(|| anyhow!("the JobManager at {jm} returned no job id"))?
        .to_string();
    println!("Job has been submitted with JobID {id}");
    if args.detached {
        return Ok(ExitCode::SUCCESS);
    }
    let mut last = String::new();
    loop {
        let job = call(addr, jm, Method::Get, &format!("/jobs/{id}"), None, token)?;
        let state = job["state"].as_str().unwrap_or("UNKNOWN").to_string();
        if state != last {
            println!("Job {id} is {state}");
            last = state.clone();
        }
        match state.as_str() {
            "FINISHED" => return Ok(ExitCode::SUCCESS),
            "CANCELED" | "FAILED" => {
                let exceptions = call(
                    addr,
                    jm,
                    Method::Get,
                    &format!("/jobs/{id}/exceptions"),
                    None,
                    token,
                )?;
                if let Some(root) = exceptions["root-exception"].as_str() {
                    eprintln!("{root}");
                }
                return Ok(ExitCode::FAILURE);
            }
            _ => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_the_highest_vertex_parallelism() {
        let plan = r#"{"job_graph": {"job_name": "j", "vertices": [{"parallelism": 2}, {"parallelism": 3}]}}"#;
        assert_eq!(slots_and_name(plan).unwrap(), (3, "j".to_string()));
        assert!(slots_and_name(r#"{"job_graph": {"vertices": []}}"#).is_err());
    }
}
