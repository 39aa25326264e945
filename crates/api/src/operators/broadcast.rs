//! The operators of the broadcast state pattern: input 1 is the (keyed or not)
//! data stream, input 2 the broadcast stream.

use crate::broadcast::{
    BroadcastContext, BroadcastContextBase, BroadcastProcessFunction,
    KeyedBroadcastProcessFunction, KeyedReadOnlyBroadcastContext, ReadOnlyBroadcastContext,
};
use crate::functions::Collector;
use crate::operators::keyed::KeyedRuntime;
use runnel_runtime::checkpointing::StateSnapshotContext;
use runnel_runtime::output::SideOutputs;
use runnel_runtime::partitioning::KeySelector;
use runnel_runtime::time::ProcessingTimeService;
use runnel_runtime::{BoxError, OperatorParameters, Output, RuntimeContext, TwoInputOperator};
use runnel_state::{BroadcastStateStore, StateError};
use runnel_types::{Data, EventTime, StreamRecord, Watermark};
use std::marker::PhantomData;
use std::sync::Arc;

/// Registers a broadcast state declared with `broadcast_with`, so it exists (empty)
/// in every instance from the start.
pub type BroadcastRegistration =
    Arc<dyn Fn(&mut BroadcastStateStore) -> Result<(), StateError> + Send + Sync>;

fn registered_store(
    registrations: &[BroadcastRegistration],
    params: &OperatorParameters,
) -> Result<BroadcastStateStore, BoxError> {
    let mut store = BroadcastStateStore::new();
    if let Some(restored) = params.restored_state()
        && !restored.operator_state.is_empty()
    {
        store.restore(restored.operator_state.clone())?;
    }
    for r in registrations {
        r(&mut store)?;
    }
    Ok(store)
}

/// Runs a [`BroadcastProcessFunction`].
pub struct BroadcastProcessOperator<I, B, O, F> {
    function: F,
    broadcast: BroadcastStateStore,
    time: ProcessingTimeService,
    runtime: RuntimeContext,
    watermark: Watermark,
    _types: PhantomData<fn(I, B) -> O>,
}

impl<I, B, O, F> BroadcastProcessOperator<I, B, O, F> {
    /// The operator of one parallel instance.
    pub fn new(
        function: F,
        registrations: &[BroadcastRegistration],
        params: &OperatorParameters,
    ) -> Result<Self, BoxError> {
        Ok(BroadcastProcessOperator {
            function,
            broadcast: registered_store(registrations, params)?,
            time: params.processing_time().clone(),
            runtime: params.runtime().clone(),
            watermark: Watermark::MIN,
            _types: PhantomData,
        })
    }

    /// The function and the context base of the record being processed.
    fn split<'a>(
        &'a mut self,
        timestamp: Option<EventTime>,
        side: &'a mut SideOutputs,
    ) -> (&'a mut F, BroadcastContextBase<'a>) {
        let base = BroadcastContextBase {
            timestamp,
            watermark: self.watermark,
            time: &self.time,
            side,
            runtime: &self.runtime,
            broadcast: &mut self.broadcast,
        };
        (&mut self.function, base)
    }
}

