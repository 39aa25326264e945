//! The operator contracts the task loop drives.
//!
//! # Call order
//!
//! For every operator instance, on the task's single thread:
//! `open` once → any number of `process_*` / `process_watermark` /
//! `snapshot_state` / `notify_checkpoint_*` calls, never concurrently →
//! `end_input` once when all input has ended (not on failure or cancellation) →
//! possibly more `snapshot_state` and `notify_checkpoint_*` calls (a finished task
//! waits for the job's final checkpoint) → `close` once, always (also after a
//! failure), to release resources. Operators downstream in a chain are opened
//! before and closed after the operators feeding them.
//!
//! A watermark reaches `process_watermark` only after every record that preceded
//! it; whatever the operator emits before forwarding the watermark is delivered
//! before the watermark downstream.

use crate::checkpointing::StateSnapshotContext;
use crate::context::RuntimeContext;
use crate::error::BoxError;
use crate::output::Output;
use runnel_types::{CheckpointId, Data, StreamRecord, Watermark, WatermarkStatus};

/// An operator with one input (which may be the union of several streams).
pub trait OneInputOperator: 'static {
    /// Input record type.
    type In: Data;
    /// Output record type.
    type Out: Data;

    /// Called once before any record.
    fn open(&mut self, _ctx: &RuntimeContext) -> Result<(), BoxError> {
        Ok(())
    }

    /// Processes one record.
    fn process_element(
        &mut self,
        record: StreamRecord<Self::In>,
        out: &mut Output<Self::Out>,
    ) -> Result<(), BoxError>;

    /// Processes a batch of records in order. The default calls
    /// [`OneInputOperator::process_element`] for each; the loop is monomorphized,
    /// so the per-record call is inlined.
    #[inline]
    fn process_batch(
        &mut self,
        batch: &mut Vec<StreamRecord<Self::In>>,
        out: &mut Output<Self::Out>,
    ) -> Result<(), BoxError> {
        for record in batch.drain(..) {
            self.process_element(record, out)?;
        }
        Ok(())
    }

    /// The operator's input watermark advanced. The default forwards it.
    fn process_watermark(
        &mut self,
        watermark: Watermark,
        out: &mut Output<Self::Out>,
    ) -> Result<(), BoxError> {
        out.emit_watermark(watermark);
        Ok(())
    }

    /// The input became idle or active again. The default forwards it.
    fn process_watermark_status(
        &mut self,
        status: WatermarkStatus,
        out: &mut Output<Self::Out>,
    ) -> Result<(), BoxError> {
        out.emit_watermark_status(status);
        Ok(())
    }

    /// Processing time reached `now` and the operator had asked to be called then
    /// (through its [`ProcessingTimeService`](crate::time::ProcessingTimeService)).
    /// Called between records, never concurrently with them.
    fn on_processing_time(
        &mut self,
        _now: i64,
        _out: &mut Output<Self::Out>,
    ) -> Result<(), BoxError> {
        Ok(())
    }

    /// All input has been received; emit anything still held back.
    fn end_input(&mut self, _out: &mut Output<Self::Out>) -> Result<(), BoxError> {
        Ok(())
    }

    /// A checkpoint barrier reached the operator, after every record before it:
    /// write the operator's state (Flink's `snapshotState`). Called on the task
    /// thread between records; the state is restored from
    /// [`OperatorParameters::restored_state`](crate::OperatorParameters::restored_state)
    /// when the operator is created again. The default has no state.
    fn snapshot_state(&mut self, _ctx: &mut StateSnapshotContext<'_>) -> Result<(), BoxError> {
        Ok(())
    }

    /// Checkpoint `id` completed: the state of every task is durable (Flink's
    /// `notifyCheckpointComplete`). Sinks commit what they prepared for it, and
    /// for any older checkpoint whose notification did not arrive.
    fn notify_checkpoint_complete(&mut self, _id: CheckpointId) -> Result<(), BoxError> {
        Ok(())
    }

    /// Checkpoint `id` will not complete (Flink's `notifyCheckpointAborted`).
    fn notify_checkpoint_aborted(&mut self, _id: CheckpointId) -> Result<(), BoxError> {
        Ok(())
    }

    /// Releases resources. Called once, after `end_input` or after a failure.
    fn close(&mut self) -> Result<(), BoxError> {
        Ok(())
    }
}

/// Which input of a two-input operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputSide {
    /// The first input (`connect`'s receiver).
    First,
    /// The second input (`connect`'s argument).
    Second,
}

impl InputSide {
    /// 0 for the first input, 1 for the second.
    pub fn index(self) -> usize {
        match self {
            InputSide::First => 0,
            InputSide::Second => 1,
        }
    }
}

/// An operator with two inputs of different types (`connect`).
pub trait TwoInputOperator: 'static {
    /// First input's record type.
    type In1: Data;
    /// Second input's record type.
    type In2: Data;
    /// Output record type.
    type Out: Data;

    /// Called once before any record.
    fn open(&mut self, _ctx: &RuntimeContext) -> Result<(), BoxError> {
        Ok(())
    }

    /// Processes a record of the first input.
    fn process_element1(
        &mut self,
        record: StreamRecord<Self::In1>,
        out: &mut Output<Self::Out>,
    ) -> Result<(), BoxError>;

    /// Processes a record of the second input.
    fn process_element2(
        &mut self,
        record: StreamRecord<Self::In2>,
        out: &mut Output<Self::Out>,
    ) -> Result<(), BoxError>;

    /// The combined watermark (the minimum of both inputs') advanced. The default
    /// forwards it.
    fn process_watermark(
        &mut self,
        watermark: Watermark,
        out: &mut Output<Self::Out>,
    ) -> Result<(), BoxError> {
        out.emit_watermark(watermark);
        Ok(())
    }

    /// Processing time reached `now` (see [`OneInputOperator::on_processing_time`]).
    fn on_processing_time(
        &mut self,
        _now: i64,
        _out: &mut Output<Self::Out>,
    ) -> Result<(), BoxError> {
        Ok(())
    }

    /// One input has ended.
    fn end_input(
        &mut self,
        _input: InputSide,
        _out: &mut Output<Self::Out>,
    ) -> Result<(), BoxError> {
        Ok(())
    }

    /// A checkpoint barrier reached the operator, after every record before it:
    /// write the operator's state (Flink's `snapshotState`). Called on the task
    /// thread between records; the state is restored from
    /// [`OperatorParameters::restored_state`](crate::OperatorParameters::restored_state)
    /// when the operator is created again. The default has no state.
    fn snapshot_state(&mut self, _ctx: &mut StateSnapshotContext<'_>) -> Result<(), BoxError> {
        Ok(())
    }

    /// Checkpoint `id` completed: the state of every task is durable (Flink's
    /// `notifyCheckpointComplete`). Sinks commit what they prepared for it, and
    /// for any older checkpoint whose notification did not arrive.
    fn notify_checkpoint_complete(&mut self, _id: CheckpointId) -> Result<(), BoxError> {
        Ok(())
    }

    /// Checkpoint `id` will not complete (Flink's `notifyCheckpointAborted`).
    fn notify_checkpoint_aborted(&mut self, _id: CheckpointId) -> Result<(), BoxError> {
        Ok(())
    }

    /// Releases resources.
    fn close(&mut self) -> Result<(), BoxError> {
        Ok(())
    }
}
