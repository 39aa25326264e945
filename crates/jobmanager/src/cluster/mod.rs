//! Jobs run on the standalone cluster (`docs/design/cluster-jobs.md`): a job
//! binary submitted over REST (`POST /jobs`) is kept in the [`BlobStore`],
//! registered in the Dispatcher as a [`ClusterJob`], placed on the free slots
//! of one or more TaskManagers, deployed as one process per TaskManager in
//! each one's next heartbeat answer, steered through the commands its
//! process 0 fetches with its status reports, and restarted when a
//! TaskManager of it is lost or a process of it dies.
//!
//! The `Cluster` keeps the live cluster jobs and the kill orders waiting for
//! their TaskManagers. It is driven by the Dispatcher under the
//! ResourceManager's lock (lock order: ResourceManager, then the cluster's
//! job list, then one job's state; the kill orders' lock is taken alone; the
//! Dispatcher's job table is never held with any of them): every event first
//! applies its transitions to the jobs, then `settle` releases the slots of
//! every job that is not placed, places the waiting jobs whose restart delay
//! has passed in submission order (the ResourceManager's slot spread picks
//! the TaskManagers) and takes the jobs' kill orders.
//!
//! A kill order of `(TaskManager, attempt)` is due at a time of the injected
//! clock (at once, or the end of a cancel's grace period) and is carried out
//! by the TaskManager's first heartbeat at or after it: sent as a `cancel` if
//! that heartbeat reports the attempt running, dropped otherwise (or when the
//! TaskManager is gone). An order not yet due is kept whatever the heartbeats
//! say; it outlives its job, so a process still running at the end of a
//! cancel's grace period is killed even if the job has ended meanwhile.

mod blob;
mod dispatch;
mod job;
mod protocol;

pub use blob::{BlobStore, blob_key, fnv1a_128};
pub use job::ClusterJob;
pub use protocol::{
    AttemptRef, AttemptState, Command, Deployment, LeaderAddress, MAX_CONFIG_BYTES, Orders,
    Submission,
};
pub(crate) use protocol::{HeartbeatBody, SavepointResult};

use crate::resource_manager::{ResourceManager, TaskManagerId};
use std::sync::{Arc, Mutex, MutexGuard};

/// A process to kill: `attempt`'s process on `tm`, from `due` (epoch ms of
/// the injected clock) on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Kill {
    pub(crate) tm: TaskManagerId,
    pub(crate) attempt: AttemptRef,
    pub(crate) due: i64,
}

/// The live cluster jobs (ended ones are dropped once settled; the Dispatcher
/// keeps their final status), the kill orders and the blob store.
#[derive(Debug, Default)]
pub(crate) struct Cluster {
    jobs: Mutex<Vec<Arc<ClusterJob>>>,
    /// Processes to kill, each with its TaskManager and when.
    kills: Mutex<Vec<Kill>>,
    pub(crate) blobs: BlobStore,
}

impl Cluster {
    pub(crate) fn new(blobs: BlobStore) -> Cluster {
        Cluster {
            jobs: Mutex::default(),
            kills: Mutex::default(),
            blobs,
        }
    }

    fn kills(&self) -> MutexGuard<'_, Vec<Kill>> {
        self.kills.lock().unwrap_or_else(|e| e.into_inner())
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

    /// Every job whose attempt ran a process on `tm` fails over (`why` the
    /// TaskManager is gone); its kill orders are dropped.
    pub(crate) fn task_manager_gone(&self, tm: &TaskManagerId, why: &str) {
        for job in self.snapshot() {
            job.task_manager_gone(tm, why);
        }
        self.kills().retain(|k| &k.tm != tm);
    }

    /// Takes the attempts a heartbeat of `tm` at `now` reports; returns the
    /// attempts it runs that must be killed: those with a kill order due by
    /// `now`, and those superseded by a later attempt of their job.
    pub(crate) fn attempts(
        &self,
        tm: &TaskManagerId,
        attempts: &[AttemptState],
        now: i64,
    ) -> Vec<AttemptRef> {
        let runs = |r: &AttemptRef| {
            attempts
                .iter()
                .any(|a| a.running && a.job_id == r.job_id && a.attempt == r.attempt)
        };
        let mut stray: Vec<AttemptRef> = Vec::new();
        self.kills().retain(|k| {
            if &k.tm != tm || k.due > now {
                return true;
            }
            if runs(&k.attempt) && !stray.contains(&k.attempt) {
                stray.push(k.attempt.clone());
            }
            false
        });
        for a in attempts {
            let Some(job) = self.get(&a.job_id) else {
                continue;
            };
            let r = AttemptRef {
                job_id: a.job_id.clone(),
                attempt: a.attempt,
            };
            if !a.running {
                job.attempt_ended(tm, a.attempt, a.exit_code);
            } else if a.attempt < job.attempt() && !job.is_ended() && !stray.contains(&r) {
                stray.push(r);
            }
        }
        stray
    }

    /// Releases the slots of every job not placed, places the jobs waiting
    /// for slots (a restarting one once its restart delay has passed by
    /// `now`), takes the jobs' kill orders and forgets the ended jobs.
    pub(crate) fn settle(&self, rm: &mut ResourceManager, now: i64) {
        for job in self.snapshot() {
            let id = crate::JobHandle::job_id(job.as_ref()).to_string();
            if !job.is_placed() {
                rm.release(&id);
            }
            if let Some(n) = job.waiting_for(now)
                && let Ok(processes) = rm.allocate_processes(&id, n)
            {
                job.place(processes);
            }
            let taken = job.take_kills();
            if !taken.is_empty() {
                let mut kills = self.kills();
                for kill in taken {
                    // One order per process: the earliest.
                    match kills
                        .iter_mut()
                        .find(|k| k.tm == kill.tm && k.attempt == kill.attempt)
                    {
                        Some(k) => k.due = k.due.min(kill.due),
                        None => kills.push(kill),
                    }
                }
            }
        }
        self.lock().retain(|j| !j.is_ended());
    }

    /// The heartbeat answer of `tm`: its deployments and the attempts to kill.
    pub(crate) fn orders(&self, tm: &TaskManagerId, cancel: Vec<AttemptRef>) -> Orders {
        let deploy = self
            .snapshot()
            .iter()
            .filter_map(|job| job.take_deployment(tm))
            .collect();
        Orders {
            known: true,
            deploy,
            cancel,
        }
    }
}

#[cfg(test)]
mod tests;
