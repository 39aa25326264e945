//! The internal window functions: how a fired window's contents become output
//! for each user-facing function (`reduce`, `aggregate`, `process`, `apply`, and
//! their combinations and evicting variants).

use crate::functions::Collector;
use crate::windowing::{
    ProcessWindowContext, ProcessWindowFunction, TimestampedValue, Window, WindowFunction,
};
use runnel_runtime::{BoxError, RuntimeContext};
use runnel_state::AggregateFunction;
use runnel_types::{Data, Key};
use std::marker::PhantomData;

/// Turns a fired window's contents into output.
pub trait InternalWindowFunction<K: Key, Acc, OUT, W: Window>: Send + 'static {
    /// Called once per parallel instance.
    fn open(&mut self, _ctx: &RuntimeContext) -> Result<(), BoxError> {
        Ok(())
    }
    /// Emits the window's result(s).
    fn process(
        &mut self,
        key: &K,
        acc: &Acc,
        ctx: &mut ProcessWindowContext<'_, K, W>,
        out: &mut Collector<'_, OUT>,
    ) -> Result<(), BoxError>;
    /// The window is purged for good.
    fn clear(&mut self, _ctx: &mut ProcessWindowContext<'_, K, W>) -> Result<(), BoxError> {
        Ok(())
    }
    /// Called once per parallel instance at the end.
    fn close(&mut self) -> Result<(), BoxError> {
        Ok(())
    }
}

/// Emits a reduced value as is.
#[derive(Clone)]
pub struct PassThrough;

impl<K: Key, T: Data, W: Window> InternalWindowFunction<K, Option<T>, T, W> for PassThrough {
    #[inline]
    fn process(
        &mut self,
        _key: &K,
        acc: &Option<T>,
        _ctx: &mut ProcessWindowContext<'_, K, W>,
        out: &mut Collector<'_, T>,
    ) -> Result<(), BoxError> {
        if let Some(v) = acc {
            out.collect(v.clone());
        }
        Ok(())
    }
}

/// Emits an aggregate's result.
#[derive(Clone)]
pub struct AggregateResult<A, IN>(pub(crate) A, pub(crate) PhantomData<fn(IN)>);

impl<K: Key, IN: 'static, ACC, OUT: Data, W: Window, A>
    InternalWindowFunction<K, Option<ACC>, OUT, W> for AggregateResult<A, IN>
where
    A: AggregateFunction<IN, ACC, OUT> + Send + 'static,
{
    #[inline]
    fn process(
        &mut self,
        _key: &K,
        acc: &Option<ACC>,
        _ctx: &mut ProcessWindowContext<'_, K, W>,
        out: &mut Collector<'_, OUT>,
    ) -> Result<(), BoxError> {
        if let Some(acc) = acc {
            out.collect(self.0.get_result(acc));
        }
        Ok(())
    }
}

/// Hands a single pre-aggregated value (reduce) to a process window function.
#[derive(Clone)]
pub struct SingleValueProcess<P>(pub(crate) P);

impl<K: Key, T: Data, OUT: Data, W: Window, P> InternalWindowFunction<K, Option<T>, OUT, W>
    for SingleValueProcess<P>
where
    P: ProcessWindowFunction<K, T, OUT, W>,
{
    fn open(&mut self, ctx: &RuntimeContext) -> Result<(), BoxError> {
        self.0.open(ctx)
    }
    fn process(
        &mut self,
        key: &K,
        acc: &Option<T>,
        ctx: &mut ProcessWindowContext<'_, K, W>,
        out: &mut Collector<'_, OUT>,
    ) -> Result<(), BoxError> {
        match acc {
            Some(v) => self.0.process(key, ctx, std::slice::from_ref(v), out),
            None => Ok(()),
        }
    }
    fn clear(&mut self, ctx: &mut ProcessWindowContext<'_, K, W>) -> Result<(), BoxError> {
        self.0.clear(ctx)
    }
    fn close(&mut self) -> Result<(), BoxError> {
        self.0.close()
    }
}

