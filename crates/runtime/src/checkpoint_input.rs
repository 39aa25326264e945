//! The checkpoint side of a task's input: when the task snapshots, which
//! channels it stops reading meanwhile, and, for unaligned checkpoints, which
//! in-flight data it keeps.
//!
//! * Aligned and at-least-once checkpoints follow [`BarrierAligner`]: the task
//!   snapshots once every channel delivered the barrier.
//! * An unaligned checkpoint is taken at the *first* barrier: the chain
//!   snapshots at once and its writers send the barrier ahead of their queued
//!   buffers. Every buffer that arrives afterwards on a channel whose barrier
//!   has not arrived yet was sent before that barrier: it is processed as usual
//!   and also kept, as the channel's in-flight data. When every channel has
//!   delivered the barrier (or ended), the snapshot with that data goes to the
//!   job master. After a restore the data is replayed first.
//! * An aligned checkpoint with an alignment timeout turns unaligned when its
//!   alignment takes longer: the task snapshots then and keeps the in-flight
//!   data of the channels still to deliver the barrier.

use crate::barriers::{AlignmentStep, BarrierAligner};
use crate::chain::ChainNode;
use crate::checkpointing::{SnapshotRequest, TaskCheckpointer, TaskSnapshot, TaskSnapshotBuilder};
use crate::error::TaskError;
use runnel_checkpoint::{ChannelKey, ChannelSide, ChannelState, DeclineReason};
use runnel_types::{BarrierAlignment, CheckpointBarrier, CheckpointId};
use std::time::{Duration, Instant};

/// What the task must do with its channels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct GateAction {
    /// Read every channel again.
    pub unblock_all: bool,
    /// Then stop reading this channel (global number).
    pub block: Option<usize>,
}

impl GateAction {
    fn unblock_all() -> Self {
        GateAction {
            unblock_all: true,
            block: None,
        }
    }
}

/// An unaligned checkpoint waiting for the rest of its barriers.
struct Unaligned {
    barrier: CheckpointBarrier,
    snapshot: TaskSnapshot,
    /// Per channel: its barrier has not arrived yet (its data is kept).
    waiting: Vec<bool>,
    captured: Vec<Vec<Vec<u8>>>,
}

/// The barrier handling of one task.
pub struct CheckpointInput {
    aligner: BarrierAligner,
    checkpointer: TaskCheckpointer,
    keys: Vec<ChannelKey>,
    ended: Vec<bool>,
    pending: Option<Unaligned>,
    /// When the aligned checkpoint in progress saw its first barrier.
    alignment_started: Option<Instant>,
    /// The newest checkpoint this task has snapshotted (it snapshots each once).
    last: Option<CheckpointId>,
    /// A checkpoint the job master triggered directly (every upstream task has
    /// finished), waiting for the first of its channels to end.
    triggered: Option<CheckpointBarrier>,
}

impl CheckpointInput {
    /// For a task reading the channels `keys` (over all its gates, in order).
    pub fn new(keys: Vec<ChannelKey>, checkpointer: TaskCheckpointer) -> Self {
        let n = keys.len();
        CheckpointInput {
            aligner: BarrierAligner::new(n),
            checkpointer,
            keys,
            ended: vec![false; n],
            pending: None,
            alignment_started: None,
            last: None,
            triggered: None,
        }
    }

    /// The job master triggered a checkpoint directly: every task upstream of
    /// this one has finished, so no barrier will come through the channels.
    /// The snapshot is taken as if the barrier followed the last record of
    /// each channel: at once if the input has ended, else when it has (an
    /// unaligned checkpoint snapshots at once and keeps what is still in the
    /// channels as in-flight data).
    pub(crate) fn on_trigger(
        &mut self,
        chain: &mut dyn ChainNode,
        request: SnapshotRequest,
        drain: &mut dyn FnMut(usize, CheckpointId) -> Result<Vec<Vec<u8>>, TaskError>,
    ) -> Result<GateAction, TaskError> {
        if !request.forward_barrier || self.ended.iter().all(|e| *e) {
            self.snapshot(chain, request)?;
            return Ok(GateAction::default());
        }
        let barrier = request.barrier;
        if let Some(p) = &mut self.pending
            && p.barrier.id == barrier.id
        {
            // Unaligned and waiting for barriers that will not come: the
            // producers have finished, so their channels hold the rest.
            for channel in 0..p.waiting.len() {
                if p.waiting[channel] {
                    let buffers = drain(channel, barrier.id)?;
                    p.captured[channel].extend(buffers);
                    p.waiting[channel] = false;
                }
            }
            self.finish_unaligned_if_complete()?;
            return Ok(GateAction::default());
        }
        if self.last.is_some_and(|l| barrier.id <= l) {
            return Ok(GateAction::default());
        }
        if barrier.alignment == BarrierAlignment::Unaligned {
            if let Some((old, _)) = self.aligner.take_current() {
                self.checkpointer.decline(old.id, DeclineReason::Subsumed)?;
            }
            self.alignment_started = None;
            // The producers have finished: what their channels still hold is
            // all the in-flight data there is.
            let mut captured = Vec::with_capacity(self.keys.len());
            for channel in 0..self.keys.len() {
                captured.push(if self.ended[channel] {
                    Vec::new()
                } else {
                    drain(channel, barrier.id)?
                });
            }
            if let Some(mut snapshot) = self.take_snapshot(chain, request)? {
                add_input_state(&mut snapshot, &self.keys, captured);
                self.checkpointer.submit(&barrier, snapshot)?;
            }
            return Ok(GateAction::unblock_all());
        }
        self.triggered = Some(barrier);
        match self.ended.iter().position(|e| *e) {
            Some(channel) => self.deliver_trigger(channel, chain),
            None => Ok(GateAction::default()),
        }
    }

