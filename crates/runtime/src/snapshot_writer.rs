//! The thread that writes snapshots to checkpoint storage, so that neither the
//! tasks nor the job master wait on I/O.
//!
//! Jobs are done in order: a checkpoint's task states are written before its
//! metadata, because the master asks for the metadata only after every state
//! was reported written.
//!
//! The writer also owns the [`SharedStateRegistry`] of incremental
//! checkpoints: it uploads a data file only if no pending or retained
//! checkpoint has it, and deletes a shared file when the last checkpoint
//! referencing it is deleted. Both happen on this one thread, so a file is
//! never deleted while a checkpoint being written still takes it.

use crate::checkpointing::TaskSnapshot;
use runnel_checkpoint::metadata::METADATA_FILE;
use runnel_checkpoint::native::SHARED_DIR;
use runnel_checkpoint::storage::join_path;
use runnel_checkpoint::{
    CheckpointError, CheckpointMetadata, CheckpointStorage, SharedStateRegistry,
    SharedStateUploader, TaskId,
};
use runnel_types::CheckpointId;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};
use std::thread::JoinHandle;

/// Where a snapshot goes: a directory of a storage.
#[derive(Clone)]
pub(crate) struct Destination {
    pub(crate) storage: Arc<dyn CheckpointStorage>,
    /// Where `storage` is, if it is not the job's checkpoint storage (a
    /// savepoint directory).
    pub(crate) base: Option<std::path::PathBuf>,
    pub(crate) dir: String,
}

impl Destination {
    /// The directory as other processes of the job name it.
    pub(crate) fn to_ref(&self) -> crate::restoring::DestinationRef {
        crate::restoring::DestinationRef {
            base: self.base.clone(),
            dir: self.dir.clone(),
        }
    }

    pub(crate) fn path(&self, file: &str) -> String {
        join_path(&self.dir, file)
    }

    pub(crate) fn location(&self) -> String {
        self.storage.location(&self.dir)
    }

    /// The directory holding the checkpoint directories (`chk-N`) next to
    /// `shared/`.
    pub(crate) fn parent(&self) -> &str {
        self.dir.rsplit_once('/').map_or("", |(parent, _)| parent)
    }
}

/// Uploads the data files of one task's snapshot for checkpoint `id`.
struct Uploader<'a> {
    registry: &'a mut SharedStateRegistry,
    destination: &'a Destination,
    id: CheckpointId,
}

impl SharedStateUploader for Uploader<'_> {
    fn share(
        &mut self,
        backend: &str,
        name: &str,
        local: &std::path::Path,
        restored_from: Option<&str>,
    ) -> Result<String, CheckpointError> {
        let parent = self.destination.parent();
        let storage = &self.destination.storage;
        // A file the store was restored with is referenced where it is, if
        // this job's checkpoints hold it.
        if let Some(location) = restored_from
            && let Some(relative) = self.registry.path_of(location).and_then(|path| {
                if parent.is_empty() {
                    Some(path.to_string())
                } else {
                    path.strip_prefix(&format!("{parent}/")).map(str::to_string)
                }
            })
            && self.registry.reference(self.id, location)
        {
            return Ok(relative);
        }
        let relative = format!("{SHARED_DIR}/{backend}/{name}");
        let path = join_path(parent, &relative);
        let location = storage.location(&path);
        if !self.registry.reference(self.id, &location) {
            let bytes = std::fs::read(local).map_err(|e| CheckpointError::Corrupt {
                file: local.display().to_string(),
                message: format!("cannot read the state backend's file: {e}"),
            })?;
            storage.write(&path, &bytes)?;
            self.registry.register(self.id, &location, &path);
        }
        Ok(relative)
    }
}

/// A unit of work.
pub(crate) enum WriteJob {
    /// A task's state for checkpoint `id`, to the file `file`.
    TaskState {
        destination: Destination,
        file: String,
        id: CheckpointId,
        task: TaskId,
        attempt: u32,
        snapshot: TaskSnapshot,
    },
    /// A checkpoint's metadata (completes it).
    Metadata {
        destination: Destination,
        id: CheckpointId,
        metadata: CheckpointMetadata,
    },
    /// Deletes a checkpoint that is no longer retained (or was aborted), and
    /// the shared files only it referenced.
    Delete {
        destination: Destination,
        id: Option<CheckpointId>,
    },
}

/// What the writer reports back.
pub(crate) enum WriteDone {
    TaskState {
        id: CheckpointId,
        task: TaskId,
        attempt: u32,
        /// The file and the bytes of state it holds or references.
        result: Result<(String, u64), String>,
    },
    Metadata {
        id: CheckpointId,
        result: Result<String, String>,
    },
}

