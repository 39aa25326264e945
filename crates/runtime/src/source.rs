//! Sources: where records enter a job.
//!
//! A [`Source`] is the factory shared by all subtasks; on each subtask's thread it
//! creates a [`SourceReader`], which the task loop polls. A reader emits what is
//! available through [`SourceOutput`] and says whether more is available now,
//! later, or never. Polling keeps a source on the task's single thread, between
//! control messages; a reader that waits on something external hands the wait to
//! another thread and wakes the task through its [`SourceWaker`].
//!
//! When a reader reports the end of its input, the source emits the +∞ watermark
//! (so every event-time timer downstream fires) and ends its outputs.
//!
//! # Checkpoints
//!
//! A reader that can be rewound reports its position as [`SplitState`]s (Flink's
//! `SourceReader::snapshotState`): the splits it has not finished, each with how
//! far it got. They are kept as the source's operator state and redistributed
//! when the parallelism changes; [`Source::restore_reader`] continues from them.
//! The source task injects the checkpoint barrier right after taking them,
//! between two polls, so the barrier splits the stream exactly there.

use crate::chain::call_user;
use crate::checkpointing::{SnapshotRequest, TaskCheckpointer, TaskSnapshotBuilder};
use crate::context::RuntimeContext;
use crate::error::{BoxError, TaskError};
use crate::output::{Output, OutputFailure};
use crate::processor::{InputStatus, StreamInputProcessor};
use crate::time::ProcessingTimeService;
use crate::watermark::{EmitterState, OutputEmitter, Pending, SourceWatermarks, WatermarkOutput};
use runnel_checkpoint::OperatorId;
use runnel_network::TaskSignal;
use runnel_state::{DistributionMode, NamedOperatorState, OperatorStateSnapshot};
use runnel_types::{
    CheckpointId, Data, EventTime, RecordCodec, SnapshotKind, StreamRecord, Watermark,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::marker::PhantomData;
use std::sync::Arc;

/// Whether a source ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Boundedness {
    /// The source ends (files, collections, sequences).
    Bounded,
    /// The source may run forever (sockets, watched directories, Kafka).
    ContinuousUnbounded,
}

/// A source of records of type `T`, shared by all its parallel subtasks.
pub trait Source<T: Data>: Send + Sync + 'static {
    /// The per-subtask reader.
    type Reader: SourceReader<T>;

    /// Whether the source ends by itself.
    fn boundedness(&self) -> Boundedness;

    /// Creates the reader of one subtask; `ctx.runtime()` tells which subtask of how many.
    fn create_reader(&self, ctx: &SourceReaderContext) -> Result<Self::Reader, BoxError>;

    /// Creates a reader that continues `splits`, as a checkpoint recorded them:
    /// this subtask's share of every split of the source (possibly taken at
    /// another parallelism; possibly none). The default fails: a source whose
    /// readers report splits must implement it.
    fn restore_reader(
        &self,
        ctx: &SourceReaderContext,
        splits: Vec<SplitState>,
    ) -> Result<Self::Reader, BoxError> {
        let _ = (ctx, splits);
        Err(format!(
            "source `{}` reported split positions in a checkpoint but cannot be restored from them \
             (it does not implement `Source::restore_reader`)",
            std::any::type_name::<Self>()
        )
        .into())
    }
}

/// Reads one subtask's share of a source.
pub trait SourceReader<T>: 'static {
    /// Emits what is available (ideally a batch, not one record) and reports
    /// whether more is available now, later, or never.
    fn poll_next(&mut self, output: &mut SourceOutput<'_, T>) -> Result<InputStatus, BoxError>;

    /// The reader's position for a checkpoint: every split it has not finished,
    /// with how far it got (an empty list once everything is read). `None`, the
    /// default, means the reader cannot be rewound: after a restore it starts
    /// afresh, and records since the checkpoint may be lost or repeated.
    fn snapshot_state(&mut self) -> Result<Option<Vec<SplitState>>, BoxError> {
        Ok(None)
    }

    /// A checkpoint that includes the reader's position completed (a reader of
    /// an external system may commit its offsets there).
    fn notify_checkpoint_complete(&mut self, _id: CheckpointId) -> Result<(), BoxError> {
        Ok(())
    }

    /// Releases resources; called once, also when the job is cancelled or fails.
    fn close(&mut self) -> Result<(), BoxError> {
        Ok(())
    }
}

