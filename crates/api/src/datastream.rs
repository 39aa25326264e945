//! `DataStream`: a stream of records of one type, and the transformations on it.

use crate::broadcast_streams::{BroadcastConnectedStream, BroadcastStream};
use crate::connected::ConnectedStreams;
use crate::environment::StreamExecutionEnvironment;
use crate::functions::{Collector, FilterFunction, FlatMapFunction, MapFunction, ProcessFunction};
use crate::keyed::KeyedStream;
use crate::operators::map::{StreamFilter, StreamFlatMap, StreamMap};
use crate::operators::process::ProcessOperator;
use crate::prototype::Prototype;
use runnel_connectors::{FileSink, PrintSink, TextFileSink, WriteMode};
use runnel_plan::{ChainingStrategy, EdgeSpec, NodeKind, NodeSpec, Partitioner, SideOutputRef};
use runnel_runtime::environment::{
    ChainableNode, CustomWriters, KeyedWriters, NodeFactory, OutputPort, PortEdge, SidePort,
    SidePorts, StandardWriters, WriterFactory,
};
use runnel_runtime::function_state::FunctionState;
use runnel_runtime::nodes::OneInputNode;
use runnel_runtime::partitioning::Partitioner as UserPartitioner;
use runnel_runtime::sink::{SinkFunction, SinkOperator};
use runnel_runtime::two_phase_commit::{TwoPhaseCommitSink, TwoPhaseCommitSinkOperator};
use runnel_runtime::watermark::{TimestampsAndWatermarksOperator, WatermarkStrategyFor};
use runnel_runtime::write_ahead::{WriteAheadSink, WriteAheadSinkOperator};
use runnel_runtime::{BoxError, OneInputOperator, OperatorParameters, OutputTag};
use runnel_state::MapStateDescriptor;
use runnel_types::{Data, Key, NodeId};
use std::fmt::{Debug, Display};
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Arc;

/// How one upstream output feeds this stream's consumers.
pub(crate) enum Partitioning<T> {
    /// Forward at equal parallelism, rebalance otherwise.
    Default,
    /// An explicit partitioner and the writers that implement it.
    Explicit(Partitioner, Arc<dyn WriterFactory<T>>),
}

impl<T> Clone for Partitioning<T> {
    fn clone(&self) -> Self {
        match self {
            Partitioning::Default => Partitioning::Default,
            Partitioning::Explicit(p, w) => Partitioning::Explicit(*p, w.clone()),
        }
    }
}

/// One upstream output a stream consists of.
pub(crate) struct StreamInput<T> {
    pub(crate) node: NodeId,
    pub(crate) port: Arc<OutputPort<T>>,
    pub(crate) side_output: Option<SideOutputRef>,
    pub(crate) partitioning: Partitioning<T>,
}

impl<T> Clone for StreamInput<T> {
    fn clone(&self) -> Self {
        StreamInput {
            node: self.node,
            port: self.port.clone(),
            side_output: self.side_output.clone(),
            partitioning: self.partitioning.clone(),
        }
    }
}

/// A stream of records of type `T`.
///
/// Cheap to clone; using a stream twice feeds both consumers with every record
/// (fan-out).
pub struct DataStream<T> {
    pub(crate) env: StreamExecutionEnvironment,
    pub(crate) inputs: Vec<StreamInput<T>>,
}

impl<T> Clone for DataStream<T> {
    fn clone(&self) -> Self {
        DataStream {
            env: self.env.clone(),
            inputs: self.inputs.clone(),
        }
    }
}

impl<T: Data> DataStream<T> {
    pub(crate) fn from_port(
        env: StreamExecutionEnvironment,
        node: NodeId,
        port: Arc<OutputPort<T>>,
        side_output: Option<SideOutputRef>,
    ) -> Self {
        DataStream {
            env,
            inputs: vec![StreamInput {
                node,
                port,
                side_output,
                partitioning: Partitioning::Default,
            }],
        }
    }

    /// The environment this stream belongs to.
    pub fn env(&self) -> &StreamExecutionEnvironment {
        &self.env
    }

