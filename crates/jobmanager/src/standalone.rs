//! A standalone JobManager (SPEC A4): a process that runs no job itself and
//! serves the REST API, the web UI and the TaskManager protocol, so that
//! TaskManager processes (`runnel-taskmanager`) register with it, heartbeat,
//! and are declared lost when they fall silent.
//!
//! Job binaries submitted to it (`POST /jobs`) run on the TaskManagers' slots
//! (`docs/design/cluster-jobs.md`). The `runnel jobmanager` command runs
//! [`run`].

use crate::resource_manager::{DEFAULT_HEARTBEAT_INTERVAL, DEFAULT_HEARTBEAT_TIMEOUT};
use crate::{Dispatcher, DispatcherConfig, JobManagerEndpoint, JobManagerError};
use runnel_rest::RestConfig;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

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
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandaloneConfig {
    /// Where the REST API, the web UI and the TaskManager protocol are served
    /// (`rest.address`, `rest.port`; a bearer token also guards registration).
    pub rest: RestConfig,
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
/// bound address, also for port 0). It runs until shut down or dropped.
///
/// Fails with [`JobManagerError::InvalidConfig`] for unusable heartbeat
/// settings, or as [`JobManagerEndpoint::start`] does.
pub fn start(config: StandaloneConfig) -> Result<JobManagerEndpoint, JobManagerError> {
    let dispatcher_config = config.dispatcher_config();
    dispatcher_config.validate()?;
    let endpoint = JobManagerEndpoint::start(
        config.rest,
        Arc::new(Dispatcher::with_config(dispatcher_config)),
    )?;
    log::info!(
        "standalone JobManager on http://{}: TaskManagers register at POST /taskmanagers \
         (heartbeat interval {} ms, timeout {} ms); a failed job restarts at most {} times, \
         {} ms after the failure; a cancelled job's processes are killed after {} ms",
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

    #[test]
    fn runs_until_told_to_stop() {
        let asked = AtomicU32::new(0);
        let config = StandaloneConfig {
            rest: loopback(),
            ..StandaloneConfig::default()
        };
        run(config, || asked.fetch_add(1, Ordering::Relaxed) >= 2).unwrap();
        assert_eq!(asked.load(Ordering::Relaxed), 3);
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
            rest: loopback(),
            heartbeat_interval: Duration::from_secs(10),
            heartbeat_timeout: Duration::from_secs(5),
            ..StandaloneConfig::default()
        };
        let err = run(config, || true).unwrap_err();
        assert!(
            matches!(&err, JobManagerError::InvalidConfig { reason } if reason.contains("5000 ms")),
            "{err}"
        );
        let zero = StandaloneConfig {
            rest: loopback(),
            heartbeat_interval: Duration::ZERO,
            ..StandaloneConfig::default()
        };
        assert!(matches!(
            start(zero),
            Err(JobManagerError::InvalidConfig { .. })
        ));
    }
}
