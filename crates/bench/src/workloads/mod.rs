//! The workloads of WORKLOADS.md §4, each as a Runnel job and as its
//! single-threaded "physical limit" loop.

pub mod w1;
pub mod w2;
pub mod w3;
pub mod w4;
pub mod w5;
pub mod w7;

use crate::checksum::Totals;
use runnel::config::StateBackendType;
use runnel::prelude::{CheckpointingMode, Configuration, FaultInjection, RestartStrategyConfig};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A workload of WORKLOADS.md §4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// Stateless map + filter.
    W1,
    /// Keyed running aggregation (key_by + reduce).
    W2,
    /// Event-time tumbling windows (count and max per auction).
    W3,
    /// Sliding windows, hottest auction per window (Nexmark q5-like).
    W4,
    /// Event-time session windows per bidder.
    W5,
    /// Interval join of two streams from one source.
    W7,
}

impl Workload {
    /// The name used in RESULT lines and in §5 (`W1`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Workload::W1 => "W1",
            Workload::W2 => "W2",
            Workload::W3 => "W3",
            Workload::W4 => "W4",
            Workload::W5 => "W5",
            Workload::W7 => "W7",
        }
    }

    /// The default N of WORKLOADS.md §5.
    pub fn default_n(self) -> u64 {
        match self {
            Workload::W1 => 100_000_000,
            Workload::W2 => 10_000_000,
            Workload::W3 => 10_000_000,
            Workload::W4 => 5_000_000,
            Workload::W5 => 2_000_000,
            Workload::W7 => 2_000_000,
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What runs a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// A Runnel job built with the DataStream API.
    Runnel,
    /// The single-threaded loop without a framework (one hash map at most).
    Limit,
}

impl Engine {
    /// The name used in RESULT lines.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Runnel => "runnel",
            Engine::Limit => "limit",
        }
    }
}

/// A workload and the engine that runs it, as named on the command line: `W1`, or
/// `limit-W1` for the limit loop (case-insensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selection {
    /// The engine.
    pub engine: Engine,
    /// The workload.
    pub workload: Workload,
}

impl FromStr for Selection {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let lower = s.trim().to_ascii_lowercase();
        let (engine, name) = match lower.strip_prefix("limit-") {
            Some(rest) => (Engine::Limit, rest),
            None => (Engine::Runnel, lower.as_str()),
        };
        let workload = match name {
            "w1" => Workload::W1,
            "w2" => Workload::W2,
            "w3" => Workload::W3,
            "w4" => Workload::W4,
            "w5" => Workload::W5,
            "w7" => Workload::W7,
            _ => {
                return Err(format!(
                    "unknown workload `{s}`: expected W1, W2, W3, W4, W5, W7, or limit- followed by one of them"
                ));
            }
        };
        Ok(Selection { engine, workload })
    }
}

/// What one run measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measurement {
    /// In-job time (WORKLOADS.md §2).
    pub elapsed: Duration,
    /// Output records and checksum.
    pub totals: Totals,
    /// Restarts after failures, and checkpoints completed.
    pub recovery: Recovery,
}

/// What a run did about failures and checkpoints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Restarts.
    pub restarts: u32,
    /// Checkpoints completed.
    pub checkpoints: u64,
}

impl Recovery {
    /// From a job's result.
    pub fn of(result: &runnel::prelude::JobExecutionResult) -> Self {
        Recovery {
            restarts: result.restarts,
            checkpoints: result.completed_checkpoints,
        }
    }
}

/// How a Runnel workload runs besides N and P: checkpoints, the state backend
/// and injected failures (`--checkpoint-*`, `--state-backend`,
/// `--inject-failures`, `--seed`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunOptions {
    /// Checkpoint interval; `None`: no checkpoints.
    pub checkpoint_interval: Option<Duration>,
    /// `exactly-once`, `at-least-once` or `unaligned`.
    pub checkpoint_mode: CheckpointMode,
    /// Where checkpoints go; `None`: memory.
    pub checkpoint_dir: Option<std::path::PathBuf>,
    /// Incremental checkpoints of LSM state.
    pub incremental_checkpoints: bool,
    /// Where keyed state lives.
    pub state_backend: StateBackendType,
    /// Task failures to inject, at seeded random points.
    pub inject_failures: u32,
    /// The seed of the failure points.
    pub seed: u64,
}