    /// Counts the directly triggered barrier as delivered on `channel`.
    fn deliver_trigger(
        &mut self,
        channel: usize,
        chain: &mut dyn ChainNode,
    ) -> Result<GateAction, TaskError> {
        match self.triggered.take() {
            Some(barrier) => self.on_barrier(channel, barrier, chain),
            None => Ok(GateAction::default()),
        }
    }

    /// Whether an aligned checkpoint with an alignment timeout is aligning (the
    /// task must come back to check the timeout even without input).
    pub(crate) fn is_aligning_with_timeout(&self) -> bool {
        self.alignment_started.is_some()
            && self
                .aligner
                .in_progress()
                .is_some_and(|b| b.aligned_timeout_ms.is_some())
    }

    /// Whether buffers must be offered to [`Self::on_buffer`].
    #[inline]
    pub(crate) fn is_capturing(&self) -> bool {
        self.pending.is_some()
    }

    /// A buffer arrived on `channel`: kept if it is in flight for an unaligned
    /// checkpoint.
    pub(crate) fn on_buffer(&mut self, channel: usize, buffer: &[u8]) {
        if let Some(p) = &mut self.pending
            && p.waiting[channel]
        {
            p.captured[channel].push(buffer.to_vec());
        }
    }

    /// A barrier arrived on `channel`.
    pub(crate) fn on_barrier(
        &mut self,
        channel: usize,
        barrier: CheckpointBarrier,
        chain: &mut dyn ChainNode,
    ) -> Result<GateAction, TaskError> {
        if let Some(p) = &mut self.pending {
            if barrier.id == p.barrier.id {
                p.waiting[channel] = false;
                self.finish_unaligned_if_complete()?;
                return Ok(GateAction::default());
            }
            if barrier.id < p.barrier.id {
                return Ok(GateAction::default());
            }
            let old = self.pending.take().expect("checked");
            self.checkpointer
                .decline(old.barrier.id, DeclineReason::Subsumed)?;
        }
        if self.last.is_some_and(|l| barrier.id <= l) {
            return Ok(GateAction::default());
        }
        if barrier.alignment == BarrierAlignment::Unaligned {
            if let Some((old, _)) = self.aligner.take_current() {
                self.checkpointer.decline(old.id, DeclineReason::Subsumed)?;
            }
            let mut delivered = vec![false; self.keys.len()];
            delivered[channel] = true;
            self.start_unaligned(barrier, delivered, chain)?;
            return Ok(GateAction::unblock_all());
        }
        let (abandoned, step) = self.aligner.on_barrier(channel, barrier);
        let mut action = GateAction::default();
        if let Some(id) = abandoned {
            self.checkpointer.decline(id, DeclineReason::Subsumed)?;
            action.unblock_all = true;
            self.alignment_started = None;
        }
        match step {
            AlignmentStep::Wait { block } => {
                self.alignment_started.get_or_insert_with(Instant::now);
                if block {
                    action.block = Some(channel);
                }
            }
            AlignmentStep::Checkpoint(barrier) => {
                self.alignment_started = None;
                self.snapshot_aligned(chain, barrier)?;
                action.unblock_all = true;
            }
        }
        Ok(action)
    }

