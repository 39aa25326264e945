//! Streams of the broadcast state pattern: `stream.broadcast_with(&descriptor)`
//! gives a [`BroadcastStream`]; `other.connect_broadcast(&it)` pairs it with a data
//! stream (keyed or not) for a broadcast process function.

use crate::broadcast::{BroadcastProcessFunction, KeyedBroadcastProcessFunction};
use crate::connected::add_two_input;
use crate::datastream::{DataStream, SingleOutputStreamOperator};
use crate::keyed::KeyedStream;
use crate::operators::broadcast::{
    BroadcastProcessOperator, BroadcastRegistration, KeyedBroadcastProcessOperator,
};
use crate::prototype::Prototype;
use runnel_runtime::partitioning::KeySelector;
use runnel_state::MapStateDescriptor;
use runnel_types::{Data, Key};
use std::sync::Arc;

/// A stream broadcast to every parallel instance of the operator it is connected
/// to, together with the broadcast states that operator holds.
pub struct BroadcastStream<B> {
    pub(crate) stream: DataStream<B>,
    pub(crate) registrations: Vec<BroadcastRegistration>,
}

impl<B> Clone for BroadcastStream<B> {
    fn clone(&self) -> Self {
        BroadcastStream {
            stream: self.stream.clone(),
            registrations: self.registrations.clone(),
        }
    }
}

impl<B: Data> BroadcastStream<B> {
    pub(crate) fn new<K: Key, V: Data>(
        stream: DataStream<B>,
        descriptor: &MapStateDescriptor<K, V>,
    ) -> Self {
        BroadcastStream {
            stream,
            registrations: Vec::new(),
        }
        .and(descriptor)
    }

    /// Declares one more broadcast state (Flink accepts several descriptors).
    pub fn and<K: Key, V: Data>(mut self, descriptor: &MapStateDescriptor<K, V>) -> Self {
        let descriptor = descriptor.clone();
        self.registrations.push(Arc::new(move |store| {
            store.get_broadcast_state(&descriptor).map(|_| ())
        }));
        self
    }
}

/// A data stream connected to a broadcast stream.
pub struct BroadcastConnectedStream<A, B> {
    data: DataStream<A>,
    broadcast: BroadcastStream<B>,
}

impl<A: Data, B: Data> BroadcastConnectedStream<A, B> {
    pub(crate) fn new(data: DataStream<A>, broadcast: BroadcastStream<B>) -> Self {
        BroadcastConnectedStream { data, broadcast }
    }

    /// Processes both with a [`BroadcastProcessFunction`].
    pub fn process<O: Data, F: BroadcastProcessFunction<A, B, O> + Clone>(
        &self,
        f: F,
    ) -> SingleOutputStreamOperator<O> {
        let f = Prototype::new(f);
        let registrations = self.broadcast.registrations.clone();
        add_two_input(
            &self.data,
            &self.broadcast.stream,
            "Co-Process-Broadcast",
            false,
            move |p| BroadcastProcessOperator::new(f.instance(), &registrations, p),
        )
    }
}

/// A keyed stream connected to a broadcast stream.
pub struct KeyedBroadcastConnectedStream<A, B, KS> {
    data: KeyedStream<A, KS>,
    broadcast: BroadcastStream<B>,
}

impl<A: Data, B: Data, KS: KeySelector<A> + Sync> KeyedBroadcastConnectedStream<A, B, KS> {
    pub(crate) fn new(data: KeyedStream<A, KS>, broadcast: BroadcastStream<B>) -> Self {
        KeyedBroadcastConnectedStream { data, broadcast }
    }

    /// Processes both with a [`KeyedBroadcastProcessFunction`].
    pub fn process<O: Data, F>(&self, f: F) -> SingleOutputStreamOperator<O>
    where
        F: KeyedBroadcastProcessFunction<KS::Key, A, B, O> + Clone,
    {
        let f = Prototype::new(f);
        let registrations = self.broadcast.registrations.clone();
        let ks = self.data.key_selector().clone();
        add_two_input(
            &self.data,
            &self.broadcast.stream,
            "Co-Process-Broadcast-Keyed",
            true,
            move |p| {
                KeyedBroadcastProcessOperator::new(ks.clone(), f.instance(), &registrations, p)
            },
        )
    }
}