/// The name of the operator state a source keeps its splits in.
pub const SOURCE_SPLITS_STATE: &str = "source-splits";

/// One split of a source with its reading position, encoded for a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitState(pub Vec<u8>);

impl SplitState {
    /// Encodes a split (any serializable description of it and its position).
    pub fn encode<S: Serialize>(split: &S) -> Result<Self, BoxError> {
        Ok(SplitState(RecordCodec::encode(split)?))
    }

    /// Decodes a split encoded with [`SplitState::encode`].
    pub fn decode<S: DeserializeOwned>(&self) -> Result<S, BoxError> {
        Ok(RecordCodec::decode(&self.0)?)
    }
}

/// Wakes a source's task when a reader that returned
/// [`InputStatus::NothingAvailable`] has data again. Cheap to clone; usable from
/// any thread.
#[derive(Debug, Clone)]
pub struct SourceWaker(Arc<TaskSignal>);

impl SourceWaker {
    /// Wakes the task so it polls the reader again.
    pub fn wake(&self) {
        self.0.wake();
    }

    /// Whether the task has been cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.0.is_cancelled()
    }
}

/// Everything a reader is created with.
#[derive(Debug, Clone)]
pub struct SourceReaderContext {
    runtime: RuntimeContext,
    waker: SourceWaker,
}

impl SourceReaderContext {
    /// A context for a reader run outside a job (source tests).
    pub fn new(runtime: RuntimeContext, signal: Arc<TaskSignal>) -> Self {
        SourceReaderContext {
            runtime,
            waker: SourceWaker(signal),
        }
    }

    /// The subtask's runtime context (index, parallelism, names, clock).
    pub fn runtime(&self) -> &RuntimeContext {
        &self.runtime
    }

    /// A handle to wake the task from another thread.
    pub fn waker(&self) -> SourceWaker {
        self.waker.clone()
    }
}

/// What a reader emits into.
///
/// With a watermark strategy on the source, every record gets its timestamp from
/// the strategy's assigner and feeds the generator of its split (see
/// [`SourceOutput::split`]); records emitted without naming a split belong to one
/// default split.
pub struct SourceOutput<'a, T> {
    out: &'a mut Output<T>,
    emitter: &'a mut EmitterState,
    watermarks: Option<&'a mut (dyn SourceWatermarks<T> + 'static)>,
    default_split: &'a mut Option<usize>,
}

impl<'a, T: Data> SourceOutput<'a, T> {
    /// Emits a record without timestamp (or with the strategy's timestamp).
    #[inline(always)]
    pub fn collect(&mut self, value: T) {
        self.collect_record(StreamRecord::new(value));
    }

    /// Emits a record with an event-time timestamp (the strategy's assigner sees
    /// it as the record's timestamp).
    #[inline(always)]
    pub fn collect_with_timestamp(&mut self, value: T, timestamp: EventTime) {
        self.collect_record(StreamRecord::with_timestamp(value, timestamp));
    }

    /// Emits a record as is.
    #[inline(always)]
    pub fn collect_record(&mut self, record: StreamRecord<T>) {
        match self.watermarks.as_deref_mut() {
            None => self.out.collect(record),
            Some(w) => {
                let split = *self.default_split.get_or_insert_with(|| w.split(""));
                Self::collect_in_split(self.out, self.emitter, w, split, record);
            }
        }
    }

