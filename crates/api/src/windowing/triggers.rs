//! Triggers: when a window's contents are emitted and when they are purged.
//!
//! A trigger sees every element added to a window and the timers it registered,
//! and answers with a [`TriggerResult`]. The built-in triggers behave as Flink's:
//! [`EventTimeTrigger`] fires when the watermark reaches the window's max
//! timestamp (`end − 1`), or at once for an element of a window the watermark
//! already passed (allowed lateness); [`CountTrigger`] fires every `n` elements;
//! [`PurgingTrigger`] turns a fire into fire-and-purge; the continuous triggers
//! fire early at intervals. Triggers keep their own bookkeeping in per-window
//! state ([`TriggerContext::get_partitioned_reducing_state`] and friends).

use super::state::{
    MergeableWindowState, WindowAggregatingState, WindowListState, WindowReducingState,
    WindowStateAccess, WindowValueState,
};
use super::window::{GlobalWindow, Window};
use runnel_runtime::BoxError;
use runnel_runtime::time::ProcessingTimeService;
use runnel_runtime::timers::InternalTimerService;
use runnel_state::{
    AggregatingStateDescriptor, KeyedStateAccess, KeyedStateStore, ListStateDescriptor,
    ReducingStateDescriptor, StateError, ValueStateDescriptor,
};
use runnel_types::{Data, EventTime, Key, Watermark};
use std::time::Duration;

/// What a trigger decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerResult {
    /// Nothing happens.
    Continue,
    /// The window function runs on the contents; the contents are kept.
    Fire,
    /// The contents are dropped without being emitted.
    Purge,
    /// The window function runs, then the contents are dropped.
    FireAndPurge,
}

impl TriggerResult {
    /// Whether the window function runs.
    pub fn is_fire(self) -> bool {
        matches!(self, TriggerResult::Fire | TriggerResult::FireAndPurge)
    }

    /// Whether the contents are dropped.
    pub fn is_purge(self) -> bool {
        matches!(self, TriggerResult::Purge | TriggerResult::FireAndPurge)
    }
}

/// What a trigger can do for the window it is called for: read the time,
/// register and delete timers (scoped to the key and window), and keep
/// per-window state.
pub struct TriggerContext<'a, K: Key, W: Window> {
    pub(crate) store: &'a mut KeyedStateStore<K>,
    pub(crate) timers: &'a mut InternalTimerService<K, W>,
    pub(crate) time: &'a ProcessingTimeService,
    pub(crate) window: W,
    pub(crate) merged_windows: &'a [W],
}

