//! Window functions: what runs on a window's contents when it fires.
//!
//! `reduce` and `aggregate` fold elements into one accumulator per (key, window)
//! as they arrive; `process` and `apply` see every element (the window keeps them
//! all); `reduce_process` / `aggregate_process` hand the single pre-aggregated
//! value to a [`ProcessWindowFunction`].

use super::state::{
    WindowAggregatingState, WindowListState, WindowReducingState, WindowStateAccess,
    WindowValueState,
};
use super::window::Window;
use crate::functions::Collector;
use runnel_runtime::output::SideOutputs;
use runnel_runtime::time::ProcessingTimeService;
use runnel_runtime::{BoxError, OutputTag, RuntimeContext};
use runnel_state::{
    AggregatingStateDescriptor, KeyedStateAccess, KeyedStateStore, ListStateDescriptor,
    ReducingStateDescriptor, StateError, ValueStateDescriptor,
};
use runnel_types::{Data, EventTime, Key, StreamRecord, Watermark};

/// What a [`ProcessWindowFunction`] sees besides the elements: the window, the
/// time, per-window state (scoped to this key and window) and global state (the
/// key's keyed state, through [`KeyedStateRegistry`](crate::KeyedStateRegistry)),
/// and side outputs.
pub struct ProcessWindowContext<'a, K: Key, W: Window> {
    pub(crate) store: &'a mut KeyedStateStore<K>,
    pub(crate) window: W,
    pub(crate) watermark: Watermark,
    pub(crate) time: &'a ProcessingTimeService,
    pub(crate) side: &'a mut SideOutputs,
    pub(crate) runtime: &'a RuntimeContext,
    pub(crate) merging: bool,
}

impl<K: Key, W: Window> ProcessWindowContext<'_, K, W> {
    /// The window being evaluated.
    pub fn window(&self) -> &W {
        &self.window
    }

    /// The key being evaluated.
    pub fn current_key(&self) -> &K {
        self.store
            .current_key()
            .expect("the window operator sets the key before calling the function")
    }

    /// The operator's current watermark.
    pub fn current_watermark(&self) -> Watermark {
        self.watermark
    }

    /// Current processing time (epoch ms).
    pub fn current_processing_time(&self) -> i64 {
        self.time.now()
    }

    /// The instance's runtime context.
    pub fn runtime_context(&self) -> &RuntimeContext {
        self.runtime
    }

    /// Emits `value` to a side output, stamped with the window's max timestamp.
    pub fn output<X: Data>(&mut self, tag: &OutputTag<X>, value: X) {
        let timestamp = Some(EventTime::from_millis(self.window.max_timestamp()));
        self.side.collect(tag, StreamRecord { value, timestamp });
    }

    fn check_not_merging(&self, name: &str) -> Result<(), StateError> {
        if self.merging {
            return Err(StateError::Unsupported {
                state: name.to_string(),
                what: "per-window state is not allowed when using merging windows".to_string(),
            });
        }
        Ok(())
    }

    /// A value scoped to this key and window (cleared by you, in
    /// [`ProcessWindowFunction::clear`]). Not available for merging windows.
    pub fn get_window_state<T: Data>(
        &mut self,
        descriptor: &ValueStateDescriptor<T>,
    ) -> Result<WindowValueState<W, T>, StateError> {
        self.check_not_merging(descriptor.name())?;
        WindowValueState::register(self.store, descriptor)
    }

    /// A list scoped to this key and window.
    pub fn get_window_list_state<T: Data>(
        &mut self,
        descriptor: &ListStateDescriptor<T>,
    ) -> Result<WindowListState<W, T>, StateError> {
        self.check_not_merging(descriptor.name())?;
        WindowListState::register(self.store, descriptor)
    }

    /// A reducing value scoped to this key and window.
    pub fn get_window_reducing_state<T: Data>(
        &mut self,
        descriptor: &ReducingStateDescriptor<T>,
    ) -> Result<WindowReducingState<W, T>, StateError> {
        self.check_not_merging(descriptor.name())?;
        WindowReducingState::register(self.store, descriptor)
    }

    /// An aggregating value scoped to this key and window.
    pub fn get_window_aggregating_state<IN: Data, ACC: Data, OUT: Data>(
        &mut self,
        descriptor: &AggregatingStateDescriptor<IN, ACC, OUT>,
    ) -> Result<WindowAggregatingState<W, IN, ACC, OUT>, StateError> {
        self.check_not_merging(descriptor.name())?;
        WindowAggregatingState::register(self.store, descriptor)
    }
}

impl<K: Key, W: Window> KeyedStateAccess for ProcessWindowContext<'_, K, W> {
    type Key = K;
    fn keyed_state(&mut self) -> &mut KeyedStateStore<K> {
        self.store
    }
}

impl<K: Key, W: Window> WindowStateAccess<W> for ProcessWindowContext<'_, K, W> {
    fn state_window(&self) -> W {
        self.window.clone()
    }
}

/// Processes a fired window's elements with its context (Flink's
/// `ProcessWindowFunction`). Output records carry the window's max timestamp.
pub trait ProcessWindowFunction<K: Key, IN, OUT, W: Window>: Send + 'static {
    /// Called once per parallel instance before the first window.
    fn open(&mut self, _ctx: &RuntimeContext) -> Result<(), BoxError> {
        Ok(())
    }

    /// Evaluates a window: `elements` are its elements in arrival order, or the
    /// single pre-aggregated value after `reduce_process` / `aggregate_process`.
    fn process(
        &mut self,
        key: &K,
        ctx: &mut ProcessWindowContext<'_, K, W>,
        elements: &[IN],
        out: &mut Collector<'_, OUT>,
    ) -> Result<(), BoxError>;

    /// The window is purged for good: clear the per-window state you kept.
    fn clear(&mut self, _ctx: &mut ProcessWindowContext<'_, K, W>) -> Result<(), BoxError> {
        Ok(())
    }

    /// Called once per parallel instance at the end.
    fn close(&mut self) -> Result<(), BoxError> {
        Ok(())
    }
}

/// Evaluates a fired window from its key, the window and the elements (Flink's
/// `WindowFunction`, used by `apply`).
pub trait WindowFunction<K, IN, OUT, W>: Send + 'static {
    /// Called once per parallel instance before the first window.
    fn open(&mut self, _ctx: &RuntimeContext) -> Result<(), BoxError> {
        Ok(())
    }

    /// Evaluates a window.
    fn apply(
        &mut self,
        key: &K,
        window: &W,
        elements: &[IN],
        out: &mut Collector<'_, OUT>,
    ) -> Result<(), BoxError>;

    /// Called once per parallel instance at the end.
    fn close(&mut self) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<K, IN, OUT, W, F> WindowFunction<K, IN, OUT, W> for F
where
    F: FnMut(&K, &W, &[IN], &mut Collector<'_, OUT>) + Send + 'static,
{
    fn apply(
        &mut self,
        key: &K,
        window: &W,
        elements: &[IN],
        out: &mut Collector<'_, OUT>,
    ) -> Result<(), BoxError> {
        self(key, window, elements, out);
        Ok(())
    }
}
