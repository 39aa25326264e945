//! A task's side of checkpoints: its mailbox of control messages, the walk that
//! snapshots a chain as a barrier passes through it, and its reports to the job
//! master.
//!
//! # When a task snapshots
//!
//! A source task snapshots when the job master asks it to (a
//! [`TaskControl::Trigger`] in its mailbox), between two polls of its reader. Any
//! other task snapshots when the barrier has arrived on its input channels (see
//! `barriers`). Either way the snapshot walks the chain head first: each link
//! flushes what it emitted before the barrier, writes its operator's state, and
//! passes the barrier on; a record writer sends it on every channel. So the
//! state of every operator reflects exactly the records before the barrier, and
//! the barrier leaves the task behind all of them.
//!
//! The walk copies state into a [`TaskSnapshot`] on the task thread; the job
//! master writes it to storage on another thread while the task goes on. Keyed
//! state on the heap is not even serialized on the task thread: the walk takes
//! references to its key groups, which the table then copies on write
//! ([`StateSnapshotContext::defer_key_groups`]), and the writer thread
//! serializes them.

use crate::error::TaskError;
use runnel_checkpoint::{
    ChannelKey, ChannelSide, ChannelState, KeyGroupState, NativeKeyedState, OperatorId,
    OperatorSubtaskState, SharedStateUploader, TaskId, TaskStateSnapshot,
};
use runnel_network::TaskSignal;
use runnel_types::{BarrierAlignment, CheckpointBarrier, CheckpointId, KeyGroup, SnapshotKind};
use std::collections::BTreeMap;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// A control message from the job master to a task.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum TaskControl {
    /// A source task injects this barrier (and snapshots).
    Trigger(CheckpointBarrier),
    /// The checkpoint completed: operators may commit.
    Complete(CheckpointId),
    /// The checkpoint will not complete.
    Abort(CheckpointId),
    /// The job has finished: a task waiting after its end of input may close.
    Terminate,
    /// The job stops (after a stop-with-savepoint): a running task closes
    /// without ending its input.
    Stop,
}

/// A task's mailbox: control messages in order, and a cheap check for whether
/// there are any (read by the task loop before every unit of input).
#[derive(Debug)]
pub struct TaskMailbox {
    queue: Mutex<VecDeque<TaskControl>>,
    has_mail: AtomicBool,
    signal: Arc<TaskSignal>,
}

impl TaskMailbox {
    /// A mailbox that wakes the task of `signal` when a message arrives.
    pub fn new(signal: Arc<TaskSignal>) -> Self {
        TaskMailbox {
            queue: Mutex::new(VecDeque::new()),
            has_mail: AtomicBool::new(false),
            signal,
        }
    }

    /// Posts a message and wakes the task.
    pub fn post(&self, message: TaskControl) {
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(message);
        self.has_mail.store(true, Ordering::Release);
        self.signal.wake();
    }

    /// Whether messages are waiting.
    #[inline]
    pub fn has_mail(&self) -> bool {
        self.has_mail.load(Ordering::Acquire)
    }

    /// Takes every waiting message, oldest first.
    pub fn take_all(&self) -> Vec<TaskControl> {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        self.has_mail.store(false, Ordering::Release);
        q.drain(..).collect()
    }
}

/// What a snapshot walk is for.
#[derive(Debug, Clone, Copy)]
pub struct SnapshotRequest {
    /// The barrier (its id, time and kind).
    pub barrier: CheckpointBarrier,
    /// Whether writers pass the barrier downstream. `false` for the final
    /// snapshot of a task whose outputs have already ended.
    pub forward_barrier: bool,
}

/// Collects the states of a chain's operators during a snapshot walk.
pub struct TaskSnapshotBuilder {
    request: SnapshotRequest,
    operators: Vec<(OperatorId, OperatorSubtaskState)>,
    channels: Vec<ChannelState>,
    deferred: Vec<(OperatorId, DeferredKeyGroups)>,
    native: Vec<(OperatorId, DeferredNativeState)>,
}

/// Keyed state as a backend's files (an incremental checkpoint), handed to
/// the uploader off the task thread; returns what the state file records.
pub type DeferredNativeState = Box<
    dyn FnOnce(&mut dyn SharedStateUploader) -> Result<NativeKeyedState, String> + Send + 'static,
>;

/// Serializes keyed state copied during a snapshot walk: the state of each key
/// group that has any, in key-group order.
pub type DeferredKeyGroups =
    Box<dyn FnOnce() -> Result<Vec<(KeyGroup, Vec<u8>)>, String> + Send + 'static>;

/// A task's contribution to a checkpoint as the walk leaves it: the state, and
/// the keyed state still to serialize (off the task thread).
pub struct TaskSnapshot {
    /// What is already serialized, and the channels' in-flight data.
    pub state: TaskStateSnapshot,
    /// Keyed state to serialize before the state is written.
    pub deferred: Vec<(OperatorId, DeferredKeyGroups)>,
    /// Keyed state as backend files, to upload before the state is written.
    pub native: Vec<(OperatorId, DeferredNativeState)>,
}

