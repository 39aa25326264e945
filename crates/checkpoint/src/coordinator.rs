//! The checkpoint coordinator (Flink's `CheckpointCoordinator`) as a pure state
//! machine: [`CheckpointCoordinator::handle`] takes an [`Event`] and returns the
//! [`Action`]s the runtime must carry out. It holds no clock, thread or file.
//!
//! # The life of a checkpoint
//!
//! 1. A [`Event::Tick`] finds the next checkpoint due: at least `interval` after
//!    the previous trigger, at least `min_pause` after the previous completion,
//!    and fewer than `max_concurrent` in progress. The coordinator emits
//!    [`Action::Trigger`] for the tasks that snapshot on their own: the source
//!    tasks still running (they inject the barrier) and the tasks that have
//!    finished (they snapshot their final state, having no input to get a
//!    barrier from). Every other task snapshots when the barrier reaches it.
//! 2. Every task acknowledges with its state handle ([`Event::Acknowledge`]). A
//!    task that finishes before a pending checkpoint's barrier reached it is
//!    triggered directly (it snapshots at most once per checkpoint).
//! 3. With every acknowledgement in, [`Action::Persist`] asks for the metadata to
//!    be written. The checkpoint completes when the runtime reports it durable
//!    ([`Event::Persisted`]): then every task is notified
//!    ([`Action::NotifyComplete`]; sinks commit), older pending checkpoints are
//!    subsumed, and checkpoints beyond `num_retained` are discarded.
//! 4. A decline, a timeout or a failed write aborts the checkpoint
//!    ([`Action::NotifyAborted`]). More than `tolerable_failures` aborts in a row
//!    fail the job ([`Action::FailJob`]).
//!
//! Savepoints are triggered by hand and skip the schedule; they are not
//! retained by the job, and an ordinary savepoint does not notify tasks (it must
//! not commit side effects). When every task has finished, a final checkpoint
//! of their final states completes the job ([`Action::Finished`]), so that sinks
//! commit their last transactions only once nothing can roll them back.
//! Finished tasks wait for it (and for their commits) before they close.

use runnel_types::{BarrierAlignment, CheckpointBarrier, CheckpointId, JobVertexId, SnapshotKind};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::time::Duration;

/// A task of a job: one subtask of a job vertex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId {
    /// The job vertex (chain).
    pub vertex: JobVertexId,
    /// The subtask.
    pub subtask: u32,
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} subtask {}", self.vertex, self.subtask)
    }
}

/// The coordinator's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct CoordinatorConfig {
    /// Time between periodic checkpoints; `None` takes none (savepoints and the
    /// final checkpoint still happen).
    pub interval: Option<Duration>,
    /// A checkpoint still pending after this long is aborted.
    pub timeout: Duration,
    /// Least time between a completion and the next trigger.
    pub min_pause: Duration,
    /// Periodic checkpoints in progress at once.
    pub max_concurrent: u32,
    /// Completed checkpoints kept.
    pub num_retained: u32,
    /// Aborted checkpoints in a row tolerated before the job fails.
    pub tolerable_failures: u32,
    /// How barriers are handled.
    pub alignment: BarrierAlignment,
    /// With aligned barriers, switch to unaligned after this long.
    pub aligned_timeout: Option<Duration>,
}

impl Default for CoordinatorConfig {
    fn default() -> Self {
        CoordinatorConfig {
            interval: None,
            timeout: Duration::from_secs(600),
            min_pause: Duration::ZERO,
            max_concurrent: 1,
            num_retained: 1,
            tolerable_failures: 0,
            alignment: BarrierAlignment::Aligned,
            aligned_timeout: None,
        }
    }
}

/// Why a task declined a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeclineReason {
    /// A newer checkpoint's barrier arrived first; not a failure.
    Subsumed,
    /// The task could not take or write its snapshot.
    Failed(String),
}

