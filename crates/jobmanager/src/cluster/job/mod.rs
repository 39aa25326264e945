//! [`ClusterJob`]: a job submitted to the cluster, run by a job binary that
//! TaskManagers start, one process per TaskManager holding its slots, as the
//! Dispatcher sees it (a [`JobHandle`](crate::JobHandle)).
//!
//! Its lifecycle, one attempt at a time (attempts count from 1):
//!
//! ```text
//! Waiting ──place──▶ Placed{processes} ──heartbeat answers──▶ every process deployed
//!    ▲                                                                   │
//!    └── failover (a TaskManager of it lost, a process failed) ◀─────────┤
//!        (placed again once the restart delay has passed)                ▼
//!                                       Ended (FINISHED, CANCELED or FAILED)
//! ```
//!
//! Invariants:
//! - only the current attempt's reports and results are taken, and only its
//!   process 0 reports; anything of an earlier attempt, or of an ended job,
//!   is refused as [`AttemptGone`](JobManagerError::AttemptGone) (`410`);
//! - the job holds slots exactly while it is `Placed`; the
//!   [`Cluster`](super::Cluster) releases the slots of every other job when it
//!   settles, so a transition here never touches the ResourceManager;
//! - process `k` of an attempt runs on the `k`-th TaskManager of its
//!   placement (at most one process per TaskManager) and is deployed once;
//! - commands are queued for the current attempt and delivered once; a
//!   failover drops them, forgets the attempt's leader address and fails the
//!   savepoints waiting on the old attempt;
//! - the processes to kill are queued as kill orders the Cluster takes, each
//!   due at a time: after a failover, or an end other than FINISHED that no
//!   cancel asked for, at once (process 0 of an ended job is left to exit on
//!   its own: its next report is `410`); after a cancel of a deployed job,
//!   every deployed process is due to be killed `cancel_timeout` later, a
//!   grace period in which process 0 cancels the job and the processes exit
//!   (an order for a process that is gone by then is dropped);
//! - a failover restarts the job at most `max_restarts` times, from the latest
//!   completed checkpoint of the last report (else the path the failed attempt
//!   started from), placing it no earlier than `restart_delay` after the
//!   failure; then the job fails.

mod handle;
mod processes;
mod status;

use super::protocol::{Command, Submission};
use crate::resource_manager::TaskManagerId;
use crate::{DispatcherConfig, JobManagerError};
use runnel_runtime::clock::Clock;
use runnel_runtime::status::{EXCEPTION_HISTORY, JobException, JobState, JobStatus};
use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// Where the current attempt is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// Waiting for enough free slots in the cluster (after a failover, not
    /// before `Inner::restart_at`).
    Waiting,
    /// Its slots are allocated: process `k` runs on `processes[k]`'s
    /// TaskManager (never empty).
    Placed { processes: Vec<Process> },
    /// Over; `final_status` is kept.
    Ended,
}

/// One process of the current attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Process {
    /// The TaskManager holding its slots.
    tm: TaskManagerId,
    /// The job's slot indices it runs.
    slot_indices: Vec<u32>,
    /// A heartbeat answer of `tm` carried its deployment.
    deployed: bool,
    /// Its TaskManager reported it ended, or is gone.
    ended: bool,
}

#[derive(Debug)]
struct Inner {
    attempt: u32,
    phase: Phase,
    restarts: u32,
    /// When a restarting attempt may be placed (epoch ms; 0 for the first).
    restart_at: i64,
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
    /// Processes to kill, `(TaskManager, attempt, due epoch ms)`, until the
    /// Cluster takes them.
    kills: Vec<(TaskManagerId, u32, i64)>,
    /// Where process 0 of the current attempt listens for its peers.
    leader: Option<SocketAddr>,
    /// Savepoint requests of the current attempt and their results.
    savepoints: HashMap<String, Option<Result<String, String>>>,
    final_status: Option<JobStatus>,
}