    /// Connects every upstream output of this stream to input `input` of `target`.
    pub(crate) fn connect_to(
        &self,
        target: NodeId,
        input: u8,
        chainable: Option<Arc<dyn ChainableNode<T>>>,
    ) {
        self.env.graph(|g| {
            for i in &self.inputs {
                let (partitioner, writers): (Option<Partitioner>, Arc<dyn WriterFactory<T>>) =
                    match &i.partitioning {
                        Partitioning::Default => (None, Arc::new(StandardWriters)),
                        Partitioning::Explicit(p, w) => (Some(*p), w.clone()),
                    };
                let edge = g.add_edge(EdgeSpec {
                    source: i.node,
                    target,
                    partitioner,
                    input,
                    side_output: i.side_output.clone(),
                });
                i.port.connect(PortEdge {
                    edge,
                    target: chainable.clone(),
                    writers,
                });
            }
        });
    }

    fn with_partitioning(
        &self,
        partitioner: Partitioner,
        writers: Arc<dyn WriterFactory<T>>,
    ) -> DataStream<T> {
        let mut s = self.clone();
        for i in &mut s.inputs {
            i.partitioning = Partitioning::Explicit(partitioner, writers.clone());
        }
        s
    }

    /// Adds a one-input operator consuming this stream. `make` creates the
    /// operator of each parallel instance. This is how every transformation is
    /// built; use it for operators of your own.
    pub fn transform<Op, M>(
        &self,
        name: &str,
        operator: &str,
        make: M,
    ) -> SingleOutputStreamOperator<Op::Out>
    where
        Op: OneInputOperator<In = T>,
        M: Fn(&OperatorParameters) -> Result<Op, BoxError> + Send + Sync + 'static,
    {
        self.add_one_input(name, operator, false, make)
    }

    pub(crate) fn add_one_input<Op, M>(
        &self,
        name: &str,
        operator: &str,
        keyed: bool,
        make: M,
    ) -> SingleOutputStreamOperator<Op::Out>
    where
        Op: OneInputOperator<In = T>,
        M: Fn(&OperatorParameters) -> Result<Op, BoxError> + Send + Sync + 'static,
    {
        let port = Arc::new(OutputPort::default());
        let side = Arc::new(SidePorts::default());
        let (id, node) = self.env.graph(|g| {
            let id = g.next_node_id();
            let node = Arc::new(OneInputNode::new(id, make, port.clone(), side.clone()));
            g.add_node(
                operator_spec(name, operator, NodeKind::OneInput, keyed),
                node.clone() as Arc<dyn NodeFactory>,
            );
            (id, node)
        });
        self.connect_to(id, 0, Some(node as Arc<dyn ChainableNode<T>>));
        SingleOutputStreamOperator::new(self.env.clone(), id, port, side)
    }

    /// Transforms every record with a closure.
    pub fn map<O: Data, F>(&self, f: F) -> SingleOutputStreamOperator<O>
    where
        F: FnMut(T) -> O + Clone + Send + 'static,
    {
        self.map_with(f)
    }

    /// Transforms every record with a [`MapFunction`] (a rich function with
    /// `open`/`close`).
    pub fn map_with<O: Data, F: MapFunction<T, O> + Clone>(
        &self,
        f: F,
    ) -> SingleOutputStreamOperator<O> {
        let f = Prototype::new(f);
        self.add_one_input("Map", "Map", false, move |p| {
            Ok(StreamMap::new(f.instance()).with_function_state(FunctionState::restore(p)?))
        })
    }

