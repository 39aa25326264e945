//! [`ClusterJob`]: a job submitted to the cluster, run by a job binary that a
//! TaskManager starts, as the Dispatcher sees it (a [`JobHandle`](crate::JobHandle)).
//!
//! Its lifecycle, one attempt at a time (attempts count from 1):
//!
//! ```text
//! Waiting ──place──▶ Placed{deployed: false} ──heartbeat answer──▶ Placed{deployed: true}
//!    ▲                                                                   │
//!    └────────── failover (TaskManager lost, attempt failed) ◀───────────┤
//!                                                                        ▼
//!                                       Ended (FINISHED, CANCELED or FAILED)
//! ```
//!
//! Invariants:
//! - only the current attempt's reports and results are taken; anything of an
//!   earlier attempt, or of an ended job, is refused as
//!   [`AttemptGone`](JobManagerError::AttemptGone) (`410`);
//! - the job holds slots exactly while it is `Placed`; the
//!   [`Cluster`](super::Cluster) releases the slots of every other job when it
//!   settles, so a transition here never touches the ResourceManager;
//! - commands are queued for the current attempt and delivered once; a
//!   failover drops them and fails the savepoints waiting on the old attempt;
//! - a failover restarts the job at most `max_restarts` times, from the latest
//!   completed checkpoint of the last report (else the path the failed attempt
//!   started from); then the job fails.

mod handle;

use super::protocol::{AttemptRef, Command, Deployment, Submission};
use crate::JobManagerError;
use crate::resource_manager::TaskManagerId;
use runnel_runtime::clock::Clock;
use runnel_runtime::status::{
    CheckpointHistory, CheckpointState, EXCEPTION_HISTORY, JobException, JobState, JobStatus,
};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// Where the current attempt is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// Waiting for a TaskManager with enough free slots.
    Waiting,
    /// Its slots are allocated on `tm`; `deployed` once a heartbeat answer
    /// carried the deployment.
    Placed { tm: TaskManagerId, deployed: bool },
    /// Over; `final_status` is kept.
    Ended,
}

#[derive(Debug)]
struct Inner {
    attempt: u32,
    phase: Phase,
    restarts: u32,
    /// Where the current attempt restores from.
    restore_path: Option<String>,
    /// The latest report (of the current attempt when `reported`).
    last_report: Option<JobStatus>,
    reported: bool,
    /// Failures of earlier attempts, oldest first.
    exceptions: Vec<JobException>,
    /// The job's own state changes (CREATED, RESTARTING, the end).
    timestamps: Vec<(JobState, i64)>,
    commands: Vec<Command>,
    cancel_requested: bool,
    /// The TaskManager must still be told to kill the attempt.
    cancel_order_pending: bool,
    /// Savepoint requests of the current attempt and their results.
    savepoints: HashMap<String, Option<Result<String, String>>>,
    final_status: Option<JobStatus>,
}

/// A cluster job, one attempt at a time: waiting for slots, placed on a
/// TaskManager (deployed with its next heartbeat answer), or ended. Only the
/// current attempt's reports are taken; a failover restarts it at most
/// `max_restarts` times from its latest completed checkpoint.
pub struct ClusterJob {
    id: String,
    blob: String,
    submission: Submission,
    submitted_at: i64,
    max_restarts: u32,
    savepoint_timeout: Duration,
    clock: Arc<dyn Clock>,
    inner: Mutex<Inner>,
    changed: Condvar,
}

impl fmt::Debug for ClusterJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterJob")
            .field("id", &self.id)
            .field("name", &self.submission.name)
            .finish_non_exhaustive()
    }
}

