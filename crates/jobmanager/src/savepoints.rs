//! Asynchronous savepoint requests: each runs on a thread of its own and is
//! remembered by its request id until polled (Flink's trigger ids).
//!
//! Invariants: a request id names one request of one job; asking again with a
//! client-chosen id the job already has is answered with the same request
//! (idempotent, as Flink's `triggerId`). The table keeps at most
//! [`MAX_TRIGGERS`] requests; beyond that the oldest completed ones are
//! forgotten (requests in progress never are).

use crate::JobManagerError;
use crate::handle::JobHandle;
use crate::ids::random_id;
use runnel_runtime::JobError;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

/// How many savepoint requests the table remembers.
pub(crate) const MAX_TRIGGERS: usize = 256;

/// What happens to the job after its savepoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SavepointMode {
    /// It keeps running (`POST /jobs/{id}/savepoints`).
    Keep,
    /// It is cancelled once the savepoint is complete (`"cancel-job": true`).
    Cancel,
    /// It stops with the savepoint: sources stop right after it
    /// (`POST /jobs/{id}/stop`).
    Stop,
}

/// The state of a savepoint request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SavepointStatus {
    /// Not complete yet.
    InProgress,
    /// Complete; the savepoint is at `location`.
    Completed {
        /// Where the savepoint is.
        location: String,
    },
    /// Failed.
    Failed {
        /// The kind of failure (Flink's exception class).
        class: String,
        /// The failure with its causes.
        message: String,
    },
}

impl SavepointStatus {
    fn failed(e: &JobError) -> Self {
        let class = match e {
            JobError::Plan(_) => "PlanError",
            JobError::Failed { .. } => "JobFailedError",
            JobError::Cancelled { .. } => "JobCancelledError",
            JobError::Savepoint { .. } => "SavepointError",
            JobError::Startup { .. } => "JobStartupError",
        };
        SavepointStatus::Failed {
            class: class.to_string(),
            message: format!("{e:?}"),
        }
    }
}

struct Trigger {
    job_id: String,
    id: String,
    status: SavepointStatus,
}

/// The savepoint requests of every job.
#[derive(Default)]
pub(crate) struct Triggers {
    entries: Mutex<VecDeque<Trigger>>,
}

impl Triggers {
    fn lock(&self) -> MutexGuard<'_, VecDeque<Trigger>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a savepoint of `job` on a new thread; returns the request id
    /// (`requested`, when the client chose one).
    pub(crate) fn start(
        self: &Arc<Self>,
        job: Arc<dyn JobHandle>,
        dir: Option<PathBuf>,
        mode: SavepointMode,
        requested: Option<String>,
    ) -> Result<String, JobManagerError> {
        let job_id = job.job_id().to_string();
        let (id, new) = self.insert(&job_id, requested, SavepointStatus::InProgress)?;
        if !new {
            return Ok(id);
        }
        let triggers = Arc::clone(self);
        let (thread_job, thread_id) = (job_id.clone(), id.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("savepoint-{}", &id[..8.min(id.len())]))
            .spawn(move || {
                let result = match mode {
                    SavepointMode::Keep => job.trigger_savepoint(dir, false),
                    SavepointMode::Stop => job.trigger_savepoint(dir, true),
                    SavepointMode::Cancel => {
                        let result = job.trigger_savepoint(dir, false);
                        if result.is_ok() {
                            job.cancel();
                        }
                        result
                    }
                };
                let status = match result {
                    Ok(location) => SavepointStatus::Completed { location },
                    Err(e) => {
                        log::warn!("savepoint {thread_id} of job {thread_job} failed: {e}");
                        SavepointStatus::failed(&e)
                    }
                };
                triggers.finish(&thread_job, &thread_id, status);
            });
        match spawned {
            Ok(_) => Ok(id),
            Err(source) => {
                self.lock().retain(|t| !(t.job_id == job_id && t.id == id));
                Err(JobManagerError::Spawn {
                    what: format!("take a savepoint of job {job_id}"),
                    source,
                })
            }
        }
    }

