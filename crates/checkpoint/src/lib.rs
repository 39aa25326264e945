//! Checkpoints (H1–H3): what a snapshot of a job is, where it is kept, how it is
//! coordinated, and how it is handed back to a job that restarts, possibly at
//! another parallelism.
//!
//! * [`coordinator`]: Flink's `CheckpointCoordinator` as a pure state machine.
//!   Events go in (a tick of the clock, a task's acknowledgement, a task that
//!   finished), actions come out (inject barriers, persist metadata, notify
//!   tasks, fail the job). It starts no threads and reads no clock, so every
//!   rule (interval, min pause, max concurrent, timeout, tolerable failures,
//!   retention) is tested without sleeping.
//! * [`snapshot`]: the state of one operator instance and of one task, as plain
//!   data; keyed state is kept per key group so it can be reassigned.
//! * [`metadata`] and [`format`]: the versioned files of a checkpoint or
//!   savepoint (`_metadata` and one state file per task).
//! * [`storage`]: where those files go: memory, a file system directory.
//! * [`native`]: keyed state as a backend's files (incremental checkpoints)
//!   and the reference counts of the files checkpoints share.
//! * [`restore`]: which state each subtask of a (possibly rescaled) job gets.
//!
//! This crate depends on `runnel-types` and `runnel-state` only. The runtime
//! drives the coordinator, takes the snapshots and does the I/O.

pub mod coordinator;
pub mod error;
pub mod format;
pub mod metadata;
pub mod native;
pub mod restore;
#[cfg(feature = "s3")]
pub mod s3;
pub mod snapshot;
pub mod storage;

pub use coordinator::{
    Action, CheckpointCoordinator, CoordinatorConfig, DeclineReason, Event, TaskId,
};
pub use error::CheckpointError;
pub use metadata::{CheckpointMetadata, OperatorMetadata, SubtaskStateFile, TaskStateFile};
pub use native::{
    NativeFileSource, NativeKeyedState, NativeStateInfo, SharedFile, SharedStateRegistry,
    SharedStateUploader,
};
pub use restore::{JobOperator, RestoredJob};
#[cfg(feature = "s3")]
pub use s3::S3Storage;
pub use snapshot::{
    ChannelKey, ChannelSide, ChannelState, KeyGroupState, OperatorId, OperatorSubtaskState,
    TaskStateSnapshot,
};
pub use storage::{
    CheckpointStorage, FsStorage, MemoryStorage, S3Options, StorageError, storage_for,
};
