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
use super::window::Window;
use runnel_runtime::BoxError;
use runnel_runtime::time::ProcessingTimeService;
use runnel_runtime::timers::InternalTimerService;
use runnel_state::{
    AggregatingStateDescriptor, KeyedStateAccess, KeyedStateStore, ListStateDescriptor,
    ReducingStateDescriptor, StateError, ValueStateDescriptor,
};
use runnel_types::{Data, EventTime, Key, Watermark};

mod continuous;
mod count;
mod time;

pub use continuous::{ContinuousEventTimeTrigger, ContinuousProcessingTimeTrigger};
pub use count::{CountTrigger, PurgingTrigger};
pub use time::{EventTimeTrigger, GlobalWindowsTrigger, ProcessingTimeTrigger};

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
