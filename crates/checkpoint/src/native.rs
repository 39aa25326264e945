//! Keyed state kept as a state backend's own files: incremental checkpoints of
//! the LSM (RocksDB) backend.
//!
//! A full snapshot rewrites every entry in the canonical key-group format. An
//! incremental one instead references the backend's immutable data files (SST
//! files): a file is uploaded once, to `shared/` next to the job's `chk-N`
//! directories, and every later checkpoint that still has it references the
//! same copy. The small files that say which data files make up the database
//! (its manifest, `CURRENT`, options) are new at every checkpoint and travel
//! inline in the task's state file.
//!
//! [`SharedStateRegistry`] counts which checkpoints (pending or completed)
//! reference each shared file; when the last one is subsumed or aborted the
//! file is deleted. Savepoints are always canonical (and so portable across
//! backends); only checkpoints are incremental, as in Flink.

use crate::error::CheckpointError;
use crate::storage::CheckpointStorage;
use runnel_types::{CheckpointId, KeyGroupRange};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The directory of shared files, relative to the directory holding a job's
/// `chk-N` directories.
pub const SHARED_DIR: &str = "shared";

/// One state of a native snapshot: the backend's id for it in its files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NativeStateInfo {
    /// The state's name.
    pub name: String,
    /// Its kind (the code of `runnel_state`'s `StateKind`).
    pub kind: u8,
    /// The backend's id of the state (the prefix of its keys).
    pub id: u32,
    /// Entries at the time of the snapshot.
    pub entries: u64,
}

/// A data file of a native snapshot, uploaded once and shared by checkpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedFile {
    /// The file's name in the backend's directory.
    pub name: String,
    /// Where it is, relative to the directory holding the job's `chk-N`
    /// directories (`shared/<backend>/<name>`).
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
}

/// The keyed state of one operator instance as its backend's files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NativeKeyedState {
    /// The backend that wrote it (`rocksdb`).
    pub backend: String,
    /// The key groups of the instance that wrote it.
    pub key_groups: KeyGroupRange,
    /// Its states.
    pub states: Vec<NativeStateInfo>,
    /// Data files (shared between checkpoints).
    pub shared: Vec<SharedFile>,
    /// Files of this checkpoint only, with their contents.
    pub private: Vec<(String, Vec<u8>)>,
}

impl NativeKeyedState {
    /// Bytes referenced (shared files) and held inline.
    pub fn size(&self) -> u64 {
        self.shared.iter().map(|f| f.size).sum::<u64>()
            + self
                .private
                .iter()
                .map(|(_, b)| b.len() as u64)
                .sum::<u64>()
    }

    /// Whether it holds key groups of `range`.
    pub fn overlaps(&self, range: KeyGroupRange) -> bool {
        !range.is_empty()
            && !self.key_groups.is_empty()
            && self.key_groups.start <= range.end
            && range.start <= self.key_groups.end
    }
}

/// Makes a backend's data file part of the checkpoint being written (uploading
/// it unless a retained or pending checkpoint already has it).
pub trait SharedStateUploader {
    /// Adds the file at `local` (named `name`, of backend instance `backend`) to
    /// the checkpoint; `restored_from` is the full location it was downloaded
    /// from, if the backend was restored with it. Returns its path relative to
    /// the directory of the job's checkpoints.
    fn share(
        &mut self,
        backend: &str,
        name: &str,
        local: &std::path::Path,
        restored_from: Option<&str>,
    ) -> Result<String, CheckpointError>;
}

/// Which checkpoints reference each shared file (by its full location).
///
/// Pure bookkeeping: the checkpoint writer asks it whether a file must be
/// uploaded and deletes what [`SharedStateRegistry::release`] returns. A file
/// is referenced from the moment a checkpoint's state is written with it until
/// that checkpoint is subsumed, aborted or discarded.
#[derive(Debug, Default)]
pub struct SharedStateRegistry {
    files: BTreeMap<String, SharedEntry>,
}

#[derive(Debug)]
struct SharedEntry {
    /// The file's path in the checkpoint storage.
    path: String,
    refs: BTreeSet<CheckpointId>,
}

