//! `process` on a keyed stream and on connected keyed streams: keyed process
//! functions with state and timers (Flink's `KeyedProcessOperator` and
//! `KeyedCoProcessOperator`).

use crate::keyed_functions::{KeyedCoProcessFunction, KeyedProcessFunction};
use crate::operators::keyed::KeyedRuntime;
use runnel_runtime::checkpointing::StateSnapshotContext;
use runnel_runtime::partitioning::KeySelector;
use runnel_runtime::{
    BoxError, OneInputOperator, OperatorParameters, Output, RuntimeContext, TwoInputOperator,
};
use runnel_types::{Data, StreamRecord, Watermark};
use std::marker::PhantomData;

/// Runs a [`KeyedProcessFunction`].
pub struct KeyedProcessOperator<I, O, KS: KeySelector<I>, F> {
    key_selector: KS,
    function: F,
    keyed: KeyedRuntime<KS::Key>,
    _types: PhantomData<fn(I) -> O>,
}

impl<I: Data, O: Data, KS: KeySelector<I>, F: KeyedProcessFunction<KS::Key, I, O>>
    KeyedProcessOperator<I, O, KS, F>
{
    /// The operator of one parallel instance.
    pub fn new(
        key_selector: KS,
        function: F,
        params: &OperatorParameters,
    ) -> Result<Self, BoxError> {
        Ok(KeyedProcessOperator {
            key_selector,
            function,
            keyed: KeyedRuntime::new(params)?,
            _types: PhantomData,
        })
    }
}

impl<I: Data, O: Data, KS: KeySelector<I>, F: KeyedProcessFunction<KS::Key, I, O>> OneInputOperator
    for KeyedProcessOperator<I, O, KS, F>
{
    type In = I;
    type Out = O;

    fn snapshot_state(&mut self, ctx: &mut StateSnapshotContext<'_>) -> Result<(), BoxError> {
        self.keyed.snapshot_state(ctx)
    }

    fn open(&mut self, _ctx: &RuntimeContext) -> Result<(), BoxError> {
        self.function.open(&mut self.keyed.open_context())
    }

    #[inline]
    fn process_element(
        &mut self,
        record: StreamRecord<I>,
        out: &mut Output<O>,
    ) -> Result<(), BoxError> {
        let key = self.key_selector.get_key(&record.value);
        let f = &mut self.function;
        self.keyed
            .process(key, record, out, |v, ctx, c| f.process_element(v, ctx, c))
    }

    fn process_watermark(
        &mut self,
        watermark: Watermark,
        out: &mut Output<O>,
    ) -> Result<(), BoxError> {
        let f = &mut self.function;
        self.keyed
            .advance_watermark(watermark, out, |t, ctx, c| f.on_timer(t, ctx, c))
    }

    fn on_processing_time(&mut self, now: i64, out: &mut Output<O>) -> Result<(), BoxError> {
        let f = &mut self.function;
        self.keyed
            .fire_processing_timers(now, out, |t, ctx, c| f.on_timer(t, ctx, c))
    }

    fn close(&mut self) -> Result<(), BoxError> {
        self.function.close()
    }
}

/// Runs a [`KeyedCoProcessFunction`] over two inputs keyed alike.
pub struct KeyedCoProcessOperator<I1, I2, O, KS1: KeySelector<I1>, KS2, F> {
    key1: KS1,
    key2: KS2,
    function: F,
    keyed: KeyedRuntime<KS1::Key>,
    _types: PhantomData<fn(I1, I2) -> O>,
}

impl<I1, I2, O, KS1, KS2, F> KeyedCoProcessOperator<I1, I2, O, KS1, KS2, F>
where
    I1: Data,
    I2: Data,
    O: Data,
    KS1: KeySelector<I1>,
    KS2: KeySelector<I2, Key = KS1::Key>,
    F: KeyedCoProcessFunction<KS1::Key, I1, I2, O>,
{
    /// The operator of one parallel instance.
    pub fn new(
        key1: KS1,
        key2: KS2,
        function: F,
        params: &OperatorParameters,
    ) -> Result<Self, BoxError> {
        Ok(KeyedCoProcessOperator {
            key1,
            key2,
            function,
            keyed: KeyedRuntime::new(params)?,
            _types: PhantomData,
        })
    }
}

impl<I1, I2, O, KS1, KS2, F> TwoInputOperator for KeyedCoProcessOperator<I1, I2, O, KS1, KS2, F>
where
    I1: Data,
    I2: Data,
    O: Data,
    KS1: KeySelector<I1>,
    KS2: KeySelector<I2, Key = KS1::Key>,
    F: KeyedCoProcessFunction<KS1::Key, I1, I2, O>,
{
    type In1 = I1;
    type In2 = I2;
    type Out = O;

    fn snapshot_state(&mut self, ctx: &mut StateSnapshotContext<'_>) -> Result<(), BoxError> {
        self.keyed.snapshot_state(ctx)
    }

    fn open(&mut self, _ctx: &RuntimeContext) -> Result<(), BoxError> {
        self.function.open(&mut self.keyed.open_context())
    }

    fn process_element1(
        &mut self,
        record: StreamRecord<I1>,
        out: &mut Output<O>,
    ) -> Result<(), BoxError> {
        let key = self.key1.get_key(&record.value);
        let f = &mut self.function;
        self.keyed
            .process(key, record, out, |v, ctx, c| f.process_element1(v, ctx, c))
    }

    fn process_element2(
        &mut self,
        record: StreamRecord<I2>,
        out: &mut Output<O>,
    ) -> Result<(), BoxError> {
        let key = self.key2.get_key(&record.value);
        let f = &mut self.function;
        self.keyed
            .process(key, record, out, |v, ctx, c| f.process_element2(v, ctx, c))
    }

    fn process_watermark(
        &mut self,
        watermark: Watermark,
        out: &mut Output<O>,
    ) -> Result<(), BoxError> {
        let f = &mut self.function;
        self.keyed
            .advance_watermark(watermark, out, |t, ctx, c| f.on_timer(t, ctx, c))
    }

    fn on_processing_time(&mut self, now: i64, out: &mut Output<O>) -> Result<(), BoxError> {
        let f = &mut self.function;
        self.keyed
            .fire_processing_timers(now, out, |t, ctx, c| f.on_timer(t, ctx, c))
    }

    fn close(&mut self) -> Result<(), BoxError> {
        self.function.close()
    }
}
