//! Restore assignment: which state each subtask of a restarted job gets.
//!
//! The job may have another parallelism than the snapshot (rescaling, D6).
//! Keyed state moves by key group: a new subtask takes the key groups of its
//! range from whichever old subtasks held them, so the max parallelism must be
//! unchanged. Operator state is redistributed by its mode (even split, union,
//! broadcast; see `runnel_state::repartition`). Operators are matched by
//! [`OperatorId`]; state of an operator the job no longer has is an error unless
//! the user allows dropping it.

use crate::error::CheckpointError;
use crate::metadata::{CheckpointMetadata, METADATA_FILE};
use crate::native::NativeFileSource;
use crate::snapshot::{ChannelState, OperatorId, OperatorSubtaskState, TaskStateSnapshot};
use crate::storage::{CheckpointStorage, join_path as join};
use runnel_state::repartition;
use runnel_types::{CheckpointId, compute_key_group_range_for_operator_index};
use std::collections::HashMap;

/// An operator of the job being restored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobOperator {
    /// Its id.
    pub id: OperatorId,
    /// Its name.
    pub name: String,
    /// Its parallelism now.
    pub parallelism: u32,
    /// Its max parallelism now.
    pub max_parallelism: u32,
}

/// The state of every operator instance of a job restored from a snapshot.
#[derive(Debug, Default)]
pub struct RestoredJob {
    /// The snapshot's checkpoint id (ids of new checkpoints continue after it).
    pub checkpoint_id: Option<CheckpointId>,
    /// Where the snapshot was (for messages).
    pub location: String,
    operators: HashMap<OperatorId, Vec<OperatorSubtaskState>>,
    /// In-flight data by task (vertex, subtask).
    channels: HashMap<(u32, u32), Vec<ChannelState>>,
    /// Where the shared files of native keyed state are.
    native_files: Option<NativeFileSource>,
}

impl RestoredJob {
    /// Nothing to restore (a fresh start).
    pub fn empty() -> Self {
        Self::default()
    }

    /// Reads the snapshot in `dir` of `storage` and assigns its state to
    /// `operators` (the job's operators at their current parallelism);
    /// `topology` is the job's fingerprint (see
    /// [`CheckpointMetadata::topology`]).
    pub fn load(
        storage: &dyn CheckpointStorage,
        dir: &str,
        operators: &[JobOperator],
        topology: u64,
        allow_non_restored_state: bool,
    ) -> Result<RestoredJob, CheckpointError> {
        let meta_path = join(dir, METADATA_FILE);
        let metadata =
            CheckpointMetadata::decode(&storage.read(&meta_path)?, &storage.location(&meta_path))?;
        let mut files: HashMap<&str, TaskStateSnapshot> = HashMap::new();
        for file in metadata.files() {
            let path = join(dir, file);
            let bytes = storage.read(&path)?;
            files.insert(
                file,
                TaskStateSnapshot::decode(&bytes, &storage.location(&path))?,
            );
        }
        let mut restored = Self::assign(
            &metadata,
            &files,
            operators,
            allow_non_restored_state,
            storage.location(dir),
        )?;
        restored.assign_channels(&metadata, &files, topology)?;
        Ok(restored)
    }

    /// Hands in-flight data back to the tasks it was captured at, which needs
    /// the same topology.
    fn assign_channels(
        &mut self,
        metadata: &CheckpointMetadata,
        files: &HashMap<&str, TaskStateSnapshot>,
        topology: u64,
    ) -> Result<(), CheckpointError> {
        for task in &metadata.tasks {
            let Some(snapshot) = files.get(task.file.as_str()) else {
                continue;
            };
            if snapshot.channels.iter().all(|c| c.buffers.is_empty()) {
                continue;
            }
            if metadata.topology != topology {
                return Err(CheckpointError::InFlightDataNeedsSameTopology {
                    location: self.location.clone(),
                });
            }
            self.channels
                .insert((task.vertex, task.subtask), snapshot.channels.clone());
        }
        Ok(())
    }

