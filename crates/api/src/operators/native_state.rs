//! Incremental checkpoints of keyed state on the LSM backend: the glue between
//! the store's RocksDB files (`runnel-state`) and what a checkpoint records
//! (`runnel-checkpoint`'s `native`).
//!
//! Taking one: the store flushes and hard-links its files on the task thread;
//! the writer thread uploads the data files no earlier checkpoint has and
//! inlines the small files that describe this snapshot. Restoring one: the
//! files are downloaded into a directory next to the store, which opens them
//! (or copies its key groups out of them after a rescale).

use runnel_checkpoint::{
    NativeFileSource, NativeKeyedState, NativeStateInfo, OperatorSubtaskState, SharedFile,
};
use runnel_runtime::BoxError;
use runnel_runtime::checkpointing::StateSnapshotContext;
use runnel_state::keyed::{LsmOptions, NativeRestore, NativeStateMeta};
use runnel_state::{KeyedStateStore, StateKind};
use runnel_types::Key;

/// The backend name native state of the LSM backend is recorded under.
const BACKEND: &str = "rocksdb";

/// Hands the store's files to the checkpoint (uploaded later, off the task
/// thread); `false` if the store cannot take a native snapshot now (then a
/// canonical one is taken).
pub(crate) fn defer_snapshot<K: Key>(
    store: &mut KeyedStateStore<K>,
    ctx: &mut StateSnapshotContext<'_>,
) -> Result<bool, BoxError> {
    let Some(snapshot) = store.native_snapshot()? else {
        return Ok(false);
    };
    ctx.defer_native_state(Box::new(move |uploader| {
        // The whole snapshot moves here (not only the fields read below): it
        // owns the directory of hard links, which must outlive the upload.
        let snapshot = snapshot;
        let mut shared = Vec::new();
        let mut private = Vec::new();
        for f in &snapshot.files {
            if f.shared {
                let path = uploader
                    .share(
                        &snapshot.backend_uid,
                        &f.name,
                        &f.path,
                        f.restored_from.as_deref(),
                    )
                    .map_err(|e| e.to_string())?;
                shared.push(SharedFile {
                    name: f.name.clone(),
                    path,
                    size: f.size,
                });
            } else {
                let bytes = std::fs::read(&f.path)
                    .map_err(|e| format!("cannot read {}: {e}", f.path.display()))?;
                private.push((f.name.clone(), bytes));
            }
        }
        Ok(NativeKeyedState {
            backend: BACKEND.to_string(),
            key_groups: snapshot.key_groups,
            states: snapshot
                .states
                .iter()
                .map(|s| NativeStateInfo {
                    name: s.name.clone(),
                    kind: s.kind.code(),
                    id: s.id,
                    entries: s.entries,
                })
                .collect(),
            shared,
            private,
        })
        // `snapshot` drops here: its hard links go.
    }));
    Ok(true)
}

/// Restores the store from the native state of `restored` (before its
/// states are registered), downloading the files from `files`.
pub(crate) fn restore<K: Key>(
    store: &mut KeyedStateStore<K>,
    restored: &OperatorSubtaskState,
    files: Option<&NativeFileSource>,
    options: &LsmOptions,
) -> Result<(), BoxError> {
    let files = files.ok_or(
        "the snapshot holds keyed state as RocksDB files, but the job does not know where \
         its shared files are",
    )?;
    let mut restores = Vec::with_capacity(restored.native.len());
    for native in &restored.native {
        if native.backend != BACKEND {
            return Err(format!(
                "the snapshot holds keyed state as files of an unknown backend `{}`",
                native.backend
            )
            .into());
        }
        let states = native
            .states
            .iter()
            .map(|s| {
                Ok(NativeStateMeta {
                    name: s.name.clone(),
                    kind: StateKind::from_code(s.kind).ok_or_else(|| {
                        format!("state `{}` has an unknown kind {}", s.name, s.kind)
                    })?,
                    id: s.id,
                    entries: s.entries,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let mut restore = NativeRestore::directory(options, native.key_groups, states)?;
        let write = |name: &str, bytes: &[u8], dir: &std::path::Path| -> Result<(), BoxError> {
            if name.is_empty() || name.contains(['/', '\\']) || name == "." || name == ".." {
                return Err(format!("the snapshot names a state file `{name}`").into());
            }
            let path = dir.join(name);
            std::fs::write(&path, bytes)
                .map_err(|e| format!("cannot write {}: {e}", path.display()).into())
        };
        for f in &native.shared {
            write(&f.name, &files.read(f)?, restore.path())?;
            restore
                .restored_from
                .push((f.name.clone(), files.location(f)));
        }
        for (name, bytes) in &native.private {
            write(name, bytes, restore.path())?;
        }
        restores.push(restore);
    }
    store.restore_native(restores)?;
    Ok(())
}