/// Starts the writer; it stops when `jobs` is dropped.
pub(crate) fn spawn(
    jobs: Receiver<WriteJob>,
    done: impl Fn(WriteDone) + Send + 'static,
    name: &str,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("{name} [checkpoint writer]"))
        .spawn(move || {
            let mut registry = SharedStateRegistry::new();
            for job in jobs {
                match job {
                    WriteJob::TaskState {
                        destination,
                        file,
                        id,
                        task,
                        attempt,
                        snapshot,
                    } => {
                        let mut uploader = Uploader {
                            registry: &mut registry,
                            destination: &destination,
                            id,
                        };
                        let result = snapshot
                            .complete(&mut uploader)
                            .and_then(|s| {
                                let size = s.state_size() as u64;
                                s.encode().map(|b| (b, size)).map_err(|e| e.to_string())
                            })
                            .and_then(|(bytes, size)| {
                                destination
                                    .storage
                                    .write(&destination.path(&file), &bytes)
                                    .map_err(|e| e.to_string())
                                    .map(|()| (file, size.max(bytes.len() as u64)))
                            });
                        done(WriteDone::TaskState {
                            id,
                            task,
                            attempt,
                            result,
                        });
                    }
                    WriteJob::Metadata {
                        destination,
                        id,
                        metadata,
                    } => {
                        let result = metadata
                            .encode()
                            .map_err(|e| e.to_string())
                            .and_then(|bytes| {
                                destination
                                    .storage
                                    .write(&destination.path(METADATA_FILE), &bytes)
                                    .map_err(|e| e.to_string())
                            })
                            .map(|()| destination.location());
                        done(WriteDone::Metadata { id, result });
                    }
                    WriteJob::Delete { destination, id } => {
                        if let Err(e) = destination.storage.delete_dir(&destination.dir) {
                            log::warn!("cannot delete an old checkpoint: {e}");
                        }
                        for path in id.map(|id| registry.release(id)).unwrap_or_default() {
                            if let Err(e) = destination.storage.delete(&path) {
                                log::warn!("cannot delete a shared state file: {e}");
                            }
                        }
                    }
                }
            }
        })
}

/// Keeps the sender type explicit for callers.
pub(crate) type WriteQueue = Sender<WriteJob>;

#[cfg(test)]
mod tests {
    use super::*;
    use runnel_checkpoint::MemoryStorage;

    fn share(
        registry: &mut SharedStateRegistry,
        destination: &Destination,
        id: u64,
        file: &std::path::Path,
        restored_from: Option<&str>,
    ) -> Result<String, CheckpointError> {
        let name = file.file_name().unwrap().to_str().unwrap();
        Uploader {
            registry,
            destination,
            id: CheckpointId(id),
        }
        .share("b1", name, file, restored_from)
    }

    #[test]
    fn a_shared_file_is_uploaded_once_and_deleted_with_its_last_checkpoint() {
        let local = std::env::temp_dir().join(format!("runnel-writer-test-{}", std::process::id()));
        std::fs::create_dir_all(&local).unwrap();
        let (a, b, c) = (
            local.join("1.sst"),
            local.join("2.sst"),
            local.join("3.sst"),
        );
        for f in [&a, &b, &c] {
            std::fs::write(f, f.to_str().unwrap()).unwrap();
        }
        let storage = MemoryStorage::new();
        let at = |id: u64| Destination {
            storage: Arc::new(storage.clone()),
            base: None,
            dir: format!("job/chk-{id}"),
        };
        let mut registry = SharedStateRegistry::new();
        assert_eq!(
            share(&mut registry, &at(1), 1, &a, None).unwrap(),
            "shared/b1/1.sst"
        );
        share(&mut registry, &at(1), 1, &b, None).unwrap();
        assert!(storage.exists("job/shared/b1/1.sst").unwrap());

        // Checkpoint 2 keeps 2.sst: not read again (its local copy is gone).
        std::fs::remove_file(&b).unwrap();
        assert_eq!(
            share(&mut registry, &at(2), 2, &b, None).unwrap(),
            "shared/b1/2.sst"
        );
        share(&mut registry, &at(2), 2, &c, None).unwrap();

        // A store restored from 3.sst references it where it is.
        let location = storage.location("job/shared/b1/3.sst");
        let relative = Uploader {
            registry: &mut registry,
            destination: &at(3),
            id: CheckpointId(3),
        }
        .share("b2", "3.sst", &local.join("missing"), Some(&location))
        .unwrap();
        assert_eq!(relative, "shared/b1/3.sst");

        // 1 subsumed: 1.sst goes, 2.sst stays (2 has it).
        let gone = registry.release(CheckpointId(1));
        assert_eq!(gone, ["job/shared/b1/1.sst"]);
        // 2 subsumed: 2.sst goes; 3.sst stays (3 has it).
        assert_eq!(registry.release(CheckpointId(2)), ["job/shared/b1/2.sst"]);
        assert_eq!(registry.release(CheckpointId(3)), ["job/shared/b1/3.sst"]);

        // An unreadable file fails the checkpoint, naming it.
        let err = share(&mut registry, &at(4), 4, &local.join("9.sst"), None).unwrap_err();
        assert!(err.to_string().contains("9.sst"), "{err}");
        let _ = std::fs::remove_dir_all(&local);
    }
}