/// Something that happened, for the coordinator to react to.
#[derive(Debug, Clone, PartialEq)]
pub enum Event<H> {
    /// The clock reads `now` (epoch ms). Due checkpoints are triggered and
    /// expired ones aborted.
    Tick {
        /// Now.
        now: i64,
    },
    /// A task's state for a checkpoint is durable.
    Acknowledge {
        /// The checkpoint.
        id: CheckpointId,
        /// The task.
        task: TaskId,
        /// Its state.
        state: H,
    },
    /// A task cannot contribute to a checkpoint.
    Decline {
        /// The checkpoint.
        id: CheckpointId,
        /// The task.
        task: TaskId,
        /// Why.
        reason: DeclineReason,
    },
    /// A task processed all its input and ended its outputs; from now on it
    /// snapshots its final state when triggered directly.
    TaskFinished {
        /// The task.
        task: TaskId,
        /// Now.
        now: i64,
    },
    /// The metadata of a checkpoint is durable: it is complete.
    Persisted {
        /// The checkpoint.
        id: CheckpointId,
        /// Now.
        now: i64,
    },
    /// Writing a checkpoint's metadata failed.
    PersistFailed {
        /// The checkpoint.
        id: CheckpointId,
        /// Why.
        reason: String,
    },
    /// The user asks for a savepoint now.
    TriggerSavepoint {
        /// [`SnapshotKind::Savepoint`] or [`SnapshotKind::SavepointTerminate`].
        kind: SnapshotKind,
        /// Now.
        now: i64,
    },
}

/// What the runtime must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action<H> {
    /// Ask `tasks` to take the checkpoint of `barrier` on their own: running
    /// sources inject the barrier, finished tasks snapshot their final state.
    Trigger {
        /// The barrier.
        barrier: CheckpointBarrier,
        /// The tasks to ask.
        tasks: Vec<TaskId>,
    },
    /// Every task's state is in: write the metadata, then report
    /// [`Event::Persisted`] (or [`Event::PersistFailed`]).
    Persist {
        /// The checkpoint.
        id: CheckpointId,
        /// Checkpoint or savepoint.
        kind: SnapshotKind,
        /// When it was triggered.
        timestamp: i64,
        /// The state of every task.
        states: Vec<(TaskId, H)>,
    },
    /// The checkpoint completed: tell the tasks (sinks commit).
    NotifyComplete {
        /// The checkpoint.
        id: CheckpointId,
        /// The tasks to tell.
        tasks: Vec<TaskId>,
    },
    /// The checkpoint will not complete: tell the tasks that took part.
    NotifyAborted {
        /// The checkpoint.
        id: CheckpointId,
        /// The tasks to tell.
        tasks: Vec<TaskId>,
        /// Why it was aborted.
        reason: String,
    },
    /// A completed checkpoint is no longer retained: delete its files.
    Discard {
        /// The checkpoint.
        id: CheckpointId,
    },
    /// A savepoint completed.
    SavepointCompleted {
        /// Its id.
        id: CheckpointId,
        /// Its kind.
        kind: SnapshotKind,
    },
    /// A savepoint could not be taken.
    SavepointFailed {
        /// Its id, if it was triggered.
        id: Option<CheckpointId>,
        /// Why.
        reason: String,
    },
    /// Too many checkpoints failed in a row: fail the job.
    FailJob {
        /// Why.
        reason: String,
    },
    /// Every task finished and the final checkpoint completed: the job may end.
    Finished,
}

struct Pending<H> {
    barrier: CheckpointBarrier,
    kind: SnapshotKind,
    timestamp: i64,
    /// Tasks asked to take part (for abort notifications).
    participants: Vec<TaskId>,
    awaiting: BTreeSet<TaskId>,
    acked: BTreeMap<TaskId, H>,
    /// The final checkpoint of a finished job.
    is_final: bool,
    /// Persist was requested.
    persisting: bool,
}

/// The checkpoint coordinator of one job.
pub struct CheckpointCoordinator<H> {
    config: CoordinatorConfig,
    sources: Vec<TaskId>,
    tasks: Vec<TaskId>,
    /// Per task, the tasks it reads from (see [`Self::with_upstream`]).
    upstream: BTreeMap<TaskId, Vec<TaskId>>,
    finished: BTreeSet<TaskId>,
    pending: BTreeMap<CheckpointId, Pending<H>>,
    retained: VecDeque<CheckpointId>,
    latest_completed: Option<CheckpointId>,
    next_id: u64,
    /// When the next periodic checkpoint is due (set by the first tick).
    next_trigger: Option<i64>,
    last_completion: Option<i64>,
    consecutive_failures: u32,
    /// A stop-with-savepoint was triggered or the job finished: no more
    /// periodic checkpoints.
    stopped: bool,
    completed_count: u64,
}

