//! The standalone cluster's processes (`jobmanager.rpc.*`, `heartbeat.*`,
//! `taskmanager.numberOfTaskSlots`, `cluster.evenly-spread-out-slots`,
//! `task.cancellation.timeout`, `blob.storage.directory`, Flink's keys), and
//! how the JobManager reads `restart-strategy.*` for the jobs it restarts.

use crate::values::{parse_bool, parse_duration, parse_positive};
use crate::{Configuration, RestartStrategyConfig};
use std::path::PathBuf;
use std::time::Duration;

/// How the JobManager and TaskManagers of a standalone cluster keep in touch,
/// and how the JobManager treats the jobs submitted to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// `jobmanager.rpc.address`: where the JobManager's RPC endpoint (the
    /// TaskManagers' and job processes' side) listens, and where TaskManagers
    /// reach it (`127.0.0.1`: any other address is an explicit choice, as for
    /// `rest.bind-address`).
    pub rpc_address: String,
    /// `jobmanager.rpc.port`: the RPC endpoint's port (6123; 0 picks a free
    /// one).
    pub rpc_port: u16,
    /// `heartbeat.interval`: how often a TaskManager heartbeats (10 s).
    pub heartbeat_interval: Duration,
    /// `heartbeat.timeout`: how long a TaskManager may be silent before the
    /// JobManager declares it lost (50 s).
    pub heartbeat_timeout: Duration,
    /// `taskmanager.numberOfTaskSlots`: slots a TaskManager offers (1).
    pub taskmanager_slots: u32,
    /// `cluster.evenly-spread-out-slots`: the JobManager takes a job's slots
    /// round-robin from the TaskManagers with the most free slots instead of
    /// filling one TaskManager after the other (false).
    pub evenly_spread_out_slots: bool,
    /// `task.cancellation.timeout`: how long the processes of a cancelled job
    /// have to exit on their own before the JobManager has them killed
    /// (30 s).
    pub cancellation_timeout: Duration,
    /// `blob.storage.directory`: where the JobManager keeps submitted job
    /// binaries; `None` (the default) keeps them in its memory.
    pub blob_dir: Option<PathBuf>,
    /// `process.taskmanager.working-dir`: where a TaskManager caches job
    /// binaries and writes its attempts' logs; `None` (the default): a fresh
    /// temporary directory removed when it stops.
    pub taskmanager_working_dir: Option<PathBuf>,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            rpc_address: "127.0.0.1".to_string(),
            rpc_port: DEFAULT_RPC_PORT,
            heartbeat_interval: Duration::from_secs(10),
            heartbeat_timeout: Duration::from_secs(50),
            taskmanager_slots: 1,
            evenly_spread_out_slots: false,
            cancellation_timeout: Duration::from_secs(30),
            blob_dir: None,
            taskmanager_working_dir: None,
        }
    }
}

/// Flink's default `jobmanager.rpc.port`.
const DEFAULT_RPC_PORT: u16 = 6123;

/// How often and how soon the standalone JobManager restarts a job whose
/// attempt failed when the file sets no `restart-strategy.*` key: 3 times,
/// 1 s apart.
pub const DEFAULT_CLUSTER_JOB_RESTARTS: (u32, Duration) = (3, Duration::from_secs(1));

impl Configuration {
    /// How the standalone JobManager restarts a job whose attempt failed, as
    /// `(most restarts, delay before each)`: `restart-strategy.fixed-delay.attempts`
    /// and `.delay` (the keys, syntax and defaults of a job's fixed-delay
    /// strategy), no restart for `restart-strategy.type: none`, and
    /// [`DEFAULT_CLUSTER_JOB_RESTARTS`] when no `restart-strategy.*` key is
    /// set. The JobManager restarts with a fixed delay only: the
    /// `failure-rate` and `exponential-delay` strategies are an error that
    /// names `restart-strategy.type`.
    pub fn cluster_job_restarts(&self) -> Result<(u32, Duration), String> {
        match self.restart_strategy {
            None => Ok(DEFAULT_CLUSTER_JOB_RESTARTS),
            Some(RestartStrategyConfig::None) => Ok((0, Duration::ZERO)),
            Some(RestartStrategyConfig::FixedDelay { attempts, delay }) => Ok((attempts, delay)),
            Some(other) => {
                let name = match other {
                    RestartStrategyConfig::FailureRate { .. } => "failure-rate",
                    _ => "exponential-delay",
                };
                Err(format!(
                    "`restart-strategy.type` is `{name}`, but the JobManager restarts jobs \
                     with `fixed-delay` (restart-strategy.fixed-delay.attempts, \
                     restart-strategy.fixed-delay.delay) or not at all (`none`)"
                ))
            }
        }
    }
}