impl std::fmt::Debug for TaskSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskSnapshot")
            .field("state", &self.state)
            .field("deferred", &self.deferred.len())
            .field("native", &self.native.len())
            .finish()
    }
}

impl TaskSnapshot {
    /// Serializes the deferred keyed state into the snapshot and uploads the
    /// files of native keyed state through `uploader` (on the thread that
    /// writes it); operators left without state are dropped.
    pub fn complete(
        self,
        uploader: &mut dyn SharedStateUploader,
    ) -> Result<TaskStateSnapshot, String> {
        let TaskSnapshot {
            mut state,
            deferred,
            native,
        } = self;
        fn operator_state(
            state: &mut TaskStateSnapshot,
            operator: OperatorId,
        ) -> &mut OperatorSubtaskState {
            let index = match state.operators.iter().position(|(id, _)| *id == operator) {
                Some(i) => i,
                None => {
                    state
                        .operators
                        .push((operator, OperatorSubtaskState::default()));
                    state.operators.len() - 1
                }
            };
            &mut state.operators[index].1
        }
        for (operator, upload) in native {
            let files = upload(uploader)?;
            operator_state(&mut state, operator).native.push(files);
        }
        for (operator, serialize) in deferred {
            let groups = serialize()?;
            if groups.is_empty() {
                continue;
            }
            let target = operator_state(&mut state, operator);
            let mut merged: BTreeMap<KeyGroup, KeyGroupState> =
                std::mem::take(&mut target.key_groups)
                    .into_iter()
                    .map(|g| (g.group, g))
                    .collect();
            for (group, bytes) in groups {
                merged
                    .entry(group)
                    .or_insert_with(|| KeyGroupState {
                        group,
                        state: Vec::new(),
                        timers: Vec::new(),
                    })
                    .state = bytes;
            }
            target.key_groups = merged.into_values().collect();
        }
        state.operators.retain(|(_, s)| !s.is_empty());
        Ok(state)
    }
}

impl std::fmt::Debug for TaskSnapshotBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskSnapshotBuilder")
            .field("request", &self.request)
            .field("operators", &self.operators.len())
            .finish()
    }
}

impl TaskSnapshotBuilder {
    /// A builder for `request`.
    pub fn new(request: SnapshotRequest) -> Self {
        TaskSnapshotBuilder {
            request,
            operators: Vec::new(),
            channels: Vec::new(),
            deferred: Vec::new(),
            native: Vec::new(),
        }
    }

    /// Whether the barrier overtakes in-flight data (an unaligned checkpoint).
    pub fn is_unaligned(&self) -> bool {
        self.request.barrier.alignment == BarrierAlignment::Unaligned
    }

    /// Adds in-flight data of a channel (buffers a barrier overtook).
    pub fn add_channel_state(
        &mut self,
        channel: ChannelKey,
        side: ChannelSide,
        buffers: Vec<Vec<u8>>,
    ) {
        if !buffers.is_empty() {
            self.channels.push(ChannelState {
                channel,
                side,
                buffers,
            });
        }
    }

    /// The request.
    pub fn request(&self) -> &SnapshotRequest {
        &self.request
    }

    /// The context `operator` writes its state into.
    pub fn operator(&mut self, operator: OperatorId) -> StateSnapshotContext<'_> {
        self.operators
            .push((operator.clone(), OperatorSubtaskState::default()));
        let barrier = self.request.barrier;
        let (_, state) = self.operators.last_mut().expect("just pushed");
        StateSnapshotContext {
            barrier,
            operator,
            state,
            deferred: &mut self.deferred,
            native: &mut self.native,
        }
    }

    /// The task's snapshot (operators without state and nothing deferred are
    /// left out).
    pub fn finish(self) -> TaskSnapshot {
        let (deferred, native) = (self.deferred, self.native);
        TaskSnapshot {
            state: TaskStateSnapshot {
                operators: self
                    .operators
                    .into_iter()
                    .filter(|(id, s)| {
                        !s.is_empty()
                            || deferred.iter().any(|(d, _)| d == id)
                            || native.iter().any(|(d, _)| d == id)
                    })
                    .collect(),
                channels: self.channels,
            },
            deferred,
            native,
        }
    }
}

/// Where one operator instance writes its state during a snapshot (Flink's
/// `StateSnapshotContext`).
pub struct StateSnapshotContext<'a> {
    barrier: CheckpointBarrier,
    operator: OperatorId,
    state: &'a mut OperatorSubtaskState,
    deferred: &'a mut Vec<(OperatorId, DeferredKeyGroups)>,
    native: &'a mut Vec<(OperatorId, DeferredNativeState)>,
}

