//! `reduce` on a keyed stream: a rolling per-key accumulation that emits every
//! update (Flink's `StreamGroupedReduceOperator`). The first record of a key is
//! emitted as is; each later one is folded into the accumulator, which is emitted.
//! The accumulator lives in keyed state, so it is organised by key group.

use crate::functions::ReduceFunction;
use crate::operators::keyed::KeyedRuntime;
use runnel_runtime::checkpointing::StateSnapshotContext;
use runnel_runtime::partitioning::KeySelector;
use runnel_runtime::{BoxError, OneInputOperator, OperatorParameters, Output, RuntimeContext};
use runnel_state::{ValueState, ValueStateDescriptor};
use runnel_types::{Data, StreamRecord};

/// Rolling reduce per key.
pub struct KeyedReduce<T, KS: KeySelector<T>, F> {
    key_selector: KS,
    function: F,
    keyed: KeyedRuntime<KS::Key>,
    accumulator: ValueState<T>,
}

impl<T: Data, KS: KeySelector<T>, F> KeyedReduce<T, KS, F> {
    /// Reduces records of the same key with `function`.
    pub fn new(
        key_selector: KS,
        function: F,
        params: &OperatorParameters,
    ) -> Result<Self, BoxError> {
        let mut keyed = KeyedRuntime::new(params)?;
        let accumulator = keyed
            .store
            .get_state(&ValueStateDescriptor::new("_keyed_reduce_accumulator"))?;
        Ok(KeyedReduce {
            key_selector,
            function,
            keyed,
            accumulator,
        })
    }
}

impl<T: Data, KS: KeySelector<T>, F: ReduceFunction<T>> OneInputOperator for KeyedReduce<T, KS, F> {
    type In = T;
    type Out = T;

    fn snapshot_state(&mut self, ctx: &mut StateSnapshotContext<'_>) -> Result<(), BoxError> {
        self.keyed.snapshot_state(ctx)
    }

    fn open(&mut self, ctx: &RuntimeContext) -> Result<(), BoxError> {
        self.function.open(ctx)
    }

    #[inline]
    fn process_element(
        &mut self,
        record: StreamRecord<T>,
        out: &mut Output<T>,
    ) -> Result<(), BoxError> {
        self.keyed
            .set_current_key(self.key_selector.get_key(&record.value))?;
        let function = &mut self.function;
        let updated = self.accumulator.with_value(&mut self.keyed.store, |slot| {
            let updated = match slot.take() {
                Some(acc) => function.reduce(acc, record.value),
                None => record.value,
            };
            *slot = Some(updated.clone());
            updated
        })?;
        out.collect(StreamRecord {
            value: updated,
            timestamp: record.timestamp,
        });
        Ok(())
    }

    fn close(&mut self) -> Result<(), BoxError> {
        self.function.close()
    }
}