    /// `channel` ended: it will deliver no more barriers.
    pub(crate) fn on_end_of_channel(
        &mut self,
        channel: usize,
        chain: &mut dyn ChainNode,
    ) -> Result<GateAction, TaskError> {
        // An ended channel needs no blocking.
        let mut action = GateAction {
            block: None,
            ..self.deliver_trigger(channel, chain)?
        };
        self.ended[channel] = true;
        if let Some(p) = &mut self.pending {
            p.waiting[channel] = false;
            self.finish_unaligned_if_complete()?;
        }
        if let Some(barrier) = self.aligner.on_end_of_channel(channel) {
            self.alignment_started = None;
            self.snapshot_aligned(chain, barrier)?;
            action.unblock_all = true;
        }
        Ok(action)
    }

    /// Turns an aligned checkpoint whose alignment outlasted its timeout into
    /// an unaligned one.
    pub(crate) fn check_alignment_timeout(
        &mut self,
        chain: &mut dyn ChainNode,
    ) -> Result<GateAction, TaskError> {
        let (Some(started), Some(barrier)) = (self.alignment_started, self.aligner.in_progress())
        else {
            return Ok(GateAction::default());
        };
        let Some(timeout) = barrier.aligned_timeout_ms else {
            return Ok(GateAction::default());
        };
        if started.elapsed() < Duration::from_millis(timeout) {
            return Ok(GateAction::default());
        }
        let (barrier, delivered) = self.aligner.take_current().expect("in progress");
        self.alignment_started = None;
        let unaligned = CheckpointBarrier {
            alignment: BarrierAlignment::Unaligned,
            aligned_timeout_ms: None,
            ..barrier
        };
        self.start_unaligned(unaligned, delivered, chain)?;
        Ok(GateAction::unblock_all())
    }

    /// Snapshots `chain` for `request` (once per checkpoint) and hands the state
    /// to the job master.
    pub(crate) fn snapshot(
        &mut self,
        chain: &mut dyn ChainNode,
        request: SnapshotRequest,
    ) -> Result<(), TaskError> {
        let Some(snapshot) = self.take_snapshot(chain, request)? else {
            return Ok(());
        };
        self.checkpointer.submit(&request.barrier, snapshot)
    }

    fn take_snapshot(
        &mut self,
        chain: &mut dyn ChainNode,
        request: SnapshotRequest,
    ) -> Result<Option<TaskSnapshot>, TaskError> {
        let id = request.barrier.id;
        if self.last.is_some_and(|l| id <= l) {
            return Ok(None);
        }
        self.last = Some(id);
        let mut builder = TaskSnapshotBuilder::new(request);
        chain.snapshot_state(&mut builder)?;
        Ok(Some(builder.finish()))
    }

    fn snapshot_aligned(
        &mut self,
        chain: &mut dyn ChainNode,
        barrier: CheckpointBarrier,
    ) -> Result<(), TaskError> {
        self.snapshot(
            chain,
            SnapshotRequest {
                barrier,
                forward_barrier: true,
            },
        )
    }

    /// Snapshots now; channels not in `delivered` keep their data until their
    /// barrier arrives.
    fn start_unaligned(
        &mut self,
        barrier: CheckpointBarrier,
        delivered: Vec<bool>,
        chain: &mut dyn ChainNode,
    ) -> Result<(), TaskError> {
        let request = SnapshotRequest {
            barrier,
            forward_barrier: true,
        };
        let Some(snapshot) = self.take_snapshot(chain, request)? else {
            return Ok(());
        };
        let waiting = delivered
            .iter()
            .zip(&self.ended)
            .map(|(d, e)| !d && !e)
            .collect();
        self.pending = Some(Unaligned {
            barrier,
            snapshot,
            waiting,
            captured: vec![Vec::new(); self.keys.len()],
        });
        self.finish_unaligned_if_complete()
    }

    fn finish_unaligned_if_complete(&mut self) -> Result<(), TaskError> {
        if !self
            .pending
            .as_ref()
            .is_some_and(|p| p.waiting.iter().all(|w| !w))
        {
            return Ok(());
        }
        let mut p = self.pending.take().expect("checked");
        add_input_state(&mut p.snapshot, &self.keys, p.captured);
        self.checkpointer.submit(&p.barrier, p.snapshot)
    }
}

/// Adds what was captured on each input channel to `snapshot` as the
/// channels' in-flight data.
fn add_input_state(snapshot: &mut TaskSnapshot, keys: &[ChannelKey], captured: Vec<Vec<Vec<u8>>>) {
    for (channel, buffers) in captured.into_iter().enumerate() {
        if !buffers.is_empty() {
            snapshot.state.channels.push(ChannelState {
                channel: keys[channel],
                side: ChannelSide::Input,
                buffers,
            });
        }
    }
}
