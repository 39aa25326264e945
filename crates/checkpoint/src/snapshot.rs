//! What a snapshot holds: per operator instance, its keyed state and timers by key
//! group and its operator (list, union list, broadcast) state; per task, the
//! states of the operators of its chain.
//!
//! Everything here is plain, serializable data. Keyed state stays in the
//! key-group format of `runnel-state` (`RKGS`), so a key group can move to any
//! subtask of a rescaled job; operator state is redistributed by its mode.

use crate::native::NativeKeyedState;
use runnel_state::OperatorStateSnapshot;
use runnel_types::{KeyGroup, KeyGroupRange, NodeId};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Identifies an operator across runs of a job, so its state finds it again:
/// the `uid` the program gave it, or, without one, its position in the
/// program's graph (which changes when the program adds operators before it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OperatorId(pub String);

impl OperatorId {
    /// The id of an operator with `uid` (if set) at `node`.
    pub fn of(uid: Option<&str>, node: NodeId) -> Self {
        match uid {
            Some(uid) => OperatorId(format!("uid:{uid}")),
            None => OperatorId(format!("auto:{}", node.0)),
        }
    }

    /// Whether the id comes from a `uid`.
    pub fn is_uid(&self) -> bool {
        self.0.starts_with("uid:")
    }
}

impl fmt::Display for OperatorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.strip_prefix("uid:") {
            Some(uid) => write!(f, "uid `{uid}`"),
            None => write!(
                f,
                "operator #{} (no uid)",
                self.0.strip_prefix("auto:").unwrap_or(&self.0)
            ),
        }
    }
}

/// One key group of an operator instance: its keyed state (the `RKGS` format of
/// `runnel-state`) and its timers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyGroupState {
    /// The key group.
    pub group: KeyGroup,
    /// Keyed state entries; empty if none.
    pub state: Vec<u8>,
    /// Timers; empty if none.
    pub timers: Vec<u8>,
}

/// The state of one operator instance at a checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorSubtaskState {
    /// Keyed state and timers, by key group, in key-group order.
    pub key_groups: Vec<KeyGroupState>,
    /// Operator list, union list and broadcast state (sources keep their splits
    /// here).
    pub operator_state: OperatorStateSnapshot,
    /// Keyed state as the backend's own files (an incremental checkpoint of the
    /// LSM backend; its timers stay in `key_groups`). Several after a rescale:
    /// those of every old instance whose key groups overlap this one's.
    pub native: Vec<NativeKeyedState>,
}

/// Version 1 and 2 of [`OperatorSubtaskState`] (no native state).
#[derive(Deserialize)]
struct OperatorSubtaskStateV2 {
    key_groups: Vec<KeyGroupState>,
    operator_state: OperatorStateSnapshot,
}

impl From<OperatorSubtaskStateV2> for OperatorSubtaskState {
    fn from(v2: OperatorSubtaskStateV2) -> Self {
        OperatorSubtaskState {
            key_groups: v2.key_groups,
            operator_state: v2.operator_state,
            native: Vec::new(),
        }
    }
}

impl OperatorSubtaskState {
    /// Whether the instance has no state at all.
    pub fn is_empty(&self) -> bool {
        self.key_groups.is_empty() && self.operator_state.is_empty() && self.native.is_empty()
    }

    /// Whether it has keyed state (in key groups or as backend files).
    pub fn has_keyed_state(&self) -> bool {
        !self.key_groups.is_empty() || !self.native.is_empty()
    }

    /// The key group `group`, if it has state.
    pub fn key_group(&self, group: KeyGroup) -> Option<&KeyGroupState> {
        self.key_groups
            .binary_search_by_key(&group, |g| g.group)
            .ok()
            .map(|i| &self.key_groups[i])
    }

    /// The key groups of `range` that have state.
    pub fn key_groups_in(&self, range: KeyGroupRange) -> impl Iterator<Item = &KeyGroupState> {
        self.key_groups
            .iter()
            .filter(move |g| range.contains(g.group))
    }
}

/// A channel between two subtasks: job edge, producer and consumer subtask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ChannelKey {
    /// The job edge.
    pub job_edge: u32,
    /// The producer subtask.
    pub producer: u32,
    /// The consumer subtask.
    pub consumer: u32,
}

/// Which end of a channel in-flight data was captured at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChannelSide {
    /// Received by the consumer after its snapshot, before the channel's
    /// barrier: replayed into the consumer first after a restore.
    Input,
    /// Overtaken by the producer's barrier: sent again first after a restore.
    Output,
}

