//! The thread that writes snapshots to checkpoint storage, so that neither the
//! tasks nor the job master wait on I/O.
//!
//! Jobs are done in order: a checkpoint's task states are written before its
//! metadata, because the master asks for the metadata only after every state
//! was reported written.

use crate::checkpointing::TaskSnapshot;
use runnel_checkpoint::metadata::METADATA_FILE;
use runnel_checkpoint::{CheckpointMetadata, CheckpointStorage, TaskId};
use runnel_types::CheckpointId;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};
use std::thread::JoinHandle;

/// Where a snapshot goes: a directory of a storage.
#[derive(Clone)]
pub(crate) struct Destination {
    pub(crate) storage: Arc<dyn CheckpointStorage>,
    pub(crate) dir: String,
}

impl Destination {
    pub(crate) fn path(&self, file: &str) -> String {
        if self.dir.is_empty() {
            file.to_string()
        } else {
            format!("{}/{file}", self.dir)
        }
    }

    pub(crate) fn location(&self) -> String {
        self.storage.location(&self.dir)
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
    /// Deletes a checkpoint that is no longer retained.
    Delete { destination: Destination },
}

/// What the writer reports back.
pub(crate) enum WriteDone {
    TaskState {
        id: CheckpointId,
        task: TaskId,
        attempt: u32,
        result: Result<String, String>,
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
                        let result = snapshot
                            .complete()
                            .and_then(|s| s.encode().map_err(|e| e.to_string()))
                            .and_then(|bytes| {
                                destination
                                    .storage
                                    .write(&destination.path(&file), &bytes)
                                    .map_err(|e| e.to_string())
                            })
                            .map(|()| file);
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
                    WriteJob::Delete { destination } => {
                        if let Err(e) = destination.storage.delete_dir(&destination.dir) {
                            log::warn!("cannot delete an old checkpoint: {e}");
                        }
                    }
                }
            }
        })
}

/// Keeps the sender type explicit for callers.
pub(crate) type WriteQueue = Sender<WriteJob>;
