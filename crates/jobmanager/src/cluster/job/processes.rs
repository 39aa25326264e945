//! The processes of a [`ClusterJob`]'s current attempt: placing them,
//! deploying them (one per TaskManager), their ends, the loss of their
//! TaskManagers, the kill orders for them, and the leader's address.

use super::{ClusterJob, Phase, Process};
use crate::JobManagerError;
use crate::cluster::Kill;
use crate::cluster::protocol::{AttemptRef, Deployment};
use crate::resource_manager::{ProcessSlots, TaskManagerId};
use runnel_runtime::status::JobState;
use std::net::SocketAddr;

impl ClusterJob {
    /// Its slots are allocated as `processes` says (process `k` at index
    /// `k`): the next heartbeat of each of their TaskManagers deploys one.
    pub(crate) fn place(&self, processes: Vec<ProcessSlots>) {
        let mut inner = self.lock();
        if inner.phase != Phase::Waiting || processes.is_empty() {
            return;
        }
        let on: Vec<String> = processes
            .iter()
            .map(|p| format!("{} {:?}", p.task_manager, p.slot_indices))
            .collect();
        log::info!(
            "cluster: job {} attempt {} placed on TaskManagers {}",
            self.id,
            inner.attempt,
            on.join(", ")
        );
        inner.phase = Phase::Placed {
            processes: processes
                .into_iter()
                .map(|p| Process {
                    tm: p.task_manager,
                    slot_indices: p.slot_indices,
                    deployed: false,
                    ended: false,
                })
                .collect(),
        };
    }

    /// The deployment of the current attempt's process on `tm`, once (none
    /// after a cancel).
    pub(crate) fn take_deployment(&self, tm: &TaskManagerId) -> Option<Deployment> {
        let mut inner = self.lock();
        if inner.cancel_requested {
            return None;
        }
        let (attempt, restore_path) = (inner.attempt, inner.restore_path.clone());
        let Phase::Placed { processes } = &mut inner.phase else {
            return None;
        };
        let n = processes.len() as u32;
        let (k, p) = processes
            .iter_mut()
            .enumerate()
            .find(|(_, p)| &p.tm == tm && !p.deployed)?;
        p.deployed = true;
        let s = &self.submission;
        Some(Deployment {
            job_id: self.id.clone(),
            attempt,
            blob: self.blob.clone(),
            slots: p.slot_indices.len() as u32,
            name: s.name.clone(),
            args: s.args.clone(),
            parallelism: s.parallelism,
            savepoint_path: restore_path,
            allow_non_restored_state: s.allow_non_restored_state,
            config: s.config.clone(),
            process: k as u32,
            processes: n,
            slot_indices: p.slot_indices.clone(),
        })
    }

    /// The processes to kill, each with its TaskManager and when; taken once.
    pub(crate) fn take_kills(&self) -> Vec<Kill> {
        std::mem::take(&mut self.lock().kills)
            .into_iter()
            .map(|(tm, attempt, due)| {
                let job_id = self.id.clone();
                Kill {
                    tm,
                    attempt: AttemptRef { job_id, attempt },
                    due,
                }
            })
            .collect()
    }

    /// TaskManager `tm` reports its process of `attempt` ended with
    /// `exit_code` (`None`: killed). Process 0 ends the job (exit code 0 or
    /// a last report FINISHED: finished; a last report CANCELED: canceled)
    /// or fails the attempt; another process fails it unless it exited with 0.
    pub(crate) fn attempt_ended(&self, tm: &TaskManagerId, attempt: u32, exit_code: Option<i32>) {
        let now = self.clock.now_millis();
        let mut inner = self.lock();
        if inner.attempt != attempt {
            return;
        }
        let Phase::Placed { processes } = &mut inner.phase else {
            return;
        };
        let Some(k) = processes.iter().position(|p| &p.tm == tm) else {
            return;
        };
        processes[k].ended = true;
        let how = exit_code.map_or_else(
            || "was killed by a signal".to_string(),
            |c| format!("exited with code {c}"),
        );
        if k > 0 {
            if exit_code == Some(0) {
                log::info!(
                    "cluster: job {}: process {k} of attempt {attempt} on TaskManager {tm} \
                     exited with code 0",
                    self.id
                );
            } else {
                let reason = format!(
                    "process {k} of attempt {attempt} on TaskManager {tm} {how} before the \
                     job ended"
                );
                self.failover(&mut inner, reason, now);
            }
        } else {
            let last = inner
                .last_report
                .as_ref()
                .filter(|_| inner.reported)
                .map(|r| r.state);
            match (exit_code, last) {
                (Some(0), _) | (_, Some(JobState::Finished)) => {
                    self.end(&mut inner, JobState::Finished, now)
                }
                (_, Some(JobState::Canceled)) => self.end(&mut inner, JobState::Canceled, now),
                _ => {
                    let reason = format!("attempt {attempt} {how} before the job ended");
                    self.failover(&mut inner, reason, now);
                }
            }
        }
        drop(inner);
        self.changed.notify_all();
    }

    /// TaskManager `tm` is gone (`why`): fail over if a process of the
    /// attempt ran (or was to run) there.
    pub(crate) fn task_manager_gone(&self, tm: &TaskManagerId, why: &str) {
        let now = self.clock.now_millis();
        let mut inner = self.lock();
        let attempt = inner.attempt;
        let Phase::Placed { processes } = &mut inner.phase else {
            return;
        };
        let n = processes.len();
        let Some(k) = processes.iter().position(|p| &p.tm == tm) else {
            return;
        };
        // Its process went with it.
        processes[k].ended = true;
        let which = if n > 1 {
            format!(" (process {k} of {n})")
        } else {
            String::new()
        };
        let reason = format!("TaskManager {tm} of attempt {attempt}{which} {why}");
        self.failover(&mut inner, reason, now);
        drop(inner);
        self.changed.notify_all();
    }

    /// Process 0 of `attempt` listens for its peers on `control`.
    pub(crate) fn set_leader(
        &self,
        attempt: u32,
        control: SocketAddr,
    ) -> Result<(), JobManagerError> {
        let mut inner = self.lock();
        self.check_current(&inner, attempt)?;
        if inner.leader != Some(control) {
            log::info!(
                "cluster: job {} attempt {attempt}: process 0 listens on {control}",
                self.id
            );
        }
        inner.leader = Some(control);
        Ok(())
    }

    /// Where process 0 of `attempt` listens, once it said.
    pub(crate) fn leader(&self, attempt: u32) -> Result<SocketAddr, JobManagerError> {
        let inner = self.lock();
        self.check_current(&inner, attempt)?;
        inner.leader.ok_or_else(|| JobManagerError::LeaderUnknown {
            job_id: self.id.clone(),
            attempt,
        })
    }
}
