//! Operator chains: operators connected by direct calls.
//!
//! Each operator instance is wrapped in a *link* that owns the operator and its
//! [`Output`]; the output owns the next links (or record writers). A chain is thus a
//! tree of owned links, driven from its head. Between links, one dynamic call
//! passes a whole batch; inside a link, the loop over the batch is monomorphized
//! for the operator and its user function, so the per-record cost of chaining is a
//! write into a vector and an inlined call.
//!
//! Links catch panics and turn errors of user code into [`TaskError`]s naming the
//! operator and subtask.

use crate::checkpointing::TaskSnapshotBuilder;
use crate::context::RuntimeContext;
use crate::error::{BoxError, TaskError, panic_message};
use crate::fault::InjectedFault;
use crate::metrics::Counter;
use crate::operator::{InputSide, OneInputOperator, TwoInputOperator};
use crate::output::{Output, OutputFailure};
use crate::watermark::CombinedWatermark;
use runnel_checkpoint::OperatorId;
use runnel_types::{CheckpointId, StreamRecord, Watermark, WatermarkStatus};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Lifecycle calls that recurse down a chain.
pub trait ChainNode {
    /// Opens this member after everything downstream of it.
    fn open(&mut self) -> Result<(), TaskError>;
    /// Closes this member, then everything downstream. Called on success and failure.
    fn close(&mut self) -> Result<(), TaskError>;
    /// Sends partly filled network buffers downstream (buffer timeout).
    fn flush_buffers(&mut self) -> Result<(), TaskError>;
    /// Whether every network output downstream can take data without blocking.
    fn is_output_available(&self) -> bool;
    /// Processing time reached `now`: operators with due timers fire them, then
    /// the call moves down the chain.
    fn on_processing_time(&mut self, now: i64) -> Result<(), TaskError>;
    /// A checkpoint passes: flush what was emitted before it, write this
    /// member's state into `snapshot`, and pass the barrier on (writers send it
    /// on every channel unless the request says not to).
    fn snapshot_state(&mut self, snapshot: &mut TaskSnapshotBuilder) -> Result<(), TaskError>;
    /// Checkpoint `id` completed (`complete`) or was aborted; tells this member,
    /// then everything downstream.
    fn notify_checkpoint(&mut self, id: CheckpointId, complete: bool) -> Result<(), TaskError>;
}

/// A chain member that takes records of type `T`: an operator link or a record
/// writer.
pub trait ChainedInput<T>: ChainNode {
    /// Processes a batch; the caller clears `batch` afterwards.
    fn process_batch(&mut self, batch: &mut Vec<StreamRecord<T>>) -> Result<(), TaskError>;
    /// The input watermark advanced.
    fn process_watermark(&mut self, watermark: Watermark) -> Result<(), TaskError>;
    /// The input became idle or active.
    fn process_watermark_status(&mut self, status: WatermarkStatus) -> Result<(), TaskError>;
    /// The input has ended: finish and propagate.
    fn end_input(&mut self) -> Result<(), TaskError>;
}

/// Runs user code, turning errors and panics into errors that name the operator.
#[inline]
pub fn call_user<R>(
    ctx: &RuntimeContext,
    f: impl FnOnce() -> Result<R, BoxError>,
) -> Result<R, TaskError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(source)) => Err(TaskError::UserFunction {
            at: ctx.instance(),
            source,
        }),
        Err(payload) => Err(TaskError::UserPanic {
            at: ctx.instance(),
            message: panic_message(&*payload),
        }),
    }
}

/// Reports an output failure in preference to the operator's own result: a
/// downstream failure happened first and is the root cause.
fn settle<T: runnel_types::Data>(
    ctx: &RuntimeContext,
    out: &mut Output<T>,
    result: Result<(), TaskError>,
) -> Result<(), TaskError> {
    match out.take_failure() {
        Err(OutputFailure::Downstream(e)) => Err(e),
        Err(OutputFailure::Misuse(message)) => Err(TaskError::UserFunction {
            at: ctx.instance(),
            source: message.into(),
        }),
        Ok(()) => result,
    }
}

/// Snapshots one operator of a chain and passes the barrier on.
fn snapshot_link<T: runnel_types::Data>(
    ctx: &RuntimeContext,
    operator: &OperatorId,
    out: &mut Output<T>,
    snapshot: &mut TaskSnapshotBuilder,
    snapshot_op: impl FnOnce(
        &mut crate::checkpointing::StateSnapshotContext<'_>,
    ) -> Result<(), BoxError>,
) -> Result<(), TaskError> {
    out.flush()?;
    {
        let mut state = snapshot.operator(operator.clone());
        call_user(ctx, || snapshot_op(&mut state))?;
    }
    out.snapshot_targets(snapshot)
}

/// Tells one operator of a chain about a checkpoint, then its outputs.
fn notify_link<T: runnel_types::Data>(
    ctx: &RuntimeContext,
    out: &mut Output<T>,
    id: CheckpointId,
    complete: bool,
    notify_op: impl FnOnce(CheckpointId, bool) -> Result<(), BoxError>,
) -> Result<(), TaskError> {
    call_user(ctx, || notify_op(id, complete))?;
    out.notify_targets(id, complete)
}

