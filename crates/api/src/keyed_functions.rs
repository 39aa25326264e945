//! Functions over keyed streams (C2, C3): they see the current key, keyed state
//! (D1) and a timer service.
//!
//! State is reached through *handles* obtained once, from a descriptor, in `open`
//! (or lazily, in any call: registering a name again returns the same handle), and
//! every access passes the context, which knows the current key:
//!
//! ```
//! use runnel_api::{Collector, KeyedContext, KeyedOpenContext, KeyedProcessFunction, KeyedStateRegistry};
//! use runnel_api::state::{ValueState, ValueStateDescriptor};
//! use runnel_runtime::BoxError;
//!
//! /// Counts records per key and emits the count every 10.
//! #[derive(Clone, Default)]
//! struct EveryTenth {
//!     count: Option<ValueState<u64>>,
//! }
//!
//! impl KeyedProcessFunction<String, String, (String, u64)> for EveryTenth {
//!     fn open(&mut self, ctx: &mut KeyedOpenContext<'_, String>) -> Result<(), BoxError> {
//!         self.count = Some(ctx.get_state(&ValueStateDescriptor::new("count"))?);
//!         Ok(())
//!     }
//!
//!     fn process_element(&mut self, _v: String, ctx: &mut KeyedContext<'_, String>, out: &mut Collector<'_, (String, u64)>) -> Result<(), BoxError> {
//!         let count = self.count.expect("opened");
//!         let n = count.value(ctx)?.unwrap_or(0) + 1;
//!         count.update(ctx, n)?;
//!         if n % 10 == 0 {
//!             out.collect((ctx.current_key().clone(), n));
//!         }
//!         Ok(())
//!     }
//! }
//! ```
//!
//! `process_element` and `on_timer` are never called concurrently. Event-time
//! timers fire when the watermark reaches them, before the watermark moves on;
//! what `on_timer` emits reaches downstream before that watermark.

use crate::functions::Collector;
use runnel_runtime::output::SideOutputs;
use runnel_runtime::time::ProcessingTimeService;
use runnel_runtime::timers::{InternalTimerService, TimeDomain};
use runnel_runtime::{BoxError, OutputTag, RuntimeContext};
use runnel_state::{
    AggregatingState, AggregatingStateDescriptor, KeyedStateAccess, KeyedStateStore, ListState,
    ListStateDescriptor, MapState, MapStateDescriptor, ReducingState, ReducingStateDescriptor,
    StateError, ValueState, ValueStateDescriptor,
};
use runnel_types::{Data, EventTime, Key, StreamRecord, Watermark};

/// Registers keyed state: the methods of Flink's `RuntimeContext.getState` family.
/// Implemented by every context that has keyed state.
pub trait KeyedStateRegistry: KeyedStateAccess {
    /// A value per key.
    fn get_state<T: Data>(
        &mut self,
        descriptor: &ValueStateDescriptor<T>,
    ) -> Result<ValueState<T>, StateError> {
        self.keyed_state().get_state(descriptor)
    }
    /// A list per key.
    fn get_list_state<T: Data>(
        &mut self,
        descriptor: &ListStateDescriptor<T>,
    ) -> Result<ListState<T>, StateError> {
        self.keyed_state().get_list_state(descriptor)
    }
    /// A map per key.
    fn get_map_state<UK: Key, UV: Data>(
        &mut self,
        descriptor: &MapStateDescriptor<UK, UV>,
    ) -> Result<MapState<UK, UV>, StateError> {
        self.keyed_state().get_map_state(descriptor)
    }
    /// A value per key, folded with a reduce function on `add`.
    fn get_reducing_state<T: Data>(
        &mut self,
        descriptor: &ReducingStateDescriptor<T>,
    ) -> Result<ReducingState<T>, StateError> {
        self.keyed_state().get_reducing_state(descriptor)
    }
    /// An accumulator per key, fed by an aggregate function on `add`.
    fn get_aggregating_state<IN: Data, ACC: Data, OUT: Data>(
        &mut self,
        descriptor: &AggregatingStateDescriptor<IN, ACC, OUT>,
    ) -> Result<AggregatingState<IN, OUT>, StateError> {
        self.keyed_state().get_aggregating_state(descriptor)
    }
}

impl<C: KeyedStateAccess> KeyedStateRegistry for C {}

/// What a keyed function's `open` gets: its runtime context and keyed state
/// registration.
pub struct KeyedOpenContext<'a, K: Key> {
    pub(crate) runtime: &'a RuntimeContext,
    pub(crate) store: &'a mut KeyedStateStore<K>,
}

impl<K: Key> KeyedOpenContext<'_, K> {
    /// The instance's runtime context (subtask index, parallelism, names).
    pub fn runtime(&self) -> &RuntimeContext {
        self.runtime
    }
}

impl<K: Key> KeyedStateAccess for KeyedOpenContext<'_, K> {
    type Key = K;
    fn keyed_state(&mut self) -> &mut KeyedStateStore<K> {
        self.store
    }
}

/// Registers and deletes timers for the current key, and tells the time.
pub struct TimerService<'a, K: Key> {
    key: &'a K,
    timers: &'a mut InternalTimerService<K>,
    time: &'a ProcessingTimeService,
}

