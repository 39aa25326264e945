//! Configuration: the keys of Runnel's `config.yaml`, their types and defaults.
//!
//! A [`Configuration`] is a plain value: it is loaded once (from a file named by the
//! `--config` flag or the `RUNNEL_CONFIG` / `RUNNEL_CONF_DIR` environment variables)
//! and passed down explicitly; nothing reads configuration from a global. Keys follow
//! Flink's names where Flink has one. The file may be flat (`parallelism.default: 4`)
//! or nested (`parallelism: {default: 4}`). Unknown keys and ill-typed values are
//! errors that name the file, the line and the key.

mod checkpointing;
mod cluster;
mod error;
mod fault;
mod options;
mod rest;
mod s3;
mod values;
mod yaml;

pub use checkpointing::{CheckpointingConfig, CheckpointingMode, RestartStrategyConfig};
pub use cluster::ClusterConfig;
pub use error::ConfigError;
pub use fault::FaultInjection;
pub use options::{ConfigOption, OPTIONS, ValueKind};
pub use rest::RestConfig;
pub use s3::S3Config;
pub use values::{BufferTimeout, parse_duration, parse_memory_size};

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Environment variable naming the configuration file.
pub const ENV_CONFIG_FILE: &str = "RUNNEL_CONFIG";
/// Environment variable naming a directory holding `config.yaml`.
pub const ENV_CONF_DIR: &str = "RUNNEL_CONF_DIR";
/// File name looked up inside `RUNNEL_CONF_DIR`.
pub const CONFIG_FILE_NAME: &str = "config.yaml";

/// Every configurable setting, with Flink's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Configuration {
    /// `parallelism.default`: parallelism of operators that set none (1).
    pub default_parallelism: u32,
    /// `pipeline.max-parallelism`: number of key groups; `None` derives it from the
    /// parallelism as Flink does (at least 128).
    pub max_parallelism: Option<u32>,
    /// `execution.buffer-timeout.interval` / `.enabled`: when partly filled network
    /// buffers are flushed (100 ms).
    pub buffer_timeout: BufferTimeout,
    /// `taskmanager.memory.segment-size`: size of a network buffer in bytes (32 KiB).
    pub segment_size: usize,
    /// `taskmanager.network.memory.buffers-per-channel`: buffers reserved for each
    /// channel between two subtasks (2).
    pub buffers_per_channel: u32,
    /// `taskmanager.network.memory.floating-buffers-per-gate`: extra buffers shared by
    /// the channels of one input (8).
    pub floating_buffers_per_gate: u32,
    /// `pipeline.operator-chaining.enabled`: whether operators are chained (true).
    pub operator_chaining: bool,
    /// `pipeline.auto-watermark-interval`: period of periodic watermark emission
    /// (200 ms; zero disables).
    pub auto_watermark_interval: Duration,
    /// `state.backend.type`: where keyed state lives (`hashmap`: in memory;
    /// `rocksdb`: on local disk, with the `rocksdb` feature).
    pub state_backend: StateBackendType,
    /// `execution.checkpointing.*`: checkpoints (disabled by default).
    pub checkpointing: CheckpointingConfig,
    /// `restart-strategy.*`: what happens after a failure; `None` uses
    /// [`RestartStrategyConfig::default_for`] the checkpointing settings.
    pub restart_strategy: Option<RestartStrategyConfig>,
    /// `execution.fault-injection.*`: a failure to inject, for testing recovery.
    pub fault_injection: Option<FaultInjection>,
    /// `s3.*`: how `s3://` checkpoint and savepoint directories are reached.
    pub s3: S3Config,
    /// `rest.*`: the REST API and web UI.
    pub rest: RestConfig,
    /// `jobmanager.rpc.*`, `heartbeat.*`, `taskmanager.numberOfTaskSlots`, …:
    /// the standalone cluster.
    pub cluster: ClusterConfig,
}

/// The keyed state backend (`state.backend.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StateBackendType {
    /// State as objects in hash maps on the heap (Flink's `hashmap`).
    #[default]
    HashMap,
    /// State serialized in an embedded RocksDB instance on local disk (Flink's
    /// `rocksdb`, alias `lsm`); needs Runnel built with the `rocksdb` feature.
    RocksDb(RocksDbOptions),
}

