//! `ConnectedStreams`: two streams of different types processed by one operator
//! that sees both (and may share state between them).

use crate::datastream::{DataStream, SingleOutputStreamOperator, two_input_spec};
use crate::functions::{
    CoFlatMapFns, CoFlatMapFunction, CoMapFns, CoMapFunction, CoProcessFunction, Collector,
};
use crate::keyed_functions::KeyedCoProcessFunction;
use crate::operators::co::{CoProcessOperator, CoStreamFlatMap, CoStreamMap};
use crate::operators::keyed_process::KeyedCoProcessOperator;
use crate::prototype::Prototype;
use runnel_runtime::environment::{NodeFactory, OutputPort, SidePorts};
use runnel_runtime::nodes::TwoInputNode;
use runnel_runtime::partitioning::KeySelector;
use runnel_runtime::{BoxError, OperatorParameters, TwoInputOperator};
use runnel_types::{Data, Key};
use std::sync::Arc;

/// Two connected streams (`first.connect(&second)`).
pub struct ConnectedStreams<A, B> {
    first: DataStream<A>,
    second: DataStream<B>,
    /// Whether both inputs are partitioned by key (after `key_by`).
    keyed: bool,
}

/// Adds a two-input operator consuming `first` and `second`.
pub(crate) fn add_two_input<A: Data, B: Data, Op, M>(
    first: &DataStream<A>,
    second: &DataStream<B>,
    name: &str,
    keyed: bool,
    make: M,
) -> SingleOutputStreamOperator<Op::Out>
where
    Op: TwoInputOperator<In1 = A, In2 = B>,
    M: Fn(&OperatorParameters) -> Result<Op, BoxError> + Send + Sync + 'static,
{
    let env = first.env().clone();
    let port = Arc::new(OutputPort::default());
    let side = Arc::new(SidePorts::default());
    let id = env.graph(|g| {
        let id = g.next_node_id();
        let node = Arc::new(TwoInputNode::new(id, make, port.clone(), side.clone()));
        g.add_node(
            two_input_spec(name, name, keyed),
            node as Arc<dyn NodeFactory>,
        )
    });
    first.connect_to(id, 0, None);
    second.connect_to(id, 1, None);
    SingleOutputStreamOperator::new(env, id, port, side)
}

impl<A: Data, B: Data> ConnectedStreams<A, B> {
    pub(crate) fn new(first: DataStream<A>, second: DataStream<B>) -> Self {
        ConnectedStreams {
            first,
            second,
            keyed: false,
        }
    }

    /// Partitions both inputs by key, so records with equal keys from either side
    /// meet in the same parallel instance, which can keep keyed state and timers
    /// for them ([`KeyedConnectedStreams::process`]).
    pub fn key_by<K: Key, F1, F2>(&self, key1: F1, key2: F2) -> KeyedConnectedStreams<A, B, F1, F2>
    where
        F1: Fn(&A) -> K + Clone + Send + Sync + 'static,
        F2: Fn(&B) -> K + Clone + Send + Sync + 'static,
    {
        let first: DataStream<A> = (*self.first.key_by(key1.clone())).clone();
        let second: DataStream<B> = (*self.second.key_by(key2.clone())).clone();
        KeyedConnectedStreams {
            streams: ConnectedStreams {
                first,
                second,
                keyed: true,
            },
            key1,
            key2,
        }
    }

    /// Maps each input with its own closure to a common output type (Flink's
    /// `CoMapFunction`).
    pub fn map<O: Data, F1, F2>(&self, map1: F1, map2: F2) -> SingleOutputStreamOperator<O>
    where
        F1: FnMut(A) -> O + Clone + Send + 'static,
        F2: FnMut(B) -> O + Clone + Send + 'static,
    {
        self.map_with(CoMapFns(map1, map2))
    }

    /// Maps both inputs with a [`CoMapFunction`].
    pub fn map_with<O: Data, F: CoMapFunction<A, B, O> + Clone>(
        &self,
        f: F,
    ) -> SingleOutputStreamOperator<O> {
        let f = Prototype::new(f);
        add_two_input(&self.first, &self.second, "Co-Map", self.keyed, move |_| {
            Ok(CoStreamMap::new(f.instance()))
        })
    }

