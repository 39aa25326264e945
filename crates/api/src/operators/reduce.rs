//! `reduce` on a keyed stream: a rolling per-key accumulation that emits every
//! update (Flink's `StreamGroupedReduceOperator`). The first record of a key is
//! emitted as is; each later one is folded into the accumulator, which is emitted.

use crate::functions::ReduceFunction;
use runnel_runtime::partitioning::KeySelector;
use runnel_runtime::{BoxError, OneInputOperator, Output, RuntimeContext};
use runnel_types::{Data, FxHashMap, StreamRecord};
use std::marker::PhantomData;

/// Rolling reduce per key.
pub struct KeyedReduce<T, KS: KeySelector<T>, F> {
    key_selector: KS,
    function: F,
    accumulators: FxHashMap<KS::Key, Option<T>>,
    _types: PhantomData<fn(T)>,
}

impl<T, KS: KeySelector<T>, F> KeyedReduce<T, KS, F> {
    /// Reduces records of the same key with `function`.
    pub fn new(key_selector: KS, function: F) -> Self {
        KeyedReduce {
            key_selector,
            function,
            accumulators: FxHashMap::default(),
            _types: PhantomData,
        }
    }
}

impl<T: Data, KS: KeySelector<T>, F: ReduceFunction<T>> OneInputOperator for KeyedReduce<T, KS, F> {
    type In = T;
    type Out = T;

    fn open(&mut self, ctx: &RuntimeContext) -> Result<(), BoxError> {
        self.function.open(ctx)
    }

    #[inline]
    fn process_element(
        &mut self,
        record: StreamRecord<T>,
        out: &mut Output<T>,
    ) -> Result<(), BoxError> {
        let key = self.key_selector.get_key(&record.value);
        match self.accumulators.get_mut(&key) {
            Some(slot) => {
                let updated = match slot.take() {
                    Some(acc) => self.function.reduce(acc, record.value),
                    None => record.value,
                };
                *slot = Some(updated.clone());
                out.collect(StreamRecord {
                    value: updated,
                    timestamp: record.timestamp,
                });
            }
            None => {
                self.accumulators.insert(key, Some(record.value.clone()));
                out.collect(record);
            }
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), BoxError> {
        self.function.close()
    }
}
