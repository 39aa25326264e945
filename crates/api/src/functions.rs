//! The user function traits (B4) and what they are handed.
//!
//! Every trait has `open` and `close` hooks with defaults, called once per
//! parallel instance, `open` with the instance's [`RuntimeContext`]: a struct
//! implementing the trait is Flink's *rich* function. Closures implement each
//! trait too; the stream methods named after Flink's (`map`, `flat_map`, …) take
//! closures directly, so their argument types are inferred, and the `*_with`
//! variants take any implementation of the trait.
//!
//! Functions are cloned once per parallel instance, on the instance's thread.
//! Map, flat-map, filter, process and sink functions can keep operator list
//! state through `initialize_state` / `snapshot_state` (Flink's
//! `CheckpointedFunction`; see [`runnel_runtime::function_state`]).

use runnel_runtime::function_state::{FunctionInitializationContext, FunctionSnapshotContext};
use runnel_runtime::output::{MainOutput, SideOutputs};
use runnel_runtime::{BoxError, OutputTag, RuntimeContext};
use runnel_types::{Data, EventTime, StreamRecord, Watermark};

/// Emits records from inside a function; each carries the timestamp of the
/// record being processed (Flink's `TimestampedCollector`).
pub struct Collector<'a, T> {
    out: &'a mut MainOutput<T>,
    timestamp: Option<EventTime>,
}

impl<'a, T: Data> Collector<'a, T> {
    pub(crate) fn new(out: &'a mut MainOutput<T>, timestamp: Option<EventTime>) -> Self {
        Collector { out, timestamp }
    }

    /// Emits `value`.
    #[inline]
    pub fn collect(&mut self, value: T) {
        self.out.collect(StreamRecord {
            value,
            timestamp: self.timestamp,
        });
    }

    /// Emits `value` with an explicit event-time timestamp.
    #[inline]
    pub fn collect_with_timestamp(&mut self, value: T, timestamp: EventTime) {
        self.out
            .collect(StreamRecord::with_timestamp(value, timestamp));
    }
}

/// Transforms each record into exactly one record.
pub trait MapFunction<I, O>: Send + 'static {
    /// Called once per parallel instance before the first record.
    fn open(&mut self, _ctx: &RuntimeContext) -> Result<(), BoxError> {
        Ok(())
    }
    /// Maps one record.
    fn map(&mut self, value: I) -> O;
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
    /// Called once per parallel instance at the end.
    fn close(&mut self) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<I, O, F: FnMut(I) -> O + Send + 'static> MapFunction<I, O> for F {
    #[inline]
    fn map(&mut self, value: I) -> O {
        self(value)
    }
}

/// Transforms each record into zero, one or more records.
pub trait FlatMapFunction<I, O>: Send + 'static {
    /// Called once per parallel instance before the first record.
    fn open(&mut self, _ctx: &RuntimeContext) -> Result<(), BoxError> {
        Ok(())
    }
    /// Emits the records `value` becomes.
    fn flat_map(&mut self, value: I, out: &mut Collector<'_, O>);
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
    /// Called once per parallel instance at the end.
    fn close(&mut self) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<I, O, F: FnMut(I, &mut Collector<'_, O>) + Send + 'static> FlatMapFunction<I, O> for F {
    #[inline]
    fn flat_map(&mut self, value: I, out: &mut Collector<'_, O>) {
        self(value, out)
    }
}

/// Keeps the records for which it returns true.
pub trait FilterFunction<T>: Send + 'static {
    /// Called once per parallel instance before the first record.
    fn open(&mut self, _ctx: &RuntimeContext) -> Result<(), BoxError> {
        Ok(())
    }
    /// Whether to keep `value`.
    fn filter(&mut self, value: &T) -> bool;
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
    /// Called once per parallel instance at the end.
    fn close(&mut self) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<T, F: FnMut(&T) -> bool + Send + 'static> FilterFunction<T> for F {
    #[inline]
    fn filter(&mut self, value: &T) -> bool {
        self(value)
    }
}

/// Combines two records of a key into one (the accumulator first).
pub trait ReduceFunction<T>: Send + 'static {
    /// Called once per parallel instance before the first record.
    fn open(&mut self, _ctx: &RuntimeContext) -> Result<(), BoxError> {
        Ok(())
    }
    /// Folds `value` into `accumulator`.
    fn reduce(&mut self, accumulator: T, value: T) -> T;
    /// Called once per parallel instance at the end.
    fn close(&mut self) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<T, F: FnMut(T, T) -> T + Send + 'static> ReduceFunction<T> for F {
    #[inline]
    fn reduce(&mut self, accumulator: T, value: T) -> T {
        self(accumulator, value)
    }
}

/// What a process function knows about the record it processes and how it emits
/// to side outputs.
pub struct ProcessContext<'a> {
    pub(crate) timestamp: Option<EventTime>,
    pub(crate) watermark: Watermark,
    pub(crate) runtime: &'a RuntimeContext,
    pub(crate) side: &'a mut SideOutputs,
}