    /// Flat-maps each input with its own closure (Flink's `CoFlatMapFunction`).
    pub fn flat_map<O: Data, F1, F2>(
        &self,
        flat_map1: F1,
        flat_map2: F2,
    ) -> SingleOutputStreamOperator<O>
    where
        F1: FnMut(A, &mut Collector<'_, O>) + Clone + Send + 'static,
        F2: FnMut(B, &mut Collector<'_, O>) + Clone + Send + 'static,
    {
        self.flat_map_with(CoFlatMapFns(flat_map1, flat_map2))
    }

    /// Flat-maps both inputs with a [`CoFlatMapFunction`].
    pub fn flat_map_with<O: Data, F: CoFlatMapFunction<A, B, O> + Clone>(
        &self,
        f: F,
    ) -> SingleOutputStreamOperator<O> {
        let f = Prototype::new(f);
        add_two_input(
            &self.first,
            &self.second,
            "Co-Flat Map",
            self.keyed,
            move |_| Ok(CoStreamFlatMap::new(f.instance())),
        )
    }

    /// Processes both inputs with a [`CoProcessFunction`].
    pub fn process<O: Data, F: CoProcessFunction<A, B, O> + Clone>(
        &self,
        f: F,
    ) -> SingleOutputStreamOperator<O> {
        let f = Prototype::new(f);
        add_two_input(&self.first, &self.second, "Co-Process", false, move |p| {
            Ok(CoProcessOperator::new(f.instance(), p.runtime().clone()))
        })
    }
}

/// Two connected streams partitioned by key (`connect(..).key_by(k1, k2)`).
pub struct KeyedConnectedStreams<A, B, KS1, KS2> {
    streams: ConnectedStreams<A, B>,
    key1: KS1,
    key2: KS2,
}

impl<A, B, KS1, KS2> KeyedConnectedStreams<A, B, KS1, KS2>
where
    A: Data,
    B: Data,
    KS1: KeySelector<A> + Sync,
    KS2: KeySelector<B, Key = KS1::Key> + Sync,
{
    /// Maps each input with its own closure; records of a key meet in one instance.
    pub fn map<O: Data, F1, F2>(&self, map1: F1, map2: F2) -> SingleOutputStreamOperator<O>
    where
        F1: FnMut(A) -> O + Clone + Send + 'static,
        F2: FnMut(B) -> O + Clone + Send + 'static,
    {
        self.streams.map(map1, map2)
    }

    /// Maps both inputs with a [`CoMapFunction`].
    pub fn map_with<O: Data, F: CoMapFunction<A, B, O> + Clone>(
        &self,
        f: F,
    ) -> SingleOutputStreamOperator<O> {
        self.streams.map_with(f)
    }

    /// Flat-maps each input with its own closure.
    pub fn flat_map<O: Data, F1, F2>(
        &self,
        flat_map1: F1,
        flat_map2: F2,
    ) -> SingleOutputStreamOperator<O>
    where
        F1: FnMut(A, &mut Collector<'_, O>) + Clone + Send + 'static,
        F2: FnMut(B, &mut Collector<'_, O>) + Clone + Send + 'static,
    {
        self.streams.flat_map(flat_map1, flat_map2)
    }

    /// Flat-maps both inputs with a [`CoFlatMapFunction`].
    pub fn flat_map_with<O: Data, F: CoFlatMapFunction<A, B, O> + Clone>(
        &self,
        f: F,
    ) -> SingleOutputStreamOperator<O> {
        self.streams.flat_map_with(f)
    }

    /// Processes both inputs with a [`KeyedCoProcessFunction`]: keyed state shared
    /// by both inputs, and timers.
    pub fn process<O: Data, F>(&self, f: F) -> SingleOutputStreamOperator<O>
    where
        F: KeyedCoProcessFunction<KS1::Key, A, B, O> + Clone,
    {
        let f = Prototype::new(f);
        let (k1, k2) = (self.key1.clone(), self.key2.clone());
        add_two_input(
            &self.streams.first,
            &self.streams.second,
            "KeyedCo-Process",
            true,
            move |p| KeyedCoProcessOperator::new(k1.clone(), k2.clone(), f.instance(), p),
        )
    }
}