/// The settings of the `rocksdb` state backend (`state.backend.rocksdb.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RocksDbOptions {
    /// `state.backend.rocksdb.localdir`: the working directory the instances'
    /// directories are created in (default: the system's temporary directory).
    /// Leaked once per parsed configuration so that the options stay `Copy`.
    pub local_dir: Option<&'static Path>,
    /// `state.backend.rocksdb.memory.fixed-per-slot`: the memory budget of one
    /// keyed operator subtask's instance, in bytes (64 MiB): half memtables, half
    /// block cache.
    pub memory_budget: usize,
}

impl Default for RocksDbOptions {
    fn default() -> Self {
        RocksDbOptions {
            local_dir: None,
            memory_budget: 64 * 1024 * 1024,
        }
    }
}

impl Default for Configuration {
    fn default() -> Self {
        Configuration {
            default_parallelism: 1,
            max_parallelism: None,
            buffer_timeout: BufferTimeout::Interval(Duration::from_millis(100)),
            segment_size: 32 * 1024,
            buffers_per_channel: 2,
            floating_buffers_per_gate: 8,
            operator_chaining: true,
            auto_watermark_interval: Duration::from_millis(200),
            state_backend: StateBackendType::HashMap,
            checkpointing: CheckpointingConfig::default(),
            restart_strategy: None,
            fault_injection: None,
            s3: S3Config::default(),
            rest: RestConfig::default(),
            cluster: ClusterConfig::default(),
        }
    }
}

impl Configuration {
    /// The restart strategy in effect: the configured one, or the default for
    /// the checkpointing settings.
    pub fn effective_restart_strategy(&self) -> RestartStrategyConfig {
        self.restart_strategy
            .unwrap_or_else(|| RestartStrategyConfig::default_for(&self.checkpointing))
    }

    /// Parses YAML text; `origin` names it in errors (usually the file path).
    pub fn from_yaml_str(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let entries = yaml::flatten(text, origin)?;
        let mut config = Configuration::default();
        let mut buffer_timeout_interval = None;
        let mut buffer_timeout_enabled = None;
        let mut rocksdb = RocksDbOptions::default();
        for entry in entries {
            let option = options::find(&entry.key).ok_or_else(|| ConfigError::UnknownKey {
                origin: origin.to_string(),
                line: entry.line,
                key: entry.key.clone(),
                suggestion: options::closest(&entry.key).map(str::to_string),
            })?;
            let bad = |expected: &str| ConfigError::InvalidValue {
                origin: origin.to_string(),
                line: entry.line,
                key: entry.key.clone(),
                value: entry.value.clone(),
                expected: expected.to_string(),
            };
            let v = entry.value.as_str();
            let parsed = checkpointing::parse(
                option.key,
                v,
                &mut config.checkpointing,
                &mut config.restart_strategy,
            )
            .or_else(|| fault::parse(option.key, v, &mut config.fault_injection))
            .or_else(|| s3::parse(option.key, v, &mut config.s3))
            .or_else(|| rest::parse(option.key, v, &mut config.rest))
            .or_else(|| cluster::parse(option.key, v, &mut config.cluster));
            if let Some(result) = parsed {
                result.map_err(bad)?;
                continue;
            }
            match option.key {
                "parallelism.default" => {
                    config.default_parallelism =
                        values::parse_positive(v).ok_or_else(|| bad(option.kind.describe()))?
                }
                "pipeline.max-parallelism" => {
                    let p = values::parse_positive(v)
                        .filter(|p| *p <= runnel_max_parallelism())
                        .ok_or_else(|| bad("an integer from 1 to 32768"))?;
                    config.max_parallelism = Some(p);
                }
                "execution.buffer-timeout.interval" => {
                    buffer_timeout_interval =
                        Some(parse_duration(v).ok_or_else(|| bad(option.kind.describe()))?)
                }
                "execution.buffer-timeout.enabled" => {
                    buffer_timeout_enabled =
                        Some(values::parse_bool(v).ok_or_else(|| bad(option.kind.describe()))?)
                }
                "taskmanager.memory.segment-size" => {
                    let size = parse_memory_size(v)
                        .filter(|s| *s >= 4096 && *s <= 64 * 1024 * 1024)
                        .ok_or_else(|| bad("a memory size from 4kb to 64mb"))?;
                    config.segment_size = size;
                }
                "taskmanager.network.memory.buffers-per-channel" => {
                    config.buffers_per_channel =
                        values::parse_positive(v).ok_or_else(|| bad(option.kind.describe()))?
                }
                "taskmanager.network.memory.floating-buffers-per-gate" => {
                    config.floating_buffers_per_gate =
                        values::parse_non_negative(v).ok_or_else(|| bad(option.kind.describe()))?
                }
                "pipeline.operator-chaining.enabled" => {
                    config.operator_chaining =
                        values::parse_bool(v).ok_or_else(|| bad(option.kind.describe()))?
                }
                "state.backend.type" => {
                    config.state_backend = match v.trim().to_ascii_lowercase().as_str() {
                        "hashmap" => StateBackendType::HashMap,
                        "rocksdb" | "lsm" => StateBackendType::RocksDb(rocksdb),
                        _ => return Err(bad("`hashmap` or `rocksdb`")),
                    }
                }
                "state.backend.rocksdb.localdir" => {
                    if v.trim().is_empty() {
                        return Err(bad(option.kind.describe()));
                    }
                    let dir: &'static Path = Box::leak(PathBuf::from(v.trim()).into_boxed_path());
                    rocksdb.local_dir = Some(dir);
                }
                "state.backend.rocksdb.memory.fixed-per-slot" => {
                    rocksdb.memory_budget = parse_memory_size(v)
                        .filter(|s| *s >= 1024 * 1024)
                        .ok_or_else(|| bad("a memory size of at least 1mb"))?;
                }
                "pipeline.auto-watermark-interval" => {
                    config.auto_watermark_interval =
                        parse_duration(v).ok_or_else(|| bad(option.kind.describe()))?
                }
                other => unreachable!("option {other} is in the table but has no parser"),
            }
        }
        if let Some(f) = &config.fault_injection
            && f.operator.is_empty()
        {
            return Err(ConfigError::MissingKey {
                origin: origin.to_string(),
                key: "execution.fault-injection.operator".to_string(),
                because: "another `execution.fault-injection` key is set".to_string(),
            });
        }
        if let StateBackendType::RocksDb(options) = &mut config.state_backend {
            *options = rocksdb;
        }
        if buffer_timeout_enabled == Some(false) {
            config.buffer_timeout = BufferTimeout::Disabled;
        }
        if let (Some(interval), BufferTimeout::Interval(_)) =
            (buffer_timeout_interval, config.buffer_timeout)
        {
            config.buffer_timeout = BufferTimeout::Interval(interval);
        }
        Ok(config)
    }

