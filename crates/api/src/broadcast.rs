//! The broadcast state pattern (C3, D4): a small stream (rules, configuration) is
//! broadcast to every parallel instance of an operator that processes a large
//! stream. The broadcast side writes the broadcast state; the other side only
//! reads it, which the context types enforce.
//!
//! Every instance receives every broadcast element, so the broadcast state stays
//! identical everywhere as long as `process_broadcast_element` updates it
//! deterministically.

use crate::functions::Collector;
use crate::keyed_functions::{KeyedContext, KeyedOpenContext};
use runnel_runtime::output::SideOutputs;
use runnel_runtime::time::ProcessingTimeService;
use runnel_runtime::{BoxError, OutputTag, RuntimeContext};
use runnel_state::{
    BroadcastState, BroadcastStateStore, KeyedStateAccess, KeyedStateStore, MapStateDescriptor,
    ReadOnlyBroadcastState, StateError,
};
use runnel_types::{Data, EventTime, Key, StreamRecord, Watermark};
use std::ops::{Deref, DerefMut};

/// What both sides of a broadcast process function see.
pub struct BroadcastContextBase<'a> {
    pub(crate) timestamp: Option<EventTime>,
    pub(crate) watermark: Watermark,
    pub(crate) time: &'a ProcessingTimeService,
    pub(crate) side: &'a mut SideOutputs,
    pub(crate) runtime: &'a RuntimeContext,
    pub(crate) broadcast: &'a mut BroadcastStateStore,
}

impl BroadcastContextBase<'_> {
    /// The record's timestamp.
    pub fn timestamp(&self) -> Option<EventTime> {
        self.timestamp
    }

    /// The operator's current watermark.
    pub fn current_watermark(&self) -> Watermark {
        self.watermark
    }

    /// Current processing time.
    pub fn current_processing_time(&self) -> i64 {
        self.time.now()
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

/// The context of the non-broadcast side: broadcast state is read-only.
pub struct ReadOnlyBroadcastContext<'a> {
    pub(crate) base: BroadcastContextBase<'a>,
}

impl ReadOnlyBroadcastContext<'_> {
    /// The broadcast state `descriptor` names, read-only.
    pub fn broadcast_state<K: Key, V: Data>(
        &mut self,
        descriptor: &MapStateDescriptor<K, V>,
    ) -> Result<ReadOnlyBroadcastState<'_, K, V>, StateError> {
        let handle = self.base.broadcast.get_broadcast_state(descriptor)?;
        self.base.broadcast.read(&handle)
    }
}

impl<'a> Deref for ReadOnlyBroadcastContext<'a> {
    type Target = BroadcastContextBase<'a>;
    fn deref(&self) -> &BroadcastContextBase<'a> {
        &self.base
    }
}

impl<'a> DerefMut for ReadOnlyBroadcastContext<'a> {
    fn deref_mut(&mut self) -> &mut BroadcastContextBase<'a> {
        &mut self.base
    }
}

/// The context of the broadcast side: broadcast state is writable.
pub struct BroadcastContext<'a> {
    pub(crate) base: BroadcastContextBase<'a>,
}

impl BroadcastContext<'_> {
    /// The broadcast state `descriptor` names, writable.
    pub fn broadcast_state<K: Key, V: Data>(
        &mut self,
        descriptor: &MapStateDescriptor<K, V>,
    ) -> Result<BroadcastState<'_, K, V>, StateError> {
        let handle = self.base.broadcast.get_broadcast_state(descriptor)?;
        self.base.broadcast.write(&handle)
    }
}

impl<'a> Deref for BroadcastContext<'a> {
    type Target = BroadcastContextBase<'a>;
    fn deref(&self) -> &BroadcastContextBase<'a> {
        &self.base
    }
}

impl<'a> DerefMut for BroadcastContext<'a> {
    fn deref_mut(&mut self) -> &mut BroadcastContextBase<'a> {
        &mut self.base
    }
}

/// The keyed side of a keyed broadcast function: everything of a
/// [`KeyedContext`] (current key, keyed state, timers) plus read-only broadcast state.
pub struct KeyedReadOnlyBroadcastContext<'a, K: Key> {
    pub(crate) keyed: KeyedContext<'a, K>,
    pub(crate) broadcast: &'a mut BroadcastStateStore,
}

impl<K: Key> KeyedReadOnlyBroadcastContext<'_, K> {
    /// The broadcast state `descriptor` names, read-only.
    pub fn broadcast_state<BK: Key, V: Data>(
        &mut self,
        descriptor: &MapStateDescriptor<BK, V>,
    ) -> Result<ReadOnlyBroadcastState<'_, BK, V>, StateError> {
        let handle = self.broadcast.get_broadcast_state(descriptor)?;
        self.broadcast.read(&handle)
    }
}

impl<'a, K: Key> Deref for KeyedReadOnlyBroadcastContext<'a, K> {
    type Target = KeyedContext<'a, K>;
    fn deref(&self) -> &KeyedContext<'a, K> {
        &self.keyed
    }
}

impl<'a, K: Key> DerefMut for KeyedReadOnlyBroadcastContext<'a, K> {
    fn deref_mut(&mut self) -> &mut KeyedContext<'a, K> {
        &mut self.keyed
    }
}

impl<K: Key> KeyedStateAccess for KeyedReadOnlyBroadcastContext<'_, K> {
    type Key = K;
    fn keyed_state(&mut self) -> &mut KeyedStateStore<K> {
        self.keyed.store
    }
}

/// A broadcast function over a non-keyed stream (Flink's `BroadcastProcessFunction`).
pub trait BroadcastProcessFunction<I, B, O>: Send + 'static {
    /// Called once per parallel instance before the first record.
    fn open(&mut self, _ctx: &RuntimeContext) -> Result<(), BoxError> {
        Ok(())
    }
    /// A record of the non-broadcast stream; broadcast state is read-only here.
    fn process_element(
        &mut self,
        value: I,
        ctx: &mut ReadOnlyBroadcastContext<'_>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError>;
    /// A broadcast record; broadcast state is writable here.
    fn process_broadcast_element(
        &mut self,
        value: B,
        ctx: &mut BroadcastContext<'_>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError>;
    /// Called once per parallel instance at the end.
    fn close(&mut self) -> Result<(), BoxError> {
        Ok(())
    }
}

/// A broadcast function over a keyed stream (Flink's
/// `KeyedBroadcastProcessFunction`): keyed state and timers on the keyed side.
pub trait KeyedBroadcastProcessFunction<K: Key, I, B, O>: Send + 'static {
    /// Called once per parallel instance before the first record.
    fn open(&mut self, _ctx: &mut KeyedOpenContext<'_, K>) -> Result<(), BoxError> {
        Ok(())
    }
    /// A record of the keyed stream; broadcast state is read-only here.
    fn process_element(
        &mut self,
        value: I,
        ctx: &mut KeyedReadOnlyBroadcastContext<'_, K>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError>;
    /// A broadcast record; broadcast state is writable here (there is no current
    /// key on this side).
    fn process_broadcast_element(
        &mut self,
        value: B,
        ctx: &mut BroadcastContext<'_>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError>;
    /// A timer of the current key fired.
    fn on_timer(
        &mut self,
        _timestamp: i64,
        _ctx: &mut KeyedReadOnlyBroadcastContext<'_, K>,
        _out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError> {
        Ok(())
    }
    /// Called once per parallel instance at the end.
    fn close(&mut self) -> Result<(), BoxError> {
        Ok(())
    }
}
