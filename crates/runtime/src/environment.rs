//! Building a task's chain from the plan and the job's operator factories.
//!
//! The plan (pure data) says which operators form the chain and how its edges are
//! partitioned; the factories (the job's code, rebuilt identically in every
//! process) create the operators. A [`TaskEnvironment`] joins the two for one
//! subtask: it opens the task's channels and wires every output either to the
//! next operator of the chain or to a record writer.

use crate::chain::ChainedInput;
use crate::checkpointing::TaskCheckpointer;
use crate::clock::Clock;
use crate::context::RuntimeContext;
use crate::error::{OperatorInstance, TaskError};
use crate::fault::InjectedFault;
use crate::input::InputGate;
use crate::metrics::{Counter, OperatorCounters};
use crate::output::{ErasedOutput, MainOutput, Output, OutputTag};
use crate::parameters::OperatorParameters;
use crate::partitioning::{
    Broadcast, CustomSelector, FastRng, FirstChannel, KeyGroupSelector, KeySelector,
    Partitioner as UserPartitioner, RoundRobin, Shuffle,
};
use crate::processor::StreamInputProcessor;
use crate::time::ProcessingTimeService;
use crate::writer::RecordWriter;
use runnel_checkpoint::{ChannelKey, ChannelSide, OperatorSubtaskState, RestoredJob};
use runnel_config::{BufferTimeout, Configuration};
use runnel_network::{ChannelId, OutputChannel, TaskSignal, Transport};
use runnel_plan::{JobVertex, Partitioner, Plan};
use runnel_types::{Data, EdgeId, NodeId, OutputTagId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A job ready to run: its plan and, per StreamGraph node, the code that builds it.
pub struct ExecutableJob {
    /// The three graphs.
    pub plan: Plan,
    /// Operator factories, indexed by `NodeId`.
    pub factories: Vec<Arc<dyn NodeFactory>>,
    /// The job's configuration.
    pub config: Configuration,
    /// A savepoint or checkpoint to start from.
    pub restore: Option<crate::job_master::RestoreSettings>,
}

/// Builds the input side of a task whose chain starts at this node.
pub trait NodeFactory: Send + Sync {
    /// Creates the chain headed by this node for the environment's subtask.
    fn create_head(
        &self,
        env: &mut TaskEnvironment<'_>,
    ) -> Result<Box<dyn StreamInputProcessor>, TaskError>;
}

/// A node that can be the next operator of a chain, fed records of type `T`.
pub trait ChainableNode<T>: Send + Sync {
    /// Creates the operator (and, recursively, its downstream chain).
    fn create_chained(
        &self,
        env: &mut TaskEnvironment<'_>,
    ) -> Result<Box<dyn ChainedInput<T>>, TaskError>;
}

/// A channel with its checkpoint key and the in-flight buffers (captured by an
/// unaligned checkpoint) to deliver on it before anything new after a restore.
pub struct RestoredChannel<C: ?Sized> {
    /// The channel.
    pub channel: Box<C>,
    /// Its key in checkpoints.
    pub key: ChannelKey,
    /// Restored in-flight buffers, oldest first (empty without a restore).
    pub replay: Vec<Vec<u8>>,
}

/// Everything a record writer is built from.
pub struct WriterSpec {
    /// The edge's partitioner.
    pub partitioner: Partitioner,
    /// The channels to the consumer subtasks this subtask sends to, in order,
    /// each with its key and the in-flight data to send first after a restore.
    pub channels: Vec<RestoredChannel<dyn OutputChannel>>,
    /// Max parallelism of the consuming operator (for key groups).
    pub target_max_parallelism: u32,
    /// Network buffer size.
    pub segment_size: usize,
    /// Send after every record (buffer timeout 0).
    pub flush_always: bool,
    /// The producing operator instance (for errors).
    pub producer: OperatorInstance,
    /// The task's name (for errors).
    pub task: String,
}

/// Creates the record writer of an edge. Edges with a key carry a factory that
/// knows the key selector; all others use [`StandardWriters`].
pub trait WriterFactory<T>: Send + Sync {
    /// Builds the writer.
    fn create_writer(&self, spec: WriterSpec) -> Result<Box<dyn ChainedInput<T>>, TaskError>;
}

fn writer<T: Data, S: crate::partitioning::ChannelSelector<T>>(
    selector: S,
    spec: WriterSpec,
) -> Box<dyn ChainedInput<T>> {
    Box::new(RecordWriter::new(
        selector,
        spec.channels,
        spec.segment_size,
        spec.flush_always,
        spec.producer,
        spec.task,
    ))
}

fn needs_key(spec: &WriterSpec) -> TaskError {
    TaskError::Deployment {
        task: spec.task.clone(),
        message: format!(
            "a {} edge was deployed without its key selector",
            spec.partitioner
        ),
    }
}

/// Writers for the partitioners that need no user code.
pub struct StandardWriters;

impl<T: Data> WriterFactory<T> for StandardWriters {
    fn create_writer(&self, spec: WriterSpec) -> Result<Box<dyn ChainedInput<T>>, TaskError> {
        let n = spec.channels.len();
        Ok(match spec.partitioner {
            Partitioner::Forward | Partitioner::Global => writer(FirstChannel, spec),
            Partitioner::Rebalance => {
                writer(RoundRobin::new(FastRng::from_entropy().below(n), n), spec)
            }
            Partitioner::Rescale => writer(RoundRobin::new(0, n), spec),
            Partitioner::Shuffle => writer(Shuffle::new(n), spec),
            Partitioner::Broadcast => writer(Broadcast, spec),
            Partitioner::Hash | Partitioner::Custom => return Err(needs_key(&spec)),
        })
    }
}

/// Writers for `key_by` edges.
pub struct KeyedWriters<KS>(pub KS);

impl<T: Data, KS: KeySelector<T> + Sync> WriterFactory<T> for KeyedWriters<KS> {
    fn create_writer(&self, spec: WriterSpec) -> Result<Box<dyn ChainedInput<T>>, TaskError> {
        match spec.partitioner {
            Partitioner::Hash => {
                let sel = KeyGroupSelector::new(
                    self.0.clone(),
                    spec.target_max_parallelism,
                    spec.channels.len(),
                );
                Ok(writer(sel, spec))
            }
            _ => StandardWriters.create_writer(spec),
        }
    }
}

/// Writers for `partition_custom` edges.
pub struct CustomWriters<P, KS>(pub P, pub KS);

impl<T: Data, KS: KeySelector<T> + Sync, P: UserPartitioner<KS::Key> + Sync> WriterFactory<T>
    for CustomWriters<P, KS>
{
    fn create_writer(&self, spec: WriterSpec) -> Result<Box<dyn ChainedInput<T>>, TaskError> {
        match spec.partitioner {
            Partitioner::Custom => {
                let sel = CustomSelector::new(self.0.clone(), self.1.clone(), spec.channels.len());
                Ok(writer(sel, spec))
            }
            _ => StandardWriters.create_writer(spec),
        }
    }
}

/// One consumer of an output: the edge, the node to chain to (if it can be
/// chained) and the writer to use when it is not.
pub struct PortEdge<T> {
    /// The StreamGraph edge.
    pub edge: EdgeId,
    /// The consuming node, when it accepts being chained.
    pub target: Option<Arc<dyn ChainableNode<T>>>,
    /// How to write to it over channels.
    pub writers: Arc<dyn WriterFactory<T>>,
}

/// The consumers of one output of a node, filled in while the program builds the
/// graph.
pub struct OutputPort<T> {
    edges: Mutex<Vec<PortEdge<T>>>,
}

impl<T> Default for OutputPort<T> {
    fn default() -> Self {
        OutputPort {
            edges: Mutex::new(Vec::new()),
        }
    }
}

impl<T> OutputPort<T> {
    /// Adds a consumer.
    pub fn connect(&self, edge: PortEdge<T>) {
        self.edges
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(edge);
    }
}

type SideBuilder = dyn Fn(&mut TaskEnvironment<'_>, Counter) -> Result<Option<Box<dyn ErasedOutput>>, TaskError>
    + Send
    + Sync;

/// A side output of a node and its consumers.
pub struct SidePort {
    id: OutputTagId,
    name: Arc<str>,
    port: Arc<dyn std::any::Any + Send + Sync>,
    build: Box<SideBuilder>,
}

impl SidePort {
    /// The side output `tag`, feeding the consumers of `port`.
    pub fn new<X: Data>(tag: &OutputTag<X>, port: Arc<OutputPort<X>>) -> Self {
        SidePort {
            id: tag.id(),
            name: Arc::from(tag.name()),
            port: port.clone(),
            build: Box::new(move |env, records_out| {
                let out = env.build_main_output(&port, records_out)?;
                Ok(out
                    .is_connected()
                    .then(|| Box::new(out) as Box<dyn ErasedOutput>))
            }),
        }
    }

    /// The tag's id.
    pub fn id(&self) -> OutputTagId {
        self.id
    }

    /// The consumers' port, if the side output carries records of type `X`.
    pub fn port<X: Data>(&self) -> Option<Arc<OutputPort<X>>> {
        self.port.clone().downcast::<OutputPort<X>>().ok()
    }
}

/// The side outputs of a node, filled in while the program builds the graph.
pub type SidePorts = Mutex<Vec<SidePort>>;

/// The counters of every operator instance of a job, by (node, subtask).
pub type CounterRegistry = HashMap<(NodeId, u32), OperatorCounters>;

/// The context one subtask's chain is built in.
pub struct TaskEnvironment<'a> {
    pub(crate) job: &'a ExecutableJob,
    pub(crate) vertex: &'a JobVertex,
    pub(crate) subtask: u32,
    pub(crate) attempt: u32,
    pub(crate) transport: &'a dyn Transport,
    pub(crate) signal: &'a Arc<TaskSignal>,
    pub(crate) clock: &'a Arc<dyn Clock>,
    pub(crate) counters: &'a CounterRegistry,
    pub(crate) batch_size: usize,
    pub(crate) task_name: Arc<str>,
    pub(crate) job_name: Arc<str>,
    pub(crate) time: ProcessingTimeService,
    pub(crate) checkpointer: TaskCheckpointer,
    pub(crate) restored: Arc<RestoredJob>,
}

impl TaskEnvironment<'_> {
    /// The runtime context of `node`'s instance in this subtask.
    pub fn runtime_context(&self, node: NodeId) -> RuntimeContext {
        let n = self.job.plan.stream_graph.node(node);
        RuntimeContext {
            job_name: self.job_name.clone(),
            task_name: self.task_name.clone(),
            operator_name: Arc::from(n.name.as_str()),
            operator_id: node,
            uid: n.uid.as_deref().map(Arc::from),
            subtask_index: self.subtask,
            parallelism: n.parallelism,
            max_parallelism: n.max_parallelism,
            attempt_number: self.attempt,
            clock: self.clock.clone(),
        }
    }

    /// The parameters `node`'s operator instance is created with.
    pub fn operator_parameters(&self, node: NodeId) -> OperatorParameters {
        let runtime = self.runtime_context(node);
        let key_groups = runnel_types::compute_key_group_range_for_operator_index(
            runtime.max_parallelism,
            runtime.parallelism,
            runtime.subtask_index,
        );
        OperatorParameters {
            runtime,
            time: self.time.clone(),
            key_groups,
            auto_watermark_interval: self.job.config.auto_watermark_interval,
            state_backend: self.job.config.state_backend,
            counters: self.counters(node),
            restored: self.restored_state(node).cloned().map(Arc::new),
            native_files: self.restored.native_files().cloned(),
            checkpointing: self.checkpointer.is_enabled(),
            incremental: self.job.config.checkpointing.incremental,
        }
    }

    /// The state `node`'s instance in this subtask is restored with, if any.
    pub fn restored_state(&self, node: NodeId) -> Option<&OperatorSubtaskState> {
        let id = self.runtime_context(node).state_operator_id();
        self.restored.state_of(&id, self.subtask)
    }

    /// This task's link to the job master for checkpoints.
    pub fn checkpointer(&self) -> &TaskCheckpointer {
        &self.checkpointer
    }

    /// The injected failure for `node`'s instance in this subtask and attempt,
    /// if the configuration asks for one.
    pub(crate) fn injected_fault(&self, node: NodeId) -> Option<InjectedFault> {
        let fault = self.job.config.fault_injection.as_ref()?;
        let ctx = self.runtime_context(node);
        if ctx.operator_name() != fault.operator || fault.subtask != self.subtask {
            return None;
        }
        let after = fault.failure_point(self.attempt)?;
        Some(InjectedFault::new(after, ctx.instance(), self.attempt))
    }

    /// The task's processing-time service.
    pub fn processing_time(&self) -> &ProcessingTimeService {
        &self.time
    }

    /// The counters of `node`'s instance in this subtask.
    pub fn counters(&self, node: NodeId) -> OperatorCounters {
        self.counters
            .get(&(node, self.subtask))
            .cloned()
            .unwrap_or_default()
    }

    /// Records per batch handed between chained operators.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// The task's display name, e.g. `Map -> Filter (1/2)`.
    pub fn task_display_name(&self) -> String {
        format!(
            "{} ({}/{})",
            self.vertex.name,
            self.subtask + 1,
            self.vertex.parallelism
        )
    }

    /// The signal that wakes this task.
    pub fn signal(&self) -> &Arc<TaskSignal> {
        self.signal
    }

    fn deployment(&self, message: String) -> TaskError {
        TaskError::Deployment {
            task: self.task_display_name(),
            message,
        }
    }

    /// Builds the output of `node`: main output to `port`'s consumers and the
    /// side outputs that have consumers.
    pub fn build_output<T: Data>(
        &mut self,
        node: NodeId,
        port: &OutputPort<T>,
        side: &SidePorts,
    ) -> Result<Output<T>, TaskError> {
        let records_out = self.counters(node).records_out;
        let main = self.build_main_output_for(node, port, records_out.clone())?;
        let mut out = Output::new(main);
        let side = side.lock().unwrap_or_else(|e| e.into_inner());
        for s in side.iter() {
            if let Some(o) = (s.build)(self, records_out.clone())? {
                out.side.push(s.id, s.name.clone(), o);
            }
        }
        Ok(out)
    }

    fn build_main_output<T: Data>(
        &mut self,
        port: &OutputPort<T>,
        records_out: Counter,
    ) -> Result<MainOutput<T>, TaskError> {
        let producer = {
            let edges = port.edges.lock().unwrap_or_else(|e| e.into_inner());
            match edges.first() {
                Some(e) => self.job.plan.stream_graph.edge(e.edge).source,
                None => return Ok(MainOutput::new(Vec::new(), self.batch_size, records_out)),
            }
        };
        self.build_main_output_for(producer, port, records_out)
    }

    fn build_main_output_for<T: Data>(
        &mut self,
        node: NodeId,
        port: &OutputPort<T>,
        records_out: Counter,
    ) -> Result<MainOutput<T>, TaskError> {
        let edges = port.edges.lock().unwrap_or_else(|e| e.into_inner());
        let mut targets: Vec<Box<dyn ChainedInput<T>>> = Vec::with_capacity(edges.len());
        for pe in edges.iter() {
            if self.job.plan.job_graph.is_chained(pe.edge) {
                let target = pe.target.as_ref().ok_or_else(|| {
                    self.deployment(format!(
                        "{} is chained to an operator that cannot be chained",
                        pe.edge
                    ))
                })?;
                targets.push(target.create_chained(self)?);
            } else {
                let spec = self.writer_spec(node, pe.edge)?;
                targets.push(pe.writers.create_writer(spec)?);
            }
        }
        Ok(MainOutput::new(targets, self.batch_size, records_out)
            .with_watermark_gauge(self.counters(node).output_watermark))
    }

    fn writer_spec(&self, node: NodeId, edge: EdgeId) -> Result<WriterSpec, TaskError> {
        let plan = &self.job.plan;
        let job_edge = plan.job_graph.job_edge_of_stream_edge[edge.index()]
            .ok_or_else(|| self.deployment(format!("{edge} has no job edge")))?;
        let mut channels = Vec::new();
        for consumer in plan.execution_graph.consumers_of(job_edge, self.subtask) {
            let id = ChannelId {
                job_edge: job_edge as u32,
                producer: self.subtask,
                consumer,
            };
            let channel = self
                .transport
                .open_output(id, self.signal.clone())
                .map_err(|source| TaskError::Network {
                    task: self.task_display_name(),
                    source,
                })?;
            let key = channel_key(id);
            channels.push(RestoredChannel {
                channel,
                key,
                replay: self.restored_channel(key, ChannelSide::Output),
            });
        }
        let stream_edge = plan.stream_graph.edge(edge);
        let (segment_size, flush_always) = match self.job.config.buffer_timeout {
            BufferTimeout::Interval(d) => (self.job.config.segment_size, d.is_zero()),
            BufferTimeout::Disabled => (self.job.config.segment_size, false),
        };
        Ok(WriterSpec {
            partitioner: stream_edge.partitioner,
            channels,
            target_max_parallelism: plan.stream_graph.node(stream_edge.target).max_parallelism,
            segment_size,
            flush_always,
            producer: self.runtime_context(node).instance(),
            task: self.task_display_name(),
        })
    }

    /// The in-flight data a restored unaligned checkpoint holds for `key` at
    /// this task (`side`), in order.
    fn restored_channel(&self, key: ChannelKey, side: ChannelSide) -> Vec<Vec<u8>> {
        self.restored
            .channels_of(self.vertex.id.0, self.subtask)
            .iter()
            .filter(|c| c.channel == key && c.side == side)
            .flat_map(|c| c.buffers.iter().cloned())
            .collect()
    }

    /// Opens the input gate of `node`'s input `input` (0 or 1): one channel per
    /// producer subtask of every edge into that input.
    pub fn open_gate(&self, node: NodeId, input: u8) -> Result<InputGate, TaskError> {
        let plan = &self.job.plan;
        let mut channels = Vec::new();
        for e in &plan.stream_graph.node(node).in_edges {
            if plan.stream_graph.edge(*e).input != input {
                continue;
            }
            let job_edge = plan.job_graph.job_edge_of_stream_edge[e.index()].ok_or_else(|| {
                self.deployment(format!("the chain head {node} has a chained input {e}"))
            })?;
            for producer in plan.execution_graph.producers_of(job_edge, self.subtask) {
                let id = ChannelId {
                    job_edge: job_edge as u32,
                    producer,
                    consumer: self.subtask,
                };
                let channel =
                    self.transport
                        .open_input(id, self.signal.clone())
                        .map_err(|source| TaskError::Network {
                            task: self.task_display_name(),
                            source,
                        })?;
                let key = channel_key(id);
                channels.push(RestoredChannel {
                    channel,
                    key,
                    replay: self.restored_channel(key, ChannelSide::Input),
                });
            }
        }
        Ok(InputGate::new(channels))
    }
}

/// The checkpoint name of a channel.
pub(crate) fn channel_key(id: ChannelId) -> ChannelKey {
    ChannelKey {
        job_edge: id.job_edge,
        producer: id.producer,
        consumer: id.consumer,
    }
}
