//! The exactly-once file sink (J2; Flink's `FileSink` with a row format): lines
//! of text in part files that become visible only when the checkpoint covering
//! them completes.
//!
//! A part file is written *in progress* under a hidden name
//! (`.part-…​.inprogress`); it is closed when it reaches the rolling size or
//! age, and at every checkpoint, where the parts of the transaction become
//! *pending*; when the checkpoint completes they are *committed*: renamed to
//! their final name (`part-<subtask>-<run>-<txn>-<n>`), an atomic step. Readers
//! that skip hidden files (names starting with `.` or `_`, as Flink's and
//! Runnel's file sources do) never see uncommitted data. The run id in the names
//! keeps the files of every run of a job (restarts, restores) apart.
//!
//! Records may go to sub-directories (*buckets*) chosen per record. After a
//! failure, the parts of transactions pre-committed in the restored checkpoint
//! are committed and those of the transaction open at that checkpoint are
//! deleted.

use crate::error::ConnectorError;
use runnel_runtime::sink::SinkContext;
use runnel_runtime::two_phase_commit::TwoPhaseCommitSink;
use runnel_runtime::{BoxError, RuntimeContext};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt::Display;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Chooses the sub-directory (bucket) of a record; `""` is the base directory.
pub type BucketAssigner<T> = Arc<dyn Fn(&T) -> String + Send + Sync>;

/// When a part file is closed and a new one started (besides at checkpoints).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollingPolicy {
    /// Close a part once it holds this many bytes.
    pub max_part_size: u64,
    /// Close a part once it has been open this long.
    pub rollover_interval: Duration,
}

impl Default for RollingPolicy {
    /// Flink's defaults: 128 MiB, 60 s.
    fn default() -> Self {
        RollingPolicy {
            max_part_size: 128 << 20,
            rollover_interval: Duration::from_secs(60),
        }
    }
}

/// A part file of a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartFile {
    /// Where it is written.
    pub in_progress: PathBuf,
    /// Its name once committed.
    pub committed: PathBuf,
}

/// The transaction of a [`FileSink`]: the part files written in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileTransaction {
    /// Where its parts are (every bucket).
    base: PathBuf,
    /// The name prefix shared by its parts (`<prefix>-<subtask>-<run>-<txn>-`).
    stem: String,
    /// Its parts so far.
    parts: Vec<PartFile>,
}

struct OpenPart {
    writer: BufWriter<File>,
    path: PathBuf,
    bytes: u64,
    opened: Instant,
}

/// Writes each record's `Display` form as a line, exactly once.
pub struct FileSink<T> {
    base: PathBuf,
    prefix: String,
    suffix: String,
    rolling: RollingPolicy,
    buckets: Option<BucketAssigner<T>>,
    /// Set in `open`: `<prefix>-<subtask>-<run>`.
    run_stem: String,
    next_transaction: u64,
    next_part: u64,
    open: HashMap<String, OpenPart>,
    _records: PhantomData<fn(T)>,
}

impl<T> Clone for FileSink<T> {
    fn clone(&self) -> Self {
        FileSink {
            base: self.base.clone(),
            prefix: self.prefix.clone(),
            suffix: self.suffix.clone(),
            rolling: self.rolling,
            buckets: self.buckets.clone(),
            run_stem: String::new(),
            next_transaction: 0,
            next_part: 0,
            open: HashMap::new(),
            _records: PhantomData,
        }
    }
}

impl<T> FileSink<T> {
    /// Part files named `part-…` in `base`.
    pub fn new(base: impl Into<PathBuf>) -> Self {
        FileSink {
            base: base.into(),
            prefix: "part".to_string(),
            suffix: String::new(),
            rolling: RollingPolicy::default(),
            buckets: None,
            run_stem: String::new(),
            next_transaction: 0,
            next_part: 0,
            open: HashMap::new(),
            _records: PhantomData,
        }
    }

    /// Part file names start with `prefix` and end with `suffix` (e.g. `.txt`).
    pub fn with_part_names(mut self, prefix: &str, suffix: &str) -> Self {
        self.prefix = prefix.to_string();
        self.suffix = suffix.to_string();
        self
    }

    /// When parts roll besides at checkpoints.
    pub fn with_rolling_policy(mut self, rolling: RollingPolicy) -> Self {
        self.rolling = rolling;
        self
    }

    /// Puts each record in the sub-directory `assign(record)` names.
    pub fn with_bucket_assigner(
        mut self,
        assign: impl Fn(&T) -> String + Send + Sync + 'static,
    ) -> Self {
        self.buckets = Some(Arc::new(assign));
        self
    }

    fn write_error(path: &Path, source: std::io::Error) -> BoxError {
        ConnectorError::Write {
            path: path.to_path_buf(),
            source,
        }
        .into()
    }