impl<K: Key> TimerService<'_, K> {
    /// Current processing time (epoch ms).
    pub fn current_processing_time(&self) -> i64 {
        self.time.now()
    }

    /// The operator's current watermark.
    pub fn current_watermark(&self) -> Watermark {
        self.timers.current_watermark()
    }

    /// A timer firing when the watermark reaches `time`. Registering the same time
    /// again for this key is a no-op.
    pub fn register_event_time_timer(&mut self, time: i64) {
        self.timers.register_event_time_timer(self.key, &(), time);
    }

    /// Deletes this key's event-time timer at `time`, if any.
    pub fn delete_event_time_timer(&mut self, time: i64) {
        self.timers.delete_event_time_timer(self.key, &(), time);
    }

    /// A timer firing when processing time reaches `time` (at once if it has).
    pub fn register_processing_time_timer(&mut self, time: i64) {
        self.timers
            .register_processing_time_timer(self.key, &(), time);
        self.time.request_callback_at(time);
    }

    /// Deletes this key's processing-time timer at `time`, if any.
    pub fn delete_processing_time_timer(&mut self, time: i64) {
        self.timers
            .delete_processing_time_timer(self.key, &(), time);
    }
}

/// What a keyed function sees while processing a record or a timer: the current
/// key and timestamp, keyed state, timers and side outputs (Flink's
/// `KeyedProcessFunction.Context` / `OnTimerContext`).
pub struct KeyedContext<'a, K: Key> {
    pub(crate) timestamp: Option<EventTime>,
    pub(crate) time_domain: Option<TimeDomain>,
    pub(crate) store: &'a mut KeyedStateStore<K>,
    pub(crate) timers: &'a mut InternalTimerService<K>,
    pub(crate) time: &'a ProcessingTimeService,
    pub(crate) side: &'a mut SideOutputs,
    pub(crate) runtime: &'a RuntimeContext,
}

impl<K: Key> KeyedContext<'_, K> {
    /// The record's timestamp (in `on_timer`: the timer's time for event-time
    /// timers, none for processing-time timers).
    pub fn timestamp(&self) -> Option<EventTime> {
        self.timestamp
    }

    /// The key of the record or timer being processed.
    pub fn current_key(&self) -> &K {
        self.store
            .current_key()
            .expect("the operator sets the key before calling the function")
    }

    /// In `on_timer`, which kind of timer fired; `None` in `process_element`.
    pub fn time_domain(&self) -> Option<TimeDomain> {
        self.time_domain
    }

    /// The timer service, scoped to the current key.
    pub fn timer_service(&mut self) -> TimerService<'_, K> {
        let key = self
            .store
            .current_key()
            .expect("the operator sets the key before calling the function");
        TimerService {
            key,
            timers: &mut *self.timers,
            time: self.time,
        }
    }

    /// Current processing time.
    pub fn current_processing_time(&self) -> i64 {
        self.time.now()
    }

    /// The operator's current watermark.
    pub fn current_watermark(&self) -> Watermark {
        self.timers.current_watermark()
    }

    /// Emits `value` to a side output, with the current timestamp.
    pub fn output<X: Data>(&mut self, tag: &OutputTag<X>, value: X) {
        self.side.collect(
            tag,
            StreamRecord {
                value,
                timestamp: self.timestamp,
            },
        );
    }

    /// The instance's runtime context.
    pub fn runtime_context(&self) -> &RuntimeContext {
        self.runtime
    }
}

impl<K: Key> KeyedContext<'_, K> {
    /// A shorter-lived context over the same state (to wrap it in another context).
    pub(crate) fn reborrow(&mut self) -> KeyedContext<'_, K> {
        KeyedContext {
            timestamp: self.timestamp,
            time_domain: self.time_domain,
            store: &mut *self.store,
            timers: &mut *self.timers,
            time: self.time,
            side: &mut *self.side,
            runtime: self.runtime,
        }
    }
}

impl<K: Key> KeyedStateAccess for KeyedContext<'_, K> {
    type Key = K;
    fn keyed_state(&mut self) -> &mut KeyedStateStore<K> {
        self.store
    }
}

/// The low-level function of a keyed stream (Flink's `KeyedProcessFunction`):
/// per record, with keyed state, timers and side outputs.
pub trait KeyedProcessFunction<K: Key, I, O>: Send + 'static {
    /// Called once per parallel instance before the first record.
    fn open(&mut self, _ctx: &mut KeyedOpenContext<'_, K>) -> Result<(), BoxError> {
        Ok(())
    }

    /// Processes one record of the current key.
    fn process_element(
        &mut self,
        value: I,
        ctx: &mut KeyedContext<'_, K>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError>;

    /// A timer of the current key fired at `timestamp`.
    fn on_timer(
        &mut self,
        _timestamp: i64,
        _ctx: &mut KeyedContext<'_, K>,
        _out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError> {
        Ok(())
    }

    /// Called once per parallel instance at the end.
    fn close(&mut self) -> Result<(), BoxError> {
        Ok(())
    }
}

/// The low-level function of two connected keyed streams (Flink's
/// `KeyedCoProcessFunction`): both inputs share the keyed state of a key.
pub trait KeyedCoProcessFunction<K: Key, I1, I2, O>: Send + 'static {
    /// Called once per parallel instance before the first record.
    fn open(&mut self, _ctx: &mut KeyedOpenContext<'_, K>) -> Result<(), BoxError> {
        Ok(())
    }

    /// Processes a record of the first input.
    fn process_element1(
        &mut self,
        value: I1,
        ctx: &mut KeyedContext<'_, K>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError>;

    /// Processes a record of the second input.
    fn process_element2(
        &mut self,
        value: I2,
        ctx: &mut KeyedContext<'_, K>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError>;

    /// A timer of the current key fired at `timestamp`.
    fn on_timer(
        &mut self,
        _timestamp: i64,
        _ctx: &mut KeyedContext<'_, K>,
        _out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError> {
        Ok(())
    }

    /// Called once per parallel instance at the end.
    fn close(&mut self) -> Result<(), BoxError> {
        Ok(())
    }
}
