//! The checkpoint vocabulary of the data plane: ids and barriers.
//!
//! A barrier is what a checkpoint looks like inside a stream: the sources inject
//! it between two records, and it flows with the data. Everything before it
//! belongs to the checkpoint, everything after it to the next one. It carries an
//! id, the time it was triggered and how it must be handled; nothing else.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Identifies a checkpoint of a job; ids grow with every checkpoint triggered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CheckpointId(pub u64);

impl fmt::Display for CheckpointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "checkpoint {}", self.0)
    }
}

/// What a snapshot is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SnapshotKind {
    /// A periodic checkpoint, owned and cleaned up by the job.
    Checkpoint,
    /// A savepoint, triggered by hand and owned by the user.
    Savepoint,
    /// A savepoint after which the job stops (stop-with-savepoint): sources stop
    /// emitting once they have taken it.
    SavepointTerminate,
}

impl SnapshotKind {
    /// Whether this is a savepoint (of either kind).
    pub fn is_savepoint(self) -> bool {
        !matches!(self, SnapshotKind::Checkpoint)
    }
}

/// How an operator with several input channels handles barriers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BarrierAlignment {
    /// Exactly-once: a channel that delivered the barrier is held back until
    /// every channel has, so the snapshot contains exactly the records before the
    /// barrier.
    Aligned,
    /// At-least-once: no channel is held back; records after the barrier on a
    /// fast channel may be in the snapshot and are replayed after a restore.
    AtLeastOnce,
    /// Exactly-once without waiting: the first barrier is acted on at once and
    /// overtakes the buffers in flight, which are stored with the snapshot.
    Unaligned,
}

/// A checkpoint barrier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointBarrier {
    /// The checkpoint.
    pub id: CheckpointId,
    /// When the coordinator triggered it (epoch ms).
    pub timestamp: i64,
    /// Checkpoint or savepoint.
    pub kind: SnapshotKind,
    /// How multi-input operators handle it.
    pub alignment: BarrierAlignment,
    /// With [`BarrierAlignment::Aligned`]: after this many ms of alignment the
    /// checkpoint switches to unaligned (Flink's aligned-checkpoint timeout);
    /// `None` never switches.
    pub aligned_timeout_ms: Option<u64>,
}

impl CheckpointBarrier {
    /// An aligned checkpoint barrier.
    pub fn aligned(id: CheckpointId, timestamp: i64) -> Self {
        CheckpointBarrier {
            id,
            timestamp,
            kind: SnapshotKind::Checkpoint,
            alignment: BarrierAlignment::Aligned,
            aligned_timeout_ms: None,
        }
    }
}