    /// Closes the open part of `bucket`, flushed and synced.
    fn close_part(&mut self, bucket: &str) -> Result<(), BoxError> {
        if let Some(mut part) = self.open.remove(bucket) {
            part.writer
                .flush()
                .map_err(|e| Self::write_error(&part.path, e))?;
            part.writer
                .get_ref()
                .sync_all()
                .map_err(|e| Self::write_error(&part.path, e))?;
        }
        Ok(())
    }

    fn close_all(&mut self) -> Result<(), BoxError> {
        let buckets: Vec<String> = self.open.keys().cloned().collect();
        for b in buckets {
            self.close_part(&b)?;
        }
        Ok(())
    }
}

impl<T: Display + Send + 'static> TwoPhaseCommitSink<T> for FileSink<T> {
    type Transaction = FileTransaction;

    fn open(&mut self, ctx: &RuntimeContext) -> Result<(), BoxError> {
        fs::create_dir_all(&self.base).map_err(|e| Self::write_error(&self.base, e))?;
        self.run_stem = format!("{}-{}-{}", self.prefix, ctx.subtask_index(), run_id(ctx));
        Ok(())
    }

    fn begin_transaction(&mut self) -> Result<FileTransaction, BoxError> {
        let stem = format!("{}-{}-", self.run_stem, self.next_transaction);
        self.next_transaction += 1;
        Ok(FileTransaction {
            base: self.base.clone(),
            stem,
            parts: Vec::new(),
        })
    }

    fn invoke(
        &mut self,
        transaction: &mut FileTransaction,
        value: T,
        _ctx: &SinkContext,
    ) -> Result<(), BoxError> {
        let bucket = self.buckets.as_ref().map(|b| b(&value)).unwrap_or_default();
        if !self.open.contains_key(&bucket) {
            let dir = self.base.join(&bucket);
            fs::create_dir_all(&dir).map_err(|e| Self::write_error(&dir, e))?;
            let name = format!("{}{}{}", transaction.stem, self.next_part, self.suffix);
            self.next_part += 1;
            let part = PartFile {
                in_progress: dir.join(format!(".{name}.inprogress")),
                committed: dir.join(name),
            };
            let file = File::create(&part.in_progress)
                .map_err(|e| Self::write_error(&part.in_progress, e))?;
            self.open.insert(
                bucket.clone(),
                OpenPart {
                    writer: BufWriter::new(file),
                    path: part.in_progress.clone(),
                    bytes: 0,
                    opened: Instant::now(),
                },
            );
            transaction.parts.push(part);
        }
        let part = self.open.get_mut(&bucket).expect("opened above");
        let line = format!("{value}\n");
        part.writer
            .write_all(line.as_bytes())
            .map_err(|e| Self::write_error(&part.path, e))?;
        part.bytes += line.len() as u64;
        if part.bytes >= self.rolling.max_part_size
            || part.opened.elapsed() >= self.rolling.rollover_interval
        {
            self.close_part(&bucket)?;
        }
        Ok(())
    }

    fn pre_commit(&mut self, _transaction: &mut FileTransaction) -> Result<(), BoxError> {
        // Every open part belongs to the transaction being prepared.
        self.close_all()
    }

    fn commit(&mut self, transaction: FileTransaction) -> Result<(), BoxError> {
        for part in &transaction.parts {
            match fs::rename(&part.in_progress, &part.committed) {
                Ok(()) => {}
                // Committed before (a commit repeated after a restore).
                Err(_) if part.committed.exists() => {}
                Err(source) => {
                    return Err(ConnectorError::Write {
                        path: part.in_progress.clone(),
                        source,
                    }
                    .into());
                }
            }
        }
        Ok(())
    }

    fn abort(&mut self, transaction: FileTransaction) -> Result<(), BoxError> {
        self.open
            .retain(|_, part| !transaction.parts.iter().any(|p| p.in_progress == part.path));
        for part in &transaction.parts {
            let _ = fs::remove_file(&part.in_progress);
        }
        Ok(())
    }

    fn recover_and_abort(&mut self, transaction: FileTransaction) -> Result<(), BoxError> {
        // The transaction open at the checkpoint wrote its parts after the
        // checkpoint, so they are not listed in it: find them by name.
        for dir in bucket_dirs(&transaction.base) {
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with(&format!(".{}", transaction.stem))
                    && name.ends_with(".inprogress")
                {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), BoxError> {
        // Open parts belong to the transaction the framework aborts.
        self.open.clear();
        Ok(())
    }
}

/// The base directory and its sub-directories (buckets), recursively.
fn bucket_dirs(base: &Path) -> Vec<PathBuf> {
    let mut out = vec![base.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        if let Ok(entries) = fs::read_dir(&out[i]) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    out.push(entry.path());
                }
            }
        }
        i += 1;
    }
    out
}

/// An id for this run of this subtask: different for every attempt and every
/// job run, so part names never collide.
fn run_id(ctx: &RuntimeContext) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(ctx.attempt_number());
    h.write_i64(ctx.processing_time());
    format!("{:08x}", h.finish() as u32)
}
