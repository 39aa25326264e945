//! `process`: a [`ProcessFunction`] over a non-keyed stream (C1).

use crate::functions::{Collector, ProcessContext, ProcessFunction};
use runnel_runtime::{BoxError, OneInputOperator, Output, RuntimeContext};
use runnel_types::{Data, StreamRecord, Watermark};
use std::marker::PhantomData;

/// Runs a process function, tracking the operator's watermark for its context.
pub struct ProcessOperator<I, O, F> {
    function: F,
    runtime: RuntimeContext,
    watermark: Watermark,
    _types: PhantomData<fn(I) -> O>,
}

impl<I, O, F> ProcessOperator<I, O, F> {
    /// Wraps a process function running in `runtime`.
    pub fn new(function: F, runtime: RuntimeContext) -> Self {
        ProcessOperator {
            function,
            runtime,
            watermark: Watermark::MIN,
            _types: PhantomData,
        }
    }
}

impl<I: Data, O: Data, F: ProcessFunction<I, O>> OneInputOperator for ProcessOperator<I, O, F> {
    type In = I;
    type Out = O;

    fn open(&mut self, ctx: &RuntimeContext) -> Result<(), BoxError> {
        self.function.open(ctx)
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
