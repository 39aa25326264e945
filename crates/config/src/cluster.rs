//! The standalone cluster's processes (`heartbeat.*`,
//! `taskmanager.numberOfTaskSlots`, `cluster.evenly-spread-out-slots`,
//! Flink's keys).

use crate::values::{parse_bool, parse_duration, parse_positive};
use std::time::Duration;

/// How the JobManager and TaskManagers of a standalone cluster keep in touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterConfig {
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
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            heartbeat_interval: Duration::from_secs(10),
            heartbeat_timeout: Duration::from_secs(50),
            taskmanager_slots: 1,
            evenly_spread_out_slots: false,
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
        "heartbeat.interval" => duration().map(|d| cluster.heartbeat_interval = d),
        "heartbeat.timeout" => duration().map(|d| cluster.heartbeat_timeout = d),
        "taskmanager.numberOfTaskSlots" => parse_positive(v)
            .ok_or("a positive integer")
            .map(|n| cluster.taskmanager_slots = n),
        "cluster.evenly-spread-out-slots" => parse_bool(v)
            .ok_or("true or false")
            .map(|b| cluster.evenly_spread_out_slots = b),
        _ => return None,
    };
    Some(result)
}

#[cfg(test)]
mod tests {
    use crate::Configuration;
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
        let spread =
            Configuration::from_yaml_str("cluster.evenly-spread-out-slots: true\n", "t").unwrap();
        assert!(spread.cluster.evenly_spread_out_slots);
        let err = Configuration::from_yaml_str("heartbeat.timeout: 0 s\n", "c.yaml").unwrap_err();
        assert!(err.to_string().contains("c.yaml:1"), "{err}");
    }
}
