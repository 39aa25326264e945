//! `KeyedStream`: a stream partitioned by key, and the per-key operations on it.

use crate::broadcast_streams::{BroadcastStream, KeyedBroadcastConnectedStream};
use crate::datastream::{DataStream, SingleOutputStreamOperator};
use crate::functions::ReduceFunction;
use crate::keyed_functions::KeyedProcessFunction;
use crate::operators::aggregation::{Max, MaxBy, Min, MinBy, Sum};
use crate::operators::keyed_process::KeyedProcessOperator;
use crate::operators::reduce::KeyedReduce;
use crate::prototype::Prototype;
use runnel_runtime::partitioning::KeySelector;
use runnel_types::Data;
use std::ops::{Add, Deref};

/// A stream whose records are routed by key: all records with one key reach the
/// same parallel instance, in order. Dereferences to [`DataStream`] (a
/// transformation on it is applied after the key partitioning).
pub struct KeyedStream<T, KS> {
    stream: DataStream<T>,
    key_selector: KS,
}

impl<T, KS: Clone> Clone for KeyedStream<T, KS> {
    fn clone(&self) -> Self {
        KeyedStream {
            stream: self.stream.clone(),
            key_selector: self.key_selector.clone(),
        }
    }
}

impl<T, KS> Deref for KeyedStream<T, KS> {
    type Target = DataStream<T>;
    fn deref(&self) -> &DataStream<T> {
        &self.stream
    }
}

impl<T: Data, KS: KeySelector<T> + Sync> KeyedStream<T, KS> {
    pub(crate) fn new(stream: DataStream<T>, key_selector: KS) -> Self {
        KeyedStream {
            stream,
            key_selector,
        }
    }

    /// The key selector.
    pub fn key_selector(&self) -> &KS {
        &self.key_selector
    }

    /// Rolling reduce: emits, for every record, the accumulation of its key so far
    /// (the first record of a key as is).
    pub fn reduce<F>(&self, f: F) -> SingleOutputStreamOperator<T>
    where
        F: FnMut(T, T) -> T + Clone + Send + 'static,
    {
        self.reduce_named(f, "Keyed Reduce")
    }

    /// Like [`KeyedStream::reduce`], with a [`ReduceFunction`].
    pub fn reduce_with<F: ReduceFunction<T> + Clone>(&self, f: F) -> SingleOutputStreamOperator<T> {
        self.reduce_named(f, "Keyed Reduce")
    }

    fn reduce_named<F: ReduceFunction<T> + Clone>(
        &self,
        f: F,
        name: &str,
    ) -> SingleOutputStreamOperator<T> {
        let f = Prototype::new(f);
        let ks = self.key_selector.clone();
        self.stream.add_one_input(name, name, true, move |p| {
            KeyedReduce::new(ks.clone(), f.instance(), p)
        })
    }

    /// Processes the keyed stream with a [`KeyedProcessFunction`]: keyed state,
    /// event-time and processing-time timers, side outputs.
    pub fn process<O: Data, F>(&self, f: F) -> SingleOutputStreamOperator<O>
    where
        F: KeyedProcessFunction<KS::Key, T, O> + Clone,
    {
        let f = Prototype::new(f);
        let ks = self.key_selector.clone();
        self.stream
            .add_one_input("KeyedProcess", "KeyedProcess", true, move |p| {
                KeyedProcessOperator::new(ks.clone(), f.instance(), p)
            })
    }

    /// Connects this keyed stream to a broadcast stream, for a
    /// [`KeyedBroadcastProcessFunction`](crate::KeyedBroadcastProcessFunction).
    pub fn connect_broadcast<B: Data>(
        &self,
        broadcast: &BroadcastStream<B>,
    ) -> KeyedBroadcastConnectedStream<T, B, KS> {
        KeyedBroadcastConnectedStream::new(self.clone(), broadcast.clone())
    }

    /// Rolling sum of the field `field` selects, kept in the first record of each key.
    ///
    /// ```
    /// # use runnel_api::StreamExecutionEnvironment;
    /// let env = StreamExecutionEnvironment::local();
    /// let words = env.from_elements(vec![("a".to_string(), 1u64), ("a".to_string(), 2)]);
    /// words.key_by(|(w, _)| w.clone()).sum(|(_, count)| count).print(); // ("a", 1), ("a", 3)
    /// # env.execute("sum").unwrap();
    /// ```
    pub fn sum<V, F>(&self, field: F) -> SingleOutputStreamOperator<T>
    where
        F: Fn(&mut T) -> &mut V + Clone + Send + 'static,
        V: Add<Output = V> + Clone,
    {
        self.reduce_named(Sum(field), "Keyed Aggregation")
    }

    /// Rolling minimum of a field. Only the field is updated; the other fields keep
    /// the values of the key's first record (use [`KeyedStream::min_by`] for the
    /// whole record).
    pub fn min<V, F>(&self, field: F) -> SingleOutputStreamOperator<T>
    where
        F: Fn(&mut T) -> &mut V + Clone + Send + 'static,
        V: PartialOrd + Clone,
    {
        self.reduce_named(Min(field), "Keyed Aggregation")
    }

    /// Rolling maximum of a field. Only the field is right; the other fields keep
    /// the values of the key's first record (use [`KeyedStream::max_by`] for the
    /// whole record).
    pub fn max<V, F>(&self, field: F) -> SingleOutputStreamOperator<T>
    where
        F: Fn(&mut T) -> &mut V + Clone + Send + 'static,
        V: PartialOrd + Clone,
    {
        self.reduce_named(Max(field), "Keyed Aggregation")
    }

    /// The record with the smallest field value so far (the earlier on ties).
    pub fn min_by<V, F>(&self, field: F) -> SingleOutputStreamOperator<T>
    where
        F: Fn(&T) -> V + Clone + Send + 'static,
        V: PartialOrd,
    {
        self.reduce_named(MinBy(field), "Keyed Aggregation")
    }

    /// The record with the largest field value so far (the earlier on ties).
    pub fn max_by<V, F>(&self, field: F) -> SingleOutputStreamOperator<T>
    where
        F: Fn(&T) -> V + Clone + Send + 'static,
        V: PartialOrd,
    {
        self.reduce_named(MaxBy(field), "Keyed Aggregation")
    }
}
