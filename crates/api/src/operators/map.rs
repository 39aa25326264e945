//! `map`, `flat_map` and `filter`: stateless record-at-a-time operators.

use crate::functions::{Collector, FilterFunction, FlatMapFunction, MapFunction};
use runnel_runtime::checkpointing::StateSnapshotContext;
use runnel_runtime::function_state::FunctionState;
use runnel_runtime::{BoxError, OneInputOperator, Output, RuntimeContext};
use runnel_types::{Data, StreamRecord};
use std::marker::PhantomData;

/// Applies a [`MapFunction`] to every record, keeping its timestamp.
pub struct StreamMap<I, O, F> {
    function: F,
    state: FunctionState,
    _types: PhantomData<fn(I) -> O>,
}

impl<I, O, F> StreamMap<I, O, F> {
    /// Wraps a map function.
    pub fn new(function: F) -> Self {
        StreamMap {
            function,
            state: FunctionState::default(),
            _types: PhantomData,
        }
    }

    /// Gives the function its restored operator state.
    pub fn with_function_state(mut self, state: FunctionState) -> Self {
        self.state = state;
        self
    }
}

impl<I: Data, O: Data, F: MapFunction<I, O>> OneInputOperator for StreamMap<I, O, F> {
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
        let timestamp = record.timestamp;
        out.collect(StreamRecord {
            value: self.function.map(record.value),
            timestamp,
        });
        Ok(())
    }

    #[inline]
    fn process_batch(
        &mut self,
        batch: &mut Vec<StreamRecord<I>>,
        out: &mut Output<O>,
    ) -> Result<(), BoxError> {
        let f = &mut self.function;
        out.main.collect_all(batch.drain(..).map(|r| StreamRecord {
            value: f.map(r.value),
            timestamp: r.timestamp,
        }));
        Ok(())
    }

    fn close(&mut self) -> Result<(), BoxError> {
        self.function.close()
    }
}

/// Applies a [`FlatMapFunction`] to every record.
pub struct StreamFlatMap<I, O, F> {
    function: F,
    state: FunctionState,
    _types: PhantomData<fn(I) -> O>,
}

impl<I, O, F> StreamFlatMap<I, O, F> {
    /// Wraps a flat-map function.
    pub fn new(function: F) -> Self {
        StreamFlatMap {
            function,
            state: FunctionState::default(),
            _types: PhantomData,
        }
    }

    /// Gives the function its restored operator state.
    pub fn with_function_state(mut self, state: FunctionState) -> Self {
        self.state = state;
        self
    }
}

impl<I: Data, O: Data, F: FlatMapFunction<I, O>> OneInputOperator for StreamFlatMap<I, O, F> {
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
        let mut collector = Collector::new(&mut out.main, record.timestamp);
        self.function.flat_map(record.value, &mut collector);
        Ok(())
    }

    fn close(&mut self) -> Result<(), BoxError> {
        self.function.close()
    }
}

/// Keeps the records a [`FilterFunction`] accepts.
pub struct StreamFilter<T, F> {
    function: F,
    state: FunctionState,
    _types: PhantomData<fn(T)>,
}

impl<T, F> StreamFilter<T, F> {
    /// Wraps a filter function.
    pub fn new(function: F) -> Self {
        StreamFilter {
            function,
            state: FunctionState::default(),
            _types: PhantomData,
        }
    }

    /// Gives the function its restored operator state.
    pub fn with_function_state(mut self, state: FunctionState) -> Self {
        self.state = state;
        self
    }
}

impl<T: Data, F: FilterFunction<T>> OneInputOperator for StreamFilter<T, F> {
    type In = T;
    type Out = T;

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
        record: StreamRecord<T>,
        out: &mut Output<T>,
    ) -> Result<(), BoxError> {
        if self.function.filter(&record.value) {
            out.collect(record);
        }
        Ok(())
    }

    #[inline]
    fn process_batch(
        &mut self,
        batch: &mut Vec<StreamRecord<T>>,
        out: &mut Output<T>,
    ) -> Result<(), BoxError> {
        let f = &mut self.function;
        retain_without_branches(batch, |r| f.filter(&r.value));
        out.main.collect_batch(batch);
        Ok(())
    }

    fn close(&mut self) -> Result<(), BoxError> {
        self.function.close()
    }
}

/// `Vec::retain` without a data-dependent branch: each element is swapped to the
/// end of the kept prefix and the prefix grows by the predicate's answer, so a
/// filter that keeps a random half of its input costs no branch mispredictions
/// (with `retain`, about one per two records). The rejected elements end up
/// after the prefix and are dropped by the final truncation.
#[inline]
fn retain_without_branches<T>(batch: &mut Vec<T>, mut keep: impl FnMut(&T) -> bool) {
    let mut kept = 0;
    for i in 0..batch.len() {
        let k = keep(&batch[i]);
        batch.swap(kept, i);
        kept += usize::from(k);
    }
    batch.truncate(kept);
}

#[cfg(test)]
mod tests {
    use super::retain_without_branches;

    #[test]
    fn retains_in_order_and_drops_the_rest() {
        for pattern in [0u32, 1, 0b1010_1100, 0xffff, 0x8001, 0x7ffe] {
            let all: Vec<String> = (0..16).map(|i| format!("r{i}")).collect();
            let mut batch = all.clone();
            let mut seen = Vec::new();
            retain_without_branches(&mut batch, |r| {
                seen.push(r.clone());
                let i: u32 = r[1..].parse().unwrap();
                pattern >> i & 1 == 1
            });
            let expected: Vec<String> = all
                .iter()
                .enumerate()
                .filter(|(i, _)| pattern >> i & 1 == 1)
                .map(|(_, r)| r.clone())
                .collect();
            assert_eq!(batch, expected, "pattern {pattern:#b}");
            assert_eq!(seen, all, "the predicate sees every element once, in order");
        }
    }
}