impl ProcessContext<'_> {
    /// The record's event-time timestamp, if it has one.
    pub fn timestamp(&self) -> Option<EventTime> {
        self.timestamp
    }

    /// The operator's current watermark (−∞ before the first).
    pub fn current_watermark(&self) -> Watermark {
        self.watermark
    }

    /// Current processing time, from the job's clock.
    pub fn current_processing_time(&self) -> i64 {
        self.runtime.processing_time()
    }

    /// Emits `value` to the side output `tag`, with the current record's timestamp.
    pub fn output<X: Data>(&mut self, tag: &OutputTag<X>, value: X) {
        self.side.collect(
            tag,
            StreamRecord {
                value,
                timestamp: self.timestamp,
            },
        );
    }

    /// The runtime context of this instance.
    pub fn runtime_context(&self) -> &RuntimeContext {
        self.runtime
    }
}

/// The low-level function of a non-keyed stream (C1): each record, its timestamp,
/// the watermark, processing time and side outputs.
pub trait ProcessFunction<I, O>: Send + 'static {
    /// Called once per parallel instance before the first record.
    fn open(&mut self, _ctx: &RuntimeContext) -> Result<(), BoxError> {
        Ok(())
    }
    /// Processes one record.
    fn process_element(
        &mut self,
        value: I,
        ctx: &mut ProcessContext<'_>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError>;
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
    /// Called once per parallel instance at the end.
    fn close(&mut self) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<I, O, F> ProcessFunction<I, O> for F
where
    F: FnMut(I, &mut ProcessContext<'_>, &mut Collector<'_, O>) -> Result<(), BoxError>
        + Send
        + 'static,
{
    fn process_element(
        &mut self,
        value: I,
        ctx: &mut ProcessContext<'_>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError> {
        self(value, ctx, out)
    }
}

/// Maps each record of two connected streams (one function per input).
pub trait CoMapFunction<I1, I2, O>: Send + 'static {
    /// Called once per parallel instance before the first record.
    fn open(&mut self, _ctx: &RuntimeContext) -> Result<(), BoxError> {
        Ok(())
    }
    /// Maps a record of the first input.
    fn map1(&mut self, value: I1) -> O;
    /// Maps a record of the second input.
    fn map2(&mut self, value: I2) -> O;
    /// Called once per parallel instance at the end.
    fn close(&mut self) -> Result<(), BoxError> {
        Ok(())
    }
}

/// Flat-maps each record of two connected streams.
pub trait CoFlatMapFunction<I1, I2, O>: Send + 'static {
    /// Called once per parallel instance before the first record.
    fn open(&mut self, _ctx: &RuntimeContext) -> Result<(), BoxError> {
        Ok(())
    }
    /// Flat-maps a record of the first input.
    fn flat_map1(&mut self, value: I1, out: &mut Collector<'_, O>);
    /// Flat-maps a record of the second input.
    fn flat_map2(&mut self, value: I2, out: &mut Collector<'_, O>);
    /// Called once per parallel instance at the end.
    fn close(&mut self) -> Result<(), BoxError> {
        Ok(())
    }
}

/// The low-level function of two connected streams.
pub trait CoProcessFunction<I1, I2, O>: Send + 'static {
    /// Called once per parallel instance before the first record.
    fn open(&mut self, _ctx: &RuntimeContext) -> Result<(), BoxError> {
        Ok(())
    }
    /// Processes a record of the first input.
    fn process_element1(
        &mut self,
        value: I1,
        ctx: &mut ProcessContext<'_>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError>;
    /// Processes a record of the second input.
    fn process_element2(
        &mut self,
        value: I2,
        ctx: &mut ProcessContext<'_>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError>;
    /// Called once per parallel instance at the end.
    fn close(&mut self) -> Result<(), BoxError> {
        Ok(())
    }
}

/// Two closures as a [`CoMapFunction`].
#[derive(Clone)]
pub(crate) struct CoMapFns<F1, F2>(pub F1, pub F2);

impl<I1, I2, O, F1, F2> CoMapFunction<I1, I2, O> for CoMapFns<F1, F2>
where
    F1: FnMut(I1) -> O + Send + 'static,
    F2: FnMut(I2) -> O + Send + 'static,
{
    #[inline]
    fn map1(&mut self, value: I1) -> O {
        (self.0)(value)
    }
    #[inline]
    fn map2(&mut self, value: I2) -> O {
        (self.1)(value)
    }
}

/// Two closures as a [`CoFlatMapFunction`].
#[derive(Clone)]
pub(crate) struct CoFlatMapFns<F1, F2>(pub F1, pub F2);

impl<I1, I2, O, F1, F2> CoFlatMapFunction<I1, I2, O> for CoFlatMapFns<F1, F2>
where
    F1: FnMut(I1, &mut Collector<'_, O>) + Send + 'static,
    F2: FnMut(I2, &mut Collector<'_, O>) + Send + 'static,
{
    #[inline]
    fn flat_map1(&mut self, value: I1, out: &mut Collector<'_, O>) {
        (self.0)(value, out)
    }
    #[inline]
    fn flat_map2(&mut self, value: I2, out: &mut Collector<'_, O>) {
        (self.1)(value, out)
    }
}
