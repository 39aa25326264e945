//! How records on an edge are distributed over the downstream subtasks (B3).

use serde::{Deserialize, Serialize};
use std::fmt;

/// The partitioning of an edge between two operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Partitioner {
    /// Subtask *i* sends to subtask *i* (equal parallelism; the chaining edge).
    Forward,
    /// Round robin over all downstream subtasks, from a random start.
    Rebalance,
    /// Round robin over a local subset of downstream subtasks (pointwise).
    Rescale,
    /// Uniformly random downstream subtask.
    Shuffle,
    /// Every record to every downstream subtask.
    Broadcast,
    /// Everything to downstream subtask 0.
    Global,
    /// `key_by`: key → key group → subtask.
    Hash,
    /// A user partitioner over a user key.
    Custom,
}

impl Partitioner {
    /// Whether each producer talks to a subset of consumers (Flink's POINTWISE
    /// distribution) rather than to all of them.
    pub fn is_pointwise(self) -> bool {
        matches!(self, Partitioner::Forward | Partitioner::Rescale)
    }
}

impl fmt::Display for Partitioner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Partitioner::Forward => "FORWARD",
            Partitioner::Rebalance => "REBALANCE",
            Partitioner::Rescale => "RESCALE",
            Partitioner::Shuffle => "SHUFFLE",
            Partitioner::Broadcast => "BROADCAST",
            Partitioner::Global => "GLOBAL",
            Partitioner::Hash => "HASH",
            Partitioner::Custom => "CUSTOM",
        })
    }
}