/// A one-input operator in a chain.
pub struct OneInputLink<Op: OneInputOperator> {
    op: Op,
    out: Output<Op::Out>,
    ctx: RuntimeContext,
    operator: OperatorId,
    records_in: Counter,
    fault: Option<InjectedFault>,
}

impl<Op: OneInputOperator> OneInputLink<Op> {
    /// Wraps an operator with its output.
    pub fn new(op: Op, out: Output<Op::Out>, ctx: RuntimeContext, records_in: Counter) -> Self {
        OneInputLink {
            op,
            out,
            operator: ctx.state_operator_id(),
            ctx,
            records_in,
            fault: None,
        }
    }

    /// Fails the task after this many records in (fault injection).
    pub(crate) fn with_fault(mut self, fault: Option<InjectedFault>) -> Self {
        self.fault = fault;
        self
    }
}

impl<Op: OneInputOperator> ChainNode for OneInputLink<Op> {
    fn open(&mut self) -> Result<(), TaskError> {
        self.out.open_targets()?;
        let (op, ctx) = (&mut self.op, &self.ctx);
        call_user(ctx, || op.open(ctx))
    }

    fn close(&mut self) -> Result<(), TaskError> {
        let op = &mut self.op;
        let own = call_user(&self.ctx, || op.close());
        let downstream = self.out.close_targets();
        own.and(downstream)
    }

    fn flush_buffers(&mut self) -> Result<(), TaskError> {
        self.out.flush_targets()
    }

    fn is_output_available(&self) -> bool {
        self.out.targets_available()
    }

    fn on_processing_time(&mut self, now: i64) -> Result<(), TaskError> {
        let (op, out) = (&mut self.op, &mut self.out);
        let result = call_user(&self.ctx, || op.on_processing_time(now, out));
        settle(&self.ctx, &mut self.out, result)?;
        self.out.flush()?;
        self.out.targets_on_processing_time(now)
    }

    fn snapshot_state(&mut self, snapshot: &mut TaskSnapshotBuilder) -> Result<(), TaskError> {
        let op = &mut self.op;
        snapshot_link(
            &self.ctx,
            &self.operator,
            &mut self.out,
            snapshot,
            |state| op.snapshot_state(state),
        )
    }

    fn notify_checkpoint(&mut self, id: CheckpointId, complete: bool) -> Result<(), TaskError> {
        let op = &mut self.op;
        notify_link(&self.ctx, &mut self.out, id, complete, |id, complete| {
            if complete {
                op.notify_checkpoint_complete(id)
            } else {
                op.notify_checkpoint_aborted(id)
            }
        })
    }
}

impl<Op: OneInputOperator> ChainedInput<Op::In> for OneInputLink<Op> {
    #[inline]
    fn process_batch(&mut self, batch: &mut Vec<StreamRecord<Op::In>>) -> Result<(), TaskError> {
        self.records_in.inc_by(batch.len() as u64);
        if let Some(fault) = &mut self.fault {
            fault.count(batch.len() as u64)?;
        }
        let (op, out) = (&mut self.op, &mut self.out);
        let result = call_user(&self.ctx, || op.process_batch(batch, out));
        settle(&self.ctx, &mut self.out, result)?;
        self.out.flush()
    }

    fn process_watermark(&mut self, watermark: Watermark) -> Result<(), TaskError> {
        let (op, out) = (&mut self.op, &mut self.out);
        let result = call_user(&self.ctx, || op.process_watermark(watermark, out));
        settle(&self.ctx, &mut self.out, result)
    }

    fn process_watermark_status(&mut self, status: WatermarkStatus) -> Result<(), TaskError> {
        let (op, out) = (&mut self.op, &mut self.out);
        let result = call_user(&self.ctx, || op.process_watermark_status(status, out));
        settle(&self.ctx, &mut self.out, result)
    }

    fn end_input(&mut self) -> Result<(), TaskError> {
        let (op, out) = (&mut self.op, &mut self.out);
        let result = call_user(&self.ctx, || op.end_input(out));
        settle(&self.ctx, &mut self.out, result)?;
        self.out.end_input()
    }
}

/// A two-input operator at the head of a chain; combines the watermarks of its
/// inputs (the operator sees the minimum, and only when it advances).
pub struct TwoInputLink<Op: TwoInputOperator> {
    op: Op,
    out: Output<Op::Out>,
    ctx: RuntimeContext,
    operator: OperatorId,
    records_in: Counter,
    watermarks: CombinedWatermark,
    fault: Option<InjectedFault>,
}

impl<Op: TwoInputOperator> TwoInputLink<Op> {
    /// Wraps an operator with its output.
    pub fn new(op: Op, out: Output<Op::Out>, ctx: RuntimeContext, records_in: Counter) -> Self {
        TwoInputLink {
            op,
            out,
            operator: ctx.state_operator_id(),
            ctx,
            records_in,
            watermarks: CombinedWatermark::new(2),
            fault: None,
        }
    }

