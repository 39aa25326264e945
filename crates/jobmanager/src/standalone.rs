//! A standalone JobManager (SPEC A4): a process that runs no job itself and
//! serves the REST API and the web UI on its REST port (`rest.port`, 8081),
//! and the TaskManager protocol on its RPC port (`jobmanager.rpc.port`,
//! 6123), so that TaskManager processes (`runnel-taskmanager`) register with
//! it, heartbeat, and are declared lost when they fall silent.
//!
//! Job binaries submitted to it (`POST /jobs`) run on the TaskManagers' slots
//! (`docs/design/cluster-jobs.md`). The `runnel jobmanager` command runs
//! [`run`].

use crate::resource_manager::{DEFAULT_HEARTBEAT_INTERVAL, DEFAULT_HEARTBEAT_TIMEOUT};
use crate::{Dispatcher, DispatcherConfig, JobManagerEndpoint, JobManagerError};
use runnel_rest::RestConfig;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Flink's default `jobmanager.rpc.port`.
pub const DEFAULT_RPC_PORT: u16 = 6123;

/// How often [`run`] asks its `stop` function.
const STOP_POLL: Duration = Duration::from_millis(100);

/// The settings of a standalone JobManager; every field has a default.
///
/// ```
/// use runnel_jobmanager::standalone::StandaloneConfig;
/// use std::time::Duration;
///
/// let config = StandaloneConfig {
///     heartbeat_timeout: Duration::from_secs(20),
///     ..StandaloneConfig::default()
/// };
/// assert_eq!(config.heartbeat_interval, Duration::from_secs(10));
/// assert_eq!(config.rest.address.to_string(), "127.0.0.1:8081");
/// assert_eq!(config.rpc.address.to_string(), "127.0.0.1:6123");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandaloneConfig {
    /// Where the REST API and the web UI are served (`rest.address`,
    /// `rest.port`: `127.0.0.1:8081`), job submission included.
    pub rest: RestConfig,
    /// Where the RPC endpoint is served: TaskManager registration and
    /// heartbeats, job binaries, and the reports of cluster jobs' processes
    /// (`jobmanager.rpc.address`, `jobmanager.rpc.port`: `127.0.0.1:6123`; no
    /// public path, so a bearer token guards every route).
    pub rpc: RestConfig,
    /// How often TaskManagers heartbeat (Flink's `heartbeat.interval`, 10 s).
    pub heartbeat_interval: Duration,
    /// How long a TaskManager may be silent before it is lost (Flink's
    /// `heartbeat.timeout`, 50 s); at least the interval.
    pub heartbeat_timeout: Duration,
    /// This host's name: the `host` label of the JobManager's metrics.
    pub host: String,
    /// Flink's `cluster.evenly-spread-out-slots` (false): see
    /// [`DispatcherConfig::evenly_spread_out_slots`].
    pub evenly_spread_out_slots: bool,
    /// `restart-strategy.fixed-delay.attempts` (3): see
    /// [`DispatcherConfig::max_restarts`].
    pub max_restarts: u32,
    /// `restart-strategy.fixed-delay.delay` (1 s): see
    /// [`DispatcherConfig::restart_delay`].
    pub restart_delay: Duration,
    /// `task.cancellation.timeout` (30 s): see
    /// [`DispatcherConfig::cancel_timeout`].
    pub cancel_timeout: Duration,
    /// `blob.storage.directory`: where submitted job binaries are kept; in
    /// memory when `None` (the default).
    pub blob_dir: Option<PathBuf>,
}

impl Default for StandaloneConfig {
    fn default() -> Self {
        let defaults = DispatcherConfig::default();
        StandaloneConfig {
            rest: RestConfig::default(),
            rpc: RestConfig {
                address: SocketAddr::from((Ipv4Addr::LOCALHOST, DEFAULT_RPC_PORT)),
                public_paths: Vec::new(),
                ..RestConfig::default()
            },
            heartbeat_interval: DEFAULT_HEARTBEAT_INTERVAL,
            heartbeat_timeout: DEFAULT_HEARTBEAT_TIMEOUT,
            host: defaults.host,
            evenly_spread_out_slots: false,
            max_restarts: defaults.max_restarts,
            restart_delay: defaults.restart_delay,
            cancel_timeout: defaults.cancel_timeout,
            blob_dir: None,
        }
    }
}