impl ClusterJob {
    /// A job `id` of `submission` whose binary is blob `blob`, submitted now;
    /// it restarts at most `max_restarts` times and waits at most
    /// `savepoint_timeout` for a savepoint.
    pub fn new(
        id: String,
        blob: String,
        submission: Submission,
        max_restarts: u32,
        savepoint_timeout: Duration,
        clock: Arc<dyn Clock>,
    ) -> ClusterJob {
        let now = clock.now_millis();
        let inner = Inner {
            attempt: 1,
            phase: Phase::Waiting,
            restarts: 0,
            restore_path: submission.savepoint_path.clone(),
            last_report: None,
            reported: false,
            exceptions: Vec::new(),
            timestamps: vec![(JobState::Created, now)],
            commands: Vec::new(),
            cancel_requested: false,
            cancel_order_pending: false,
            savepoints: HashMap::new(),
            final_status: None,
        };
        ClusterJob {
            id,
            blob,
            submission,
            submitted_at: now,
            max_restarts,
            savepoint_timeout,
            clock,
            inner: Mutex::new(inner),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current attempt.
    pub fn attempt(&self) -> u32 {
        self.lock().attempt
    }

    /// The slots it waits for, if it waits.
    pub(crate) fn waiting_for(&self) -> Option<u32> {
        (self.lock().phase == Phase::Waiting).then_some(self.submission.slots)
    }

    /// The TaskManager holding its slots, if placed.
    pub(crate) fn placement(&self) -> Option<TaskManagerId> {
        match &self.lock().phase {
            Phase::Placed { tm, .. } => Some(tm.clone()),
            _ => None,
        }
    }

    pub(crate) fn is_ended(&self) -> bool {
        self.lock().phase == Phase::Ended
    }

    /// Its slots are allocated on `tm`: the next heartbeat of `tm` deploys it.
    pub(crate) fn place(&self, tm: TaskManagerId) {
        let mut inner = self.lock();
        if inner.phase == Phase::Waiting {
            log::info!(
                "cluster: job {} attempt {} placed on TaskManager {tm}",
                self.id,
                inner.attempt
            );
            inner.phase = Phase::Placed {
                tm,
                deployed: false,
            };
        }
    }

    /// The deployment of the current attempt, once, if it is placed on `tm`.
    pub(crate) fn take_deployment(&self, tm: &TaskManagerId) -> Option<Deployment> {
        let mut inner = self.lock();
        let Phase::Placed { tm: on, deployed } = &mut inner.phase else {
            return None;
        };
        if on != tm || *deployed {
            return None;
        }
        *deployed = true;
        let s = &self.submission;
        Some(Deployment {
            job_id: self.id.clone(),
            attempt: inner.attempt,
            blob: self.blob.clone(),
            slots: s.slots,
            name: s.name.clone(),
            args: s.args.clone(),
            parallelism: s.parallelism,
            savepoint_path: inner.restore_path.clone(),
            allow_non_restored_state: s.allow_non_restored_state,
            config: s.config.clone(),
        })
    }

    /// The order to kill the current attempt on `tm`, once, after a cancel.
    pub(crate) fn take_cancel_order(&self, tm: &TaskManagerId) -> Option<AttemptRef> {
        let mut inner = self.lock();
        let on_tm = matches!(&inner.phase, Phase::Placed { tm: on, .. } if on == tm);
        if !(on_tm && inner.cancel_order_pending) {
            return None;
        }
        inner.cancel_order_pending = false;
        Some(AttemptRef {
            job_id: self.id.clone(),
            attempt: inner.attempt,
        })
    }

    /// Takes a status report of `attempt`; answers its queued commands.
    pub(crate) fn report(
        &self,
        attempt: u32,
        mut status: JobStatus,
    ) -> Result<Vec<Command>, JobManagerError> {
        let now = self.clock.now_millis();
        let mut inner = self.lock();
        self.check_current(&inner, attempt)?;
        status.job_id = self.id.clone();
        let state = status.state;
        inner.last_report = Some(status);
        inner.reported = true;
        if let Phase::Placed { deployed, .. } = &mut inner.phase {
            *deployed = true;
        }
        match state {
            JobState::Finished | JobState::Canceled => self.end(&mut inner, state, now),
            JobState::Failed => {
                let cause = inner
                    .last_report
                    .as_ref()
                    .and_then(|r| r.exceptions.last())
                    .map_or_else(|| "no cause reported".to_string(), |e| e.message.clone());
                let reason = format!("attempt {attempt} failed: {cause}");
                self.failover(&mut inner, reason, now);
            }
            _ => {}
        }
        let commands = std::mem::take(&mut inner.commands);
        drop(inner);
        self.changed.notify_all();
        Ok(commands)
    }

    /// Completes savepoint request `request_id` of `attempt`.
    pub(crate) fn savepoint_result(
        &self,
        attempt: u32,
        request_id: &str,
        result: Result<String, String>,
    ) -> Result<(), JobManagerError> {
        let mut inner = self.lock();
        self.check_current(&inner, attempt)?;
        let Some(slot) = inner.savepoints.get_mut(request_id) else {
            return Err(JobManagerError::TriggerNotFound {
                job_id: self.id.clone(),
                trigger_id: request_id.to_string(),
            });
        };
        slot.get_or_insert(result);
        drop(inner);
        self.changed.notify_all();
        Ok(())
    }

    /// The TaskManager reports `attempt` ended with `exit_code` (`None`: killed).
    pub(crate) fn attempt_ended(&self, attempt: u32, exit_code: Option<i32>) {
        let now = self.clock.now_millis();
        let mut inner = self.lock();
        if inner.attempt != attempt || !matches!(inner.phase, Phase::Placed { .. }) {
            return;
        }
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
            (code, _) => {
                let how = code.map_or_else(
                    || "was killed by a signal".to_string(),
                    |c| format!("exited with code {c}"),
                );
                let reason = format!("attempt {attempt} {how} before the job ended");
                self.failover(&mut inner, reason, now);
            }
        }
        drop(inner);
        self.changed.notify_all();
    }

    /// TaskManager `tm` is gone (`why`): fail over if the attempt ran there.
    pub(crate) fn task_manager_gone(&self, tm: &TaskManagerId, why: &str) {
        let now = self.clock.now_millis();
        let mut inner = self.lock();
        if !matches!(&inner.phase, Phase::Placed { tm: on, .. } if on == tm) {
            return;
        }
        let reason = format!("TaskManager {tm} of attempt {} {why}", inner.attempt);
        self.failover(&mut inner, reason, now);
        drop(inner);
        self.changed.notify_all();
    }

    fn check_current(&self, inner: &Inner, attempt: u32) -> Result<(), JobManagerError> {
        let reason = if inner.phase == Phase::Ended {
            "the job has ended"
        } else if attempt != inner.attempt || inner.phase == Phase::Waiting {
            "the attempt was superseded"
        } else {
            return Ok(());
        };
        Err(JobManagerError::AttemptGone {
            job_id: self.id.clone(),
            attempt,
            reason: reason.to_string(),
        })
    }

    /// The attempt failed for `reason`: restart or fail.
    fn failover(&self, inner: &mut Inner, reason: String, now: i64) {
        if inner.phase == Phase::Ended {
            return;
        }
        log::warn!("cluster: job {}: {reason}", self.id);
        if inner.reported
            && let Some(report) = &inner.last_report
        {
            inner.exceptions.extend(report.exceptions.iter().cloned());
        }
        inner.exceptions.push(JobException {
            timestamp: now,
            task: None,
            message: reason.clone(),
        });
        let excess = inner.exceptions.len().saturating_sub(EXCEPTION_HISTORY);
        inner.exceptions.drain(..excess);
        fail_savepoints(inner, &reason);
        inner.commands.clear();
        if inner.cancel_requested {
            return self.end(inner, JobState::Canceled, now);
        }
        if inner.restarts >= self.max_restarts {
            inner.exceptions.push(JobException {
                timestamp: now,
                task: None,
                message: format!(
                    "job failed: {reason}; it was restarted {} times, the maximum \
                     (restart-strategy.fixed-delay.attempts)",
                    inner.restarts
                ),
            });
            return self.end(inner, JobState::Failed, now);
        }
        if let Some(path) = inner.last_report.as_ref().and_then(latest_checkpoint) {
            inner.restore_path = Some(path);
        }
        inner.restarts += 1;
        inner.attempt += 1;
        inner.phase = Phase::Waiting;
        inner.reported = false;
        inner.cancel_order_pending = false;
        inner.timestamps.push((JobState::Restarting, now));
        log::info!(
            "cluster: job {} restarts as attempt {} from {:?}",
            self.id,
            inner.attempt,
            inner.restore_path
        );
    }

    /// Ends the job in `state` at `now`.
    fn end(&self, inner: &mut Inner, state: JobState, now: i64) {
        let mut status = self.current(inner);
        status.state = state;
        status.end_time = Some(status.end_time.unwrap_or(now));
        if status.timestamps.last().map(|t| t.0) != Some(state) {
            status.timestamps.push((state, now));
        }
        log::info!("cluster: job {} ended {state:?}", self.id);
        inner.final_status = Some(status);
        inner.phase = Phase::Ended;
        inner.cancel_order_pending = false;
        fail_savepoints(inner, "the job has ended");
    }

    /// The job as of now (see [`JobHandle::status`](crate::JobHandle::status)).
    fn current(&self, inner: &Inner) -> JobStatus {
        if let Some(status) = &inner.final_status {
            return status.clone();
        }
        let mut status = match (&inner.last_report, inner.reported) {
            (Some(report), true) => {
                let mut s = report.clone();
                if inner.cancel_requested && !s.state.is_terminal() {
                    s.state = JobState::Cancelling;
                }
                let own = inner.timestamps.iter().copied();
                let theirs = report.timestamps.iter().copied();
                s.timestamps = own
                    .chain(theirs.filter(|t| t.0 != JobState::Created))
                    .collect();
                let mut exceptions = inner.exceptions.clone();
                exceptions.extend(report.exceptions.iter().cloned());
                s.exceptions = exceptions;
                s
            }
            (report, _) => {
                let state = if inner.restarts == 0 {
                    JobState::Created
                } else {
                    JobState::Restarting
                };
                let base = report.as_ref();
                JobStatus {
                    job_id: String::new(),
                    name: String::new(),
                    state,
                    timestamps: inner.timestamps.clone(),
                    start_time: 0,
                    end_time: None,
                    restarts: 0,
                    vertices: base.map(|r| r.vertices.clone()).unwrap_or_default(),
                    edges: base.map(|r| r.edges.clone()).unwrap_or_default(),
                    exceptions: inner.exceptions.clone(),
                    checkpoints: base
                        .map_or_else(CheckpointHistory::default, |r| r.checkpoints.clone()),
                }
            }
        };
        status.job_id = self.id.clone();
        status.name = self.submission.name.clone();
        status.start_time = self.submitted_at;
        status.restarts = inner.restarts;
        status
    }
}

/// The location of the latest completed checkpoint (not savepoint) of `report`.
fn latest_checkpoint(report: &JobStatus) -> Option<String> {
    report
        .checkpoints
        .history
        .iter()
        .filter(|c| !c.is_savepoint && c.state == CheckpointState::Completed)
        .max_by_key(|c| c.id)
        .and_then(|c| c.external_path.clone())
}

fn fail_savepoints(inner: &mut Inner, why: &str) {
    for result in inner.savepoints.values_mut() {
        result.get_or_insert_with(|| Err(why.to_string()));
    }
}
