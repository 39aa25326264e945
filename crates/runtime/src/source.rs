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

use crate::chain::call_user;
use crate::context::RuntimeContext;
use crate::error::{BoxError, TaskError};
use crate::output::{Output, OutputFailure};
use crate::processor::{InputStatus, StreamInputProcessor};
use runnel_network::TaskSignal;
use runnel_types::{Data, EventTime, StreamRecord, Watermark};
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
}

/// Reads one subtask's share of a source.
pub trait SourceReader<T>: 'static {
    /// Emits what is available (ideally a batch, not one record) and reports
    /// whether more is available now, later, or never.
    fn poll_next(&mut self, output: &mut SourceOutput<'_, T>) -> Result<InputStatus, BoxError>;

    /// Releases resources; called once, also when the job is cancelled or fails.
    fn close(&mut self) -> Result<(), BoxError> {
        Ok(())
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
pub struct SourceOutput<'a, T> {
    out: &'a mut Output<T>,
}

impl<'a, T: Data> SourceOutput<'a, T> {
    /// Wraps an operator output (for tests of readers).
    pub fn new(out: &'a mut Output<T>) -> Self {
        SourceOutput { out }
    }

    /// Emits a record without timestamp.
    #[inline]
    pub fn collect(&mut self, value: T) {
        self.out.collect(StreamRecord::new(value));
    }

    /// Emits a record with an event-time timestamp.
    #[inline]
    pub fn collect_with_timestamp(&mut self, value: T, timestamp: EventTime) {
        self.out
            .collect(StreamRecord::with_timestamp(value, timestamp));
    }

    /// Emits a record as is.
    #[inline]
    pub fn collect_record(&mut self, record: StreamRecord<T>) {
        self.out.collect(record);
    }

    /// Emits a watermark, after the records emitted before it.
    pub fn emit_watermark(&mut self, watermark: Watermark) {
        self.out.emit_watermark(watermark);
    }
}

/// Drives a reader at the head of a source task.
pub struct SourceProcessor<T: Data, R: SourceReader<T>> {
    reader: R,
    out: Output<T>,
    ctx: RuntimeContext,
    _records: PhantomData<fn() -> T>,
}

impl<T: Data, R: SourceReader<T>> SourceProcessor<T, R> {
    /// A processor polling `reader` into `out`.
    pub fn new(reader: R, out: Output<T>, ctx: RuntimeContext) -> Self {
        SourceProcessor {
            reader,
            out,
            ctx,
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
        self.out.open_targets()
    }

    #[inline]
    fn process_input(&mut self) -> Result<InputStatus, TaskError> {
        let (reader, out) = (&mut self.reader, &mut self.out);
        let status = call_user(&self.ctx, || reader.poll_next(&mut SourceOutput { out }));
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
}