/// Hands an aggregate's result to a process window function.
#[derive(Clone)]
pub struct AggregateProcess<A, P, IN, R>(
    pub(crate) A,
    pub(crate) P,
    pub(crate) PhantomData<fn(IN) -> R>,
);

impl<K: Key, IN: 'static, ACC, R: Data, OUT: Data, W: Window, A, P>
    InternalWindowFunction<K, Option<ACC>, OUT, W> for AggregateProcess<A, P, IN, R>
where
    A: AggregateFunction<IN, ACC, R> + Send + 'static,
    P: ProcessWindowFunction<K, R, OUT, W>,
{
    fn open(&mut self, ctx: &RuntimeContext) -> Result<(), BoxError> {
        self.1.open(ctx)
    }
    fn process(
        &mut self,
        key: &K,
        acc: &Option<ACC>,
        ctx: &mut ProcessWindowContext<'_, K, W>,
        out: &mut Collector<'_, OUT>,
    ) -> Result<(), BoxError> {
        match acc {
            Some(acc) => {
                let result = self.0.get_result(acc);
                self.1.process(key, ctx, std::slice::from_ref(&result), out)
            }
            None => Ok(()),
        }
    }
    fn clear(&mut self, ctx: &mut ProcessWindowContext<'_, K, W>) -> Result<(), BoxError> {
        self.1.clear(ctx)
    }
    fn close(&mut self) -> Result<(), BoxError> {
        self.1.close()
    }
}

/// Hands every element to a process window function.
#[derive(Clone)]
pub struct ListProcess<P>(pub(crate) P);

impl<K: Key, T: Data, OUT: Data, W: Window, P> InternalWindowFunction<K, Vec<T>, OUT, W>
    for ListProcess<P>
where
    P: ProcessWindowFunction<K, T, OUT, W>,
{
    fn open(&mut self, ctx: &RuntimeContext) -> Result<(), BoxError> {
        self.0.open(ctx)
    }
    fn process(
        &mut self,
        key: &K,
        acc: &Vec<T>,
        ctx: &mut ProcessWindowContext<'_, K, W>,
        out: &mut Collector<'_, OUT>,
    ) -> Result<(), BoxError> {
        self.0.process(key, ctx, acc, out)
    }
    fn clear(&mut self, ctx: &mut ProcessWindowContext<'_, K, W>) -> Result<(), BoxError> {
        self.0.clear(ctx)
    }
    fn close(&mut self) -> Result<(), BoxError> {
        self.0.close()
    }
}

/// Hands every element to a window function (`apply`).
#[derive(Clone)]
pub struct ListApply<F>(pub(crate) F);

impl<K: Key, T: Data, OUT: Data, W: Window, F> InternalWindowFunction<K, Vec<T>, OUT, W>
    for ListApply<F>
where
    F: WindowFunction<K, T, OUT, W>,
{
    fn open(&mut self, ctx: &RuntimeContext) -> Result<(), BoxError> {
        self.0.open(ctx)
    }
    fn process(
        &mut self,
        key: &K,
        acc: &Vec<T>,
        ctx: &mut ProcessWindowContext<'_, K, W>,
        out: &mut Collector<'_, OUT>,
    ) -> Result<(), BoxError> {
        let window = ctx.window.clone();
        self.0.apply(key, &window, acc, out)
    }
    fn close(&mut self) -> Result<(), BoxError> {
        self.0.close()
    }
}

/// Folds the remaining elements of an evicting window with a reduce function,
/// then hands the result on.
#[derive(Clone)]
pub struct FoldReduce<F, E>(pub(crate) F, pub(crate) E);

impl<K: Key, T: Data, OUT, W: Window, F, E> InternalWindowFunction<K, Vec<T>, OUT, W>
    for FoldReduce<F, E>