    /// Turns every record into zero or more records, emitted through the collector.
    pub fn flat_map<O: Data, F>(&self, f: F) -> SingleOutputStreamOperator<O>
    where
        F: FnMut(T, &mut Collector<'_, O>) + Clone + Send + 'static,
    {
        self.flat_map_with(f)
    }

    /// Like [`DataStream::flat_map`], with a [`FlatMapFunction`].
    pub fn flat_map_with<O: Data, F: FlatMapFunction<T, O> + Clone>(
        &self,
        f: F,
    ) -> SingleOutputStreamOperator<O> {
        let f = Prototype::new(f);
        self.add_one_input("Flat Map", "Flat Map", false, move |p| {
            Ok(StreamFlatMap::new(f.instance()).with_function_state(FunctionState::restore(p)?))
        })
    }

    /// Keeps the records for which the closure returns true.
    pub fn filter<F>(&self, f: F) -> SingleOutputStreamOperator<T>
    where
        F: FnMut(&T) -> bool + Clone + Send + 'static,
    {
        self.filter_with(f)
    }

    /// Like [`DataStream::filter`], with a [`FilterFunction`].
    pub fn filter_with<F: FilterFunction<T> + Clone>(&self, f: F) -> SingleOutputStreamOperator<T> {
        let f = Prototype::new(f);
        self.add_one_input("Filter", "Filter", false, move |p| {
            Ok(StreamFilter::new(f.instance()).with_function_state(FunctionState::restore(p)?))
        })
    }

    /// Applies a [`ProcessFunction`]: per record, with its timestamp, the current
    /// watermark and processing time, and side outputs.
    pub fn process<O: Data, F: ProcessFunction<T, O> + Clone>(
        &self,
        f: F,
    ) -> SingleOutputStreamOperator<O> {
        let f = Prototype::new(f);
        self.add_one_input("Process", "Process", false, move |ctx| {
            Ok(ProcessOperator::new(f.instance(), ctx.runtime().clone())
                .with_function_state(FunctionState::restore(ctx)?))
        })
    }

    /// Gives every record an event-time timestamp and the stream watermarks, with
    /// a [`WatermarkStrategy`](runnel_runtime::watermark::WatermarkStrategy).
    /// Watermarks from upstream are replaced (only the end-of-input +∞ passes).
    pub fn assign_timestamps_and_watermarks<S: WatermarkStrategyFor<T> + Sync>(
        &self,
        strategy: S,
    ) -> SingleOutputStreamOperator<T> {
        self.add_one_input(
            "Timestamps/Watermarks",
            "Timestamps/Watermarks",
            false,
            move |p| Ok(TimestampsAndWatermarksOperator::new(&strategy, p)),
        )
    }

    /// Partitions the stream by key: records with equal keys go to the same
    /// parallel instance (hash → key group → subtask, as in Flink).
    pub fn key_by<K: Key, F>(&self, key_selector: F) -> KeyedStream<T, F>
    where
        F: Fn(&T) -> K + Clone + Send + Sync + 'static,
    {
        let writers = Arc::new(KeyedWriters(key_selector.clone()));
        KeyedStream::new(
            self.with_partitioning(Partitioner::Hash, writers),
            key_selector,
        )
    }

    /// Merges streams of the same type into one.
    pub fn union<'a>(&self, others: impl IntoIterator<Item = &'a DataStream<T>>) -> DataStream<T> {
        let mut s = self.clone();
        for o in others {
            s.inputs.extend(o.inputs.iter().cloned());
        }
        s
    }

    /// Connects this stream to a stream of another type, for a two-input
    /// operation (`map`, `flat_map` or `process` on the result).
    pub fn connect<U: Data>(&self, other: &DataStream<U>) -> ConnectedStreams<T, U> {
        ConnectedStreams::new(self.clone(), other.clone())
    }

    /// Subtask *i* sends to subtask *i* (needs equal parallelism).
    pub fn forward(&self) -> DataStream<T> {
        self.with_partitioning(Partitioner::Forward, Arc::new(StandardWriters))
    }

    /// Each record to a random downstream subtask.
    pub fn shuffle(&self) -> DataStream<T> {
        self.with_partitioning(Partitioner::Shuffle, Arc::new(StandardWriters))
    }

    /// Records spread round robin over all downstream subtasks.
    pub fn rebalance(&self) -> DataStream<T> {
        self.with_partitioning(Partitioner::Rebalance, Arc::new(StandardWriters))
    }

    /// Records spread round robin over a local subset of downstream subtasks.
    pub fn rescale(&self) -> DataStream<T> {
        self.with_partitioning(Partitioner::Rescale, Arc::new(StandardWriters))
    }

    /// Every record to every downstream subtask.
    pub fn broadcast(&self) -> DataStream<T> {
        self.with_partitioning(Partitioner::Broadcast, Arc::new(StandardWriters))
    }

