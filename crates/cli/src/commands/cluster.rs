//! `runnel jobmanager` and `runnel taskmanager`: the processes of a standalone
//! cluster. Both run in the foreground until Ctrl-C (or SIGTERM through the
//! same handler); the JobManager serves the REST API and the web UI on its
//! REST port and the TaskManager protocol on its RPC port, TaskManagers
//! register there and heartbeat.

use crate::args::{JobManagerProcessArgs, TaskManagerProcessArgs};
use anyhow::{Result, anyhow};
use runnel_config::Configuration;
use runnel_jobmanager::standalone::{self, StandaloneConfig};
use runnel_taskmanager::{TaskManager, TaskManagerConfig};
use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The configuration file given with `-c`, else the environment's, else the
/// defaults.
fn configuration(file: Option<&std::path::Path>) -> Result<Configuration> {
    Ok(match file {
        Some(f) => Configuration::load_file(f)?,
        None => Configuration::from_env()?,
    })
}

/// Prints a progress line; a closed standard output (the reader went away)
/// must not stop a cluster process.
fn say(line: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_fmt(line).and_then(|()| out.write_all(b"\n"));
    let _ = out.flush();
}

/// A flag raised by Ctrl-C.
fn interrupted() -> Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    let raised = flag.clone();
    ctrlc::set_handler(move || raised.store(true, Ordering::SeqCst))
        .map_err(|e| anyhow!("cannot handle Ctrl-C: {e}"))?;
    Ok(flag)
}

/// `host:port`, with an IPv6 literal in brackets.
fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Where a listener binds, and whether that may be another than loopback
/// (only when its host was set: the default is loopback).
fn listen(host: &str, port: u16, what: &str) -> Result<(SocketAddr, bool)> {
    let address = resolve(&host_port(host, port), what)?;
    let loopback = matches!(host, "127.0.0.1" | "::1" | "[::1]" | "localhost");
    Ok((address, !loopback))
}

fn resolve(address: &str, what: &str) -> Result<SocketAddr> {
    address
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| anyhow!("{what} `{address}` is not a HOST:PORT address"))
}

/// Runs a JobManager until interrupted.
pub(crate) fn jobmanager(args: &JobManagerProcessArgs) -> Result<ExitCode> {
    let config = configuration(args.config.as_deref())?;
    let host = args
        .address
        .clone()
        .unwrap_or_else(|| config.rest.bind_address.clone());
    let port = args.port.unwrap_or(config.rest.port);
    let (address, allow_non_loopback) = listen(&host, port, "the REST address")?;
    let rpc_host = args
        .rpc_address
        .clone()
        .unwrap_or_else(|| config.cluster.rpc_address.clone());
    let rpc_port = args.rpc_port.unwrap_or(config.cluster.rpc_port);
    let (rpc_address, rpc_non_loopback) = listen(&rpc_host, rpc_port, "the RPC address")?;
    let (max_restarts, restart_delay) = config.cluster_job_restarts().map_err(|e| {
        let file = args.config.clone().or_else(Configuration::file_from_env);
        match file {
            Some(f) => anyhow!("{}: {e}", f.display()),
            None => anyhow!("{e}"),
        }
    })?;
    let standalone = StandaloneConfig {
        rest: runnel_rest::RestConfig {
            address,
            allow_non_loopback,
            bearer_token: config.rest.bearer_token.clone(),
            ..runnel_rest::RestConfig::default()
        },
        rpc: runnel_rest::RestConfig {
            address: rpc_address,
            allow_non_loopback: rpc_non_loopback,
            bearer_token: config.rest.bearer_token.clone(),
            ..StandaloneConfig::default().rpc
        },
        heartbeat_interval: config.cluster.heartbeat_interval,
        heartbeat_timeout: config.cluster.heartbeat_timeout,
        evenly_spread_out_slots: config.cluster.evenly_spread_out_slots,
        max_restarts,
        restart_delay,
        cancel_timeout: config.cluster.cancellation_timeout,
        blob_dir: config.cluster.blob_dir.clone(),
        ..StandaloneConfig::default()
    };
    let stop = interrupted()?;
    let mut endpoint = standalone::start(standalone)?;
    say(format_args!(
        "JobManager: REST API and web UI on http://{}/",
        endpoint.local_addr()
    ));
    if let Some(rpc) = endpoint.rpc_addr() {
        say(format_args!("JobManager: RPC (TaskManagers) on {rpc}"));
    }
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(100));
    }
    endpoint.shutdown();
    say(format_args!("JobManager stopped."));
    Ok(ExitCode::SUCCESS)
}

/// Runs a TaskManager until interrupted or until it fails for good.
pub(crate) fn taskmanager(args: &TaskManagerProcessArgs) -> Result<ExitCode> {
    let config = configuration(args.config.as_deref())?;
    let (jobmanager, what) = match &args.jobmanager {
        Some(address) => (address.clone(), "--jobmanager"),
        None => (
            host_port(&config.cluster.rpc_address, config.cluster.rpc_port),
            "jobmanager.rpc.address",
        ),
    };
    let tm_config = TaskManagerConfig {
        jobmanager: resolve(&jobmanager, what)?,
        slots: args.slots.unwrap_or(config.cluster.taskmanager_slots),
        bearer_token: args
            .token
            .clone()
            .or_else(|| config.rest.bearer_token.clone()),
        working_dir: args
            .working_dir
            .clone()
            .or_else(|| config.cluster.taskmanager_working_dir.clone()),
        ..TaskManagerConfig::default()
    };
    let stop = interrupted()?;
    let slots = tm_config.slots;
    let tm = TaskManager::start(tm_config)?;
    say(format_args!(
        "TaskManager {} with {slots} slot(s) registering with the JobManager at {}",
        tm.id(),
        jobmanager
    ));
    let mut announced = false;
    while !tm.is_finished() {
        if stop.load(Ordering::SeqCst) {
            tm.shutdown();
            break;
        }
        if !announced && tm.is_registered() {
            say(format_args!("TaskManager {} registered.", tm.id()));
            announced = true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let id = tm.id().to_string();
    tm.wait()?;
    say(format_args!("TaskManager {id} stopped."));
    Ok(ExitCode::SUCCESS)
}
