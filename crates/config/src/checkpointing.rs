//! Checkpointing settings (`execution.checkpointing.*`) and the restart strategy
//! (`restart-strategy.*`), with Flink's names and defaults.

use crate::values::{parse_bool, parse_duration, parse_float, parse_non_negative, parse_positive};
use std::path::PathBuf;
use std::time::Duration;

/// The consistency a checkpoint gives (`execution.checkpointing.mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CheckpointingMode {
    /// Barriers are aligned: state reflects every record exactly once.
    #[default]
    ExactlyOnce,
    /// Barriers are not aligned: after a restore some records are seen twice.
    AtLeastOnce,
}

/// How and when the job checkpoints.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointingConfig {
    /// `execution.checkpointing.interval`: time between checkpoints; `None`
    /// (the default, or 0) disables checkpointing.
    pub interval: Option<Duration>,
    /// `execution.checkpointing.mode`.
    pub mode: CheckpointingMode,
    /// `execution.checkpointing.timeout`: a checkpoint not complete after this
    /// long is aborted (10 min).
    pub timeout: Duration,
    /// `execution.checkpointing.min-pause`: least time between the end of one
    /// checkpoint and the start of the next (0).
    pub min_pause: Duration,
    /// `execution.checkpointing.max-concurrent-checkpoints` (1).
    pub max_concurrent: u32,
    /// `execution.checkpointing.num-retained`: completed checkpoints kept (1).
    pub num_retained: u32,
    /// `execution.checkpointing.tolerable-failed-checkpoints`: failed checkpoints
    /// in a row before the job fails (0).
    pub tolerable_failures: u32,
    /// `execution.checkpointing.unaligned.enabled` (false).
    pub unaligned: bool,
    /// `execution.checkpointing.aligned-checkpoint-timeout`: with unaligned
    /// checkpoints enabled, a checkpoint starts aligned and switches to unaligned
    /// after this long (0: unaligned from the start).
    pub aligned_timeout: Duration,
    /// `execution.checkpointing.dir`: where checkpoints are written; `None` keeps
    /// them in the memory of the process (Flink's job manager storage).
    pub dir: Option<PathBuf>,
    /// `execution.checkpointing.savepoint-dir`: default savepoint directory.
    pub savepoint_dir: Option<PathBuf>,
    /// `execution.checkpointing.incremental`: the LSM backend uploads only new
    /// files (false).
    pub incremental: bool,
}

impl Default for CheckpointingConfig {
    fn default() -> Self {
        CheckpointingConfig {
            interval: None,
            mode: CheckpointingMode::ExactlyOnce,
            timeout: Duration::from_secs(600),
            min_pause: Duration::ZERO,
            max_concurrent: 1,
            num_retained: 1,
            tolerable_failures: 0,
            unaligned: false,
            aligned_timeout: Duration::ZERO,
            dir: None,
            savepoint_dir: None,
            incremental: false,
        }
    }
}

impl CheckpointingConfig {
    /// Whether checkpoints are taken.
    pub fn is_enabled(&self) -> bool {
        self.interval.is_some()
    }
}

/// What happens after a task fails (`restart-strategy.type`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RestartStrategyConfig {
    /// The job fails with the task.
    None,
    /// Restart up to `attempts` times, waiting `delay` before each.
    FixedDelay {
        /// Restarts allowed.
        attempts: u32,
        /// Wait before a restart.
        delay: Duration,
    },
    /// Restart, unless this failure makes `max_failures` within `interval`.
    FailureRate {
        /// Failures within an interval that fail the job.
        max_failures: u32,
        /// The measuring window.
        interval: Duration,
        /// Wait before a restart.
        delay: Duration,
    },
    /// Restart after a wait that grows with each failure and resets after a
    /// stable period.
    ExponentialDelay {
        /// First wait.
        initial_backoff: Duration,
        /// Largest wait.
        max_backoff: Duration,
        /// Growth per failure.
        multiplier: f64,
        /// Running this long without failure resets the wait.
        reset_threshold: Duration,
        /// Random spread of each wait, as a fraction of it.
        jitter: f64,
        /// Restarts allowed before the wait resets; beyond, the job fails.
        attempts: u32,
    },
}

