//! `process`: a [`ProcessFunction`] over a non-keyed stream (C1).

use crate::functions::{Collector, ProcessContext, ProcessFunction};
use runnel_runtime::checkpointing::StateSnapshotContext;
use runnel_runtime::function_state::FunctionState;
use runnel_runtime::{BoxError, OneInputOperator, Output, RuntimeContext};
use runnel_types::{Data, StreamRecord, Watermark};
use std::marker::PhantomData;

/// Runs a process function, tracking the operator's watermark for its context.
pub struct ProcessOperator<I, O, F> {
    function: F,
    state: FunctionState,
    runtime: RuntimeContext,
    watermark: Watermark,
    _types: PhantomData<fn(I) -> O>,
}

impl<I, O, F> ProcessOperator<I, O, F> {
    /// Wraps a process function running in `runtime`.
    pub fn new(function: F, runtime: RuntimeContext) -> Self {
        ProcessOperator {
            function,
            state: FunctionState::default(),
            runtime,
            watermark: Watermark::MIN,
            _types: PhantomData,
        }
    }

    /// Gives the function its restored operator state.
    pub fn with_function_state(mut self, state: FunctionState) -> Self {
        self.state = state;
        self
    }
}

impl<I: Data, O: Data, F: ProcessFunction<I, O>> OneInputOperator for ProcessOperator<I, O, F> {
    type In = I;
    type Out = O;

    fn open(&mut self, ctx: &RuntimeContext) -> Result<(), BoxError> {
        self.state
            .initialize(|c| self.function.initialize_state(c))?;
        self.function.open(ctx)
    }

    fn snapshot_state(&mut self, ctx: &mut StateSnapshotContext<'_>) -> Result<(), BoxError> {
        self.state
            .snapshot(ctx, |c| self.function.snapshot_state(c))
    }

    #[inline]
    fn process_element(
        &mut self,
        record: StreamRecord<I>,
        out: &mut Output<O>,
    ) -> Result<(), BoxError> {
        let Output { main, side } = out;
        let mut ctx = ProcessContext {
            timestamp: record.timestamp,
            watermark: self.watermark,
            runtime: &self.runtime,
            side,
        };
        let mut collector = Collector::new(main, record.timestamp);
        self.function
            .process_element(record.value, &mut ctx, &mut collector)
    }

    fn process_watermark(
        &mut self,
        watermark: Watermark,
        out: &mut Output<O>,
    ) -> Result<(), BoxError> {
        self.watermark = watermark;
        out.emit_watermark(watermark);
        Ok(())
    }

    fn close(&mut self) -> Result<(), BoxError> {
        self.function.close()
    }
}
