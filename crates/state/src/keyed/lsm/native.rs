//! Snapshots of a store as RocksDB's own files, for incremental checkpoints,
//! and restores from them.
//!
//! A snapshot is a RocksDB checkpoint: the memtables are flushed, and the live
//! data files (SST files, immutable) are hard-linked into a directory of their
//! own next to the store, with copies of the manifest that lists them. That is
//! quick (no entry is read or written), and the files stay valid while the
//! store goes on: the checkpoint writer uploads, off the task thread, only the
//! data files no earlier checkpoint has (see `runnel-checkpoint`'s `native`).
//!
//! The files hold keys `[group][state id]…` (see the module above), so a
//! snapshot lists each state's name and id. A restore into the same key groups
//! opens the downloaded files as the store's database (states keep their ids;
//! new ones get unused ids); a rescaled one copies the entries of its key
//! groups out of each old database, rewriting the state ids.

use super::{LsmDb, LsmOptions, OwnedDir, fresh_dir, successor};
use crate::error::StateError;
use crate::keyed::StateKind;
use rocksdb::{DB, Options, WriteBatch};
use runnel_types::KeyGroupRange;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A state in a native snapshot: its name, kind, key prefix and entry count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeStateMeta {
    /// The state's name.
    pub name: String,
    /// Its kind.
    pub kind: StateKind,
    /// Its key prefix in the files.
    pub id: u32,
    /// Its entries (values, list elements or map entries).
    pub entries: u64,
}

/// A file of a native snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeSnapshotFile {
    /// Its name in the database directory.
    pub name: String,
    /// Where it is now.
    pub path: PathBuf,
    /// Its size.
    pub size: u64,
    /// Whether it is an immutable data file (shared by checkpoints) rather
    /// than one describing this snapshot (manifest, options, `CURRENT`).
    pub shared: bool,
    /// Where the file was downloaded from when the store was restored.
    pub restored_from: Option<String>,
}

/// A store's RocksDB files as of the snapshot: hard links in a directory of
/// their own, deleted when this is dropped.
#[derive(Debug)]
pub struct NativeKeyedSnapshot {
    _dir: OwnedDir,
    /// The database instance (its file names are unique within it).
    pub backend_uid: String,
    /// The store's key groups.
    pub key_groups: KeyGroupRange,
    /// Its states.
    pub states: Vec<NativeStateMeta>,
    /// The files.
    pub files: Vec<NativeSnapshotFile>,
}

/// One native snapshot to restore: its files, downloaded into a directory of
/// [`NativeRestore::directory`], and what it holds.
#[derive(Debug)]
pub struct NativeRestore {
    dir: OwnedDir,
    /// The key groups of the store that took it.
    pub key_groups: KeyGroupRange,
    /// Its states.
    pub states: Vec<NativeStateMeta>,
    /// Where each data file was downloaded from (file name, location).
    pub restored_from: Vec<(String, String)>,
}

impl NativeRestore {
    /// An empty directory (under the backend's working directory) to download
    /// a snapshot's files into; deleted unless the restore keeps it.
    pub fn directory(
        options: &LsmOptions,
        key_groups: KeyGroupRange,
        states: Vec<NativeStateMeta>,
    ) -> Result<NativeRestore, StateError> {
        Ok(NativeRestore {
            dir: fresh_dir(options, "restore-")?,
            key_groups,
            states,
            restored_from: Vec::new(),
        })
    }

    /// The directory to download into.
    pub fn path(&self) -> &Path {
        &self.dir.0
    }
}

fn io_error(what: &str, path: &Path, e: impl std::fmt::Display) -> StateError {
    StateError::Backend {
        state: "(lsm store)".to_string(),
        message: format!("{what} {}: {e}", path.display()),
    }
}

impl LsmDb {
    /// Flushes the memtables and hard-links the live files into a new
    /// directory; `states` are the store's states.
    pub(crate) fn native_snapshot(
        &self,
        key_groups: KeyGroupRange,
        states: Vec<NativeStateMeta>,
    ) -> Result<NativeKeyedSnapshot, StateError> {
        let store_dir = &self.shared.dir.0;
        let dir = fresh_dir_next_to(store_dir)?;
        // RocksDB creates the checkpoint directory itself.
        std::fs::remove_dir(&dir.0).map_err(|e| io_error("cannot prepare", &dir.0, e))?;
        let db = self.db();
        // The WAL is off: only a flush puts the memtables' entries into files.
        db.flush()
            .map_err(|e| io_error("cannot flush the memtables of", store_dir, e))?;
        rocksdb::checkpoint::Checkpoint::new(db)
            .and_then(|c| c.create_checkpoint(&dir.0))
            .map_err(|e| io_error("cannot create a RocksDB checkpoint in", &dir.0, e))?;
        let mut files = Vec::new();
        let entries = std::fs::read_dir(&dir.0).map_err(|e| io_error("cannot list", &dir.0, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| io_error("cannot list", &dir.0, e))?;
            let meta = entry
                .metadata()
                .map_err(|e| io_error("cannot stat", &entry.path(), e))?;
            if !meta.is_file() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            files.push(NativeSnapshotFile {
                shared: name.ends_with(".sst"),
                restored_from: self.restored_from.get(&name).cloned(),
                path: entry.path(),
                size: meta.len(),
                name,
            });
        }
        files.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(NativeKeyedSnapshot {
            _dir: dir,
            backend_uid: self.uid.clone(),
            key_groups,
            states,
            files,
        })
    }

