#![cfg(feature = "rocksdb")]
//! The LSM (RocksDB) keyed state backend through whole jobs: state larger than
//! its memory budget, savepoints across backends in both directions,
//! recovery from a checkpoint after a failure, and incremental checkpoints.

use runnel::checkpoint::{
    CheckpointMetadata, CheckpointStorage, FsStorage, SharedFile, TaskStateSnapshot,
};
use runnel::config::{RocksDbOptions, StateBackendType};
use runnel::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn lsm(budget: usize) -> StateBackendType {
    StateBackendType::RocksDb(RocksDbOptions {
        local_dir: None,
        memory_budget: budget,
    })
}

/// A process status field in kB (`VmRSS`, `VmHWM`).
fn status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

const BIG_KEYS: u64 = 200_000;
const VALUE_LEN: usize = 1024;

/// The 1 KB value of `key` after `version` writes.
fn big_value(key: u64, version: u64) -> String {
    let unit = format!("{key:012}/{version:03};");
    unit.repeat(VALUE_LEN / unit.len() + 1)[..VALUE_LEN].to_string()
}

/// Keeps a 1 KB value per key; on every record checks the key's value is the
/// one it wrote last, then writes the next version. Emits whether it matched.
#[derive(Clone, Default)]
struct Versions {
    value: Option<ValueState<String>>,
    version: Option<ValueState<u64>>,
}

impl KeyedProcessFunction<u64, u64, bool> for Versions {
    fn open(&mut self, ctx: &mut KeyedOpenContext<'_, u64>) -> Result<(), BoxError> {
        self.value = Some(ctx.get_state(&ValueStateDescriptor::new("value"))?);
        self.version = Some(ctx.get_state(&ValueStateDescriptor::new("version"))?);
        Ok(())
    }

    fn process_element(
        &mut self,
        key: u64,
        ctx: &mut KeyedContext<'_, u64>,
        out: &mut Collector<'_, bool>,
    ) -> Result<(), BoxError> {
        let (value, version) = (self.value.expect("opened"), self.version.expect("opened"));
        let v = version.value(ctx)?.unwrap_or(0);
        let stored = value.value(ctx)?;
        let ok = match v {
            0 => stored.is_none(),
            _ => stored.as_deref() == Some(big_value(key, v).as_str()),
        };
        value.update(ctx, big_value(key, v + 1))?;
        version.update(ctx, v + 1)?;
        out.collect(ok);
        Ok(())
    }
}

