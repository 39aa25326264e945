//! Barrier alignment for a task's input channels (Flink's `CheckpointBarrierHandler`).
//!
//! A task snapshots once the barrier of a checkpoint has arrived on every input
//! channel that has not ended. With [`BarrierAlignment::Aligned`]
//! (exactly-once), a channel that delivered the barrier is blocked until then, so
//! no record after the barrier reaches the operators before the snapshot. With
//! [`BarrierAlignment::AtLeastOnce`] nothing is blocked: records after the
//! barrier on a fast channel may be in the snapshot, and are processed again
//! after a restore.
//!
//! Channels are numbered across all input gates of the task. A channel that
//! ends (its producer finished) counts as having delivered every barrier: its
//! producer sent all it ever will. A barrier of a newer checkpoint abandons an
//! alignment in progress (that checkpoint is declined as subsumed); barriers of
//! older checkpoints are ignored.

use runnel_types::{BarrierAlignment, CheckpointBarrier, CheckpointId};

/// What the task must do after a barrier or the end of a channel.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AlignmentStep {
    /// Keep reading; with `block`, stop reading the channel that delivered the
    /// barrier until the checkpoint is taken.
    Wait {
        /// Block the channel.
        block: bool,
    },
    /// Every channel delivered the barrier: snapshot now and unblock all
    /// channels.
    Checkpoint(CheckpointBarrier),
}

struct Alignment {
    barrier: CheckpointBarrier,
    received: Vec<bool>,
}

/// The barrier bookkeeping of one task.
pub(crate) struct BarrierAligner {
    ended: Vec<bool>,
    current: Option<Alignment>,
    /// The newest checkpoint taken or abandoned here.
    last: Option<CheckpointId>,
}

impl BarrierAligner {
    /// Bookkeeping for `channels` input channels.
    pub(crate) fn new(channels: usize) -> Self {
        BarrierAligner {
            ended: vec![false; channels],
            current: None,
            last: None,
        }
    }

    /// The checkpoint being aligned, if any.
    pub(crate) fn in_progress(&self) -> Option<&CheckpointBarrier> {
        self.current.as_ref().map(|a| &a.barrier)
    }

    /// Gives up the alignment in progress (it turns unaligned, or a newer
    /// checkpoint subsumes it): its barrier and which channels delivered it.
    pub(crate) fn take_current(&mut self) -> Option<(CheckpointBarrier, Vec<bool>)> {
        let a = self.current.take()?;
        self.last = Some(a.barrier.id);
        Some((a.barrier, a.received))
    }

    /// A barrier arrived on `channel`. Returns the checkpoint it abandoned (as
    /// subsumed), if any, and what to do.
    pub(crate) fn on_barrier(
        &mut self,
        channel: usize,
        barrier: CheckpointBarrier,
    ) -> (Option<CheckpointId>, AlignmentStep) {
        let stale = self.last.is_some_and(|l| barrier.id <= l)
            || self
                .current
                .as_ref()
                .is_some_and(|a| barrier.id < a.barrier.id);
        if stale {
            return (None, AlignmentStep::Wait { block: false });
        }
        let mut abandoned = None;
        if self
            .current
            .as_ref()
            .is_some_and(|a| a.barrier.id < barrier.id)
        {
            abandoned = self.current.take().map(|a| a.barrier.id);
            self.last = abandoned;
        }
        let n = self.ended.len();
        let alignment = self.current.get_or_insert_with(|| Alignment {
            barrier,
            received: vec![false; n],
        });
        alignment.received[channel] = true;
        (abandoned, self.step_after_arrival())
    }

    /// `channel` ended: it will deliver no barrier.
    pub(crate) fn on_end_of_channel(&mut self, channel: usize) -> Option<CheckpointBarrier> {
        self.ended[channel] = true;
        match self.step_after_arrival() {
            AlignmentStep::Checkpoint(b) => Some(b),
            AlignmentStep::Wait { .. } => None,
        }
    }

    fn step_after_arrival(&mut self) -> AlignmentStep {
        let Some(a) = &self.current else {
            return AlignmentStep::Wait { block: false };
        };
        let complete = a
            .received
            .iter()
            .zip(&self.ended)
            .all(|(received, ended)| *received || *ended);
        if complete {
            let barrier = a.barrier;
            self.current = None;
            self.last = Some(barrier.id);
            AlignmentStep::Checkpoint(barrier)
        } else {
            AlignmentStep::Wait {
                block: a.barrier.alignment == BarrierAlignment::Aligned,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn barrier(id: u64, alignment: BarrierAlignment) -> CheckpointBarrier {
        CheckpointBarrier {
            alignment,
            ..CheckpointBarrier::aligned(CheckpointId(id), 0)
        }
    }

    #[test]
    fn aligned_barriers_block_until_every_channel_delivered() {
        let mut a = BarrierAligner::new(3);
        let b = barrier(1, BarrierAlignment::Aligned);
        assert_eq!(
            a.on_barrier(0, b),
            (None, AlignmentStep::Wait { block: true })
        );
        assert_eq!(
            a.on_barrier(2, b),
            (None, AlignmentStep::Wait { block: true })
        );
        assert_eq!(a.on_barrier(1, b), (None, AlignmentStep::Checkpoint(b)));
        assert!(a.in_progress().is_none());
        // A duplicate or older barrier afterwards is ignored.
        assert_eq!(
            a.on_barrier(0, b),
            (None, AlignmentStep::Wait { block: false })
        );
    }

    #[test]
    fn at_least_once_never_blocks() {
        let mut a = BarrierAligner::new(2);
        let b = barrier(1, BarrierAlignment::AtLeastOnce);
        assert_eq!(
            a.on_barrier(1, b),
            (None, AlignmentStep::Wait { block: false })
        );
        assert_eq!(a.on_barrier(0, b), (None, AlignmentStep::Checkpoint(b)));
    }

    #[test]
    fn an_ended_channel_counts_as_delivered() {
        let mut a = BarrierAligner::new(2);
        let b = barrier(4, BarrierAlignment::Aligned);
        assert_eq!(
            a.on_barrier(0, b),
            (None, AlignmentStep::Wait { block: true })
        );
        assert_eq!(a.on_end_of_channel(1), Some(b));
        // With one channel ended, the next barrier completes on the other alone.
        let c = barrier(5, BarrierAlignment::Aligned);
        assert_eq!(a.on_barrier(0, c), (None, AlignmentStep::Checkpoint(c)));
    }

    #[test]
    fn a_newer_barrier_abandons_the_alignment_in_progress() {
        let mut a = BarrierAligner::new(2);
        let old = barrier(1, BarrierAlignment::Aligned);
        let new = barrier(2, BarrierAlignment::Aligned);
        a.on_barrier(0, old);
        assert_eq!(
            a.on_barrier(0, new),
            (Some(CheckpointId(1)), AlignmentStep::Wait { block: true })
        );
        // The old barrier arriving late on the other channel is ignored.
        assert_eq!(
            a.on_barrier(1, old),
            (None, AlignmentStep::Wait { block: false })
        );
        assert_eq!(a.on_barrier(1, new), (None, AlignmentStep::Checkpoint(new)));
    }
}