impl RestartStrategyConfig {
    /// Flink's fixed-delay defaults.
    pub fn fixed_delay_default() -> Self {
        RestartStrategyConfig::FixedDelay {
            attempts: 1,
            delay: Duration::from_secs(1),
        }
    }

    /// Flink's failure-rate defaults.
    pub fn failure_rate_default() -> Self {
        RestartStrategyConfig::FailureRate {
            max_failures: 1,
            interval: Duration::from_secs(60),
            delay: Duration::from_secs(1),
        }
    }

    /// Flink's exponential-delay defaults.
    pub fn exponential_delay_default() -> Self {
        RestartStrategyConfig::ExponentialDelay {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            multiplier: 1.5,
            reset_threshold: Duration::from_secs(3600),
            jitter: 0.1,
            attempts: u32::MAX,
        }
    }

    /// The strategy of a job that configured none: none without checkpointing,
    /// fixed delay (unbounded attempts, 1 s) with it.
    pub fn default_for(checkpointing: &CheckpointingConfig) -> Self {
        if checkpointing.is_enabled() {
            RestartStrategyConfig::FixedDelay {
                attempts: u32::MAX,
                delay: Duration::from_secs(1),
            }
        } else {
            RestartStrategyConfig::None
        }
    }
}

/// Parses a key of this module into `ckpt` / `restart`; `None` if the key is
/// not one of them, `Some(Err(expected))` for a bad value.
pub(crate) fn parse(
    key: &str,
    v: &str,
    ckpt: &mut CheckpointingConfig,
    restart: &mut Option<RestartStrategyConfig>,
) -> Option<Result<(), &'static str>> {
    const DURATION: &str = "a duration such as `100 ms` or `5 s`";
    let duration = || parse_duration(v).ok_or(DURATION);
    let result = match key {
        "execution.checkpointing.interval" => {
            duration().map(|d| ckpt.interval = (!d.is_zero()).then_some(d))
        }
        "execution.checkpointing.mode" => match normalise(v).as_str() {
            "exactlyonce" => set(&mut ckpt.mode, CheckpointingMode::ExactlyOnce),
            "atleastonce" => set(&mut ckpt.mode, CheckpointingMode::AtLeastOnce),
            _ => Err("`EXACTLY_ONCE` or `AT_LEAST_ONCE`"),
        },
        "execution.checkpointing.timeout" => duration()
            .and_then(|d| (!d.is_zero()).then_some(d).ok_or("a positive duration"))
            .map(|d| ckpt.timeout = d),
        "execution.checkpointing.min-pause" => duration().map(|d| ckpt.min_pause = d),
        "execution.checkpointing.max-concurrent-checkpoints" => parse_positive(v)
            .ok_or("a positive integer")
            .map(|n| ckpt.max_concurrent = n),
        "execution.checkpointing.num-retained" => parse_positive(v)
            .ok_or("a positive integer")
            .map(|n| ckpt.num_retained = n),
        "execution.checkpointing.tolerable-failed-checkpoints" => parse_non_negative(v)
            .ok_or("a non-negative integer")
            .map(|n| ckpt.tolerable_failures = n),
        "execution.checkpointing.unaligned.enabled" => parse_bool(v)
            .ok_or("true or false")
            .map(|b| ckpt.unaligned = b),
        "execution.checkpointing.aligned-checkpoint-timeout" => {
            duration().map(|d| ckpt.aligned_timeout = d)
        }
        "execution.checkpointing.dir" => set(&mut ckpt.dir, path(v)),
        "execution.checkpointing.savepoint-dir" => set(&mut ckpt.savepoint_dir, path(v)),
        "execution.checkpointing.incremental" => parse_bool(v)
            .ok_or("true or false")
            .map(|b| ckpt.incremental = b),
        "restart-strategy.type" => match normalise(v).as_str() {
            "none" | "off" | "disable" => set(restart, Some(RestartStrategyConfig::None)),
            "fixeddelay" => merge(restart, RestartStrategyConfig::fixed_delay_default()),
            "failurerate" => merge(restart, RestartStrategyConfig::failure_rate_default()),
            "exponentialdelay" => {
                merge(restart, RestartStrategyConfig::exponential_delay_default())
            }
            _ => Err("`none`, `fixed-delay`, `failure-rate` or `exponential-delay`"),
        },
        k if k.starts_with("restart-strategy.") => parse_restart_parameter(k, v, restart),
        _ => return None,
    };
    Some(result)
}

