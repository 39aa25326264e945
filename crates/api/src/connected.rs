//! `ConnectedStreams`: two streams of different types processed by one operator
//! that sees both (and may share state between them).

use crate::datastream::{DataStream, SingleOutputStreamOperator, two_input_spec};
use crate::functions::{
    CoFlatMapFns, CoFlatMapFunction, CoMapFns, CoMapFunction, CoProcessFunction, Collector,
};
use crate::operators::co::{CoProcessOperator, CoStreamFlatMap, CoStreamMap};
use crate::prototype::Prototype;
use runnel_runtime::environment::{NodeFactory, OutputPort, SidePorts};
use runnel_runtime::nodes::TwoInputNode;
use runnel_runtime::{BoxError, OperatorParameters, TwoInputOperator};
use runnel_types::{Data, Key};
use std::sync::Arc;

/// Two connected streams (`first.connect(&second)`).
pub struct ConnectedStreams<A, B> {
    first: DataStream<A>,
    second: DataStream<B>,
    keyed: bool,
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
    /// meet in the same parallel instance.
    pub fn key_by<K: Key, F1, F2>(&self, key1: F1, key2: F2) -> ConnectedStreams<A, B>
    where
        F1: Fn(&A) -> K + Clone + Send + Sync + 'static,
        F2: Fn(&B) -> K + Clone + Send + Sync + 'static,
    {
        let first: DataStream<A> = (*self.first.key_by(key1)).clone();
        let second: DataStream<B> = (*self.second.key_by(key2)).clone();
        ConnectedStreams {
            first,
            second,
            keyed: true,
        }
    }

    fn add_two_input<Op, M>(&self, name: &str, make: M) -> SingleOutputStreamOperator<Op::Out>
    where
        Op: TwoInputOperator<In1 = A, In2 = B>,
        M: Fn(&OperatorParameters) -> Result<Op, BoxError> + Send + Sync + 'static,
    {
        let env = self.first.env().clone();
        let port = Arc::new(OutputPort::default());
        let side = Arc::new(SidePorts::default());
        let keyed = self.keyed;
        let id = env.graph(|g| {
            let id = g.next_node_id();
            let node = Arc::new(TwoInputNode::new(id, make, port.clone(), side.clone()));
            g.add_node(
                two_input_spec(name, name, keyed),
                node as Arc<dyn NodeFactory>,
            )
        });
        self.first.connect_to(id, 0, None);
        self.second.connect_to(id, 1, None);
        SingleOutputStreamOperator::new(env, id, port, side)
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
        self.add_two_input("Co-Map", move |_| Ok(CoStreamMap::new(f.instance())))
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
        self.add_two_input("Co-Flat Map", move |_| {
            Ok(CoStreamFlatMap::new(f.instance()))
        })
    }

    /// Processes both inputs with a [`CoProcessFunction`].
    pub fn process<O: Data, F: CoProcessFunction<A, B, O> + Clone>(
        &self,
        f: F,
    ) -> SingleOutputStreamOperator<O> {
        let f = Prototype::new(f);
        self.add_two_input("Co-Process", move |ctx| {
            Ok(CoProcessOperator::new(f.instance(), ctx.runtime().clone()))
        })
    }
}
