//! `map`, `flat_map` and `filter`: stateless record-at-a-time operators.

use crate::functions::{Collector, FilterFunction, FlatMapFunction, MapFunction};
use runnel_runtime::{BoxError, OneInputOperator, Output, RuntimeContext};
use runnel_types::{Data, StreamRecord};
use std::marker::PhantomData;

/// Applies a [`MapFunction`] to every record, keeping its timestamp.
pub struct StreamMap<I, O, F> {
    function: F,
    _types: PhantomData<fn(I) -> O>,
}

impl<I, O, F> StreamMap<I, O, F> {
    /// Wraps a map function.
    pub fn new(function: F) -> Self {
        StreamMap {
            function,
            _types: PhantomData,
        }
    }
}

impl<I: Data, O: Data, F: MapFunction<I, O>> OneInputOperator for StreamMap<I, O, F> {
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
    _types: PhantomData<fn(I) -> O>,
}

impl<I, O, F> StreamFlatMap<I, O, F> {
    /// Wraps a flat-map function.
    pub fn new(function: F) -> Self {
        StreamFlatMap {
            function,
            _types: PhantomData,
        }
    }
}

impl<I: Data, O: Data, F: FlatMapFunction<I, O>> OneInputOperator for StreamFlatMap<I, O, F> {
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
    _types: PhantomData<fn(T)>,
}

impl<T, F> StreamFilter<T, F> {
    /// Wraps a filter function.
    pub fn new(function: F) -> Self {
        StreamFilter {
            function,
            _types: PhantomData,
        }
    }
}

impl<T: Data, F: FilterFunction<T>> OneInputOperator for StreamFilter<T, F> {
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
        batch.retain(|r| f.filter(&r.value));
        out.main.collect_batch(batch);
        Ok(())
    }

    fn close(&mut self) -> Result<(), BoxError> {
        self.function.close()
    }
}