    /// Records a request that failed before it started (the job had ended).
    pub(crate) fn reject(
        &self,
        job_id: &str,
        requested: Option<String>,
        class: &str,
        message: String,
    ) -> Result<String, JobManagerError> {
        let status = SavepointStatus::Failed {
            class: class.to_string(),
            message,
        };
        Ok(self.insert(job_id, requested, status)?.0)
    }

    /// Adds a request; returns its id and whether it is new (`false`: the job
    /// already has a request with the requested id, which is left as it is).
    fn insert(
        &self,
        job_id: &str,
        requested: Option<String>,
        status: SavepointStatus,
    ) -> Result<(String, bool), JobManagerError> {
        let id = match requested {
            Some(id) => {
                check_trigger_id(&id)?;
                id
            }
            None => random_id(),
        };
        let mut entries = self.lock();
        if entries.iter().any(|t| t.job_id == job_id && t.id == id) {
            return Ok((id, false));
        }
        entries.push_back(Trigger {
            job_id: job_id.to_string(),
            id: id.clone(),
            status,
        });
        while entries.len() > MAX_TRIGGERS {
            let Some(oldest_done) = entries
                .iter()
                .position(|t| t.status != SavepointStatus::InProgress)
            else {
                break;
            };
            entries.remove(oldest_done);
        }
        Ok((id, true))
    }

    fn finish(&self, job_id: &str, id: &str, status: SavepointStatus) {
        if let Some(t) = self
            .lock()
            .iter_mut()
            .find(|t| t.job_id == job_id && t.id == id)
        {
            t.status = status;
        }
    }

    /// The state of request `id` of job `job_id`.
    pub(crate) fn status(&self, job_id: &str, id: &str) -> Option<SavepointStatus> {
        self.lock()
            .iter()
            .find(|t| t.job_id == job_id && t.id == id)
            .map(|t| t.status.clone())
    }

    /// Forgets the completed requests of a job the Dispatcher no longer knows.
    pub(crate) fn forget_job(&self, job_id: &str) {
        self.lock()
            .retain(|t| t.job_id != job_id || t.status == SavepointStatus::InProgress);
    }
}

/// A client-chosen request id: 1 to 64 characters of `[0-9A-Za-z_-]`.
fn check_trigger_id(id: &str) -> Result<(), JobManagerError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(JobManagerError::bad_request(format!(
            "invalid triggerId {id:?}: expected 1 to 64 characters of [0-9A-Za-z_-]"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_idempotent_and_checked() {
        let t = Triggers::default();
        let first = t.insert("j", Some("abc".into()), SavepointStatus::InProgress);
        assert_eq!(first.ok(), Some(("abc".to_string(), true)));
        let again = t.insert("j", Some("abc".into()), SavepointStatus::InProgress);
        assert_eq!(again.ok(), Some(("abc".to_string(), false)));
        let other_job = t.insert("k", Some("abc".into()), SavepointStatus::InProgress);
        assert_eq!(other_job.ok(), Some(("abc".to_string(), true)));
        assert!(
            t.insert("j", Some("a/b".into()), SavepointStatus::InProgress)
                .is_err()
        );
        assert!(
            t.insert("j", Some(String::new()), SavepointStatus::InProgress)
                .is_err()
        );
    }

    #[test]
    fn the_table_forgets_the_oldest_completed_requests_first() {
        let t = Triggers::default();
        let (running, _) = t.insert("j", None, SavepointStatus::InProgress).unwrap();
        let done = SavepointStatus::Completed {
            location: "/sp".into(),
        };
        let (first_done, _) = t.insert("j", None, done.clone()).unwrap();
        for _ in 0..MAX_TRIGGERS {
            t.insert("j", None, done.clone()).unwrap();
        }
        assert_eq!(t.lock().len(), MAX_TRIGGERS);
        assert_eq!(t.status("j", &running), Some(SavepointStatus::InProgress));
        assert_eq!(t.status("j", &first_done), None);
        t.finish("j", &running, done.clone());
        assert_eq!(t.status("j", &running), Some(done));
        t.forget_job("j");
        assert!(t.lock().is_empty());
    }
}