/// A strategy's parameter: it applies to that strategy, which a `type` key (in
/// any order) must select; parameters of other strategies are kept for it.
fn parse_restart_parameter(
    key: &str,
    v: &str,
    restart: &mut Option<RestartStrategyConfig>,
) -> Result<(), &'static str> {
    use RestartStrategyConfig as R;
    const DURATION: &str = "a duration such as `100 ms` or `5 s`";
    let pending = restart.get_or_insert_with(|| match key.split('.').nth(1) {
        Some("failure-rate") => R::failure_rate_default(),
        Some("exponential-delay") => R::exponential_delay_default(),
        _ => R::fixed_delay_default(),
    });
    match (key, pending) {
        ("restart-strategy.fixed-delay.attempts", R::FixedDelay { attempts, .. }) => {
            *attempts = parse_positive(v).ok_or("a positive integer")?
        }
        ("restart-strategy.fixed-delay.delay", R::FixedDelay { delay, .. }) => {
            *delay = parse_duration(v).ok_or(DURATION)?
        }
        (
            "restart-strategy.failure-rate.max-failures-per-interval",
            R::FailureRate { max_failures, .. },
        ) => *max_failures = parse_positive(v).ok_or("a positive integer")?,
        (
            "restart-strategy.failure-rate.failure-rate-interval",
            R::FailureRate { interval, .. },
        ) => *interval = parse_duration(v).ok_or(DURATION)?,
        ("restart-strategy.failure-rate.delay", R::FailureRate { delay, .. }) => {
            *delay = parse_duration(v).ok_or(DURATION)?
        }
        (
            "restart-strategy.exponential-delay.initial-backoff",
            R::ExponentialDelay {
                initial_backoff, ..
            },
        ) => *initial_backoff = parse_duration(v).ok_or(DURATION)?,
        (
            "restart-strategy.exponential-delay.max-backoff",
            R::ExponentialDelay { max_backoff, .. },
        ) => *max_backoff = parse_duration(v).ok_or(DURATION)?,
        (
            "restart-strategy.exponential-delay.backoff-multiplier",
            R::ExponentialDelay { multiplier, .. },
        ) => *multiplier = parse_float(v).filter(|m| *m >= 1.0).ok_or("a number ≥ 1")?,
        (
            "restart-strategy.exponential-delay.reset-backoff-threshold",
            R::ExponentialDelay {
                reset_threshold, ..
            },
        ) => *reset_threshold = parse_duration(v).ok_or(DURATION)?,
        (
            "restart-strategy.exponential-delay.jitter-factor",
            R::ExponentialDelay { jitter, .. },
        ) => {
            *jitter = parse_float(v)
                .filter(|j| (0.0..=1.0).contains(j))
                .ok_or("a number from 0 to 1")?
        }
        (
            "restart-strategy.exponential-delay.attempts-before-reset-backoff",
            R::ExponentialDelay { attempts, .. },
        ) => *attempts = parse_positive(v).ok_or("a positive integer")?,
        _ => return Err("a parameter of the strategy that `restart-strategy.type` selects"),
    }
    Ok(())
}

/// Selects `strategy` unless parameters already selected the same kind (keeping
/// them).
fn merge(
    restart: &mut Option<RestartStrategyConfig>,
    strategy: RestartStrategyConfig,
) -> Result<(), &'static str> {
    let same = restart
        .as_ref()
        .is_some_and(|r| std::mem::discriminant(r) == std::mem::discriminant(&strategy));
    if !same {
        *restart = Some(strategy);
    }
    Ok(())
}

fn set<T>(slot: &mut T, value: T) -> Result<(), &'static str> {
    *slot = value;
    Ok(())
}

fn normalise(v: &str) -> String {
    v.trim()
        .chars()
        .filter(|c| !matches!(c, '_' | '-' | ' '))
        .collect::<String>()
        .to_ascii_lowercase()
}

fn path(v: &str) -> Option<PathBuf> {
    let v = v.trim();
    let v = v.strip_prefix("file://").unwrap_or(v);
    (!v.is_empty()).then(|| PathBuf::from(v))
}