    /// Broadcasts this stream for the broadcast state pattern: connect it to a data
    /// stream with [`DataStream::connect_broadcast`]; every instance of the
    /// resulting operator holds the broadcast state `descriptor` names.
    pub fn broadcast_with<K: Key, V: Data>(
        &self,
        descriptor: &MapStateDescriptor<K, V>,
    ) -> BroadcastStream<T> {
        BroadcastStream::new(self.broadcast(), descriptor)
    }

    /// Connects this stream to a broadcast stream, for a [`BroadcastProcessFunction`]
    /// (`process` on the result).
    ///
    /// [`BroadcastProcessFunction`]: crate::BroadcastProcessFunction
    pub fn connect_broadcast<B: Data>(
        &self,
        broadcast: &BroadcastStream<B>,
    ) -> BroadcastConnectedStream<T, B> {
        BroadcastConnectedStream::new(self.clone(), broadcast.clone())
    }

    /// Every record to the first downstream subtask.
    pub fn global(&self) -> DataStream<T> {
        self.with_partitioning(Partitioner::Global, Arc::new(StandardWriters))
    }

    /// Each record to the subtask a user partitioner chooses for its key.
    pub fn partition_custom<K: Key, P, F>(&self, partitioner: P, key_selector: F) -> DataStream<T>
    where
        P: UserPartitioner<K> + Sync,
        F: Fn(&T) -> K + Clone + Send + Sync + 'static,
    {
        self.with_partitioning(
            Partitioner::Custom,
            Arc::new(CustomWriters(partitioner, key_selector)),
        )
    }

    // ----- sinks -----

    /// Writes every record with a [`SinkFunction`] (closures `FnMut(T)` are sink
    /// functions).
    pub fn add_sink<F: SinkFunction<T> + Clone>(&self, f: F) -> DataStreamSink {
        self.add_named_sink(f, "Unnamed")
    }

    pub(crate) fn add_named_sink<F: SinkFunction<T> + Clone>(
        &self,
        f: F,
        name: &str,
    ) -> DataStreamSink {
        let f = Prototype::new(f);
        let op = self.add_one_input(&format!("Sink: {name}"), "Sink", false, move |p| {
            Ok(SinkOperator::new(f.instance()).with_function_state(FunctionState::restore(p)?))
        });
        self.env
            .graph(|g| g.node_mut(op.node).kind = NodeKind::Sink);
        DataStreamSink {
            env: self.env.clone(),
            node: op.node,
        }
    }

    /// Writes through a [`TwoPhaseCommitSink`]: output becomes visible when the
    /// checkpoint covering it completes (exactly-once with a replayable source).
    pub fn add_two_phase_commit_sink<S>(&self, sink: S) -> DataStreamSink
    where
        S: TwoPhaseCommitSink<T> + Clone,
    {
        let sink = Prototype::new(sink);
        self.add_operator_sink("Two-Phase-Commit Sink", move |p| {
            TwoPhaseCommitSinkOperator::new(sink.instance(), p)
        })
    }

    /// Writes through a [`WriteAheadSink`]: the records of a checkpoint are
    /// written when it completes (at-least-once for any system).
    pub fn add_write_ahead_sink<S>(&self, sink: S) -> DataStreamSink
    where
        S: WriteAheadSink<T> + Clone,
    {
        let sink = Prototype::new(sink);
        self.add_operator_sink("Write-Ahead Sink", move |p| {
            WriteAheadSinkOperator::new(sink.instance(), p)
        })
    }

    /// Writes lines to part files that become visible exactly once, when the
    /// checkpoint covering them completes (Flink's `FileSink`).
    pub fn sink_to_file(&self, sink: FileSink<T>) -> DataStreamSink
    where
        T: Display,
    {
        let sink = Prototype::new(sink);
        self.add_operator_sink("File Sink", move |p| {
            TwoPhaseCommitSinkOperator::new(sink.instance(), p)
        })
    }