impl<H: Clone> CheckpointCoordinator<H> {
    /// A coordinator for a job with `tasks`, of which `sources` inject barriers.
    /// Checkpoint ids start at 1.
    pub fn new(config: CoordinatorConfig, sources: Vec<TaskId>, tasks: Vec<TaskId>) -> Self {
        CheckpointCoordinator {
            config,
            sources,
            tasks,
            upstream: BTreeMap::new(),
            finished: BTreeSet::new(),
            pending: BTreeMap::new(),
            retained: VecDeque::new(),
            latest_completed: None,
            next_id: 1,
            next_trigger: None,
            last_completion: None,
            consecutive_failures: 0,
            stopped: false,
            completed_count: 0,
        }
    }

    /// Tells which tasks each task reads from. With it, checkpoints go on
    /// after sources finish (Flink's checkpoints after tasks finish): a running
    /// task whose upstream tasks have all finished is triggered directly and
    /// takes its snapshot once it has read the rest of its input.
    pub fn with_upstream(mut self, upstream: BTreeMap<TaskId, Vec<TaskId>>) -> Self {
        self.upstream = upstream;
        self
    }

    /// Checkpoints (not savepoints) completed so far.
    pub fn completed_count(&self) -> u64 {
        self.completed_count
    }

    /// Ids continue after `id` (the checkpoint the job was restored from).
    pub fn restored_from(&mut self, id: CheckpointId) {
        self.next_id = self.next_id.max(id.0 + 1);
    }

    /// The newest completed checkpoint (not savepoint) still retained.
    pub fn latest_completed(&self) -> Option<CheckpointId> {
        self.latest_completed
    }

    /// Whether checkpoint `id` is in progress (neither completed nor aborted).
    pub fn is_pending(&self, id: CheckpointId) -> bool {
        self.pending.contains_key(&id)
    }