    /// The in-flight data task (`vertex`, `subtask`) replays first.
    pub fn channels_of(&self, vertex: u32, subtask: u32) -> &[ChannelState] {
        self.channels
            .get(&(vertex, subtask))
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Assigns loaded state files (`files`, by name) to `operators`.
    pub fn assign(
        metadata: &CheckpointMetadata,
        files: &HashMap<&str, TaskStateSnapshot>,
        operators: &[JobOperator],
        allow_non_restored_state: bool,
        location: String,
    ) -> Result<RestoredJob, CheckpointError> {
        let mut restored = RestoredJob {
            checkpoint_id: Some(metadata.checkpoint_id),
            location: location.clone(),
            operators: HashMap::new(),
            channels: HashMap::new(),
            native_files: None,
        };
        for old in &metadata.operators {
            let Some(new) = operators.iter().find(|o| o.id == old.id) else {
                if allow_non_restored_state {
                    continue;
                }
                return Err(CheckpointError::UnmappedState {
                    location,
                    operator: old.id.clone(),
                    name: old.name.clone(),
                });
            };
            let mut old_states: Vec<OperatorSubtaskState> = Vec::with_capacity(old.subtasks.len());
            for s in &old.subtasks {
                let task = files
                    .get(s.file.as_str())
                    .ok_or_else(|| CheckpointError::Corrupt {
                        file: s.file.clone(),
                        message: "listed in the metadata but not loaded".to_string(),
                    })?;
                old_states.push(task.operator(&old.id).cloned().unwrap_or_default());
            }
            let has_keyed = old_states.iter().any(OperatorSubtaskState::has_keyed_state);
            if has_keyed && old.max_parallelism != new.max_parallelism {
                return Err(CheckpointError::Incompatible {
                    operator: old.id.clone(),
                    name: new.name.clone(),
                    parallelism: new.parallelism,
                    reason: format!(
                        "its keyed state has {} key groups (max parallelism) and the job now has {}",
                        old.max_parallelism, new.max_parallelism
                    ),
                });
            }
            let operator_states = repartition(
                &old_states
                    .iter()
                    .map(|s| s.operator_state.clone())
                    .collect::<Vec<_>>(),
                new.parallelism,
            );
            let mut per_subtask = Vec::with_capacity(new.parallelism as usize);
            for (subtask, operator_state) in operator_states.into_iter().enumerate() {
                let range = compute_key_group_range_for_operator_index(
                    new.max_parallelism,
                    new.parallelism,
                    subtask as u32,
                );
                let mut key_groups: Vec<_> = old_states
                    .iter()
                    .flat_map(|s| s.key_groups_in(range).cloned())
                    .collect();
                key_groups.sort_by_key(|g| g.group);
                let native = old_states
                    .iter()
                    .flat_map(|s| s.native.iter().filter(|n| n.overlaps(range)).cloned())
                    .collect();
                per_subtask.push(OperatorSubtaskState {
                    key_groups,
                    operator_state,
                    native,
                });
            }
            restored.operators.insert(new.id.clone(), per_subtask);
        }
        Ok(restored)
    }

    /// The state of `operator`'s `subtask`, if the snapshot has any.
    pub fn state_of(&self, operator: &OperatorId, subtask: u32) -> Option<&OperatorSubtaskState> {
        self.operators
            .get(operator)
            .and_then(|v| v.get(subtask as usize))
            .filter(|s| !s.is_empty())
    }

    /// Where the shared files of native keyed state in this snapshot are
    /// (`None`: it has none, or they cannot be reached).
    pub fn native_files(&self) -> Option<&NativeFileSource> {
        self.native_files.as_ref()
    }

    /// Sets where the shared files of native keyed state are: `base` of
    /// `storage` is the directory holding the snapshot's `chk-N` directory.
    pub fn with_native_files(mut self, source: NativeFileSource) -> Self {
        self.native_files = Some(source);
        self
    }

    /// Whether some operator has keyed state as backend files.
    pub fn has_native_state(&self) -> bool {
        self.operators
            .values()
            .flatten()
            .any(|s| !s.native.is_empty())
    }

    /// Whether the snapshot had state for `operator` (possibly empty).
    pub fn has_operator(&self, operator: &OperatorId) -> bool {
        self.operators.contains_key(operator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::{OperatorMetadata, SubtaskStateFile};
    use crate::snapshot::KeyGroupState;
    use runnel_state::{DistributionMode, NamedOperatorState, OperatorStateSnapshot};
    use runnel_types::{KeyGroup, SnapshotKind};

    fn op(id: &str, p: u32) -> JobOperator {
        JobOperator {
            id: OperatorId(id.to_string()),
            name: id.to_string(),
            parallelism: p,
            max_parallelism: 8,
        }
    }

    /// Two old subtasks of "keyed" (key groups 0..4 and 4..8, each group's
    /// state is its number) and of "src" (offsets 10, 20 and 30).
    fn snapshot() -> (CheckpointMetadata, Vec<(String, TaskStateSnapshot)>) {
        let mut files = Vec::new();
        for subtask in 0..2u32 {
            let range = compute_key_group_range_for_operator_index(8, 2, subtask);
            let key_groups = (range.start..=range.end)
                .map(|g| KeyGroupState {
                    group: KeyGroup(g as u16),
                    state: vec![g as u8],
                    timers: Vec::new(),
                })
                .collect();
            let offsets = if subtask == 0 {
                vec![10u8, 20]
            } else {
                vec![30]
            };
            let src = OperatorSubtaskState {
                key_groups: Vec::new(),
                operator_state: OperatorStateSnapshot {
                    states: vec![NamedOperatorState {
                        name: "splits".into(),
                        mode: DistributionMode::SplitDistribute,
                        elements: offsets.into_iter().map(|o| vec![o]).collect(),
                    }],
                },
                native: Vec::new(),
            };
            let keyed = OperatorSubtaskState {
                key_groups,
                operator_state: OperatorStateSnapshot::default(),
                native: Vec::new(),
            };
            files.push((
                format!("task-{subtask}"),
                TaskStateSnapshot {
                    operators: vec![
                        (OperatorId("src".into()), src),
                        (OperatorId("keyed".into()), keyed),
                    ],
                    channels: Vec::new(),
                },
            ));
        }
        let subtasks = (0..2)
            .map(|s| SubtaskStateFile {
                subtask: s,
                file: format!("task-{s}"),
            })
            .collect::<Vec<_>>();
        let meta = CheckpointMetadata {
            checkpoint_id: CheckpointId(7),
            timestamp: 0,
            kind: SnapshotKind::Checkpoint,
            job_name: "j".into(),
            operators: ["src", "keyed"]
                .into_iter()
                .map(|id| OperatorMetadata {
                    id: OperatorId(id.into()),
                    name: id.into(),
                    parallelism: 2,
                    max_parallelism: 8,
                    subtasks: subtasks.clone(),
                })
                .collect(),
            topology: 0,
            tasks: Vec::new(),
        };
        (meta, files)
    }

    fn restore(ops: &[JobOperator], allow: bool) -> Result<RestoredJob, CheckpointError> {
        let (meta, files) = snapshot();
        let files: HashMap<&str, TaskStateSnapshot> =
            files.iter().map(|(n, t)| (n.as_str(), t.clone())).collect();
        RestoredJob::assign(&meta, &files, ops, allow, "chk-7".into())
    }

    #[test]
    fn rescaling_moves_key_groups_and_splits_operator_state() {
        for p in [1u32, 2, 3] {
            let r = restore(&[op("src", p), op("keyed", p)], false).unwrap();
            let mut groups = Vec::new();
            let mut offsets = Vec::new();
            for s in 0..p {
                let keyed = r.state_of(&OperatorId("keyed".into()), s).unwrap();
                let range = compute_key_group_range_for_operator_index(8, p, s);
                for g in &keyed.key_groups {
                    assert!(range.contains(g.group), "p={p}: {g:?} outside {range:?}");
                    assert_eq!(g.state, vec![g.group.0 as u8]);
                    groups.push(g.group.0);
                }
                if let Some(src) = r.state_of(&OperatorId("src".into()), s) {
                    offsets.extend(src.operator_state.states[0].elements.iter().map(|e| e[0]));
                }
            }
            assert_eq!(groups, (0..8).collect::<Vec<_>>(), "p={p}");
            offsets.sort();
            assert_eq!(offsets, [10, 20, 30], "p={p}");
        }
    }

    #[test]
    fn state_of_a_missing_operator_is_an_error_unless_allowed() {
        let err = restore(&[op("keyed", 2)], false).unwrap_err();
        assert!(
            err.to_string().contains("which this job does not have"),
            "{err}"
        );
        let r = restore(&[op("keyed", 2)], true).unwrap();
        assert!(!r.has_operator(&OperatorId("src".into())));
    }

    #[test]
    fn keyed_state_needs_the_same_max_parallelism() {
        let mut keyed = op("keyed", 2);
        keyed.max_parallelism = 16;
        let err = restore(&[op("src", 2), keyed], false).unwrap_err();
        assert!(err.to_string().contains("8 key groups"), "{err}");
    }
}