    fn add_operator_sink<Op, M>(&self, name: &str, make: M) -> DataStreamSink
    where
        Op: OneInputOperator<In = T, Out = ()>,
        M: Fn(&OperatorParameters) -> Result<Op, BoxError> + Send + Sync + 'static,
    {
        let op = self.add_one_input(&format!("Sink: {name}"), "Sink", false, make);
        self.env
            .graph(|g| g.node_mut(op.node).kind = NodeKind::Sink);
        DataStreamSink {
            env: self.env.clone(),
            node: op.node,
        }
    }

    /// Prints every record's `Debug` form to standard output, prefixed with the
    /// subtask (`2> `) when the sink runs in parallel.
    pub fn print(&self) -> DataStreamSink
    where
        T: Debug,
    {
        self.add_named_sink(PrintSink::new("", false), "Print to Std. Out")
    }

    /// Like [`DataStream::print`], with `identifier` in the prefix (`id> `, `id:2> `).
    pub fn print_with_identifier(&self, identifier: &str) -> DataStreamSink
    where
        T: Debug,
    {
        self.add_named_sink(PrintSink::new(identifier, false), "Print to Std. Out")
    }

    /// Prints every record's `Debug` form to standard error.
    pub fn print_to_err(&self) -> DataStreamSink
    where
        T: Debug,
    {
        self.add_named_sink(PrintSink::new("", true), "Print to Std. Err")
    }

    /// Writes every record's `Display` form as a line of text: to the file `path`
    /// at parallelism 1, else to files `1`, `2`, … in the directory `path`. Fails if
    /// the output exists.
    pub fn write_as_text(&self, path: impl Into<PathBuf>) -> DataStreamSink
    where
        T: Display,
    {
        self.write_as_text_with_mode(path, WriteMode::NoOverwrite)
    }

    /// Like [`DataStream::write_as_text`], choosing whether to overwrite.
    pub fn write_as_text_with_mode(
        &self,
        path: impl Into<PathBuf>,
        mode: WriteMode,
    ) -> DataStreamSink
    where
        T: Display,
    {
        self.add_named_sink(TextFileSink::new(path, mode), "Text File")
    }
}

fn operator_spec(name: &str, operator: &str, kind: NodeKind, keyed: bool) -> NodeSpec {
    NodeSpec {
        name: name.to_string(),
        operator: operator.to_string(),
        uid: None,
        kind,
        parallelism: None,
        max_parallelism: None,
        non_parallel: false,
        chaining: ChainingStrategy::Always,
        slot_sharing_group: None,
        keyed,
    }
}

pub(crate) fn two_input_spec(name: &str, operator: &str, keyed: bool) -> NodeSpec {
    operator_spec(name, operator, NodeKind::TwoInput, keyed)
}

/// Settings shared by operators and sinks.
fn update(env: &StreamExecutionEnvironment, node: NodeId, f: impl FnOnce(&mut NodeSpec)) {
    env.graph(|g| f(g.node_mut(node)));
}

/// The stream an operator produces, with the operator's settings (Flink's
/// `SingleOutputStreamOperator`). Dereferences to [`DataStream`].
pub struct SingleOutputStreamOperator<T> {
    stream: DataStream<T>,
    node: NodeId,
    side: Arc<SidePorts>,
}

impl<T> Clone for SingleOutputStreamOperator<T> {
    fn clone(&self) -> Self {
        SingleOutputStreamOperator {
            stream: self.stream.clone(),
            node: self.node,
            side: self.side.clone(),
        }
    }
}

impl<T> Deref for SingleOutputStreamOperator<T> {
    type Target = DataStream<T>;
    fn deref(&self) -> &DataStream<T> {
        &self.stream
    }
}

impl<T: Data> SingleOutputStreamOperator<T> {
    pub(crate) fn new(
        env: StreamExecutionEnvironment,
        node: NodeId,
        port: Arc<OutputPort<T>>,
        side: Arc<SidePorts>,
    ) -> Self {
        SingleOutputStreamOperator {
            stream: DataStream::from_port(env, node, port, None),
            node,
            side,
        }
    }

    /// The operator's node id in the StreamGraph.
    pub fn id(&self) -> NodeId {
        self.node
    }

    /// Names the operator (shown in plans, metrics and errors).
    pub fn name(self, name: &str) -> Self {
        update(&self.stream.env, self.node, |n| n.name = name.to_string());
        self
    }