    #[inline]
    fn collect_in_split(
        out: &mut Output<T>,
        emitter: &mut EmitterState,
        watermarks: &mut (dyn SourceWatermarks<T> + 'static),
        split: usize,
        mut record: StreamRecord<T>,
    ) {
        let mut pending = Pending::default();
        watermarks.on_record(split, &mut record, &mut pending);
        out.collect(record);
        if !pending.is_empty() {
            pending.apply(&mut OutputEmitter {
                state: emitter,
                out,
            });
        }
    }

    /// The output of split `id` (a file, a partition): with a watermark strategy,
    /// each split has its own generator and the source's watermark is the minimum
    /// over its active splits.
    pub fn split<'b>(&'b mut self, id: &str) -> SplitOutput<'b, 'a, T> {
        let index = self.watermarks.as_deref_mut().map(|w| w.split(id));
        SplitOutput {
            output: self,
            index,
        }
    }

    /// Split `id` is finished: it no longer holds the watermark back.
    pub fn release_split(&mut self, id: &str) {
        if let Some(w) = self.watermarks.as_deref_mut() {
            let mut pending = Pending::default();
            w.release_split(id, &mut pending);
            pending.apply(&mut OutputEmitter {
                state: self.emitter,
                out: self.out,
            });
        }
    }

    /// Emits a watermark after the records emitted before it (ignored unless it
    /// advances the source's watermark).
    pub fn emit_watermark(&mut self, watermark: Watermark) {
        OutputEmitter {
            state: self.emitter,
            out: self.out,
        }
        .emit_watermark(watermark);
    }

    /// Marks the source idle (no data for now); a later watermark makes it active.
    pub fn mark_idle(&mut self) {
        OutputEmitter {
            state: self.emitter,
            out: self.out,
        }
        .mark_idle();
    }
}

/// Emits into one split of a source (see [`SourceOutput::split`]).
pub struct SplitOutput<'b, 'a, T> {
    output: &'b mut SourceOutput<'a, T>,
    index: Option<usize>,
}

impl<T: Data> SplitOutput<'_, '_, T> {
    /// Emits a record of this split.
    #[inline]
    pub fn collect(&mut self, value: T) {
        self.collect_record(StreamRecord::new(value));
    }

    /// Emits a record of this split with an event-time timestamp.
    #[inline]
    pub fn collect_with_timestamp(&mut self, value: T, timestamp: EventTime) {
        self.collect_record(StreamRecord::with_timestamp(value, timestamp));
    }

    /// Emits a record of this split as is.
    #[inline]
    pub fn collect_record(&mut self, record: StreamRecord<T>) {
        let o = &mut *self.output;
        match (o.watermarks.as_deref_mut(), self.index) {
            (Some(w), Some(split)) => {
                SourceOutput::collect_in_split(o.out, o.emitter, w, split, record)
            }
            _ => o.out.collect(record),
        }
    }
}

/// Drives a reader at the head of a source task.
pub struct SourceProcessor<T: Data, R: SourceReader<T>> {
    reader: R,
    out: Output<T>,
    ctx: RuntimeContext,
    emitter: EmitterState,
    watermarks: Option<Box<dyn SourceWatermarks<T>>>,
    default_split: Option<usize>,
    time: ProcessingTimeService,
    interval_ms: i64,
    next_periodic: i64,
    operator: OperatorId,
    checkpointer: TaskCheckpointer,
    /// The newest checkpoint taken (each is taken once).
    last_checkpoint: Option<CheckpointId>,
    /// A stop-with-savepoint was taken: emit nothing more.
    stopped: bool,
    _records: PhantomData<fn() -> T>,
}

impl<T: Data, R: SourceReader<T>> SourceProcessor<T, R> {
    /// A processor polling `reader` into `out`; with `watermarks`, records get
    /// timestamps and the source generates watermarks every `interval_ms`.
    pub fn new(
        reader: R,
        out: Output<T>,
        ctx: RuntimeContext,
        watermarks: Option<Box<dyn SourceWatermarks<T>>>,
        time: ProcessingTimeService,
        interval_ms: i64,
        checkpointer: TaskCheckpointer,
    ) -> Self {
        SourceProcessor {
            reader,
            out,
            operator: ctx.state_operator_id(),
            checkpointer,
            last_checkpoint: None,
            stopped: false,
            ctx,
            emitter: EmitterState::default(),
            watermarks,
            default_split: None,
            time,
            interval_ms,
            next_periodic: i64::MAX,
            _records: PhantomData,
        }
    }