#[test]
fn keyed_state_larger_than_the_memory_budget_stays_on_disk_and_is_exact() {
    let workdir = std::env::temp_dir().join(format!("runnel-lsm-big-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&workdir);
    let config = Configuration::from_yaml_str(
        &format!(
            "state.backend.type: rocksdb\n\
             state.backend.rocksdb.localdir: {}\n\
             state.backend.rocksdb.memory.fixed-per-slot: 8mb\n",
            workdir.display()
        ),
        "test",
    )
    .unwrap();
    let env = StreamExecutionEnvironment::with_config(config);
    env.set_parallelism(2);
    let (good, bad) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (g, b) = (good.clone(), bad.clone());
    // Three passes over all keys: 200k keys x 1 KB = 200 MB of live state.
    env.from_generator(3 * BIG_KEYS, |i| i % BIG_KEYS)
        .key_by(|k: &u64| *k)
        .process(Versions::default())
        .add_sink(move |ok: bool| {
            if ok { &g } else { &b }.fetch_add(1, Ordering::Relaxed);
        });
    env.execute("big state").unwrap();
    assert_eq!(good.load(Ordering::Relaxed), 3 * BIG_KEYS);
    assert_eq!(bad.load(Ordering::Relaxed), 0);
    let state_mb = BIG_KEYS * VALUE_LEN as u64 / (1024 * 1024);
    let peak_mb = status_kb("VmHWM") / 1024;
    let rss_mb = status_kb("VmRSS") / 1024;
    eprintln!("state {state_mb} MB, peak RSS {peak_mb} MB, RSS now {rss_mb} MB");
    assert!(
        peak_mb < state_mb / 2,
        "peak RSS {peak_mb} MB is not well below the state's {state_mb} MB"
    );
    // Every store deletes its directory when its task thread drops it, which
    // may finish just after the job's result is out.
    let mut left = Vec::new();
    for _ in 0..200 {
        left = std::fs::read_dir(&workdir).unwrap().collect::<Vec<_>>();
        if left.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(left.is_empty(), "{left:?}");
    let _ = std::fs::remove_dir_all(&workdir);
}

// ---- savepoints across backends ----

const N: u64 = 40_000;
const KEYS: u64 = 7;

type Sums = Arc<Mutex<BTreeMap<u64, u64>>>;

fn expected() -> BTreeMap<u64, u64> {
    let mut m = BTreeMap::new();
    for i in 0..N {
        *m.entry(i % KEYS).or_default() += i;
    }
    m
}

fn key_of(e: &(u64, u64)) -> u64 {
    e.0
}

/// Sums of 0..N per key, behind a reduce; with `slow`, slowed down so a
/// savepoint can be taken while it runs.
fn job(env: &StreamExecutionEnvironment, sums: &Sums, slow: bool) {
    let sums = sums.clone();
    env.from_generator(N, |i| i)
        .map(move |i: u64| {
            if slow && i.is_multiple_of(200) {
                std::thread::sleep(Duration::from_millis(1));
            }
            (i % KEYS, i)
        })
        .uid("keyed-values")
        .key_by(key_of)
        .reduce(|a, b| (a.0, b.1))
        .uid("last")
        .key_by(key_of)
        .sum(|(_, v)| v)
        .uid("sum")
        .add_sink(move |(k, v): (u64, u64)| {
            sums.lock().unwrap().insert(k, v);
        });
}

fn env(backend: StateBackendType, parallelism: u32) -> StreamExecutionEnvironment {
    let env = StreamExecutionEnvironment::with_config(Configuration {
        state_backend: backend,
        ..Configuration::default()
    });
    env.set_parallelism(parallelism);
    env
}

fn savepoint_then_resume(from: StateBackendType, to: StateBackendType, name: &str) {
    let out = std::env::temp_dir().join(format!("runnel-lsm-sp-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let env1 = env(from, 2);
    let sums = Sums::default();
    job(&env1, &sums, true);
    let client = env1.execute_async("savepoint me").unwrap();
    while sums.lock().unwrap().values().sum::<u64>() < 1_000_000 {
        std::thread::sleep(Duration::from_millis(2));
    }
    let location = client.stop_with_savepoint(Some(out.clone())).unwrap();
    client.wait().unwrap();
    assert!(PathBuf::from(&location).join("_metadata").is_file());

    for p in [1, 3] {
        let env2 = env(to, p);
        env2.restore_from(&location, false);
        let sums = Sums::default();
        job(&env2, &sums, false);
        let result = env2.execute("resumed").unwrap();
        let source = result.operator("Source: Data Generator").unwrap();
        assert!(source.records_out < N, "resumed, not restarted");
        assert_eq!(
            *sums.lock().unwrap(),
            expected(),
            "{name} at parallelism {p}"
        );
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_heap_savepoint_restores_into_the_lsm_backend() {
    savepoint_then_resume(StateBackendType::HashMap, lsm(8 << 20), "heap-to-lsm");
}

#[test]
fn an_lsm_savepoint_restores_into_the_heap_backend() {
    savepoint_then_resume(lsm(8 << 20), StateBackendType::HashMap, "lsm-to-heap");
}

// ---- checkpoints and recovery ----

/// Sums of `1..=m` per key `x % k` at parallelism 2, the source slowed down
/// every `slow_every` records, and subtask 1 of `Sum` failing once after
/// `fail_after` records: the job's result and the last sum of each key.
fn failing_sums(
    mut config: Configuration,
    m: u64,
    k: u64,
    fail_after: u64,
    slow_every: u64,
) -> (JobExecutionResult, BTreeMap<u64, u64>) {
    let mut fault = FaultInjection::new("Sum", fail_after);
    fault.subtask = 1;
    config.fault_injection = Some(fault);
    let env = StreamExecutionEnvironment::with_config(config);
    env.set_parallelism(2);
    let last = Sums::default();
    let sink = last.clone();
    env.from_sequence(1, m)
        .map(move |x: u64| {
            if x.is_multiple_of(slow_every) {
                std::thread::sleep(Duration::from_millis(1));
            }
            (x % k, x)
        })
        .name("Slow")
        .key_by(key_of)
        .sum(|(_, v)| v)
        .name("Sum")
        .add_sink(move |(k, v): (u64, u64)| {
            sink.lock().unwrap().insert(k, v);
        });
    let result = env.execute("sums").unwrap();
    let sums = last.lock().unwrap().clone();
    (result, sums)
}

/// The sums of `1..=m` per key `x % k`.
fn expected_sums(m: u64, k: u64) -> BTreeMap<u64, u64> {
    let mut expected = BTreeMap::new();
    for x in 1..=m {
        *expected.entry(x % k).or_default() += x;
    }
    expected
}

#[test]
fn a_failed_lsm_job_restarts_from_its_latest_checkpoint_with_exact_results() {
    const M: u64 = 60_000;
    const K: u64 = 10;
    let mut config = Configuration {
        state_backend: lsm(8 << 20),
        restart_strategy: Some(RestartStrategyConfig::FixedDelay {
            attempts: 5,
            delay: Duration::ZERO,
        }),
        ..Configuration::default()
    };
    config.checkpointing.interval = Some(Duration::from_millis(10));
    let (result, sums) = failing_sums(config, M, K, 20_000, 500);
    assert!(
        sums == expected_sums(M, K),
        "no record lost or counted twice"
    );
    assert_eq!(result.restarts, 1);
    let source = result.operator("Source: Sequence Source").unwrap();
    assert!(source.records_out < M, "resumed from a checkpoint");
}

// ---- incremental checkpoints ----

/// Every retained checkpoint under `dir` (one job's checkpoint directory):
/// its path, and the shared files its native keyed state references.
fn retained_checkpoints(dir: &Path) -> Vec<(PathBuf, Vec<SharedFile>)> {
    let jobs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(jobs.len(), 1, "one job's directory in {}", dir.display());
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&jobs[0]).unwrap() {
        let path = entry.unwrap().path();
        if let Some(files) = checkpoint_files(&path).unwrap() {
            out.push((path, files));
        }
    }
    out
}

/// The shared files referenced by the checkpoint at `path`; `None` if it is
/// not a completed checkpoint.
fn checkpoint_files(path: &Path) -> Result<Option<Vec<SharedFile>>, Box<dyn std::error::Error>> {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    if !name.starts_with("chk-") || !path.join("_metadata").is_file() {
        return Ok(None);
    }
    let storage = FsStorage::new(path);
    let metadata = CheckpointMetadata::decode(&storage.read("_metadata")?, "_metadata")?;
    let mut files = Vec::new();
    for file in metadata.files() {
        let task = TaskStateSnapshot::decode(&storage.read(file)?, file)?;
        for (_, state) in &task.operators {
            for native in &state.native {
                assert!(!native.private.is_empty(), "the manifest travels inline");
                files.extend(native.shared.iter().cloned());
            }
        }
    }
    Ok(Some(files))
}

/// The newest completed checkpoint of a running job under `dir` whose keyed
/// state is files, if there is one yet (checkpoints come and go meanwhile).
fn newest_incremental_checkpoint(dir: &Path) -> Option<PathBuf> {
    let job = std::fs::read_dir(dir).ok()?.next()?.ok()?.path();
    let mut found = Vec::new();
    for entry in std::fs::read_dir(job).ok()? {
        let path = entry.ok()?.path();
        if let Ok(Some(files)) = checkpoint_files(&path)
            && !files.is_empty()
        {
            let name = path.file_name()?.to_string_lossy().into_owned();
            found.push((name["chk-".len()..].parse::<u64>().ok()?, path));
        }
    }
    found.into_iter().max().map(|(_, path)| path)
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries {
            let path = e.unwrap().path();
            if path.is_dir() {
                out.extend(files_under(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

fn incremental_config(dir: &Path) -> Configuration {
    let mut config = Configuration {
        state_backend: lsm(8 << 20),
        restart_strategy: Some(RestartStrategyConfig::FixedDelay {
            attempts: 5,
            delay: Duration::ZERO,
        }),
        ..Configuration::default()
    };
    config.checkpointing.interval = Some(Duration::from_millis(20));
    config.checkpointing.dir = Some(dir.to_path_buf());
    config.checkpointing.num_retained = 3;
    config.checkpointing.incremental = true;
    config
}

#[test]
fn incremental_checkpoints_recover_exactly_and_keep_only_referenced_files() {
    const M: u64 = 80_000;
    const K: u64 = 3_000;
    let dir = std::env::temp_dir().join(format!("runnel-incremental-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (result, sums) = failing_sums(incremental_config(&dir), M, K, 30_000, 400);
    assert!(
        sums == expected_sums(M, K),
        "no record lost or counted twice"
    );
    assert_eq!(result.restarts, 1);
    let source = result.operator("Source: Sequence Source").unwrap();
    assert!(source.records_out < M, "resumed from a checkpoint");

    let retained = retained_checkpoints(&dir);
    assert!(!retained.is_empty() && retained.len() <= 3, "{retained:?}");
    let referenced: BTreeMap<String, u64> = retained
        .iter()
        .flat_map(|(_, files)| files.iter().map(|f| (f.path.clone(), f.size)))
        .collect();
    assert!(
        !referenced.is_empty(),
        "keyed state was checkpointed as files"
    );
    let job_dir = retained[0].0.parent().unwrap();
    for (path, size) in &referenced {
        let file = job_dir.join(path);
        assert_eq!(std::fs::metadata(&file).unwrap().len(), *size, "{path}");
    }
    // Files of subsumed and aborted checkpoints (and of the attempt that
    // failed) are gone: what is left is exactly what is referenced.
    let mut on_disk: Vec<String> = files_under(&job_dir.join("shared"))
        .iter()
        .map(|p| {
            p.strip_prefix(job_dir)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    on_disk.sort();
    assert_eq!(on_disk, referenced.keys().cloned().collect::<Vec<_>>());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_retained_incremental_checkpoint_restores_at_another_parallelism() {
    let dir = std::env::temp_dir().join(format!("runnel-incremental-rs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let env1 = StreamExecutionEnvironment::with_config(incremental_config(&dir));
    env1.set_parallelism(2);
    let sums = Sums::default();
    job(&env1, &sums, true);
    let client = env1.execute_async("checkpoint me").unwrap();
    // Run until a checkpoint with files exists, then cancel.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let checkpoint = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "no incremental checkpoint"
        );
        std::thread::sleep(Duration::from_millis(5));
        if let Some(path) = newest_incremental_checkpoint(&dir) {
            break path;
        }
    };
    client.cancel();
    let _ = client.wait();
    assert!(checkpoint.join("_metadata").is_file(), "kept after cancel");

    for p in [1, 3] {
        let env2 = env(lsm(8 << 20), p);
        env2.restore_from(&checkpoint, false);
        let sums = Sums::default();
        job(&env2, &sums, false);
        let result = env2.execute("resumed").unwrap();
        let source = result.operator("Source: Data Generator").unwrap();
        assert!(source.records_out < N, "resumed, not restarted");
        assert_eq!(*sums.lock().unwrap(), expected(), "parallelism {p}");
    }
    // The heap backend cannot read RocksDB files: a clear error.
    let env3 = env(StateBackendType::HashMap, 2);
    env3.restore_from(&checkpoint, false);
    job(&env3, &Sums::default(), false);
    let err = env3.execute("wrong backend").unwrap_err().to_string();
    assert!(err.contains("state.backend.type: rocksdb"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