where
    F: crate::functions::ReduceFunction<T>,
    E: InternalWindowFunction<K, Option<T>, OUT, W>,
{
    fn open(&mut self, ctx: &RuntimeContext) -> Result<(), BoxError> {
        self.0.open(ctx)?;
        self.1.open(ctx)
    }
    fn process(
        &mut self,
        key: &K,
        acc: &Vec<T>,
        ctx: &mut ProcessWindowContext<'_, K, W>,
        out: &mut Collector<'_, OUT>,
    ) -> Result<(), BoxError> {
        let mut folded: Option<T> = None;
        for v in acc {
            folded = Some(match folded {
                Some(a) => self.0.reduce(a, v.clone()),
                None => v.clone(),
            });
        }
        self.1.process(key, &folded, ctx, out)
    }
    fn clear(&mut self, ctx: &mut ProcessWindowContext<'_, K, W>) -> Result<(), BoxError> {
        self.1.clear(ctx)
    }
    fn close(&mut self) -> Result<(), BoxError> {
        self.0.close()?;
        self.1.close()
    }
}

/// Aggregates the remaining elements of an evicting window, then hands the
/// accumulator on (an empty window gives the empty accumulator's result, as in
/// Flink).
#[derive(Clone)]
pub struct FoldAggregate<A, E, ACC, R>(
    pub(crate) A,
    pub(crate) E,
    pub(crate) PhantomData<fn() -> (ACC, R)>,
);

impl<K: Key, T: Data, ACC, R: 'static, OUT, W: Window, A, E>
    InternalWindowFunction<K, Vec<T>, OUT, W> for FoldAggregate<A, E, ACC, R>
where
    A: AggregateFunction<T, ACC, R> + Send + 'static,
    E: InternalWindowFunction<K, Option<ACC>, OUT, W>,
    ACC: 'static,
{
    fn open(&mut self, ctx: &RuntimeContext) -> Result<(), BoxError> {
        self.1.open(ctx)
    }
    fn process(
        &mut self,
        key: &K,
        acc: &Vec<T>,
        ctx: &mut ProcessWindowContext<'_, K, W>,
        out: &mut Collector<'_, OUT>,
    ) -> Result<(), BoxError> {
        let mut a = self.0.create_accumulator();
        for v in acc {
            a = self.0.add(v.clone(), a);
        }
        self.1.process(key, &Some(a), ctx, out)
    }
    fn clear(&mut self, ctx: &mut ProcessWindowContext<'_, K, W>) -> Result<(), BoxError> {
        self.1.clear(ctx)
    }
    fn close(&mut self) -> Result<(), BoxError> {
        self.1.close()
    }
}

/// Strips timestamps from an evicting window's elements for a list function.
#[derive(Clone)]
pub struct Untimestamped<F>(pub(crate) F);

impl<K: Key, T: Data, OUT, W: Window, F> InternalWindowFunction<K, Vec<TimestampedValue<T>>, OUT, W>
    for Untimestamped<F>
where
    F: InternalWindowFunction<K, Vec<T>, OUT, W>,
{
    fn open(&mut self, ctx: &RuntimeContext) -> Result<(), BoxError> {
        self.0.open(ctx)
    }
    fn process(
        &mut self,
        key: &K,
        acc: &Vec<TimestampedValue<T>>,
        ctx: &mut ProcessWindowContext<'_, K, W>,
        out: &mut Collector<'_, OUT>,
    ) -> Result<(), BoxError> {
        let values: Vec<T> = acc.iter().map(|e| e.value.clone()).collect();
        self.0.process(key, &values, ctx, out)
    }
    fn clear(&mut self, ctx: &mut ProcessWindowContext<'_, K, W>) -> Result<(), BoxError> {
        self.0.clear(ctx)
    }
    fn close(&mut self) -> Result<(), BoxError> {
        self.0.close()
    }
}