    /// Checkpoints in progress.
    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }

    /// The tasks were restarted: forget what was in progress (the tasks that
    /// took part are gone) and the finished tasks; the next periodic checkpoint
    /// is due one interval after `now`. Savepoints in progress fail.
    pub fn reset(&mut self, now: i64) -> Vec<Action<H>> {
        let mut actions = Vec::new();
        for (id, p) in std::mem::take(&mut self.pending) {
            if p.kind.is_savepoint() {
                actions.push(Action::SavepointFailed {
                    id: Some(id),
                    reason: "the job restarted before the savepoint completed".to_string(),
                });
            }
        }
        self.finished.clear();
        self.stopped = false;
        self.next_trigger = self.interval_ms().map(|i| now.saturating_add(i));
        actions
    }

    fn interval_ms(&self) -> Option<i64> {
        self.config.interval.map(|d| d.as_millis() as i64)
    }

    /// Reacts to `event`.
    pub fn handle(&mut self, event: Event<H>) -> Vec<Action<H>> {
        let mut actions = Vec::new();
        match event {
            Event::Tick { now } => {
                self.expire(now, &mut actions);
                self.trigger_if_due(now, &mut actions);
            }
            Event::Acknowledge { id, task, state } => {
                if let Some(p) = self.pending.get_mut(&id)
                    && p.awaiting.remove(&task)
                {
                    p.acked.insert(task, state);
                    self.persist_if_complete(id, &mut actions);
                }
            }
            Event::Decline { id, task, reason } => {
                if self.pending.contains_key(&id) {
                    let (message, counts) = match reason {
                        DeclineReason::Subsumed => (
                            format!("{task} saw a newer checkpoint's barrier first"),
                            false,
                        ),
                        DeclineReason::Failed(why) => (format!("{task} declined: {why}"), true),
                    };
                    self.abort(id, message, counts, &mut actions);
                }
            }
            Event::TaskFinished { task, now } => {
                self.finished.insert(task);
                // Checkpoints whose barrier may never reach it now: ask
                // directly, and ask the tasks that now have no running
                // upstream task (their barrier may never come either).
                let frontier = self.frontier();
                for p in self.pending.values() {
                    let mut tasks: Vec<TaskId> = frontier
                        .iter()
                        .copied()
                        .filter(|t| p.awaiting.contains(t))
                        .collect();
                    if p.awaiting.contains(&task) {
                        tasks.push(task);
                    }
                    if !tasks.is_empty() {
                        tasks.sort();
                        actions.push(Action::Trigger {
                            barrier: p.barrier,
                            tasks,
                        });
                    }
                }
                if self.finished.len() == self.tasks.len()
                    && !self.pending.values().any(|p| p.is_final)
                {
                    self.stopped = true;
                    self.trigger_final(now, &mut actions);
                }
            }
            Event::Persisted { id, now } => self.complete(id, now, &mut actions),
            Event::PersistFailed { id, reason } => self.abort(
                id,
                format!("writing its metadata failed: {reason}"),
                true,
                &mut actions,
            ),
            Event::TriggerSavepoint { kind, now } => {
                if self.stopped {
                    actions.push(Action::SavepointFailed {
                        id: None,
                        reason: "the job is finishing or stopping".to_string(),
                    });
                } else if self.running_sources().is_empty() {
                    actions.push(Action::SavepointFailed {
                        id: None,
                        reason: "every source has finished".to_string(),
                    });
                } else {
                    if kind == SnapshotKind::SavepointTerminate {
                        self.stopped = true;
                    }
                    self.trigger(kind, now, &mut actions);
                }
            }
        }
        actions
    }

    fn take_id(&mut self) -> CheckpointId {
        let id = CheckpointId(self.next_id);
        self.next_id += 1;
        id
    }

    fn running_sources(&self) -> Vec<TaskId> {
        self.sources
            .iter()
            .copied()
            .filter(|t| !self.finished.contains(t))
            .collect()
    }

    /// Running tasks that are not sources and whose upstream tasks have all
    /// finished: no barrier can reach them through their inputs any more.
    fn frontier(&self) -> Vec<TaskId> {
        self.upstream
            .iter()
            .filter(|(task, up)| {
                !up.is_empty()
                    && !self.finished.contains(task)
                    && up.iter().all(|u| self.finished.contains(u))
            })
            .map(|(task, _)| *task)
            .collect()
    }

    /// The tasks that take a checkpoint on their own when asked.
    fn self_triggered(&self) -> Vec<TaskId> {
        let mut tasks = self.running_sources();
        tasks.extend(self.finished.iter().copied());
        tasks.extend(self.frontier());
        tasks.sort();
        tasks.dedup();
        tasks
    }

    fn expire(&mut self, now: i64, actions: &mut Vec<Action<H>>) {
        let timeout = self.config.timeout.as_millis() as i64;
        let expired: Vec<CheckpointId> = self
            .pending
            .iter()
            .filter(|(_, p)| !p.is_final && now.saturating_sub(p.timestamp) >= timeout)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.abort(
                id,
                format!(
                    "it expired before completing (timeout {:?})",
                    self.config.timeout
                ),
                true,
                actions,
            );
        }
    }

    fn trigger_if_due(&mut self, now: i64, actions: &mut Vec<Action<H>>) {
        let Some(interval) = self.interval_ms() else {
            return;
        };
        if self.stopped {
            return;
        }
        let due = *self
            .next_trigger
            .get_or_insert(now.saturating_add(interval));
        if now < due {
            return;
        }
        let periodic = self
            .pending
            .values()
            .filter(|p| p.kind == SnapshotKind::Checkpoint && !p.is_final)
            .count();
        if periodic >= self.config.max_concurrent as usize {
            return;
        }
        if let Some(done) = self.last_completion {
            let earliest = done.saturating_add(self.config.min_pause.as_millis() as i64);
            if now < earliest {
                self.next_trigger = Some(earliest);
                return;
            }
        }
        if self.running_sources().is_empty() && self.frontier().is_empty() {
            return;
        }
        self.next_trigger = Some(now.saturating_add(interval));
        self.trigger(SnapshotKind::Checkpoint, now, actions);
    }

    fn trigger(&mut self, kind: SnapshotKind, now: i64, actions: &mut Vec<Action<H>>) {
        self.trigger_with(kind, now, false, actions);
    }

    fn trigger_final(&mut self, now: i64, actions: &mut Vec<Action<H>>) {
        self.trigger_with(SnapshotKind::Checkpoint, now, true, actions);
    }

    fn trigger_with(
        &mut self,
        kind: SnapshotKind,
        now: i64,
        is_final: bool,
        actions: &mut Vec<Action<H>>,
    ) {
        let id = self.take_id();
        let alignment = if kind.is_savepoint() {
            // Savepoints are always aligned (as in Flink).
            BarrierAlignment::Aligned
        } else {
            self.config.alignment
        };
        let barrier = CheckpointBarrier {
            id,
            timestamp: now,
            kind,
            alignment,
            aligned_timeout_ms: self
                .config
                .aligned_timeout
                .filter(|_| alignment == BarrierAlignment::Aligned && !kind.is_savepoint())
                .map(|d| d.as_millis() as u64),
        };
        self.pending.insert(
            id,
            Pending {
                barrier,
                kind,
                timestamp: now,
                participants: self.tasks.clone(),
                awaiting: self.tasks.iter().copied().collect(),
                acked: BTreeMap::new(),
                is_final,
                persisting: false,
            },
        );
        actions.push(Action::Trigger {
            barrier,
            tasks: self.self_triggered(),
        });
    }

    fn persist_if_complete(&mut self, id: CheckpointId, actions: &mut Vec<Action<H>>) {
        let Some(p) = self.pending.get_mut(&id) else {
            return;
        };
        if !p.awaiting.is_empty() || p.persisting {
            return;
        }
        p.persisting = true;
        actions.push(Action::Persist {
            id,
            kind: p.kind,
            timestamp: p.timestamp,
            states: p.acked.iter().map(|(t, h)| (*t, h.clone())).collect(),
        });
    }

    fn complete(&mut self, id: CheckpointId, now: i64, actions: &mut Vec<Action<H>>) {
        let Some(p) = self.pending.remove(&id) else {
            return;
        };
        self.consecutive_failures = 0;
        match p.kind {
            SnapshotKind::Savepoint => {
                actions.push(Action::SavepointCompleted { id, kind: p.kind });
                return;
            }
            SnapshotKind::SavepointTerminate => {
                actions.push(Action::NotifyComplete {
                    id,
                    tasks: self.tasks.clone(),
                });
                actions.push(Action::SavepointCompleted { id, kind: p.kind });
                return;
            }
            SnapshotKind::Checkpoint => {}
        }
        self.last_completion = Some(now);
        self.latest_completed = Some(id);
        self.completed_count += 1;
        // Older checkpoints still in progress are subsumed.
        let older: Vec<CheckpointId> = self
            .pending
            .iter()
            .filter(|(o, q)| **o < id && q.kind == SnapshotKind::Checkpoint)
            .map(|(o, _)| *o)
            .collect();
        for o in older {
            self.abort(o, format!("{id} completed first"), false, actions);
        }
        actions.push(Action::NotifyComplete {
            id,
            tasks: self.tasks.clone(),
        });
        self.retained.push_back(id);
        while self.retained.len() > self.config.num_retained.max(1) as usize {
            let old = self.retained.pop_front().expect("longer than the limit");
            actions.push(Action::Discard { id: old });
        }
        if p.is_final {
            actions.push(Action::Finished);
        }
    }

    fn abort(
        &mut self,
        id: CheckpointId,
        reason: String,
        counts_as_failure: bool,
        actions: &mut Vec<Action<H>>,
    ) {
        let Some(p) = self.pending.remove(&id) else {
            return;
        };
        let reason = format!("{id} aborted: {reason}");
        actions.push(Action::NotifyAborted {
            id,
            tasks: p.participants.clone(),
            reason: reason.clone(),
        });
        if p.kind.is_savepoint() {
            actions.push(Action::SavepointFailed {
                id: Some(id),
                reason,
            });
            if p.kind == SnapshotKind::SavepointTerminate {
                self.stopped = false;
            }
            return;
        }
        if counts_as_failure {
            self.consecutive_failures += 1;
            if self.consecutive_failures > self.config.tolerable_failures {
                actions.push(Action::FailJob {
                    reason: format!(
                        "{} checkpoint(s) failed in a row, more than the {} tolerated; the last: {reason}",
                        self.consecutive_failures, self.config.tolerable_failures
                    ),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests;