impl<I: Data, B: Data, O: Data, F: BroadcastProcessFunction<I, B, O>> TwoInputOperator
    for BroadcastProcessOperator<I, B, O, F>
{
    type In1 = I;
    type In2 = B;
    type Out = O;

    fn snapshot_state(&mut self, ctx: &mut StateSnapshotContext<'_>) -> Result<(), BoxError> {
        ctx.state().operator_state = self.broadcast.snapshot()?;
        Ok(())
    }

    fn open(&mut self, ctx: &RuntimeContext) -> Result<(), BoxError> {
        self.function.open(ctx)
    }

    fn process_element1(
        &mut self,
        record: StreamRecord<I>,
        out: &mut Output<O>,
    ) -> Result<(), BoxError> {
        let Output { main, side } = out;
        let (f, base) = self.split(record.timestamp, side);
        f.process_element(
            record.value,
            &mut ReadOnlyBroadcastContext { base },
            &mut Collector::new(main, record.timestamp),
        )
    }

    fn process_element2(
        &mut self,
        record: StreamRecord<B>,
        out: &mut Output<O>,
    ) -> Result<(), BoxError> {
        let Output { main, side } = out;
        let (f, base) = self.split(record.timestamp, side);
        f.process_broadcast_element(
            record.value,
            &mut BroadcastContext { base },
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

/// Runs a [`KeyedBroadcastProcessFunction`].
pub struct KeyedBroadcastProcessOperator<I, B, O, KS: KeySelector<I>, F> {
    key_selector: KS,
    function: F,
    keyed: KeyedRuntime<KS::Key>,
    broadcast: BroadcastStateStore,
    _types: PhantomData<fn(I, B) -> O>,
}

impl<I: Data, B, O, KS: KeySelector<I>, F> KeyedBroadcastProcessOperator<I, B, O, KS, F> {
    /// The operator of one parallel instance.
    pub fn new(
        key_selector: KS,
        function: F,
        registrations: &[BroadcastRegistration],
        params: &OperatorParameters,
    ) -> Result<Self, BoxError> {
        Ok(KeyedBroadcastProcessOperator {
            key_selector,
            function,
            keyed: KeyedRuntime::new(params)?,
            broadcast: registered_store(registrations, params)?,
            _types: PhantomData,
        })
    }
}

impl<I, B, O, KS, F> TwoInputOperator for KeyedBroadcastProcessOperator<I, B, O, KS, F>
where
    I: Data,
    B: Data,
    O: Data,
    KS: KeySelector<I>,
    F: KeyedBroadcastProcessFunction<KS::Key, I, B, O>,
{
    type In1 = I;
    type In2 = B;
    type Out = O;

    fn snapshot_state(&mut self, ctx: &mut StateSnapshotContext<'_>) -> Result<(), BoxError> {
        self.keyed.snapshot_state(ctx)?;
        ctx.state().operator_state = self.broadcast.snapshot()?;
        Ok(())
    }

    fn open(&mut self, _ctx: &RuntimeContext) -> Result<(), BoxError> {
        self.function.open(&mut self.keyed.open_context())
    }

    fn process_element1(
        &mut self,
        record: StreamRecord<I>,
        out: &mut Output<O>,
    ) -> Result<(), BoxError> {
        let key = self.key_selector.get_key(&record.value);
        let (f, broadcast) = (&mut self.function, &mut self.broadcast);
        self.keyed.process(key, record, out, |v, keyed, c| {
            let mut ctx = KeyedReadOnlyBroadcastContext {
                keyed: keyed.reborrow(),
                broadcast,
            };
            f.process_element(v, &mut ctx, c)
        })
    }

    fn process_element2(
        &mut self,
        record: StreamRecord<B>,
        out: &mut Output<O>,
    ) -> Result<(), BoxError> {
        let Output { main, side } = out;
        let base = BroadcastContextBase {
            timestamp: record.timestamp,
            watermark: self.keyed.timers.current_watermark(),
            time: &self.keyed.time,
            side,
            runtime: &self.keyed.runtime,
            broadcast: &mut self.broadcast,
        };
        let mut ctx = BroadcastContext { base };
        self.function.process_broadcast_element(
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
        let (f, broadcast) = (&mut self.function, &mut self.broadcast);
        self.keyed.advance_watermark(watermark, out, |t, keyed, c| {
            f.on_timer(
                t,
                &mut KeyedReadOnlyBroadcastContext {
                    keyed: keyed.reborrow(),
                    broadcast,
                },
                c,
            )
        })
    }

    fn on_processing_time(&mut self, now: i64, out: &mut Output<O>) -> Result<(), BoxError> {
        let (f, broadcast) = (&mut self.function, &mut self.broadcast);
        self.keyed.fire_processing_timers(now, out, |t, keyed, c| {
            f.on_timer(
                t,
                &mut KeyedReadOnlyBroadcastContext {
                    keyed: keyed.reborrow(),
                    broadcast,
                },
                c,
            )
        })
    }

    fn close(&mut self) -> Result<(), BoxError> {
        self.function.close()
    }
}
