//! The snapshot of an operator instance's operator or broadcast state.

use serde::{Deserialize, Serialize};
use std::fmt;

/// How a state's elements are redistributed when parallelism changes (Flink's
/// `OperatorStateHandle.Mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DistributionMode {
    /// The elements of all subtasks are concatenated and cut into even chunks.
    SplitDistribute,
    /// Every new subtask gets the elements of all subtasks.
    Union,
    /// Broadcast state: identical on every subtask; every new subtask gets one copy.
    Broadcast,
}

impl fmt::Display for DistributionMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DistributionMode::SplitDistribute => "list",
            DistributionMode::Union => "union list",
            DistributionMode::Broadcast => "broadcast",
        })
    }
}

/// One named state in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedOperatorState {
    /// The state's name.
    pub name: String,
    /// How it is redistributed.
    pub mode: DistributionMode,
    /// Its elements, each encoded with `RecordCodec` (for broadcast state, each a
    /// `(key, value)` pair).
    pub elements: Vec<Vec<u8>>,
}

/// The operator (or broadcast) state of one subtask: plain data, ready to be
/// serialized into a checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorStateSnapshot {
    /// The states, in registration order.
    pub states: Vec<NamedOperatorState>,
}

impl OperatorStateSnapshot {
    /// The state called `name`.
    pub fn get(&self, name: &str) -> Option<&NamedOperatorState> {
        self.states.iter().find(|s| s.name == name)
    }

    /// Whether the snapshot holds no state.
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }
}