    fn settle(&mut self) -> Result<(), TaskError> {
        match self.out.take_failure() {
            Err(OutputFailure::Downstream(e)) => Err(e),
            Err(OutputFailure::Misuse(m)) => Err(TaskError::UserFunction {
                at: self.ctx.instance(),
                source: m.into(),
            }),
            Ok(()) => Ok(()),
        }
    }
}

impl<T: Data, R: SourceReader<T>> StreamInputProcessor for SourceProcessor<T, R> {
    fn open(&mut self) -> Result<(), TaskError> {
        self.out.open_targets()?;
        if self.watermarks.is_some() && self.interval_ms > 0 {
            self.next_periodic = self.time.now().saturating_add(self.interval_ms);
            self.time.request_callback_at(self.next_periodic);
        }
        Ok(())
    }

    #[inline]
    fn process_input(&mut self) -> Result<InputStatus, TaskError> {
        if self.stopped {
            return Ok(InputStatus::NothingAvailable);
        }
        let mut output = SourceOutput {
            out: &mut self.out,
            emitter: &mut self.emitter,
            watermarks: self.watermarks.as_deref_mut(),
            default_split: &mut self.default_split,
        };
        let reader = &mut self.reader;
        let status = call_user(&self.ctx, || reader.poll_next(&mut output));
        self.settle()?;
        let status = status?;
        self.out.flush()?;
        Ok(status)
    }

    fn end_input(&mut self) -> Result<(), TaskError> {
        self.out.forward_watermark(Watermark::MAX)?;
        self.out.end_input()
    }

    fn close(&mut self) -> Result<(), TaskError> {
        let reader = &mut self.reader;
        let own = call_user(&self.ctx, || reader.close());
        own.and(self.out.close_targets())
    }

    fn flush_buffers(&mut self) -> Result<(), TaskError> {
        self.out.flush_targets()
    }

    fn is_output_available(&self) -> bool {
        self.out.targets_available()
    }

    fn on_processing_time(&mut self, now: i64) -> Result<(), TaskError> {
        if let Some(w) = self.watermarks.as_deref_mut()
            && self.interval_ms > 0
        {
            if now >= self.next_periodic {
                let mut pending = Pending::default();
                w.on_periodic(now, &mut pending);
                pending.apply(&mut OutputEmitter {
                    state: &mut self.emitter,
                    out: &mut self.out,
                });
                self.settle()?;
                self.out.flush()?;
                self.next_periodic = now.saturating_add(self.interval_ms);
            }
            self.time.request_callback_at(self.next_periodic);
        }
        self.out.targets_on_processing_time(now)
    }

    fn trigger_checkpoint(&mut self, request: SnapshotRequest) -> Result<(), TaskError> {
        let barrier = request.barrier;
        if self.last_checkpoint.is_some_and(|l| barrier.id <= l) {
            return Ok(());
        }
        self.last_checkpoint = Some(barrier.id);
        let mut builder = TaskSnapshotBuilder::new(request);
        let reader = &mut self.reader;
        let splits = call_user(&self.ctx, || reader.snapshot_state())?;
        if let Some(splits) = splits {
            builder
                .operator(self.operator.clone())
                .state()
                .operator_state = OperatorStateSnapshot {
                states: vec![NamedOperatorState {
                    name: SOURCE_SPLITS_STATE.to_string(),
                    mode: DistributionMode::SplitDistribute,
                    elements: splits.into_iter().map(|s| s.0).collect(),
                }],
            };
        }
        self.out.snapshot_targets(&mut builder)?;
        self.settle()?;
        self.checkpointer.submit(&barrier, builder.finish())?;
        if barrier.kind == SnapshotKind::SavepointTerminate && request.forward_barrier {
            self.stopped = true;
        }
        Ok(())
    }

    fn notify_checkpoint(&mut self, id: CheckpointId, complete: bool) -> Result<(), TaskError> {
        if complete {
            let reader = &mut self.reader;
            call_user(&self.ctx, || reader.notify_checkpoint_complete(id))?;
        }
        self.out.notify_targets(id, complete)
    }
}