impl StandaloneConfig {
    /// The Dispatcher's settings: no embedded jobs, these heartbeats, slot
    /// spread, restarts, cancel timeout and blob store.
    pub fn dispatcher_config(&self) -> DispatcherConfig {
        DispatcherConfig {
            embedded: false,
            heartbeat_interval: self.heartbeat_interval,
            heartbeat_timeout: self.heartbeat_timeout,
            host: self.host.clone(),
            evenly_spread_out_slots: self.evenly_spread_out_slots,
            max_restarts: self.max_restarts,
            restart_delay: self.restart_delay,
            cancel_timeout: self.cancel_timeout,
            blob_dir: self.blob_dir.clone(),
            ..DispatcherConfig::default()
        }
    }
}

/// Starts a standalone JobManager and returns its endpoint (which knows the
/// bound REST and RPC addresses, also for port 0). It runs until shut down or
/// dropped.
///
/// Fails with [`JobManagerError::InvalidConfig`] for unusable heartbeat
/// settings, or as [`JobManagerEndpoint::start`] does.
pub fn start(config: StandaloneConfig) -> Result<JobManagerEndpoint, JobManagerError> {
    let dispatcher_config = config.dispatcher_config();
    dispatcher_config.validate()?;
    let endpoint = JobManagerEndpoint::start_with_rpc(
        config.rest,
        config.rpc,
        Arc::new(Dispatcher::with_config(dispatcher_config)),
    )?;
    let rpc = endpoint
        .rpc_addr()
        .map_or_else(String::new, |a| a.to_string());
    log::info!(
        "standalone JobManager on http://{}: TaskManagers register at POST /taskmanagers on \
         the RPC endpoint {rpc} (heartbeat interval {} ms, timeout {} ms); a failed job \
         restarts at most {} times, {} ms after the failure; a cancelled job's processes are \
         killed after {} ms",
        endpoint.local_addr(),
        config.heartbeat_interval.as_millis(),
        config.heartbeat_timeout.as_millis(),
        config.max_restarts,
        config.restart_delay.as_millis(),
        config.cancel_timeout.as_millis()
    );
    Ok(endpoint)
}

