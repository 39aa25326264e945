//! Operators over two connected streams: co-map, co-flat-map and co-process.

use crate::functions::{
    CoFlatMapFunction, CoMapFunction, CoProcessFunction, Collector, ProcessContext,
};
use runnel_runtime::{BoxError, Output, RuntimeContext, TwoInputOperator};
use runnel_types::{Data, StreamRecord, Watermark};
use std::marker::PhantomData;

/// Runs a [`CoMapFunction`].
pub struct CoStreamMap<I1, I2, O, F> {
    function: F,
    _types: PhantomData<fn(I1, I2) -> O>,
}

impl<I1, I2, O, F> CoStreamMap<I1, I2, O, F> {
    /// Wraps a co-map function.
    pub fn new(function: F) -> Self {
        CoStreamMap {
            function,
            _types: PhantomData,
        }
    }
}

impl<I1: Data, I2: Data, O: Data, F: CoMapFunction<I1, I2, O>> TwoInputOperator
    for CoStreamMap<I1, I2, O, F>
{
    type In1 = I1;
    type In2 = I2;
    type Out = O;

    fn open(&mut self, ctx: &RuntimeContext) -> Result<(), BoxError> {
        self.function.open(ctx)
    }
    fn process_element1(
        &mut self,
        record: StreamRecord<I1>,
        out: &mut Output<O>,
    ) -> Result<(), BoxError> {
        let ts = record.timestamp;
        out.collect(StreamRecord {
            value: self.function.map1(record.value),
            timestamp: ts,
        });
        Ok(())
    }
    fn process_element2(
        &mut self,
        record: StreamRecord<I2>,
        out: &mut Output<O>,
    ) -> Result<(), BoxError> {
        let ts = record.timestamp;
        out.collect(StreamRecord {
            value: self.function.map2(record.value),
            timestamp: ts,
        });
        Ok(())
    }
    fn close(&mut self) -> Result<(), BoxError> {
        self.function.close()
    }
}

/// Runs a [`CoFlatMapFunction`].
pub struct CoStreamFlatMap<I1, I2, O, F> {
    function: F,
    _types: PhantomData<fn(I1, I2) -> O>,
}

impl<I1, I2, O, F> CoStreamFlatMap<I1, I2, O, F> {
    /// Wraps a co-flat-map function.
    pub fn new(function: F) -> Self {
        CoStreamFlatMap {
            function,
            _types: PhantomData,
        }
    }
}

impl<I1: Data, I2: Data, O: Data, F: CoFlatMapFunction<I1, I2, O>> TwoInputOperator
    for CoStreamFlatMap<I1, I2, O, F>
{
    type In1 = I1;
    type In2 = I2;
    type Out = O;

    fn open(&mut self, ctx: &RuntimeContext) -> Result<(), BoxError> {
        self.function.open(ctx)
    }
    fn process_element1(
        &mut self,
        record: StreamRecord<I1>,
        out: &mut Output<O>,
    ) -> Result<(), BoxError> {
        self.function.flat_map1(
            record.value,
            &mut Collector::new(&mut out.main, record.timestamp),
        );
        Ok(())
    }
    fn process_element2(
        &mut self,
        record: StreamRecord<I2>,
        out: &mut Output<O>,
    ) -> Result<(), BoxError> {
        self.function.flat_map2(
            record.value,
            &mut Collector::new(&mut out.main, record.timestamp),
        );
        Ok(())
    }
    fn close(&mut self) -> Result<(), BoxError> {
        self.function.close()
    }
}

/// Runs a [`CoProcessFunction`].
pub struct CoProcessOperator<I1, I2, O, F> {
    function: F,
    runtime: RuntimeContext,
    watermark: Watermark,
    _types: PhantomData<fn(I1, I2) -> O>,
}

impl<I1, I2, O, F> CoProcessOperator<I1, I2, O, F> {
    /// Wraps a co-process function.
    pub fn new(function: F, runtime: RuntimeContext) -> Self {
        CoProcessOperator {
            function,
            runtime,
            watermark: Watermark::MIN,
            _types: PhantomData,
        }
    }
}

impl<I1: Data, I2: Data, O: Data, F: CoProcessFunction<I1, I2, O>> TwoInputOperator
    for CoProcessOperator<I1, I2, O, F>
{
    type In1 = I1;
    type In2 = I2;
    type Out = O;

    fn open(&mut self, ctx: &RuntimeContext) -> Result<(), BoxError> {
        self.function.open(ctx)
    }
    fn process_element1(
        &mut self,
        record: StreamRecord<I1>,
        out: &mut Output<O>,
    ) -> Result<(), BoxError> {
        let Output { main, side } = out;
        let mut ctx = ProcessContext {
            timestamp: record.timestamp,
            watermark: self.watermark,
            runtime: &self.runtime,
            side,
        };
        self.function.process_element1(
            record.value,
            &mut ctx,
            &mut Collector::new(main, record.timestamp),
        )
    }
    fn process_element2(
        &mut self,
        record: StreamRecord<I2>,
        out: &mut Output<O>,
    ) -> Result<(), BoxError> {
        let Output { main, side } = out;
        let mut ctx = ProcessContext {
            timestamp: record.timestamp,
            watermark: self.watermark,
            runtime: &self.runtime,
            side,
        };
        self.function.process_element2(
            record.value,
            &mut ctx,
            &mut Collector::new(main, record.timestamp),
        )
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