/// Parses a cluster key into `cluster`; `None` if the key is not one of them,
/// `Some(Err(expected))` for a bad value.
pub(crate) fn parse(
    key: &str,
    v: &str,
    cluster: &mut ClusterConfig,
) -> Option<Result<(), &'static str>> {
    let duration = || {
        parse_duration(v)
            .filter(|d| !d.is_zero())
            .ok_or("a positive duration (e.g. 10 s)")
    };
    let result = match key {
        "jobmanager.rpc.address" => {
            let v = v.trim();
            if v.is_empty() || v.contains(char::is_whitespace) {
                Err("an IP address or host name")
            } else {
                cluster.rpc_address = v.to_string();
                Ok(())
            }
        }
        "jobmanager.rpc.port" => v
            .trim()
            .parse::<u16>()
            .map(|p| cluster.rpc_port = p)
            .map_err(|_| "a port number from 0 to 65535"),
        "heartbeat.interval" => duration().map(|d| cluster.heartbeat_interval = d),
        "heartbeat.timeout" => duration().map(|d| cluster.heartbeat_timeout = d),
        "taskmanager.numberOfTaskSlots" => parse_positive(v)
            .ok_or("a positive integer")
            .map(|n| cluster.taskmanager_slots = n),
        "cluster.evenly-spread-out-slots" => parse_bool(v)
            .ok_or("true or false")
            .map(|b| cluster.evenly_spread_out_slots = b),
        "task.cancellation.timeout" => duration().map(|d| cluster.cancellation_timeout = d),
        "blob.storage.directory" => directory(v).map(|d| cluster.blob_dir = Some(d)),
        "process.taskmanager.working-dir" => {
            directory(v).map(|d| cluster.taskmanager_working_dir = Some(d))
        }
        _ => return None,
    };
    Some(result)
}

/// A directory value (`file://` allowed).
fn directory(v: &str) -> Result<PathBuf, &'static str> {
    let v = v.trim();
    let v = v.strip_prefix("file://").unwrap_or(v);
    if v.is_empty() {
        Err("a directory")
    } else {
        Ok(PathBuf::from(v))
    }
}

#[cfg(test)]
mod tests {
    use super::DEFAULT_CLUSTER_JOB_RESTARTS;
    use crate::Configuration;
    use std::path::PathBuf;
    use std::time::Duration;

    #[test]
    fn cluster_keys_parse() {
        let c = Configuration::from_yaml_str(
            "heartbeat.interval: 500 ms\nheartbeat.timeout: 2 s\ntaskmanager.numberOfTaskSlots: 4\n",
            "test",
        )
        .unwrap();
        assert_eq!(c.cluster.heartbeat_interval, Duration::from_millis(500));
        assert_eq!(c.cluster.heartbeat_timeout, Duration::from_secs(2));
        assert_eq!(c.cluster.taskmanager_slots, 4);
        assert!(!c.cluster.evenly_spread_out_slots);
        assert_eq!(
            (c.cluster.rpc_address.as_str(), c.cluster.rpc_port),
            ("127.0.0.1", 6123)
        );
        let rpc = Configuration::from_yaml_str(
            "jobmanager.rpc.address: 10.0.0.2\njobmanager.rpc.port: 0\n",
            "t",
        )
        .unwrap();
        assert_eq!(
            (rpc.cluster.rpc_address.as_str(), rpc.cluster.rpc_port),
            ("10.0.0.2", 0)
        );
        let spread =
            Configuration::from_yaml_str("cluster.evenly-spread-out-slots: true\n", "t").unwrap();
        assert!(spread.cluster.evenly_spread_out_slots);
        let err = Configuration::from_yaml_str("heartbeat.timeout: 0 s\n", "c.yaml").unwrap_err();
        assert!(err.to_string().contains("c.yaml:1"), "{err}");
    }