impl SharedStateRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a reference of `checkpoint` to the file at `location` if some
    /// checkpoint already has it (no upload needed); `false` if not.
    pub fn reference(&mut self, checkpoint: CheckpointId, location: &str) -> bool {
        match self.files.get_mut(location) {
            Some(entry) => {
                entry.refs.insert(checkpoint);
                true
            }
            None => false,
        }
    }

    /// Registers a file `checkpoint` uploaded to `path` (full location
    /// `location`).
    pub fn register(&mut self, checkpoint: CheckpointId, location: &str, path: &str) {
        self.files
            .entry(location.to_string())
            .or_insert_with(|| SharedEntry {
                path: path.to_string(),
                refs: BTreeSet::new(),
            })
            .refs
            .insert(checkpoint);
    }

    /// The storage path of the file at `location`, if some checkpoint has it.
    pub fn path_of(&self, location: &str) -> Option<&str> {
        self.files.get(location).map(|e| e.path.as_str())
    }

    /// Drops the references of `checkpoint`; returns the storage paths of the
    /// files nothing references any more (to delete).
    pub fn release(&mut self, checkpoint: CheckpointId) -> Vec<String> {
        let mut unused = Vec::new();
        self.files.retain(|_, entry| {
            entry.refs.remove(&checkpoint);
            if entry.refs.is_empty() {
                unused.push(entry.path.clone());
                false
            } else {
                true
            }
        });
        unused
    }

    /// Shared files referenced by some checkpoint.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether no file is referenced.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// Where the shared files of a restored checkpoint are: its storage, and the
/// directory its paths are relative to.
#[derive(Clone)]
pub struct NativeFileSource {
    storage: Arc<dyn CheckpointStorage>,
    base: String,
}

impl std::fmt::Debug for NativeFileSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeFileSource")
            .field("base", &self.storage.location(&self.base))
            .finish()
    }
}

impl NativeFileSource {
    /// Files under `base` of `storage`.
    pub fn new(storage: Arc<dyn CheckpointStorage>, base: impl Into<String>) -> Self {
        NativeFileSource {
            storage,
            base: base.into(),
        }
    }

    fn path(&self, file: &SharedFile) -> String {
        crate::storage::join_path(&self.base, &file.path)
    }

    /// The full location of `file`.
    pub fn location(&self, file: &SharedFile) -> String {
        self.storage.location(&self.path(file))
    }

    /// The contents of `file`, checked against its recorded size.
    pub fn read(&self, file: &SharedFile) -> Result<Vec<u8>, CheckpointError> {
        let bytes = self.storage.read(&self.path(file))?;
        if bytes.len() as u64 != file.size {
            return Err(CheckpointError::Corrupt {
                file: self.location(file),
                message: format!(
                    "has {} bytes, the checkpoint recorded {}",
                    bytes.len(),
                    file.size
                ),
            });
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_file_lives_while_some_checkpoint_references_it() {
        let mut r = SharedStateRegistry::new();
        let (c1, c2, c3) = (CheckpointId(1), CheckpointId(2), CheckpointId(3));
        assert!(!r.reference(c1, "/x/shared/a"));
        r.register(c1, "/x/shared/a", "x/shared/a");
        r.register(c1, "/x/shared/b", "x/shared/b");
        // Checkpoint 2 keeps a, drops b, adds c.
        assert!(r.reference(c2, "/x/shared/a"));
        r.register(c2, "/x/shared/c", "x/shared/c");
        assert_eq!(r.len(), 3);
        // 1 subsumed: only b goes.
        assert_eq!(r.release(c1), ["x/shared/b"]);
        // 3 (pending) references a and c, then is aborted: nothing goes.
        assert!(r.reference(c3, "/x/shared/a"));
        assert!(r.reference(c3, "/x/shared/c"));
        assert!(r.release(c3).is_empty());
        // 2 discarded: the rest goes, in order.
        assert_eq!(r.release(c2), ["x/shared/a", "x/shared/c"]);
        assert!(r.is_empty());
        // A released id releases nothing twice.
        assert!(r.release(c2).is_empty());
    }

    #[test]
    fn overlapping_ranges() {
        let state = |start, end| NativeKeyedState {
            backend: "rocksdb".into(),
            key_groups: KeyGroupRange { start, end },
            states: Vec::new(),
            shared: Vec::new(),
            private: Vec::new(),
        };
        let r = |start, end| KeyGroupRange { start, end };
        assert!(state(0, 63).overlaps(r(63, 127)));
        assert!(!state(0, 63).overlaps(r(64, 127)));
        assert!(state(64, 127).overlaps(r(0, 64)));
        assert!(!state(64, 127).overlaps(r(1, 0)));
    }
}