impl<K: Key, W: Window> TriggerContext<'_, K, W> {
    /// The window the trigger is called for.
    pub fn window(&self) -> &W {
        &self.window
    }

    /// The key the trigger is called for.
    pub fn current_key(&self) -> &K {
        self.store
            .current_key()
            .expect("the window operator sets the key before calling a trigger")
    }

    /// The operator's current watermark.
    pub fn current_watermark(&self) -> Watermark {
        self.timers.current_watermark()
    }

    /// Current processing time (epoch ms).
    pub fn current_processing_time(&self) -> i64 {
        self.time.now()
    }

    /// Calls `on_event_time` for this window when the watermark reaches `time`
    /// (once per time: registering it again is a no-op).
    pub fn register_event_time_timer(&mut self, time: i64) {
        let key = self.store.current_key().expect("a current key");
        self.timers
            .register_event_time_timer(key, &self.window, time);
    }

    /// Deletes this window's event-time timer at `time`.
    pub fn delete_event_time_timer(&mut self, time: i64) {
        let key = self.store.current_key().expect("a current key");
        self.timers.delete_event_time_timer(key, &self.window, time);
    }

    /// Calls `on_processing_time` for this window when processing time reaches
    /// `time`.
    pub fn register_processing_time_timer(&mut self, time: i64) {
        let key = self.store.current_key().expect("a current key");
        self.timers
            .register_processing_time_timer(key, &self.window, time);
        self.time.request_callback_at(time);
    }

    /// Deletes this window's processing-time timer at `time`.
    pub fn delete_processing_time_timer(&mut self, time: i64) {
        let key = self.store.current_key().expect("a current key");
        self.timers
            .delete_processing_time_timer(key, &self.window, time);
    }

    /// A value per key and window ("partitioned state").
    pub fn get_partitioned_state<T: Data>(
        &mut self,
        descriptor: &ValueStateDescriptor<T>,
    ) -> Result<WindowValueState<W, T>, StateError> {
        WindowValueState::register(self.store, descriptor)
    }

    /// A list per key and window.
    pub fn get_partitioned_list_state<T: Data>(
        &mut self,
        descriptor: &ListStateDescriptor<T>,
    ) -> Result<WindowListState<W, T>, StateError> {
        WindowListState::register(self.store, descriptor)
    }

    /// A reducing value per key and window.
    pub fn get_partitioned_reducing_state<T: Data>(
        &mut self,
        descriptor: &ReducingStateDescriptor<T>,
    ) -> Result<WindowReducingState<W, T>, StateError> {
        WindowReducingState::register(self.store, descriptor)
    }

    /// An aggregating value per key and window.
    pub fn get_partitioned_aggregating_state<IN: Data, ACC: Data, OUT: Data>(
        &mut self,
        descriptor: &AggregatingStateDescriptor<IN, ACC, OUT>,
    ) -> Result<WindowAggregatingState<W, IN, ACC, OUT>, StateError> {
        WindowAggregatingState::register(self.store, descriptor)
    }

    /// In `on_merge`: the windows being merged into [`TriggerContext::window`].
    pub fn merged_windows(&self) -> &[W] {
        self.merged_windows
    }

    /// In `on_merge`: merges the state of the merged windows into the new window
    /// (Flink's `OnMergeContext.mergePartitionedState`).
    pub fn merge_partitioned_state<S: MergeableWindowState<W>>(
        &mut self,
        state: &S,
    ) -> Result<(), StateError> {
        if self.merged_windows.is_empty() {
            return Ok(());
        }
        let target = self.window.clone();
        let sources = self.merged_windows;
        state.merge_windows(self, &target, sources)
    }
}

impl<K: Key, W: Window> KeyedStateAccess for TriggerContext<'_, K, W> {
    type Key = K;
    fn keyed_state(&mut self) -> &mut KeyedStateStore<K> {
        self.store
    }
}

impl<K: Key, W: Window> WindowStateAccess<W> for TriggerContext<'_, K, W> {
    fn state_window(&self) -> W {
        self.window.clone()
    }
}