    /// The database restored from `restores` for the key groups `range`, and
    /// the states they hold. One snapshot of exactly `range` becomes the
    /// database; otherwise the entries of `range` are copied out of each.
    pub(crate) fn restore(
        options: &LsmOptions,
        range: KeyGroupRange,
        restores: Vec<NativeRestore>,
    ) -> Result<(LsmDb, Vec<NativeStateMeta>), StateError> {
        let mut merged: BTreeMap<String, NativeStateMeta> = BTreeMap::new();
        for restore in &restores {
            for s in &restore.states {
                let kept = merged
                    .entry(s.name.clone())
                    .or_insert_with(|| NativeStateMeta {
                        entries: 0,
                        ..s.clone()
                    });
                if kept.kind != s.kind {
                    return Err(StateError::corrupt(format!(
                        "state `{}` is restored both as {} and as {} state",
                        s.name, kept.kind, s.kind
                    )));
                }
            }
        }
        if let [only] = restores.as_slice()
            && only.key_groups == range
        {
            let [restore] = <[NativeRestore; 1]>::try_from(restores)
                .map_err(|_| StateError::corrupt("one restore expected".to_string()))?;
            let ids = restore
                .states
                .iter()
                .map(|s| (s.name.clone(), s.id))
                .collect();
            let mut db = LsmDb::open_in(options, restore.dir, ids)?;
            db.restored_from = restore.restored_from.into_iter().collect();
            let states: Vec<NativeStateMeta> = restore.states;
            *db.restored_counts.borrow_mut() = states
                .iter()
                .map(|s| (s.name.clone(), s.entries as usize))
                .collect();
            return Ok((db, states));
        }
        let db = LsmDb::open(options)?;
        let mut counts: HashMap<String, usize> = HashMap::new();
        for restore in restores {
            db.copy_key_groups(&restore, range, &mut counts)?;
        }
        let states = merged
            .into_values()
            .map(|s| NativeStateMeta {
                id: db.id_for(&s.name),
                entries: counts.get(&s.name).copied().unwrap_or(0) as u64,
                ..s
            })
            .collect();
        *db.restored_counts.borrow_mut() = counts;
        Ok((db, states))
    }

    /// Copies the entries of the key groups of `range` out of the database of
    /// `restore`, with this database's state ids; counts them by state.
    fn copy_key_groups(
        &self,
        restore: &NativeRestore,
        range: KeyGroupRange,
        counts: &mut HashMap<String, usize>,
    ) -> Result<(), StateError> {
        let start = range.start.max(restore.key_groups.start);
        let end = range.end.min(restore.key_groups.end);
        if start > end {
            return Ok(());
        }
        let path = restore.path();
        let old = DB::open_for_read_only(&Options::default(), path, false)
            .map_err(|e| io_error("cannot open the restored files in", path, e))?;
        const BATCH_BYTES: usize = 4 << 20;
        for state in &restore.states {
            let id = self.id_for(&state.name);
            let count = counts.entry(state.name.clone()).or_default();
            for group in start..=end {
                let mut prefix = (group as u16).to_be_bytes().to_vec();
                prefix.extend_from_slice(&state.id.to_be_bytes());
                let mut read = rocksdb::ReadOptions::default();
                if let Some(upper) = successor(&prefix) {
                    read.set_iterate_upper_bound(upper);
                }
                let mut it = old.raw_iterator_opt(read);
                it.seek(&prefix);
                let mut batch = WriteBatch::default();
                let mut key = Vec::new();
                while it.valid() {
                    let (Some(k), Some(v)) = (it.key(), it.value()) else {
                        break;
                    };
                    if !k.starts_with(&prefix) {
                        break;
                    }
                    key.clear();
                    key.extend_from_slice(&k[..2]);
                    key.extend_from_slice(&id.to_be_bytes());
                    key.extend_from_slice(&k[6..]);
                    batch.put(&key, v);
                    *count += if state.kind == StateKind::List {
                        super::tables::list_len(v)
                    } else {
                        1
                    };
                    if batch.size_in_bytes() >= BATCH_BYTES {
                        self.write_batch(std::mem::take(&mut batch))?;
                    }
                    it.next();
                }
                it.status()
                    .map_err(|e| io_error("cannot read the restored files in", path, e))?;
                self.write_batch(batch)?;
            }
        }
        Ok(())
    }

    fn write_batch(&self, batch: WriteBatch) -> Result<(), StateError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.db()
            .write_opt(batch, &self.write)
            .map_err(|e| io_error("cannot write restored entries to", &self.shared.dir.0, e))
    }
}

/// A fresh directory `<store dir>-chk-<n>` next to `store_dir` (so that hard
/// links into it work), deleted when dropped.
fn fresh_dir_next_to(store_dir: &Path) -> Result<OwnedDir, StateError> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let parent = store_dir.parent().unwrap_or(store_dir);
    let stem = store_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = parent.join(format!("{stem}-chk-{n}"));
        match std::fs::create_dir(&path) {
            Ok(()) => return Ok(OwnedDir(path)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_error("cannot create", &path, e)),
        }
    }
}