/// The in-flight data of one channel at an unaligned checkpoint: buffers of
/// encoded stream elements, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelState {
    /// The channel.
    pub channel: ChannelKey,
    /// Where it was captured.
    pub side: ChannelSide,
    /// The buffers.
    pub buffers: Vec<Vec<u8>>,
}

/// Everything one task contributed to a checkpoint: the state of each operator of
/// its chain that has state, and (unaligned checkpoints) in-flight data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskStateSnapshot {
    /// Operators and their states, in chain order.
    pub operators: Vec<(OperatorId, OperatorSubtaskState)>,
    /// In-flight data of the task's input and output channels.
    pub channels: Vec<ChannelState>,
}

/// Version 1 of [`TaskStateSnapshot`] (no channel state).
#[derive(Deserialize)]
struct TaskStateSnapshotV1 {
    operators: Vec<(OperatorId, OperatorSubtaskStateV2)>,
}

/// Version 2 of [`TaskStateSnapshot`] (no native keyed state).
#[derive(Deserialize)]
struct TaskStateSnapshotV2 {
    operators: Vec<(OperatorId, OperatorSubtaskStateV2)>,
    channels: Vec<ChannelState>,
}

fn upgrade(
    operators: Vec<(OperatorId, OperatorSubtaskStateV2)>,
) -> Vec<(OperatorId, OperatorSubtaskState)> {
    operators
        .into_iter()
        .map(|(id, s)| (id, s.into()))
        .collect()
}

impl TaskStateSnapshot {
    /// The bytes of a task state file.
    pub fn encode(&self) -> Result<Vec<u8>, crate::CheckpointError> {
        crate::format::encode(crate::format::TASK_STATE_MAGIC, self)
    }

    /// Reads a task state file of any supported version.
    pub fn decode(bytes: &[u8], file: &str) -> Result<Self, crate::CheckpointError> {
        use crate::format::{TASK_STATE_MAGIC, decode_body, open};
        let (version, body) = open(TASK_STATE_MAGIC, bytes, file)?;
        match version {
            1 => {
                let v1: TaskStateSnapshotV1 = decode_body(body, file)?;
                Ok(TaskStateSnapshot {
                    operators: upgrade(v1.operators),
                    channels: Vec::new(),
                })
            }
            2 => {
                let v2: TaskStateSnapshotV2 = decode_body(body, file)?;
                Ok(TaskStateSnapshot {
                    operators: upgrade(v2.operators),
                    channels: v2.channels,
                })
            }
            _ => decode_body(body, file),
        }
    }
}

impl TaskStateSnapshot {
    /// The state of `operator`, if the task has it.
    pub fn operator(&self, operator: &OperatorId) -> Option<&OperatorSubtaskState> {
        self.operators
            .iter()
            .find(|(id, _)| id == operator)
            .map(|(_, s)| s)
    }

    /// Bytes of state held (for logs and metrics).
    pub fn state_size(&self) -> usize {
        self.operators
            .iter()
            .map(|(_, s)| {
                s.key_groups
                    .iter()
                    .map(|g| g.state.len() + g.timers.len())
                    .sum::<usize>()
                    + s.operator_state
                        .states
                        .iter()
                        .flat_map(|n| &n.elements)
                        .map(Vec::len)
                        .sum::<usize>()
                    + s.native.iter().map(|n| n.size() as usize).sum::<usize>()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{TASK_STATE_MAGIC, encode};
    use runnel_types::KeyGroup;
    use serde::Serialize;

    /// The shape of a version-2 task state file.
    #[derive(Serialize)]
    struct V2 {
        operators: Vec<(OperatorId, (Vec<KeyGroupState>, OperatorStateSnapshot))>,
        channels: Vec<ChannelState>,
    }

    #[test]
    fn a_version_2_task_state_file_still_loads() {
        let group = KeyGroupState {
            group: KeyGroup(3),
            state: vec![1, 2],
            timers: vec![3],
        };
        let mut bytes = encode(
            TASK_STATE_MAGIC,
            &V2 {
                operators: vec![(
                    OperatorId("uid:sum".into()),
                    (vec![group.clone()], OperatorStateSnapshot::default()),
                )],
                channels: Vec::new(),
            },
        )
        .unwrap();
        bytes[4] = 2;
        let task = TaskStateSnapshot::decode(&bytes, "task-0-0.state").unwrap();
        let state = task.operator(&OperatorId("uid:sum".into())).unwrap();
        assert_eq!(state.key_groups, [group]);
        assert!(state.native.is_empty());
    }
}