/// Decides when a window fires and when it is purged (Flink's `Trigger`). One
/// instance per parallel operator instance; its methods are called with the
/// key and window set. Methods are generic over the key type so one trigger
/// works for any keyed stream.
pub trait Trigger<T, W: Window>: Clone + Send + 'static {
    /// An element was added to `window`.
    fn on_element<K: Key>(
        &mut self,
        element: &T,
        timestamp: Option<EventTime>,
        window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<TriggerResult, BoxError>;

    /// An event-time timer of this window fired.
    fn on_event_time<K: Key>(
        &mut self,
        time: i64,
        window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<TriggerResult, BoxError>;

    /// A processing-time timer of this window fired.
    fn on_processing_time<K: Key>(
        &mut self,
        time: i64,
        window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<TriggerResult, BoxError>;

    /// Whether the trigger supports merging windows (sessions).
    fn can_merge(&self) -> bool {
        false
    }

    /// Windows were merged into `window` (see [`TriggerContext::merged_windows`]).
    fn on_merge<K: Key>(
        &mut self,
        _window: &W,
        _ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<(), BoxError> {
        Err("this trigger does not support merging windows".into())
    }

    /// The window is purged for good: delete its timers and per-window state.
    fn clear<K: Key>(
        &mut self,
        window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<(), BoxError>;

    /// Whether `on_element` is exactly [`EventTimeTrigger`]'s: `Fire` when the
    /// watermark is at or past the window's max timestamp, otherwise register an
    /// event-time timer at it and `Continue`. The window operator then runs that
    /// logic itself and registers the timer once per window instead of once per
    /// element. The default is `false`.
    fn on_element_is_event_time_trigger(&self) -> bool {
        false
    }
}

/// Fires when the watermark passes the window's end (Flink's `EventTimeTrigger`,
/// the default of event-time windows).
#[derive(Debug, Clone, Copy, Default)]
pub struct EventTimeTrigger;

impl EventTimeTrigger {
    /// The trigger.
    pub fn create() -> Self {
        EventTimeTrigger
    }
}

impl<T, W: Window> Trigger<T, W> for EventTimeTrigger {
    #[inline]
    fn on_element<K: Key>(
        &mut self,
        _element: &T,
        _timestamp: Option<EventTime>,
        window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<TriggerResult, BoxError> {
        if window.max_timestamp() <= ctx.current_watermark().0 {
            // The watermark is past the window (allowed lateness): fire now.
            return Ok(TriggerResult::Fire);
        }
        ctx.register_event_time_timer(window.max_timestamp());
        Ok(TriggerResult::Continue)
    }

    fn on_event_time<K: Key>(
        &mut self,
        time: i64,
        window: &W,
        _ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<TriggerResult, BoxError> {
        Ok(if time == window.max_timestamp() {
            TriggerResult::Fire
        } else {
            TriggerResult::Continue
        })
    }

    fn on_processing_time<K: Key>(
        &mut self,
        _time: i64,
        _window: &W,
        _ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<TriggerResult, BoxError> {
        Ok(TriggerResult::Continue)
    }

    fn can_merge(&self) -> bool {
        true
    }

    fn on_merge<K: Key>(
        &mut self,
        window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<(), BoxError> {
        if window.max_timestamp() > ctx.current_watermark().0 {
            ctx.register_event_time_timer(window.max_timestamp());
        }
        Ok(())
    }

    fn clear<K: Key>(
        &mut self,
        window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<(), BoxError> {
        ctx.delete_event_time_timer(window.max_timestamp());
        Ok(())
    }

    fn on_element_is_event_time_trigger(&self) -> bool {
        true
    }
}

/// Fires when processing time reaches the window's end (Flink's
/// `ProcessingTimeTrigger`, the default of processing-time windows).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessingTimeTrigger;

impl ProcessingTimeTrigger {
    /// The trigger.
    pub fn create() -> Self {
        ProcessingTimeTrigger
    }
}

impl<T, W: Window> Trigger<T, W> for ProcessingTimeTrigger {
    fn on_element<K: Key>(
        &mut self,
        _element: &T,
        _timestamp: Option<EventTime>,
        window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<TriggerResult, BoxError> {
        ctx.register_processing_time_timer(window.max_timestamp());
        Ok(TriggerResult::Continue)
    }

    fn on_event_time<K: Key>(
        &mut self,
        _time: i64,
        _window: &W,
        _ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<TriggerResult, BoxError> {
        Ok(TriggerResult::Continue)
    }

    fn on_processing_time<K: Key>(
        &mut self,
        _time: i64,
        _window: &W,
        _ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<TriggerResult, BoxError> {
        Ok(TriggerResult::Fire)
    }

    fn can_merge(&self) -> bool {
        true
    }

    fn on_merge<K: Key>(
        &mut self,
        window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<(), BoxError> {
        if window.max_timestamp() > ctx.current_processing_time() {
            ctx.register_processing_time_timer(window.max_timestamp());
        }
        Ok(())
    }

    fn clear<K: Key>(
        &mut self,
        window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<(), BoxError> {
        ctx.delete_processing_time_timer(window.max_timestamp());
        Ok(())
    }
}

fn count_descriptor() -> ReducingStateDescriptor<u64> {
    ReducingStateDescriptor::new("count", |a: u64, b: u64| a + b)
}

/// Fires once a window has `max_count` elements, then counts again (Flink's
/// `CountTrigger`).
pub struct CountTrigger<W> {
    max_count: u64,
    count: Option<WindowReducingState<W, u64>>,
}

impl<W> Clone for CountTrigger<W> {
    fn clone(&self) -> Self {
        CountTrigger {
            max_count: self.max_count,
            count: self.count.clone(),
        }
    }
}

impl<W: Window> CountTrigger<W> {
    /// Fires every `max_count` elements.
    pub fn of(max_count: u64) -> Self {
        CountTrigger {
            max_count,
            count: None,
        }
    }

    fn state<K: Key>(
        &mut self,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<WindowReducingState<W, u64>, StateError> {
        if let Some(s) = &self.count {
            return Ok(s.clone());
        }
        let s = ctx.get_partitioned_reducing_state(&count_descriptor())?;
        self.count = Some(s.clone());
        Ok(s)
    }
}

impl<T, W: Window> Trigger<T, W> for CountTrigger<W> {
    fn on_element<K: Key>(
        &mut self,
        _element: &T,
        _timestamp: Option<EventTime>,
        _window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<TriggerResult, BoxError> {
        let count = self.state(ctx)?;
        count.add(ctx, 1)?;
        if count.get(ctx)?.unwrap_or(0) >= self.max_count {
            count.clear(ctx)?;
            return Ok(TriggerResult::Fire);
        }
        Ok(TriggerResult::Continue)
    }

    fn on_event_time<K: Key>(
        &mut self,
        _time: i64,
        _window: &W,
        _ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<TriggerResult, BoxError> {
        Ok(TriggerResult::Continue)
    }

    fn on_processing_time<K: Key>(
        &mut self,
        _time: i64,
        _window: &W,
        _ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<TriggerResult, BoxError> {
        Ok(TriggerResult::Continue)
    }

    fn can_merge(&self) -> bool {
        true
    }

    fn on_merge<K: Key>(
        &mut self,
        _window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<(), BoxError> {
        let count = self.state(ctx)?;
        ctx.merge_partitioned_state(&count)?;
        Ok(())
    }

    fn clear<K: Key>(
        &mut self,
        _window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<(), BoxError> {
        let count = self.state(ctx)?;
        count.clear(ctx)?;
        Ok(())
    }
}

/// Turns every fire of the wrapped trigger into fire-and-purge (Flink's
/// `PurgingTrigger`).
#[derive(Debug, Clone)]
pub struct PurgingTrigger<Tr> {
    nested: Tr,
}

impl<Tr> PurgingTrigger<Tr> {
    /// Wraps `nested`.
    pub fn of(nested: Tr) -> Self {
        PurgingTrigger { nested }
    }
}

fn purging(result: TriggerResult) -> TriggerResult {
    if result.is_fire() {
        TriggerResult::FireAndPurge
    } else {
        result
    }
}

impl<T, W: Window, Tr: Trigger<T, W>> Trigger<T, W> for PurgingTrigger<Tr> {
    fn on_element<K: Key>(
        &mut self,
        element: &T,
        timestamp: Option<EventTime>,
        window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<TriggerResult, BoxError> {
        Ok(purging(
            self.nested.on_element(element, timestamp, window, ctx)?,
        ))
    }

    fn on_event_time<K: Key>(
        &mut self,
        time: i64,
        window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<TriggerResult, BoxError> {
        Ok(purging(self.nested.on_event_time(time, window, ctx)?))
    }

    fn on_processing_time<K: Key>(
        &mut self,
        time: i64,
        window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<TriggerResult, BoxError> {
        Ok(purging(self.nested.on_processing_time(time, window, ctx)?))
    }

    fn can_merge(&self) -> bool {
        self.nested.can_merge()
    }

    fn on_merge<K: Key>(
        &mut self,
        window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<(), BoxError> {
        self.nested.on_merge(window, ctx)
    }

    fn clear<K: Key>(
        &mut self,
        window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<(), BoxError> {
        self.nested.clear(window, ctx)
    }
}

fn fire_time_descriptor() -> ReducingStateDescriptor<i64> {
    ReducingStateDescriptor::new("fire-time", |a: i64, b: i64| a.min(b))
}

fn interval_millis(interval: Duration) -> i64 {
    i64::try_from(interval.as_millis())
        .unwrap_or(i64::MAX)
        .max(1)
}

/// Fires at every `interval` of event time while the window is open, and at its
/// end (Flink's `ContinuousEventTimeTrigger`).
pub struct ContinuousEventTimeTrigger<W> {
    interval: i64,
    fire_time: Option<WindowReducingState<W, i64>>,
}

impl<W> Clone for ContinuousEventTimeTrigger<W> {
    fn clone(&self) -> Self {
        ContinuousEventTimeTrigger {
            interval: self.interval,
            fire_time: self.fire_time.clone(),
        }
    }
}

impl<W: Window> ContinuousEventTimeTrigger<W> {
    /// Fires every `interval` of event time (at least 1 ms).
    pub fn of(interval: Duration) -> Self {
        ContinuousEventTimeTrigger {
            interval: interval_millis(interval),
            fire_time: None,
        }
    }

    fn state<K: Key>(
        &mut self,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<WindowReducingState<W, i64>, StateError> {
        if let Some(s) = &self.fire_time {
            return Ok(s.clone());
        }
        let s = ctx.get_partitioned_reducing_state(&fire_time_descriptor())?;
        self.fire_time = Some(s.clone());
        Ok(s)
    }

    fn register_next<K: Key>(
        &self,
        time: i64,
        window: &W,
        state: &WindowReducingState<W, i64>,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<(), BoxError> {
        let next = time
            .saturating_add(self.interval)
            .min(window.max_timestamp());
        state.add(ctx, next)?;
        ctx.register_event_time_timer(next);
        Ok(())
    }
}

impl<T, W: Window> Trigger<T, W> for ContinuousEventTimeTrigger<W> {
    fn on_element<K: Key>(
        &mut self,
        _element: &T,
        timestamp: Option<EventTime>,
        window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<TriggerResult, BoxError> {
        if window.max_timestamp() <= ctx.current_watermark().0 {
            return Ok(TriggerResult::Fire);
        }
        ctx.register_event_time_timer(window.max_timestamp());
        let state = self.state(ctx)?;
        if state.get(ctx)?.is_none() {
            let ts = timestamp.map_or(i64::MIN, EventTime::millis);
            self.register_next(ts - ts % self.interval, window, &state, ctx)?;
        }
        Ok(TriggerResult::Continue)
    }

    fn on_event_time<K: Key>(
        &mut self,
        time: i64,
        window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<TriggerResult, BoxError> {
        if time == window.max_timestamp() {
            return Ok(TriggerResult::Fire);
        }
        let state = self.state(ctx)?;
        if state.get(ctx)? == Some(time) {
            state.clear(ctx)?;
            self.register_next(time, window, &state, ctx)?;
            return Ok(TriggerResult::Fire);
        }
        Ok(TriggerResult::Continue)
    }

    fn on_processing_time<K: Key>(
        &mut self,
        _time: i64,
        _window: &W,
        _ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<TriggerResult, BoxError> {
        Ok(TriggerResult::Continue)
    }

    fn can_merge(&self) -> bool {
        true
    }

    fn on_merge<K: Key>(
        &mut self,
        _window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<(), BoxError> {
        let state = self.state(ctx)?;
        ctx.merge_partitioned_state(&state)?;
        if let Some(next) = state.get(ctx)? {
            ctx.register_event_time_timer(next);
        }
        Ok(())
    }

    fn clear<K: Key>(
        &mut self,
        _window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<(), BoxError> {
        let state = self.state(ctx)?;
        if let Some(at) = state.get(ctx)? {
            ctx.delete_event_time_timer(at);
            state.clear(ctx)?;
        }
        Ok(())
    }
}

/// Fires at every `interval` of processing time after a window's first element
/// (Flink's `ContinuousProcessingTimeTrigger`).
pub struct ContinuousProcessingTimeTrigger<W> {
    interval: i64,
    fire_time: Option<WindowReducingState<W, i64>>,
}

impl<W> Clone for ContinuousProcessingTimeTrigger<W> {
    fn clone(&self) -> Self {
        ContinuousProcessingTimeTrigger {
            interval: self.interval,
            fire_time: self.fire_time.clone(),
        }
    }
}

impl<W: Window> ContinuousProcessingTimeTrigger<W> {
    /// Fires every `interval` of processing time (at least 1 ms).
    pub fn of(interval: Duration) -> Self {
        ContinuousProcessingTimeTrigger {
            interval: interval_millis(interval),
            fire_time: None,
        }
    }

    fn state<K: Key>(
        &mut self,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<WindowReducingState<W, i64>, StateError> {
        if let Some(s) = &self.fire_time {
            return Ok(s.clone());
        }
        let s = ctx.get_partitioned_reducing_state(&fire_time_descriptor())?;
        self.fire_time = Some(s.clone());
        Ok(s)
    }

    fn register_next<K: Key>(
        &self,
        time: i64,
        window: &W,
        state: &WindowReducingState<W, i64>,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<(), BoxError> {
        let next = time
            .saturating_add(self.interval)
            .min(window.max_timestamp());
        state.add(ctx, next)?;
        ctx.register_processing_time_timer(next);
        Ok(())
    }
}

impl<T, W: Window> Trigger<T, W> for ContinuousProcessingTimeTrigger<W> {
    fn on_element<K: Key>(
        &mut self,
        _element: &T,
        _timestamp: Option<EventTime>,
        window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<TriggerResult, BoxError> {
        let state = self.state(ctx)?;
        if state.get(ctx)?.is_none() {
            let now = ctx.current_processing_time();
            self.register_next(now - now % self.interval, window, &state, ctx)?;
        }
        Ok(TriggerResult::Continue)
    }

    fn on_event_time<K: Key>(
        &mut self,
        _time: i64,
        _window: &W,
        _ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<TriggerResult, BoxError> {
        Ok(TriggerResult::Continue)
    }

    fn on_processing_time<K: Key>(
        &mut self,
        time: i64,
        window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<TriggerResult, BoxError> {
        let state = self.state(ctx)?;
        if state.get(ctx)? == Some(time) {
            state.clear(ctx)?;
            self.register_next(time, window, &state, ctx)?;
            return Ok(TriggerResult::Fire);
        }
        Ok(TriggerResult::Continue)
    }

    fn can_merge(&self) -> bool {
        true
    }

    fn on_merge<K: Key>(
        &mut self,
        _window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<(), BoxError> {
        let state = self.state(ctx)?;
        ctx.merge_partitioned_state(&state)?;
        if let Some(next) = state.get(ctx)? {
            ctx.register_processing_time_timer(next);
        }
        Ok(())
    }

    fn clear<K: Key>(
        &mut self,
        _window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<(), BoxError> {
        let state = self.state(ctx)?;
        if let Some(at) = state.get(ctx)? {
            ctx.delete_processing_time_timer(at);
            state.clear(ctx)?;
        }
        Ok(())
    }
}

/// The default trigger of [`GlobalWindows`](super::GlobalWindows): never fires
/// ([`GlobalWindows::create`](super::GlobalWindows::create)), or fires once at the
/// end of the input
/// ([`GlobalWindows::create_with_end_of_stream_trigger`](super::GlobalWindows::create_with_end_of_stream_trigger)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GlobalWindowsTrigger {
    /// Never fires: set another trigger (Flink's `NeverTrigger`).
    Never,
    /// Fires when the input ends (Flink's `EndOfStreamTrigger`).
    EndOfStream,
}

impl<T> Trigger<T, GlobalWindow> for GlobalWindowsTrigger {
    fn on_element<K: Key>(
        &mut self,
        _element: &T,
        _timestamp: Option<EventTime>,
        window: &GlobalWindow,
        ctx: &mut TriggerContext<'_, K, GlobalWindow>,
    ) -> Result<TriggerResult, BoxError> {
        if *self == GlobalWindowsTrigger::EndOfStream {
            ctx.register_event_time_timer(window.max_timestamp());
        }
        Ok(TriggerResult::Continue)
    }

    fn on_event_time<K: Key>(
        &mut self,
        time: i64,
        window: &GlobalWindow,
        _ctx: &mut TriggerContext<'_, K, GlobalWindow>,
    ) -> Result<TriggerResult, BoxError> {
        Ok(
            if *self == GlobalWindowsTrigger::EndOfStream && time == window.max_timestamp() {
                TriggerResult::Fire
            } else {
                TriggerResult::Continue
            },
        )
    }

    fn on_processing_time<K: Key>(
        &mut self,
        _time: i64,
        _window: &GlobalWindow,
        _ctx: &mut TriggerContext<'_, K, GlobalWindow>,
    ) -> Result<TriggerResult, BoxError> {
        Ok(TriggerResult::Continue)
    }

    fn clear<K: Key>(
        &mut self,
        _window: &GlobalWindow,
        _ctx: &mut TriggerContext<'_, K, GlobalWindow>,
    ) -> Result<(), BoxError> {
        Ok(())
    }
}