impl std::fmt::Debug for StateSnapshotContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateSnapshotContext")
            .field("barrier", &self.barrier)
            .field("operator", &self.operator)
            .finish()
    }
}

impl StateSnapshotContext<'_> {
    /// The checkpoint being taken.
    pub fn checkpoint_id(&self) -> CheckpointId {
        self.barrier.id
    }

    /// When it was triggered (epoch ms).
    pub fn checkpoint_timestamp(&self) -> i64 {
        self.barrier.timestamp
    }

    /// Checkpoint or savepoint.
    pub fn kind(&self) -> SnapshotKind {
        self.barrier.kind
    }

    /// The operator's state, to fill in.
    pub fn state(&mut self) -> &mut OperatorSubtaskState {
        self.state
    }

    /// Keyed state to serialize later, on the job master's writer thread:
    /// `serialize` holds the state as of now (shared copy-on-write) and returns
    /// each key group's bytes. The bytes go into the key groups of [`Self::state`]
    /// (next to their timers).
    pub fn defer_key_groups(&mut self, serialize: DeferredKeyGroups) {
        self.deferred.push((self.operator.clone(), serialize));
    }

    /// Keyed state as the backend's files (an incremental checkpoint):
    /// `upload` runs on the job master's writer thread, hands each file to the
    /// uploader (which skips those earlier checkpoints have) and returns what
    /// the state file records. Timers stay in the key groups of
    /// [`Self::state`].
    pub fn defer_native_state(&mut self, upload: DeferredNativeState) {
        self.native.push((self.operator.clone(), upload));
    }
}

/// What a task reports to the job master.
#[derive(Debug)]
pub enum TaskReport {
    /// The task's state for a checkpoint (to be written, then acknowledged).
    Snapshot {
        /// The checkpoint.
        id: CheckpointId,
        /// Its kind (where it goes).
        kind: SnapshotKind,
        /// The state.
        snapshot: TaskSnapshot,
    },
    /// The task cannot take part in a checkpoint.
    Decline {
        /// The checkpoint.
        id: CheckpointId,
        /// Why.
        reason: runnel_checkpoint::DeclineReason,
    },
    /// The task processed all its input and ended its outputs.
    Finished,
}

/// A report with its sender.
#[derive(Debug)]
pub struct TaskMessage {
    /// The task.
    pub task: TaskId,
    /// Its attempt (reports of an earlier attempt are ignored).
    pub attempt: u32,
    /// The report.
    pub report: TaskReport,
}

/// Where a task's reports go (the job master's inbox).
pub type ReportSink = Arc<dyn Fn(TaskMessage) + Send + Sync>;

/// A task's link to the job master for checkpoints.
#[derive(Clone)]
pub struct TaskCheckpointer {
    task: TaskId,
    attempt: u32,
    reports: Option<ReportSink>,
    periodic: bool,
}

impl std::fmt::Debug for TaskCheckpointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskCheckpointer")
            .field("task", &self.task)
            .field("attempt", &self.attempt)
            .field("periodic", &self.periodic)
            .finish()
    }
}

impl TaskCheckpointer {
    /// A checkpointer reporting to `reports`; `periodic`: the job takes
    /// periodic checkpoints (finished tasks then wait for the final one).
    pub fn new(task: TaskId, attempt: u32, reports: ReportSink, periodic: bool) -> Self {
        TaskCheckpointer {
            task,
            attempt,
            reports: Some(reports),
            periodic,
        }
    }

    /// A checkpointer that reports nowhere (operators run outside a job).
    pub fn disabled(task: TaskId) -> Self {
        TaskCheckpointer {
            task,
            attempt: 0,
            reports: None,
            periodic: false,
        }
    }

    /// Whether the job takes periodic checkpoints.
    pub fn is_enabled(&self) -> bool {
        self.periodic
    }

    /// The task.
    pub fn task(&self) -> TaskId {
        self.task
    }

    fn send(&self, report: TaskReport) -> Result<(), TaskError> {
        if let Some(sink) = &self.reports {
            sink(TaskMessage {
                task: self.task,
                attempt: self.attempt,
                report,
            });
        }
        Ok(())
    }

    /// Hands the state of a completed snapshot walk to the master.
    pub fn submit(
        &self,
        barrier: &CheckpointBarrier,
        snapshot: TaskSnapshot,
    ) -> Result<(), TaskError> {
        self.send(TaskReport::Snapshot {
            id: barrier.id,
            kind: barrier.kind,
            snapshot,
        })
    }

    /// Declines a checkpoint.
    pub fn decline(
        &self,
        id: CheckpointId,
        reason: runnel_checkpoint::DeclineReason,
    ) -> Result<(), TaskError> {
        self.send(TaskReport::Decline { id, reason })
    }

    /// Reports that the task processed all its input.
    pub fn finished(&self) -> Result<(), TaskError> {
        self.send(TaskReport::Finished)
    }
}