    /// Loads a configuration file.
    pub fn load_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_yaml_str(&text, &path.display().to_string())
    }

    /// The configuration file named by the environment, if any: `RUNNEL_CONFIG`
    /// (a file) takes precedence over `RUNNEL_CONF_DIR` (a directory holding
    /// `config.yaml`).
    pub fn file_from_env() -> Option<PathBuf> {
        if let Some(file) = std::env::var_os(ENV_CONFIG_FILE).filter(|v| !v.is_empty()) {
            return Some(PathBuf::from(file));
        }
        std::env::var_os(ENV_CONF_DIR)
            .filter(|v| !v.is_empty())
            .map(|dir| PathBuf::from(dir).join(CONFIG_FILE_NAME))
    }

    /// Loads the file named by the environment, or the defaults when none is named.
    pub fn from_env() -> Result<Self, ConfigError> {
        match Self::file_from_env() {
            Some(path) => Self::load_file(&path),
            None => Ok(Configuration::default()),
        }
    }
}

fn runnel_max_parallelism() -> u32 {
    1 << 15
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_flinks() {
        let c = Configuration::default();
        assert_eq!(c.default_parallelism, 1);
        assert_eq!(c.segment_size, 32 * 1024);
        assert_eq!(
            c.buffer_timeout,
            BufferTimeout::Interval(Duration::from_millis(100))
        );
        assert_eq!(c.auto_watermark_interval, Duration::from_millis(200));
        assert!(c.operator_chaining);
    }

    #[test]
    fn flat_and_nested_keys_are_equivalent() {
        let flat = "parallelism.default: 4\npipeline.max-parallelism: 256\n";
        let nested = "parallelism:\n  default: 4\npipeline:\n  max-parallelism: 256\n";
        let a = Configuration::from_yaml_str(flat, "flat").unwrap();
        let b = Configuration::from_yaml_str(nested, "nested").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.default_parallelism, 4);
        assert_eq!(a.max_parallelism, Some(256));
    }

    #[test]
    fn typed_values_parse() {
        let c = Configuration::from_yaml_str(
            "execution.buffer-timeout.interval: 5 ms\n\
             taskmanager.memory.segment-size: 64kb\n\
             pipeline.operator-chaining.enabled: false\n\
                          pipeline.auto-watermark-interval: 1s\n\
             state.backend.type: HashMap\n",
            "t",
        )
        .unwrap();
        assert_eq!(
            c.buffer_timeout,
            BufferTimeout::Interval(Duration::from_millis(5))
        );
        assert_eq!(c.segment_size, 64 * 1024);
        assert!(!c.operator_chaining);
        assert_eq!(c.auto_watermark_interval, Duration::from_secs(1));
        assert_eq!(c.state_backend, StateBackendType::HashMap);
    }

    #[test]
    fn rocksdb_backend_options_parse_in_any_order() {
        let c = Configuration::from_yaml_str(
            "state.backend.rocksdb.localdir: /tmp/x\n\
             state.backend.type: lsm\n\
             state.backend.rocksdb.memory.fixed-per-slot: 8mb\n",
            "t",
        )
        .unwrap();
        let StateBackendType::RocksDb(o) = c.state_backend else {
            panic!("{:?}", c.state_backend)
        };
        assert_eq!(o.local_dir, Some(Path::new("/tmp/x")));
        assert_eq!(o.memory_budget, 8 * 1024 * 1024);
        let c = Configuration::from_yaml_str("state.backend.type: RocksDB\n", "t").unwrap();
        assert_eq!(
            c.state_backend,
            StateBackendType::RocksDb(RocksDbOptions::default())
        );
        let err =
            Configuration::from_yaml_str("state.backend.rocksdb.memory.fixed-per-slot: 1kb\n", "t")
                .unwrap_err();
        assert!(err.to_string().contains("at least 1mb"), "{err}");
    }

    #[test]
    fn disabling_the_buffer_timeout_means_flush_only_when_full() {
        let c = Configuration::from_yaml_str(
            "execution.buffer-timeout.enabled: false\nexecution.buffer-timeout.interval: 5 ms\n",
            "t",
        )
        .unwrap();
        assert_eq!(c.buffer_timeout, BufferTimeout::Disabled);
    }

    #[test]
    fn unknown_key_names_file_line_and_suggests() {
        let err = Configuration::from_yaml_str("# c\nparalelism.default: 2\n", "conf/config.yaml")
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("conf/config.yaml:2"), "{msg}");
        assert!(msg.contains("paralelism.default"), "{msg}");
        assert!(msg.contains("did you mean `parallelism.default`"), "{msg}");
    }

    #[test]
    fn ill_typed_values_are_errors() {
        for (text, key) in [
            ("parallelism.default: abc", "parallelism.default"),
            ("parallelism.default: 0", "parallelism.default"),
            ("parallelism.default: -3", "parallelism.default"),
            (
                "pipeline.max-parallelism: 40000",
                "pipeline.max-parallelism",
            ),
            (
                "execution.buffer-timeout.interval: soon",
                "execution.buffer-timeout.interval",
            ),
            (
                "pipeline.operator-chaining.enabled: maybe",
                "pipeline.operator-chaining.enabled",
            ),
            (
                "taskmanager.memory.segment-size: 12",
                "taskmanager.memory.segment-size",
            ),
            ("state.backend.type: leveldb", "state.backend.type"),
        ] {
            let err = Configuration::from_yaml_str(text, "c.yaml").unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.contains(key) && msg.contains("c.yaml:1"),
                "{text}: {msg}"
            );
        }
    }

    #[test]
    fn structural_errors_are_reported() {
        assert!(Configuration::from_yaml_str("parallelism.default: [1, 2]", "c").is_err());
        assert!(Configuration::from_yaml_str("- 1\n- 2\n", "c").is_err());
        assert!(Configuration::from_yaml_str("a: b: c", "c").is_err());
        let dup = Configuration::from_yaml_str(
            "parallelism.default: 1\nparallelism:\n  default: 2\n",
            "c",
        );
        assert!(dup.unwrap_err().to_string().contains("more than once"));
    }

    #[test]
    fn checkpointing_and_restart_keys_parse() {
        let c = Configuration::from_yaml_str(
            "execution.checkpointing.interval: 1 s\n\
             execution.checkpointing.mode: AT_LEAST_ONCE\n\
             execution.checkpointing.dir: file:///tmp/ckpt\n\
             execution.checkpointing.num-retained: 3\n\
             restart-strategy.type: failure-rate\n\
             restart-strategy.failure-rate.max-failures-per-interval: 5\n",
            "c",
        )
        .unwrap();
        assert_eq!(c.checkpointing.interval, Some(Duration::from_secs(1)));
        assert_eq!(c.checkpointing.mode, CheckpointingMode::AtLeastOnce);
        assert_eq!(c.checkpointing.dir.as_deref(), Some(Path::new("/tmp/ckpt")));
        assert_eq!(c.checkpointing.num_retained, 3);
        assert_eq!(
            c.effective_restart_strategy(),
            RestartStrategyConfig::FailureRate {
                max_failures: 5,
                interval: Duration::from_secs(60),
                delay: Duration::from_secs(1),
            }
        );
    }

    #[test]
    fn restart_parameters_may_come_before_the_type() {
        let c = Configuration::from_yaml_str(
            "restart-strategy.fixed-delay.attempts: 7\nrestart-strategy.type: fixed-delay\n",
            "c",
        )
        .unwrap();
        assert_eq!(
            c.effective_restart_strategy(),
            RestartStrategyConfig::FixedDelay {
                attempts: 7,
                delay: Duration::from_secs(1),
            }
        );
        let err = Configuration::from_yaml_str(
            "restart-strategy.type: none\nrestart-strategy.fixed-delay.attempts: 7\n",
            "c",
        )
        .unwrap_err();
        assert!(err.to_string().contains("c:2"), "{err}");
    }

    #[test]
    fn the_default_restart_strategy_depends_on_checkpointing() {
        let mut c = Configuration::default();
        assert_eq!(c.effective_restart_strategy(), RestartStrategyConfig::None);
        c.checkpointing.interval = Some(Duration::from_secs(1));
        assert_eq!(
            c.effective_restart_strategy(),
            RestartStrategyConfig::FixedDelay {
                attempts: u32::MAX,
                delay: Duration::from_secs(1),
            }
        );
    }

    #[test]
    fn fault_injection_needs_an_operator() {
        let err =
            Configuration::from_yaml_str("execution.fault-injection.after-records: 10\n", "c")
                .unwrap_err();
        assert!(
            err.to_string()
                .contains("`execution.fault-injection.operator` must be set"),
            "{err}"
        );
        let c = Configuration::from_yaml_str(
            "execution.fault-injection.operator: Sum\nexecution.fault-injection.after-records: 10\nexecution.fault-injection.failures: 2\n",
            "c",
        )
        .unwrap();
        let f = c.fault_injection.unwrap();
        assert_eq!(
            (f.failure_point(0), f.failure_point(1), f.failure_point(2)),
            (Some(10), Some(10), None)
        );
    }

    #[test]
    fn seeded_failure_points_are_reproducible_and_in_range() {
        let mut f = FaultInjection::new("x", 100);
        f.failures = 50;
        f.seed = Some(7);
        let points: Vec<u64> = (0..50).map(|a| f.failure_point(a).unwrap()).collect();
        assert!(points.iter().all(|p| (1..=100).contains(p)));
        assert_eq!(
            points,
            (0..50)
                .map(|a| f.failure_point(a).unwrap())
                .collect::<Vec<_>>()
        );
        assert!(points.iter().any(|p| *p != points[0]), "{points:?}");
    }

    #[test]
    fn empty_file_gives_defaults() {
        assert_eq!(
            Configuration::from_yaml_str("", "c").unwrap(),
            Configuration::default()
        );
        assert_eq!(
            Configuration::from_yaml_str("# only a comment\n", "c").unwrap(),
            Configuration::default()
        );
    }

    #[test]
    fn missing_file_is_a_clear_error() {
        let err =
            Configuration::load_file(Path::new("/nonexistent/runnel/config.yaml")).unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/runnel/config.yaml"),
            "{err}"
        );
    }

    #[test]
    fn every_option_in_the_table_parses_its_default() {
        for option in OPTIONS.iter().filter(|o| !o.default.is_empty()) {
            let mut text = format!("{}: {}", option.key, option.default);
            if option.key.starts_with("execution.fault-injection.") {
                text.push_str("\nexecution.fault-injection.operator: Map");
            }
            Configuration::from_yaml_str(&text, "defaults")
                .unwrap_or_else(|e| panic!("{}: {e}", option.key));
        }
    }
}