/// A cluster job, one attempt at a time: waiting for slots, placed on
/// TaskManagers (a process deployed with each one's next heartbeat answer),
/// or ended. Only the current attempt's reports are taken; a failover
/// restarts it at most `max_restarts` times from its latest completed
/// checkpoint, after `restart_delay`; a cancel kills the processes still
/// running after `cancel_timeout`.
pub struct ClusterJob {
    id: String,
    blob: String,
    submission: Submission,
    submitted_at: i64,
    max_restarts: u32,
    restart_delay: Duration,
    cancel_timeout: Duration,
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
    /// it restarts, cancels and takes savepoints as `config` says
    /// ([`max_restarts`](DispatcherConfig::max_restarts),
    /// [`restart_delay`](DispatcherConfig::restart_delay),
    /// [`cancel_timeout`](DispatcherConfig::cancel_timeout),
    /// [`savepoint_timeout`](DispatcherConfig::savepoint_timeout)).
    pub fn new(
        id: String,
        blob: String,
        submission: Submission,
        config: &DispatcherConfig,
        clock: Arc<dyn Clock>,
    ) -> ClusterJob {
        let now = clock.now_millis();
        let inner = Inner {
            attempt: 1,
            phase: Phase::Waiting,
            restarts: 0,
            restart_at: 0,
            restore_path: submission.savepoint_path.clone(),
            last_report: None,
            reported: false,
            exceptions: Vec::new(),
            timestamps: vec![(JobState::Created, now)],
            commands: Vec::new(),
            cancel_requested: false,
            kills: Vec::new(),
            leader: None,
            savepoints: HashMap::new(),
            final_status: None,
        };
        ClusterJob {
            id,
            blob,
            submission,
            submitted_at: now,
            max_restarts: config.max_restarts,
            restart_delay: config.restart_delay,
            cancel_timeout: config.cancel_timeout,
            savepoint_timeout: config.savepoint_timeout,
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

    /// The slots it waits for, if it waits for slots at `now` (a restarting
    /// attempt waits for its restart delay first).
    pub(crate) fn waiting_for(&self, now: i64) -> Option<u32> {
        let inner = self.lock();
        (inner.phase == Phase::Waiting && now >= inner.restart_at).then_some(self.submission.slots)
    }

    /// Whether it holds slots.
    pub(crate) fn is_placed(&self) -> bool {
        matches!(self.lock().phase, Phase::Placed { .. })
    }

    pub(crate) fn is_ended(&self) -> bool {
        self.lock().phase == Phase::Ended
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
        if let Phase::Placed { processes } = &mut inner.phase
            && let Some(leader) = processes.first_mut()
        {
            leader.deployed = true;
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
        if let Some(path) = inner
            .last_report
            .as_ref()
            .and_then(status::latest_checkpoint)
        {
            inner.restore_path = Some(path);
        }
        inner.kill_processes(0, now);
        inner.restarts += 1;
        inner.attempt += 1;
        inner.phase = Phase::Waiting;
        inner.restart_at = after(now, self.restart_delay);
        inner.reported = false;
        inner.leader = None;
        inner.timestamps.push((JobState::Restarting, now));
        log::info!(
            "cluster: job {} restarts as attempt {} in {} ms from {:?}",
            self.id,
            inner.attempt,
            self.restart_delay.as_millis(),
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
        // Process 0 exits on its own (after its final report, or at the 410
        // of its next one); the others are killed unless the job finished,
        // or a cancel gave every process a grace period (its kill orders are
        // queued already).
        if state != JobState::Finished && !inner.cancel_requested {
            inner.kill_processes(1, now);
        }
        inner.final_status = Some(status);
        inner.phase = Phase::Ended;
        fail_savepoints(inner, "the job has ended");
    }
}

impl Inner {
    /// Queues kill orders due at `due` for the deployed processes of the
    /// current attempt, from process `from` on, that have not ended.
    fn kill_processes(&mut self, from: usize, due: i64) {
        let Phase::Placed { processes } = &self.phase else {
            return;
        };
        for p in processes
            .iter()
            .skip(from)
            .filter(|p| p.deployed && !p.ended)
        {
            match self
                .kills
                .iter_mut()
                .find(|(tm, attempt, _)| tm == &p.tm && *attempt == self.attempt)
            {
                Some(kill) => kill.2 = kill.2.min(due),
                None => self.kills.push((p.tm.clone(), self.attempt, due)),
            }
        }
    }

    /// Whether process 0 of the current attempt was deployed.
    fn leader_deployed(&self) -> bool {
        matches!(&self.phase, Phase::Placed { processes }
            if processes.first().is_some_and(|p| p.deployed))
    }
}

/// `d` after `now` (epoch ms), saturating.
fn after(now: i64, d: Duration) -> i64 {
    now.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn fail_savepoints(inner: &mut Inner, why: &str) {
    for result in inner.savepoints.values_mut() {
        result.get_or_insert_with(|| Err(why.to_string()));
    }
}