    #[test]
    fn the_jobmanager_keys_parse_with_their_defaults() {
        let none = Configuration::default();
        assert_eq!(none.cluster.cancellation_timeout, Duration::from_secs(30));
        assert_eq!(none.cluster.blob_dir, None);
        assert_eq!(
            none.cluster_job_restarts(),
            Ok(DEFAULT_CLUSTER_JOB_RESTARTS)
        );
        assert_eq!(DEFAULT_CLUSTER_JOB_RESTARTS, (3, Duration::from_secs(1)));

        let c = Configuration::from_yaml_str(
            "restart-strategy.fixed-delay.attempts: 5\n\
             restart-strategy.fixed-delay.delay: 250 ms\n\
             task.cancellation.timeout: 3 min\n\
             blob.storage.directory: /var/lib/runnel/blobs\n\
             process.taskmanager.working-dir: file:///var/lib/runnel/tm\n",
            "jm.yaml",
        )
        .unwrap();
        assert_eq!(
            c.cluster.taskmanager_working_dir,
            Some(PathBuf::from("/var/lib/runnel/tm"))
        );
        assert_eq!(none.cluster.taskmanager_working_dir, None);
        assert_eq!(
            c.cluster_job_restarts(),
            Ok((5, Duration::from_millis(250)))
        );
        assert_eq!(c.cluster.cancellation_timeout, Duration::from_secs(180));
        assert_eq!(
            c.cluster.blob_dir,
            Some(PathBuf::from("/var/lib/runnel/blobs"))
        );
        // Flink writes the timeout in ms; a bare number is ms here too.
        let flink = Configuration::from_yaml_str(
            "task.cancellation.timeout: 180000\nblob.storage.directory: file:///tmp/b\n\
             restart-strategy.type: fixed-delay\nrestart-strategy.fixed-delay.delay: 0 s\n",
            "t",
        )
        .unwrap();
        assert_eq!(flink.cluster.cancellation_timeout, Duration::from_secs(180));
        assert_eq!(flink.cluster.blob_dir, Some(PathBuf::from("/tmp/b")));
        assert_eq!(
            flink.cluster_job_restarts(),
            Ok((1, Duration::ZERO)),
            "fixed-delay's own default: one attempt"
        );
        let off = Configuration::from_yaml_str("restart-strategy.type: none\n", "t").unwrap();
        assert_eq!(off.cluster_job_restarts(), Ok((0, Duration::ZERO)));
    }

    #[test]
    fn bad_jobmanager_values_name_the_key() {
        for (text, key, expected) in [
            (
                "restart-strategy.fixed-delay.attempts: 0",
                "restart-strategy.fixed-delay.attempts",
                "a positive integer",
            ),
            (
                "restart-strategy.fixed-delay.attempts: many",
                "restart-strategy.fixed-delay.attempts",
                "a positive integer",
            ),
            (
                "restart-strategy.fixed-delay.delay: soon",
                "restart-strategy.fixed-delay.delay",
                "a duration",
            ),
            (
                "task.cancellation.timeout: 0",
                "task.cancellation.timeout",
                "a positive duration",
            ),
            (
                "task.cancellation.timeout: -5 s",
                "task.cancellation.timeout",
                "a positive duration",
            ),
            (
                "jobmanager.rpc.port: 70000",
                "jobmanager.rpc.port",
                "a port number",
            ),
            (
                "jobmanager.rpc.address: ''",
                "jobmanager.rpc.address",
                "an IP address",
            ),
            (
                "blob.storage.directory: ''",
                "blob.storage.directory",
                "a directory",
            ),
        ] {
            let err = Configuration::from_yaml_str(text, "jm.yaml").unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains("jm.yaml:1"), "{msg}");
            assert!(msg.contains(key), "{msg}");
            assert!(msg.contains(expected), "{msg}");
        }
        for strategy in ["failure-rate", "exponential-delay"] {
            let c =
                Configuration::from_yaml_str(&format!("restart-strategy.type: {strategy}\n"), "t")
                    .unwrap();
            let err = c.cluster_job_restarts().unwrap_err();
            assert!(err.contains("`restart-strategy.type`"), "{err}");
            assert!(err.contains(strategy), "{err}");
        }
    }
}