/// The state backend named by `--state-backend`: `heap` (alias `hashmap`) or
/// `lsm` (alias `rocksdb`, which needs the `rocksdb` feature).
pub fn state_backend_from_name(name: &str) -> Result<StateBackendType, String> {
    match name.trim().to_ascii_lowercase().as_str() {
        "heap" | "hashmap" => Ok(StateBackendType::HashMap),
        #[cfg(feature = "rocksdb")]
        "lsm" | "rocksdb" => Ok(StateBackendType::RocksDb(Default::default())),
        #[cfg(not(feature = "rocksdb"))]
        "lsm" | "rocksdb" => Err("the lsm state backend is not available: Runnel was built \
                                  without the `rocksdb` feature (rebuild with `--features rocksdb`)"
            .to_string()),
        other => Err(format!(
            "unknown state backend `{other}`: expected heap or lsm"
        )),
    }
}

/// How barriers are handled (`--checkpoint-mode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CheckpointMode {
    /// Aligned barriers.
    #[default]
    ExactlyOnce,
    /// No alignment.
    AtLeastOnce,
    /// Unaligned barriers.
    Unaligned,
}

impl FromStr for CheckpointMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "exactly-once" | "exactly_once" => Ok(CheckpointMode::ExactlyOnce),
            "at-least-once" | "at_least_once" => Ok(CheckpointMode::AtLeastOnce),
            "unaligned" => Ok(CheckpointMode::Unaligned),
            _ => Err(format!(
                "unknown checkpoint mode `{s}`: expected exactly-once, at-least-once or unaligned"
            )),
        }
    }
}

impl RunOptions {
    /// The job configuration: `fail_operator` is the operator failures are
    /// injected into (the workload's stateful one).
    pub fn configuration(&self, fail_operator: &str, n: u64, parallelism: u32) -> Configuration {
        let mut c = Configuration {
            state_backend: self.state_backend,
            ..Configuration::default()
        };
        c.checkpointing.interval = self.checkpoint_interval;
        c.checkpointing.dir = self.checkpoint_dir.clone();
        c.checkpointing.incremental = self.incremental_checkpoints;
        match self.checkpoint_mode {
            CheckpointMode::ExactlyOnce => {}
            CheckpointMode::AtLeastOnce => c.checkpointing.mode = CheckpointingMode::AtLeastOnce,
            CheckpointMode::Unaligned => c.checkpointing.unaligned = true,
        }
        if self.inject_failures > 0 {
            let mut fault = FaultInjection::new(
                fail_operator,
                (n / u64::from(parallelism.max(1)) / 2).max(1),
            );
            fault.failures = self.inject_failures;
            fault.seed = Some(self.seed);
            fault.subtask = (self.seed % u64::from(parallelism.max(1))) as u32;
            c.fault_injection = Some(fault);
            c.restart_strategy = Some(RestartStrategyConfig::FixedDelay {
                attempts: self.inject_failures,
                delay: Duration::ZERO,
            });
        }
        c
    }
}

/// Runs `selection` over `n` bids; `parallelism` and `options` apply to Runnel
/// jobs only (limit loops are single-threaded).
pub fn run(
    selection: Selection,
    n: u64,
    parallelism: u32,
    options: &RunOptions,
) -> anyhow::Result<Measurement> {
    Ok(match (selection.engine, selection.workload) {
        (Engine::Runnel, Workload::W1) => w1::run_with(n, parallelism, options)?,
        (Engine::Runnel, Workload::W2) => w2::run_with(n, parallelism, options)?,
        (Engine::Runnel, Workload::W3) => w3::run_with(n, parallelism, options)?,
        (Engine::Runnel, Workload::W4) => w4::run_with(n, parallelism, options)?,
        (Engine::Runnel, Workload::W5) => w5::run_with(n, parallelism, options)?,
        (Engine::Runnel, Workload::W7) => w7::run_with(n, parallelism, options)?,
        (Engine::Limit, Workload::W1) => w1::limit(n),
        (Engine::Limit, Workload::W2) => w2::limit(n),
        (Engine::Limit, Workload::W3) => w3::limit(n),
        (Engine::Limit, Workload::W4) => w4::limit(n),
        (Engine::Limit, Workload::W5) => w5::limit(n),
        (Engine::Limit, Workload::W7) => w7::limit(n),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_selections() {
        let s: Selection = "W1".parse().unwrap();
        assert_eq!((s.engine, s.workload), (Engine::Runnel, Workload::W1));
        let s: Selection = "limit-W2".parse().unwrap();
        assert_eq!((s.engine, s.workload), (Engine::Limit, Workload::W2));
        assert!("W9".parse::<Selection>().is_err());
        assert!("limit-".parse::<Selection>().is_err());
    }
}
