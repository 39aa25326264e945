//! Checkpointing settings on the environment (Flink's `enableCheckpointing` and
//! `CheckpointConfig`), and the restart strategy.

use crate::environment::StreamExecutionEnvironment;
use runnel_config::{CheckpointingMode, FaultInjection, RestartStrategyConfig};
use std::path::PathBuf;
use std::time::Duration;

impl StreamExecutionEnvironment {
    /// Takes a checkpoint every `interval` (exactly-once, aligned barriers). With
    /// checkpoints, a failed job restarts from the latest one (fixed delay,
    /// unlimited attempts, unless a restart strategy is set).
    pub fn enable_checkpointing(&self, interval: Duration) -> &Self {
        self.update_config(|c| {
            c.checkpointing.interval = (!interval.is_zero()).then_some(interval)
        });
        self
    }

    /// Takes a checkpoint every `interval` with `mode`.
    pub fn enable_checkpointing_with_mode(
        &self,
        interval: Duration,
        mode: CheckpointingMode,
    ) -> &Self {
        self.enable_checkpointing(interval);
        self.update_config(|c| c.checkpointing.mode = mode);
        self
    }

    /// The checkpoint settings of this job, to change.
    pub fn checkpoint_config(&self) -> CheckpointConfig {
        CheckpointConfig { env: self.clone() }
    }

    /// What happens after a failure (overrides `restart-strategy.*`).
    pub fn set_restart_strategy(&self, strategy: RestartStrategyConfig) -> &Self {
        self.update_config(|c| c.restart_strategy = Some(strategy));
        self
    }

    /// Makes an operator fail on purpose, to test recovery (overrides
    /// `execution.fault-injection.*`; `None` removes the fault).
    pub fn set_fault_injection(&self, fault: Option<FaultInjection>) -> &Self {
        self.update_config(|c| c.fault_injection = fault);
        self
    }
}

/// The checkpoint settings of a job (Flink's `CheckpointConfig`); each setter
/// overrides the matching `execution.checkpointing.*` key.
#[derive(Clone)]
pub struct CheckpointConfig {
    env: StreamExecutionEnvironment,
}

impl CheckpointConfig {
    fn set(&self, f: impl FnOnce(&mut runnel_config::CheckpointingConfig)) -> &Self {
        self.env.update_config(|c| f(&mut c.checkpointing));
        self
    }

    /// Exactly-once (aligned barriers) or at-least-once.
    pub fn set_checkpointing_mode(&self, mode: CheckpointingMode) -> &Self {
        self.set(|c| c.mode = mode)
    }

    /// A checkpoint not complete after `timeout` is aborted.
    pub fn set_checkpoint_timeout(&self, timeout: Duration) -> &Self {
        self.set(|c| c.timeout = timeout.max(Duration::from_millis(1)))
    }

    /// Least time between the end of a checkpoint and the start of the next.
    pub fn set_min_pause_between_checkpoints(&self, pause: Duration) -> &Self {
        self.set(|c| c.min_pause = pause)
    }

    /// Checkpoints that may be in progress at once.
    pub fn set_max_concurrent_checkpoints(&self, n: u32) -> &Self {
        self.set(|c| c.max_concurrent = n.max(1))
    }

    /// Failed checkpoints in a row tolerated before the job fails.
    pub fn set_tolerable_checkpoint_failure_number(&self, n: u32) -> &Self {
        self.set(|c| c.tolerable_failures = n)
    }

    /// Completed checkpoints kept.
    pub fn set_num_retained_checkpoints(&self, n: u32) -> &Self {
        self.set(|c| c.num_retained = n.max(1))
    }

    /// Unaligned checkpoints: barriers overtake buffered records.
    pub fn enable_unaligned_checkpoints(&self, enabled: bool) -> &Self {
        self.set(|c| c.unaligned = enabled)
    }

    /// With unaligned checkpoints: start aligned, switch after `timeout`.
    pub fn set_aligned_checkpoint_timeout(&self, timeout: Duration) -> &Self {
        self.set(|c| c.aligned_timeout = timeout)
    }

    /// Where checkpoints are written (a directory); unset keeps them in memory.
    pub fn set_checkpoint_storage(&self, dir: impl Into<PathBuf>) -> &Self {
        let dir = dir.into();
        self.set(|c| c.dir = Some(dir))
    }

    /// Incremental checkpoints of keyed state on the LSM backend
    /// (`execution.checkpointing.incremental`): each checkpoint uploads only
    /// the RocksDB files no retained checkpoint has. Savepoints stay full.
    pub fn enable_incremental_checkpoints(&self, enabled: bool) -> &Self {
        self.set(|c| c.incremental = enabled)
    }

    /// The default directory of savepoints.
    pub fn set_savepoint_dir(&self, dir: impl Into<PathBuf>) -> &Self {
        let dir = dir.into();
        self.set(|c| c.savepoint_dir = Some(dir))
    }
}
