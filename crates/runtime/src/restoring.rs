//! Where an attempt's state comes from, as data: the job master decides it
//! and every process running tasks of the attempt loads it the same way
//! (a savepoint or retained checkpoint named at start, or a completed
//! checkpoint of this job after a failure).

use crate::environment::ExecutableJob;
use crate::snapshot_writer::Destination;
use runnel_checkpoint::{
    CheckpointStorage, MemoryStorage, NativeFileSource, OperatorId, RestoredJob, S3Options,
    restore::JobOperator, storage_for,
};
use runnel_config::S3Config;
use runnel_types::content_hash::fnv1a_64;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;

/// A checkpoint directory as it travels between processes: in the job's
/// checkpoint storage (`base: None`) or in the storage at `base` (a
/// savepoint directory).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DestinationRef {
    pub(crate) base: Option<PathBuf>,
    pub(crate) dir: String,
}

/// What an attempt restores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum RestoreSource {
    /// Nothing: the job starts empty.
    Nothing,
    /// A savepoint or retained checkpoint directory (`-s`).
    Savepoint {
        path: PathBuf,
        allow_non_restored_state: bool,
    },
    /// A completed checkpoint of this run of the job.
    Checkpoint(DestinationRef),
}

/// The job's checkpoint storage (in memory without a checkpoint directory).
pub(crate) fn checkpoint_storage(
    job: &ExecutableJob,
) -> Result<Arc<dyn CheckpointStorage>, String> {
    match &job.config.checkpointing.dir {
        Some(dir) => storage_for(dir, &s3_options(&job.config.s3))
            .map_err(|e| format!("cannot open the checkpoint storage: {e}")),
        None => Ok(Arc::new(MemoryStorage::new())),
    }
}

impl DestinationRef {
    /// The directory as a [`Destination`], `checkpoints` being the job's
    /// checkpoint storage.
    pub(crate) fn open(
        &self,
        job: &ExecutableJob,
        checkpoints: &Arc<dyn CheckpointStorage>,
    ) -> Result<Destination, String> {
        let storage = match &self.base {
            None => checkpoints.clone(),
            Some(base) => storage_for(base, &s3_options(&job.config.s3))
                .map_err(|e| format!("cannot open {}: {e}", base.display()))?,
        };
        Ok(Destination {
            storage,
            base: self.base.clone(),
            dir: self.dir.clone(),
        })
    }
}

/// Loads what `source` names for `job`; `checkpoints` is the job's
/// checkpoint storage. The error says what could not be read.
pub(crate) fn load(
    job: &ExecutableJob,
    source: &RestoreSource,
    checkpoints: &Arc<dyn CheckpointStorage>,
) -> Result<RestoredJob, String> {
    match source {
        RestoreSource::Nothing => Ok(RestoredJob::empty()),
        RestoreSource::Savepoint {
            path,
            allow_non_restored_state,
        } => {
            let fail =
                |e: &dyn std::fmt::Display| format!("cannot restore from {}: {e}", path.display());
            let storage = storage_for(path, &s3_options(&job.config.s3)).map_err(|e| fail(&e))?;
            let restored = RestoredJob::load(
                storage.as_ref(),
                "",
                &job_operators(job),
                topology(job),
                *allow_non_restored_state,
            )
            .map_err(|e| fail(&e))?;
            // The shared files of an incremental checkpoint are next to its
            // directory.
            match path.parent() {
                Some(parent) if restored.has_native_state() => {
                    let shared = storage_for(parent, &s3_options(&job.config.s3))
                        .map_err(|e| format!("cannot restore from {}: {e}", parent.display()))?;
                    Ok(restored.with_native_files(NativeFileSource::new(shared, "")))
                }
                _ => Ok(restored),
            }
        }
        RestoreSource::Checkpoint(at) => {
            let destination = at.open(job, checkpoints)?;
            let parent = destination.parent();
            RestoredJob::load(
                destination.storage.as_ref(),
                &destination.dir,
                &job_operators(job),
                topology(job),
                true,
            )
            .map(|r| {
                r.with_native_files(NativeFileSource::new(destination.storage.clone(), parent))
            })
            .map_err(|e| format!("cannot restore from {}: {e}", destination.location()))
        }
    }
}

/// The job's operators as checkpoints name them.
pub(crate) fn job_operators(job: &ExecutableJob) -> Vec<JobOperator> {
    job.plan
        .stream_graph
        .nodes
        .iter()
        .map(|n| JobOperator {
            id: OperatorId::of(n.uid.as_deref(), n.id),
            name: n.name.clone(),
            parallelism: n.parallelism,
            max_parallelism: n.max_parallelism,
        })
        .collect()
}

/// A fingerprint of the job's tasks and channels (vertices with their
/// operators and parallelism, job edges with their ends and partitioner).
pub(crate) fn topology(job: &ExecutableJob) -> u64 {
    // FNV-1a over a plain description: stable across builds and runs, as a
    // fingerprint stored in checkpoints must be.
    let graph = &job.plan.job_graph;
    let mut text = String::new();
    for v in &graph.vertices {
        text.push_str(&format!(
            "v{}:{}:{}:",
            v.id.0, v.parallelism, v.max_parallelism
        ));
        for op in &v.operators {
            text.push_str(&format!("{},", op.0));
        }
    }
    for e in &graph.edges {
        text.push_str(&format!(
            "e{}>{}:{:?};",
            e.source.0, e.target.0, e.partitioner
        ));
    }
    fnv1a_64(text.as_bytes())
}

/// The `s3.*` settings as the checkpoint storage takes them.
pub(crate) fn s3_options(s3: &S3Config) -> S3Options {
    S3Options {
        endpoint: s3.endpoint.clone(),
        access_key: s3.access_key.clone(),
        secret_key: s3.secret_key.clone(),
        region: s3.region.clone(),
        path_style_access: s3.path_style_access,
    }
}
