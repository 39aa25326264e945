//! A checkpoint's `_metadata`: which operators it has state for, at which
//! parallelism, and which file holds each subtask's state.
//!
//! A checkpoint is complete exactly when its metadata file exists: the
//! coordinator writes it last, after every task's state is durable.

use crate::error::CheckpointError;
use crate::format::{METADATA_MAGIC, decode_body, encode, open};
use crate::snapshot::OperatorId;
use runnel_types::{CheckpointId, SnapshotKind};
use serde::{Deserialize, Serialize};

/// The name of the metadata file inside a checkpoint or savepoint directory.
pub const METADATA_FILE: &str = "_metadata";

/// The table of contents of a completed checkpoint or savepoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointMetadata {
    /// The checkpoint.
    pub checkpoint_id: CheckpointId,
    /// When it was triggered (epoch ms).
    pub timestamp: i64,
    /// Checkpoint or savepoint.
    pub kind: SnapshotKind,
    /// The job's name.
    pub job_name: String,
    /// Every operator with its subtasks' state files.
    pub operators: Vec<OperatorMetadata>,
    /// A fingerprint of the job's tasks and channels: in-flight data can only
    /// be restored into the same topology.
    pub topology: u64,
    /// The state file of every task.
    pub tasks: Vec<TaskStateFile>,
}

/// The state file of one task (a subtask of a chain).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskStateFile {
    /// The job vertex.
    pub vertex: u32,
    /// The subtask.
    pub subtask: u32,
    /// The file, relative to the snapshot's directory.
    pub file: String,
}

/// Version 1 of [`CheckpointMetadata`].
#[derive(Deserialize)]
struct CheckpointMetadataV1 {
    checkpoint_id: CheckpointId,
    timestamp: i64,
    kind: SnapshotKind,
    job_name: String,
    operators: Vec<OperatorMetadata>,
}

/// One operator of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorMetadata {
    /// Its id (uid or position).
    pub id: OperatorId,
    /// Its name (for messages).
    pub name: String,
    /// The parallelism it ran at.
    pub parallelism: u32,
    /// Its max parallelism (number of key groups).
    pub max_parallelism: u32,
    /// Where each subtask's state is.
    pub subtasks: Vec<SubtaskStateFile>,
}

/// The file holding one subtask's state (the state file of its task, which also
/// holds the other operators of the chain).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubtaskStateFile {
    /// The subtask.
    pub subtask: u32,
    /// The file, relative to the snapshot's directory.
    pub file: String,
}

impl CheckpointMetadata {
    /// The file's bytes.
    pub fn encode(&self) -> Result<Vec<u8>, CheckpointError> {
        encode(METADATA_MAGIC, self)
    }

    /// Reads a metadata file of any supported version; `file` names it in
    /// errors.
    pub fn decode(bytes: &[u8], file: &str) -> Result<Self, CheckpointError> {
        let (version, body) = open(METADATA_MAGIC, bytes, file)?;
        match version {
            1 => {
                let v1: CheckpointMetadataV1 = decode_body(body, file)?;
                Ok(CheckpointMetadata {
                    checkpoint_id: v1.checkpoint_id,
                    timestamp: v1.timestamp,
                    kind: v1.kind,
                    job_name: v1.job_name,
                    operators: v1.operators,
                    topology: 0,
                    tasks: Vec::new(),
                })
            }
            _ => decode_body(body, file),
        }
    }

    /// The operator with `id`.
    pub fn operator(&self, id: &OperatorId) -> Option<&OperatorMetadata> {
        self.operators.iter().find(|o| &o.id == id)
    }

    /// Every state file, once each.
    pub fn files(&self) -> Vec<&str> {
        let mut files: Vec<&str> = self
            .operators
            .iter()
            .flat_map(|o| o.subtasks.iter().map(|s| s.file.as_str()))
            .chain(self.tasks.iter().map(|t| t.file.as_str()))
            .collect();
        files.sort_unstable();
        files.dedup();
        files
    }
}
