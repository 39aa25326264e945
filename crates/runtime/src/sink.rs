//! Sinks: where records leave a job (Flink's `SinkFunction`).

use crate::checkpointing::StateSnapshotContext;
use crate::clock::Clock;
use crate::context::RuntimeContext;
use crate::error::BoxError;
use crate::function_state::{
    FunctionInitializationContext, FunctionSnapshotContext, FunctionState,
};
use crate::operator::OneInputOperator;
use crate::output::Output;
use runnel_types::{Data, EventTime, StreamRecord, Watermark};
use std::marker::PhantomData;
use std::sync::Arc;

/// Writes records somewhere. Closures `FnMut(T)` are sink functions.
pub trait SinkFunction<T>: Send + 'static {
    /// Called once before the first record.
    fn open(&mut self, _ctx: &RuntimeContext) -> Result<(), BoxError> {
        Ok(())
    }

    /// Writes one record.
    fn invoke(&mut self, value: T, ctx: &SinkContext) -> Result<(), BoxError>;

    /// Registers operator state (Flink's `CheckpointedFunction.initializeState`);
    /// called before `open`, with the restored state after a failure or from a
    /// savepoint.
    fn initialize_state(
        &mut self,
        _ctx: &mut FunctionInitializationContext<'_>,
    ) -> Result<(), BoxError> {
        Ok(())
    }
    /// Brings operator state up to date for a checkpoint (`snapshotState`).
    fn snapshot_state(&mut self, _ctx: &mut FunctionSnapshotContext<'_>) -> Result<(), BoxError> {
        Ok(())
    }

    /// All input has arrived: flush what is buffered.
    fn finish(&mut self) -> Result<(), BoxError> {
        Ok(())
    }

    /// Releases resources; called once, also after a failure.
    fn close(&mut self) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<T, F: FnMut(T) + Send + 'static> SinkFunction<T> for F {
    #[inline]
    fn invoke(&mut self, value: T, _ctx: &SinkContext) -> Result<(), BoxError> {
        self(value);
        Ok(())
    }
}

/// What a sink knows about the record it writes.
pub struct SinkContext {
    timestamp: Option<EventTime>,
    watermark: Watermark,
    clock: Option<Arc<dyn Clock>>,
}

impl SinkContext {
    /// A context reading processing time from `clock`.
    pub(crate) fn new(clock: Option<Arc<dyn Clock>>) -> Self {
        SinkContext {
            timestamp: None,
            watermark: Watermark::MIN,
            clock,
        }
    }

    pub(crate) fn set_timestamp(&mut self, timestamp: Option<EventTime>) {
        self.timestamp = timestamp;
    }

    pub(crate) fn set_watermark(&mut self, watermark: Watermark) {
        self.watermark = watermark;
    }

    /// The record's event-time timestamp, if it has one.
    pub fn timestamp(&self) -> Option<EventTime> {
        self.timestamp
    }

    /// The sink's current watermark.
    pub fn current_watermark(&self) -> Watermark {
        self.watermark
    }

    /// Current processing time.
    pub fn current_processing_time(&self) -> i64 {
        self.clock.as_ref().map(|c| c.now_millis()).unwrap_or(0)
    }
}

/// Runs a [`SinkFunction`] as the last operator of a chain.
pub struct SinkOperator<T, F> {
    function: F,
    state: FunctionState,
    ctx: SinkContext,
    _records: PhantomData<fn(T)>,
}

impl<T, F> SinkOperator<T, F> {
    /// Wraps a sink function.
    pub fn new(function: F) -> Self {
        SinkOperator {
            function,
            state: FunctionState::default(),
            ctx: SinkContext {
                timestamp: None,
                watermark: Watermark::MIN,
                clock: None,
            },
            _records: PhantomData,
        }
    }

    /// Gives the function its restored operator state.
    pub fn with_function_state(mut self, state: FunctionState) -> Self {
        self.state = state;
        self
    }
}

impl<T: Data, F: SinkFunction<T>> OneInputOperator for SinkOperator<T, F> {
    type In = T;
    type Out = ();

    fn open(&mut self, ctx: &RuntimeContext) -> Result<(), BoxError> {
        self.ctx.clock = Some(ctx.clock().clone());
        self.state
            .initialize(|c| self.function.initialize_state(c))?;
        self.function.open(ctx)
    }

    fn snapshot_state(&mut self, ctx: &mut StateSnapshotContext<'_>) -> Result<(), BoxError> {
        self.state
            .snapshot(ctx, |c| self.function.snapshot_state(c))
    }

    #[inline]
    fn process_element(
        &mut self,
        record: StreamRecord<T>,
        _out: &mut Output<()>,
    ) -> Result<(), BoxError> {
        self.ctx.timestamp = record.timestamp;
        self.function.invoke(record.value, &self.ctx)
    }

    fn process_watermark(
        &mut self,
        watermark: Watermark,
        _out: &mut Output<()>,
    ) -> Result<(), BoxError> {
        self.ctx.watermark = watermark;
        Ok(())
    }

    fn end_input(&mut self, _out: &mut Output<()>) -> Result<(), BoxError> {
        self.function.finish()
    }

    fn close(&mut self) -> Result<(), BoxError> {
        self.function.close()
    }
}
