//! Errors of checkpoints and restores: each names the checkpoint, file or
//! operator concerned.

use crate::snapshot::OperatorId;
use crate::storage::StorageError;
use thiserror::Error;

/// A checkpoint that cannot be written, read or restored.
#[derive(Debug, Error)]
pub enum CheckpointError {
    /// The storage failed (an external system's fault; a retry may help).
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A file is not a Runnel checkpoint file or is damaged.
    #[error("{file}: {message}")]
    Corrupt {
        /// The file.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// A file of a newer format than this build reads.
    #[error(
        "{file}: format version {found} is newer than the newest this build reads ({supported})"
    )]
    UnsupportedVersion {
        /// The file.
        file: String,
        /// Its version.
        found: u8,
        /// The newest version this build reads.
        supported: u8,
    },
    /// State of an operator the job no longer has (the user's to decide: set
    /// `allow_non_restored_state` to drop it).
    #[error(
        "the snapshot at {location} has state for {operator} (`{name}`), which this job does not have; \
         give the operator its old uid back, or allow non-restored state to drop it"
    )]
    UnmappedState {
        /// Where the snapshot is.
        location: String,
        /// The operator's id.
        operator: OperatorId,
        /// Its name when the snapshot was taken.
        name: String,
    },
    /// The snapshot's operator cannot be restored at the new parallelism.
    #[error("{operator} (`{name}`) cannot be restored with parallelism {parallelism}: {reason}")]
    Incompatible {
        /// The operator's id.
        operator: OperatorId,
        /// Its name.
        name: String,
        /// The parallelism asked for.
        parallelism: u32,
        /// Why not.
        reason: String,
    },
    /// An unaligned checkpoint's in-flight data cannot go into a job of
    /// another shape (parallelism or chaining changed).
    #[error(
        "the checkpoint at {location} holds in-flight data of an unaligned checkpoint, which can only \
         be restored into the same job topology (same parallelism and chaining); take a savepoint \
         (always aligned) to rescale"
    )]
    InFlightDataNeedsSameTopology {
        /// Where the checkpoint is.
        location: String,
    },
}
