//! Generic node factories: how an operator of each shape is instantiated in a task.
//!
//! The API creates one of these per StreamGraph node, with a constructor closure
//! that clones the user's function for each subtask. The same object serves as the
//! [`NodeFactory`] (when the node heads a chain) and as the [`ChainableNode`] its
//! upstream's output connects to (when it is chained).

use crate::chain::{ChainedInput, OneInputLink, TwoInputLink, call_user};
use crate::clock::Clock;
use crate::environment::{ChainableNode, NodeFactory, OutputPort, SidePorts, TaskEnvironment};
use crate::error::{BoxError, TaskError};
use crate::input::{OneInputProcessor, TwoInputProcessor};
use crate::operator::{OneInputOperator, TwoInputOperator};
use crate::parameters::OperatorParameters;
use crate::processor::StreamInputProcessor;
use crate::source::{
    SOURCE_SPLITS_STATE, Source, SourceProcessor, SourceReaderContext, SplitState,
};
use crate::watermark::source::SplitWatermarks;
use crate::watermark::{SourceWatermarks, WatermarkStrategyFor};
use runnel_types::{Data, NodeId};
use std::marker::PhantomData;
use std::sync::Arc;

/// Creates the per-subtask watermarking of a source (from a strategy).
pub type SourceWatermarksFactory<T> =
    Box<dyn Fn(Arc<dyn Clock>) -> Box<dyn SourceWatermarks<T>> + Send + Sync>;

/// A source node.
pub struct SourceNode<T, S> {
    id: NodeId,
    source: S,
    watermarks: Option<SourceWatermarksFactory<T>>,
    port: Arc<OutputPort<T>>,
    side: Arc<SidePorts>,
}

impl<T: Data, S: Source<T>> SourceNode<T, S> {
    /// A source emitting to `port`.
    pub fn new(id: NodeId, source: S, port: Arc<OutputPort<T>>, side: Arc<SidePorts>) -> Self {
        SourceNode {
            id,
            source,
            watermarks: None,
            port,
            side,
        }
    }

    /// A source that assigns timestamps and generates watermarks per split with
    /// `strategy`.
    pub fn with_watermarks<W>(
        id: NodeId,
        source: S,
        strategy: W,
        port: Arc<OutputPort<T>>,
        side: Arc<SidePorts>,
    ) -> Self
    where
        W: WatermarkStrategyFor<T> + Sync,
    {
        let factory: SourceWatermarksFactory<T> =
            Box::new(move |clock| Box::new(SplitWatermarks::new(strategy.clone(), clock)));
        SourceNode {
            id,
            source,
            watermarks: Some(factory),
            port,
            side,
        }
    }
}

impl<T: Data, S: Source<T>> NodeFactory for SourceNode<T, S> {
    fn create_head(
        &self,
        env: &mut TaskEnvironment<'_>,
    ) -> Result<Box<dyn StreamInputProcessor>, TaskError> {
        let ctx = env.runtime_context(self.id);
        let out = env.build_output(self.id, &self.port, &self.side)?;
        let reader_ctx = SourceReaderContext::new(ctx.clone(), env.signal().clone());
        let splits = env.restored_state(self.id).and_then(|s| {
            s.operator_state.get(SOURCE_SPLITS_STATE).map(|n| {
                n.elements
                    .iter()
                    .cloned()
                    .map(SplitState)
                    .collect::<Vec<_>>()
            })
        });
        let reader = match splits {
            Some(splits) => call_user(&ctx, || self.source.restore_reader(&reader_ctx, splits))?,
            None => call_user(&ctx, || self.source.create_reader(&reader_ctx))?,
        };
        let time = env.processing_time().clone();
        let watermarks = self.watermarks.as_ref().map(|f| f(time.clock().clone()));
        let interval = i64::try_from(
            env.operator_parameters(self.id)
                .auto_watermark_interval()
                .as_millis(),
        )
        .unwrap_or(i64::MAX);
        Ok(Box::new(SourceProcessor::new(
            reader,
            out,
            ctx,
            watermarks,
            time,
            interval,
            env.checkpointer().clone(),
        )))
    }
}