    /// Gives the operator a stable id, used to match its state across program
    /// changes (savepoints).
    pub fn uid(self, uid: &str) -> Self {
        update(&self.stream.env, self.node, |n| {
            n.uid = Some(uid.to_string())
        });
        self
    }

    /// Sets the operator's parallelism (highest precedence).
    pub fn set_parallelism(self, parallelism: u32) -> Self {
        update(&self.stream.env, self.node, |n| {
            n.parallelism = Some(parallelism)
        });
        self
    }

    /// Sets the operator's max parallelism (its number of key groups).
    pub fn set_max_parallelism(self, max_parallelism: u32) -> Self {
        update(&self.stream.env, self.node, |n| {
            n.max_parallelism = Some(max_parallelism)
        });
        self
    }

    /// Never chains the operator to its neighbours.
    pub fn disable_chaining(self) -> Self {
        update(&self.stream.env, self.node, |n| {
            n.chaining = ChainingStrategy::Never
        });
        self
    }

    /// Starts a new chain at this operator (it may still chain to its successors).
    pub fn start_new_chain(self) -> Self {
        update(&self.stream.env, self.node, |n| {
            n.chaining = ChainingStrategy::Head
        });
        self
    }

    /// Puts the operator in a slot sharing group (operators in different groups
    /// never share a slot nor a chain).
    pub fn slot_sharing_group(self, group: &str) -> Self {
        update(&self.stream.env, self.node, |n| {
            n.slot_sharing_group = Some(group.to_string())
        });
        self
    }

    /// The records the operator emits to the side output `tag`.
    pub fn get_side_output<X: Data>(&self, tag: &OutputTag<X>) -> DataStream<X> {
        let mut ports = self.side.lock().unwrap_or_else(|e| e.into_inner());
        let port = match ports.iter().find(|p| p.id() == tag.id()) {
            Some(existing) => match existing.port::<X>() {
                Some(port) => port,
                None => {
                    self.stream.env.graph(|g| {
                        g.errors.push(format!(
                            "side output `{}` is requested with two different types (now {})",
                            tag.name(),
                            std::any::type_name::<X>()
                        ))
                    });
                    Arc::new(OutputPort::default())
                }
            },
            None => {
                let port = Arc::new(OutputPort::default());
                ports.push(SidePort::new(tag, port.clone()));
                port
            }
        };
        let side_ref = SideOutputRef {
            id: tag.id(),
            name: tag.name().to_string(),
        };
        DataStream::from_port(self.stream.env.clone(), self.node, port, Some(side_ref))
    }
}

/// A sink, with the sink's settings (Flink's `DataStreamSink`).
pub struct DataStreamSink {
    env: StreamExecutionEnvironment,
    node: NodeId,
}

impl DataStreamSink {
    /// The sink's node id in the StreamGraph.
    pub fn id(&self) -> NodeId {
        self.node
    }

    /// Names the sink.
    pub fn name(self, name: &str) -> Self {
        update(&self.env, self.node, |n| n.name = name.to_string());
        self
    }

    /// Gives the sink a stable id.
    pub fn uid(self, uid: &str) -> Self {
        update(&self.env, self.node, |n| n.uid = Some(uid.to_string()));
        self
    }

    /// Sets the sink's parallelism.
    pub fn set_parallelism(self, parallelism: u32) -> Self {
        update(&self.env, self.node, |n| n.parallelism = Some(parallelism));
        self
    }

    /// Never chains the sink to its input.
    pub fn disable_chaining(self) -> Self {
        update(&self.env, self.node, |n| {
            n.chaining = ChainingStrategy::Never
        });
        self
    }

    /// Starts a new chain at the sink.
    pub fn start_new_chain(self) -> Self {
        update(&self.env, self.node, |n| {
            n.chaining = ChainingStrategy::Head
        });
        self
    }

    /// Puts the sink in a slot sharing group.
    pub fn slot_sharing_group(self, group: &str) -> Self {
        update(&self.env, self.node, |n| {
            n.slot_sharing_group = Some(group.to_string())
        });
        self
    }
}