/// Runs a standalone JobManager until `stop` returns `true` (asked every
/// 100 ms; e.g. a flag a Ctrl-C handler sets), then shuts it down.
///
/// ```no_run
/// use runnel_jobmanager::standalone::{StandaloneConfig, run};
/// use std::sync::atomic::{AtomicBool, Ordering};
///
/// static STOP: AtomicBool = AtomicBool::new(false);
/// run(StandaloneConfig::default(), || STOP.load(Ordering::Relaxed))?;
/// # Ok::<(), runnel_jobmanager::JobManagerError>(())
/// ```
pub fn run(config: StandaloneConfig, stop: impl Fn() -> bool) -> Result<(), JobManagerError> {
    let mut endpoint = start(config)?;
    while !stop() {
        std::thread::sleep(STOP_POLL);
    }
    log::info!("standalone JobManager on {} stops", endpoint.local_addr());
    endpoint.shutdown();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn loopback() -> RestConfig {
        RestConfig {
            address: "127.0.0.1:0".parse().unwrap(),
            ..RestConfig::default()
        }
    }

    /// Loopback REST and RPC endpoints on free ports.
    fn standalone() -> StandaloneConfig {
        StandaloneConfig {
            rest: loopback(),
            rpc: loopback(),
            ..StandaloneConfig::default()
        }
    }

    #[test]
    fn runs_until_told_to_stop() {
        let asked = AtomicU32::new(0);
        let config = standalone();
        run(config, || asked.fetch_add(1, Ordering::Relaxed) >= 2).unwrap();
        assert_eq!(asked.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn the_cluster_internal_routes_are_served_on_the_rpc_endpoint_only() {
        use runnel_rest::{Method, client};
        let token = |config: RestConfig| RestConfig {
            bearer_token: Some("s3cret".into()),
            ..config
        };
        let mut endpoint = start(StandaloneConfig {
            rest: token(loopback()),
            rpc: token(RestConfig {
                address: loopback().address,
                ..StandaloneConfig::default().rpc
            }),
            ..StandaloneConfig::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let (rest, rpc) = (endpoint.local_addr(), endpoint.rpc_addr().unwrap());
        assert_ne!(rest, rpc);
        let status = |addr, method, path: &str, bearer| {
            client::request(
                addr,
                method,
                path,
                Some(("application/json", b"{}")),
                bearer,
            )
            .unwrap()
            .0
        };
        let with = Some("s3cret");
        let unknown = "0123456789abcdef0123456789abcdef";
        for (method, path) in [
            (Method::Post, "/taskmanagers/tm-1/heartbeat".to_string()),
            (Method::Get, format!("/blobs/{unknown}")),
            (Method::Post, format!("/jobs/{unknown}/attempts/1/status")),
            (Method::Post, format!("/jobs/{unknown}/attempts/1/leader")),
            (Method::Get, format!("/jobs/{unknown}/attempts/1/leader")),
            (
                Method::Post,
                format!("/jobs/{unknown}/attempts/1/savepoints/r"),
            ),
        ] {
            assert_eq!(
                status(rest, method, &path, with),
                404,
                "REST {method} {path}"
            );
            assert_eq!(status(rpc, method, &path, None), 401, "RPC {method} {path}");
            assert_ne!(status(rpc, method, &path, with), 401, "RPC {method} {path}");
        }
        // Registration: 405 on REST (GET /taskmanagers lists them), 400 for
        // this empty body on RPC.
        assert_eq!(status(rest, Method::Post, "/taskmanagers", with), 405);
        assert_eq!(status(rpc, Method::Post, "/taskmanagers", with), 400);
        // The public API stays on REST (POST /taskmanagers makes GET a 405 on RPC).
        for (path, on_rpc) in [
            ("/overview", 404),
            ("/taskmanagers", 405),
            ("/jobs", 404),
            ("/config", 404),
        ] {
            assert_eq!(status(rest, Method::Get, path, with), 200, "REST {path}");
            assert_eq!(status(rpc, Method::Get, path, with), on_rpc, "RPC {path}");
        }
        endpoint.shutdown();
        assert!(client::request(rpc, Method::Get, "/blobs/x", None, with).is_err());
        assert!(client::request(rest, Method::Get, "/config", None, with).is_err());
    }

    #[test]
    fn the_dispatcher_gets_the_restart_cancel_and_blob_settings() {
        let defaults = StandaloneConfig::default().dispatcher_config();
        assert_eq!(
            defaults,
            DispatcherConfig {
                embedded: false,
                ..DispatcherConfig::default()
            }
        );
        assert_eq!(
            (
                defaults.max_restarts,
                defaults.restart_delay,
                defaults.cancel_timeout
            ),
            (3, Duration::from_secs(1), Duration::from_secs(30))
        );
        let config = StandaloneConfig {
            max_restarts: 7,
            restart_delay: Duration::from_millis(250),
            cancel_timeout: Duration::from_secs(5),
            blob_dir: Some(PathBuf::from("/var/blobs")),
            ..StandaloneConfig::default()
        };
        let d = config.dispatcher_config();
        assert_eq!(
            (
                d.max_restarts,
                d.restart_delay,
                d.cancel_timeout,
                d.blob_dir
            ),
            (
                7,
                Duration::from_millis(250),
                Duration::from_secs(5),
                Some(PathBuf::from("/var/blobs"))
            )
        );
    }

    #[test]
    fn refuses_a_timeout_shorter_than_the_interval() {
        let config = StandaloneConfig {
            heartbeat_interval: Duration::from_secs(10),
            heartbeat_timeout: Duration::from_secs(5),
            ..standalone()
        };
        let err = run(config, || true).unwrap_err();
        assert!(
            matches!(&err, JobManagerError::InvalidConfig { reason } if reason.contains("5000 ms")),
            "{err}"
        );
        let zero = StandaloneConfig {
            heartbeat_interval: Duration::ZERO,
            ..standalone()
        };
        assert!(matches!(
            start(zero),
            Err(JobManagerError::InvalidConfig { .. })
        ));
    }
}