/// A one-input operator node; `make` creates the operator of one subtask.
pub struct OneInputNode<Op: OneInputOperator, M> {
    id: NodeId,
    make: M,
    port: Arc<OutputPort<<Op as OneInputOperator>::Out>>,
    side: Arc<SidePorts>,
    _op: PhantomData<fn() -> Op>,
}

impl<Op, M> OneInputNode<Op, M>
where
    Op: OneInputOperator,
    M: Fn(&OperatorParameters) -> Result<Op, BoxError> + Send + Sync + 'static,
{
    /// A node whose operators `make` creates, emitting to `port`.
    pub fn new(id: NodeId, make: M, port: Arc<OutputPort<Op::Out>>, side: Arc<SidePorts>) -> Self {
        OneInputNode {
            id,
            make,
            port,
            side,
            _op: PhantomData,
        }
    }
}

impl<Op, M> ChainableNode<Op::In> for OneInputNode<Op, M>
where
    Op: OneInputOperator,
    M: Fn(&OperatorParameters) -> Result<Op, BoxError> + Send + Sync + 'static,
{
    fn create_chained(
        &self,
        env: &mut TaskEnvironment<'_>,
    ) -> Result<Box<dyn ChainedInput<Op::In>>, TaskError> {
        let params = env.operator_parameters(self.id);
        let ctx = params.runtime().clone();
        let out = env.build_output(self.id, &self.port, &self.side)?;
        let op = call_user(&ctx, || (self.make)(&params))?;
        let records_in = env.counters(self.id).records_in;
        let fault = env.injected_fault(self.id);
        Ok(Box::new(
            OneInputLink::new(op, out, ctx, records_in).with_fault(fault),
        ))
    }
}

impl<Op, M> NodeFactory for OneInputNode<Op, M>
where
    Op: OneInputOperator,
    M: Fn(&OperatorParameters) -> Result<Op, BoxError> + Send + Sync + 'static,
{
    fn create_head(
        &self,
        env: &mut TaskEnvironment<'_>,
    ) -> Result<Box<dyn StreamInputProcessor>, TaskError> {
        let gate = env.open_gate(self.id, 0)?;
        let head = self.create_chained(env)?;
        let at = env.runtime_context(self.id).instance();
        Ok(Box::new(OneInputProcessor::new(
            gate,
            head,
            env.batch_size(),
            at,
            env.task_display_name(),
            env.checkpointer().clone(),
        )))
    }
}

/// A two-input operator node (always the head of its chain).
pub struct TwoInputNode<Op: TwoInputOperator, M> {
    id: NodeId,
    make: M,
    port: Arc<OutputPort<<Op as TwoInputOperator>::Out>>,
    side: Arc<SidePorts>,
    _op: PhantomData<fn() -> Op>,
}

impl<Op, M> TwoInputNode<Op, M>
where
    Op: TwoInputOperator,
    M: Fn(&OperatorParameters) -> Result<Op, BoxError> + Send + Sync + 'static,
{
    /// A node whose operators `make` creates, emitting to `port`.
    pub fn new(id: NodeId, make: M, port: Arc<OutputPort<Op::Out>>, side: Arc<SidePorts>) -> Self {
        TwoInputNode {
            id,
            make,
            port,
            side,
            _op: PhantomData,
        }
    }
}

impl<Op, M> NodeFactory for TwoInputNode<Op, M>
where
    Op: TwoInputOperator,
    M: Fn(&OperatorParameters) -> Result<Op, BoxError> + Send + Sync + 'static,
{
    fn create_head(
        &self,
        env: &mut TaskEnvironment<'_>,
    ) -> Result<Box<dyn StreamInputProcessor>, TaskError> {
        let first = env.open_gate(self.id, 0)?;
        let second = env.open_gate(self.id, 1)?;
        let params = env.operator_parameters(self.id);
        let ctx = params.runtime().clone();
        let out = env.build_output(self.id, &self.port, &self.side)?;
        let op = call_user(&ctx, || (self.make)(&params))?;
        let at = ctx.instance();
        let link = TwoInputLink::new(op, out, ctx, env.counters(self.id).records_in)
            .with_fault(env.injected_fault(self.id));
        Ok(Box::new(TwoInputProcessor::new(
            first,
            second,
            link,
            env.batch_size(),
            at,
            env.task_display_name(),
            env.checkpointer().clone(),
        )))
    }
}