    /// Fails the task after this many records in (fault injection).
    pub(crate) fn with_fault(mut self, fault: Option<InjectedFault>) -> Self {
        self.fault = fault;
        self
    }

    /// Processes a batch of the first input.
    pub fn process_batch1(
        &mut self,
        batch: &mut Vec<StreamRecord<Op::In1>>,
    ) -> Result<(), TaskError> {
        self.process_batch_with(batch, Op::process_element1)
    }

    /// Processes a batch of the second input.
    pub fn process_batch2(
        &mut self,
        batch: &mut Vec<StreamRecord<Op::In2>>,
    ) -> Result<(), TaskError> {
        self.process_batch_with(batch, Op::process_element2)
    }

    fn process_batch_with<I>(
        &mut self,
        batch: &mut Vec<StreamRecord<I>>,
        process: impl Fn(&mut Op, StreamRecord<I>, &mut Output<Op::Out>) -> Result<(), BoxError>,
    ) -> Result<(), TaskError> {
        self.records_in.inc_by(batch.len() as u64);
        if let Some(fault) = &mut self.fault {
            fault.count(batch.len() as u64)?;
        }
        let (op, out) = (&mut self.op, &mut self.out);
        let result = call_user(&self.ctx, || {
            for r in batch.drain(..) {
                process(op, r, out)?;
            }
            Ok(())
        });
        settle(&self.ctx, &mut self.out, result)?;
        self.out.flush()
    }

    /// The watermark of one input advanced (which also marks it active).
    pub fn process_watermark(
        &mut self,
        side: InputSide,
        watermark: Watermark,
    ) -> Result<(), TaskError> {
        let was_idle = self.watermarks.is_idle();
        if self.watermarks.update_watermark(side.index(), watermark) {
            self.fire_combined_watermark()?;
        }
        self.forward_status_change(was_idle)
    }

    /// One input became idle or active; the operator's watermark is the minimum
    /// over the active inputs, and it is idle when both are.
    pub fn process_watermark_status(
        &mut self,
        side: InputSide,
        status: WatermarkStatus,
    ) -> Result<(), TaskError> {
        let was_idle = self.watermarks.is_idle();
        if self.watermarks.update_idle(side.index(), status.is_idle()) {
            self.fire_combined_watermark()?;
        }
        self.forward_status_change(was_idle)
    }

    fn fire_combined_watermark(&mut self) -> Result<(), TaskError> {
        let combined = self.watermarks.combined();
        let (op, out) = (&mut self.op, &mut self.out);
        let result = call_user(&self.ctx, || op.process_watermark(combined, out));
        settle(&self.ctx, &mut self.out, result)
    }

    fn forward_status_change(&mut self, was_idle: bool) -> Result<(), TaskError> {
        let idle = self.watermarks.is_idle();
        if idle != was_idle {
            let status = if idle {
                WatermarkStatus::Idle
            } else {
                WatermarkStatus::Active
            };
            self.out.forward_watermark_status(status)?;
        }
        Ok(())
    }

    /// One input ended.
    pub fn end_input(&mut self, side: InputSide) -> Result<(), TaskError> {
        let (op, out) = (&mut self.op, &mut self.out);
        let result = call_user(&self.ctx, || op.end_input(side, out));
        settle(&self.ctx, &mut self.out, result)?;
        self.out.flush()
    }

    /// Both inputs ended: propagate end of input downstream.
    pub fn finish(&mut self) -> Result<(), TaskError> {
        self.out.end_input()
    }
}

impl<Op: TwoInputOperator> ChainNode for TwoInputLink<Op> {
    fn open(&mut self) -> Result<(), TaskError> {
        self.out.open_targets()?;
        let (op, ctx) = (&mut self.op, &self.ctx);
        call_user(ctx, || op.open(ctx))
    }

    fn close(&mut self) -> Result<(), TaskError> {
        let op = &mut self.op;
        let own = call_user(&self.ctx, || op.close());
        own.and(self.out.close_targets())
    }

    fn flush_buffers(&mut self) -> Result<(), TaskError> {
        self.out.flush_targets()
    }

    fn is_output_available(&self) -> bool {
        self.out.targets_available()
    }

    fn on_processing_time(&mut self, now: i64) -> Result<(), TaskError> {
        let (op, out) = (&mut self.op, &mut self.out);
        let result = call_user(&self.ctx, || op.on_processing_time(now, out));
        settle(&self.ctx, &mut self.out, result)?;
        self.out.flush()?;
        self.out.targets_on_processing_time(now)
    }

    fn snapshot_state(&mut self, snapshot: &mut TaskSnapshotBuilder) -> Result<(), TaskError> {
        let op = &mut self.op;
        snapshot_link(
            &self.ctx,
            &self.operator,
            &mut self.out,
            snapshot,
            |state| op.snapshot_state(state),
        )
    }

    fn notify_checkpoint(&mut self, id: CheckpointId, complete: bool) -> Result<(), TaskError> {
        let op = &mut self.op;
        notify_link(&self.ctx, &mut self.out, id, complete, |id, complete| {
            if complete {
                op.notify_checkpoint_complete(id)
            } else {
                op.notify_checkpoint_aborted(id)
            }
        })
    }
}
