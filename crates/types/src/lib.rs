//! Runnel's shared vocabulary: the small value types every other crate speaks.
//!
//! This crate owns identifiers, event time and watermarks, key-group arithmetic
//! (Flink's `KeyGroupRangeAssignment`), the record envelope that flows between
//! operators, checkpoint ids and barriers, and the compact binary codec used
//! whenever a record crosses a task boundary or is stored. It depends on nothing
//! else in Runnel and must stay free of threads, I/O and configuration:
//! everything here is pure and cheap to test.

mod checkpoint;
mod codec;
pub mod content_hash;
mod data;
mod fx;
mod ids;
mod key_group;
mod key_hash;
mod record;
mod time;

pub use checkpoint::{BarrierAlignment, CheckpointBarrier, CheckpointId, SnapshotKind};
pub use codec::{CodecError, RecordCodec};
pub use data::{Data, Key};
pub use fx::{FxBuildHasher, FxHashMap, FxHasher};
pub use ids::{EdgeId, JobVertexId, NodeId, OutputTagId, SubtaskIndex};
pub use key_group::{
    KeyGroup, KeyGroupAssigner, KeyGroupRange, MAX_PARALLELISM_UPPER_BOUND,
    assign_key_to_parallel_operator, assign_to_key_group, compute_default_max_parallelism,
    compute_key_group_for_key_hash, compute_key_group_range_for_operator_index,
    compute_operator_index_for_key_group, murmur_hash,
};
pub use key_hash::key_hash;
pub use record::StreamRecord;
pub use time::{EventTime, Watermark, WatermarkStatus};
