//! Jobs run on the standalone cluster (`docs/design/cluster-jobs.md`): a job
//! binary submitted over REST (`POST /jobs`) is kept in the [`BlobStore`],
//! registered in the Dispatcher as a [`ClusterJob`], placed on one TaskManager
//! with enough free slots, deployed in that TaskManager's next heartbeat
//! answer, steered through the commands its process fetches with its status
//! reports, and restarted elsewhere when its TaskManager is lost or its
//! process dies.
//!
//! The `Cluster` keeps the live cluster jobs. It is driven by the
//! Dispatcher under the ResourceManager's lock (lock order: ResourceManager,
//! then the cluster's job list, then one job's state; the Dispatcher's job
//! table is never held with any of them): every event first applies its
//! transitions to the jobs, then `settle` releases the
//! slots of every job that is not placed and places the waiting jobs, in
//! submission order, on the first TaskManager (in registration order) with
//! enough free slots.

mod blob;
mod dispatch;
mod job;
mod protocol;

pub use blob::{BlobStore, blob_key, fnv1a_128};
pub use job::ClusterJob;
pub use protocol::{
    AttemptRef, AttemptState, Command, Deployment, MAX_CONFIG_BYTES, Orders, Submission,
};
pub(crate) use protocol::{HeartbeatBody, SavepointResult};

use crate::resource_manager::{ResourceManager, TaskManagerId};
use std::sync::{Arc, Mutex, MutexGuard};

/// The live cluster jobs (ended ones are dropped once settled; the Dispatcher
/// keeps their final status) and the blob store.
#[derive(Debug, Default)]
pub(crate) struct Cluster {
    jobs: Mutex<Vec<Arc<ClusterJob>>>,
    pub(crate) blobs: BlobStore,
}

impl Cluster {
    pub(crate) fn new(blobs: BlobStore) -> Cluster {
        Cluster {
            jobs: Mutex::default(),
            blobs,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Arc<ClusterJob>>> {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn snapshot(&self) -> Vec<Arc<ClusterJob>> {
        self.lock().clone()
    }

    pub(crate) fn add(&self, job: Arc<ClusterJob>) {
        self.lock().push(job);
    }

    pub(crate) fn get(&self, job_id: &str) -> Option<Arc<ClusterJob>> {
        self.lock()
            .iter()
            .find(|j: &&Arc<ClusterJob>| crate::JobHandle::job_id(j.as_ref()) == job_id)
            .cloned()
    }

    /// Every job whose attempt ran on `tm` fails over (`why` the TaskManager is gone).
    pub(crate) fn task_manager_gone(&self, tm: &TaskManagerId, why: &str) {
        for job in self.snapshot() {
            job.task_manager_gone(tm, why);
        }
    }

    /// Takes the attempts a heartbeat of `tm` reports; returns the attempts it
    /// runs that were superseded (to be killed).
    pub(crate) fn attempts(
        &self,
        tm: &TaskManagerId,
        attempts: &[AttemptState],
    ) -> Vec<AttemptRef> {
        let mut stray = Vec::new();
        for a in attempts {
            let Some(job) = self.get(&a.job_id) else {
                continue;
            };
            if !a.running {
                if job.placement().as_ref() == Some(tm) {
                    job.attempt_ended(a.attempt, a.exit_code);
                }
            } else if a.attempt < job.attempt() && !job.is_ended() {
                stray.push(AttemptRef {
                    job_id: a.job_id.clone(),
                    attempt: a.attempt,
                });
            }
        }
        stray
    }

    /// Releases the slots of every job not placed, places the waiting jobs
    /// and forgets the ended ones.
    pub(crate) fn settle(&self, rm: &mut ResourceManager) {
        for job in self.snapshot() {
            let id = crate::JobHandle::job_id(job.as_ref()).to_string();
            if job.placement().is_none() {
                rm.release(&id);
            }
            if let Some(n) = job.waiting_for()
                && let Ok(tm) = rm.allocate_on_one(&id, n)
            {
                job.place(tm);
            }
        }
        self.lock().retain(|j| !j.is_ended());
    }

    /// The heartbeat answer of `tm`: its deployments and cancel orders.
    pub(crate) fn orders(&self, tm: &TaskManagerId, mut cancel: Vec<AttemptRef>) -> Orders {
        let mut deploy = Vec::new();
        for job in self.snapshot() {
            deploy.extend(job.take_deployment(tm));
            cancel.extend(job.take_cancel_order(tm));
        }
        Orders {
            known: true,
            deploy,
            cancel,
        }
    }
}

#[cfg(test)]
mod tests;
