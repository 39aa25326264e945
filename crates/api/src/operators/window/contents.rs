//! What a window keeps: an accumulator (`reduce`, `aggregate`), the elements
//! (`process`, `apply`), or the elements with their timestamps for an evictor.

use crate::windowing::{EvictorContext, TimestampedValue, Window};
use runnel_runtime::{BoxError, RuntimeContext};
use runnel_state::AggregateFunction;
use runnel_types::{Data, EventTime};
use std::marker::PhantomData;

/// How a window keeps what it was given: an accumulator, or the elements.
pub trait WindowContents<IN, W: Window>: Send + 'static {
    /// What is stored per (key, window).
    type Acc: Data;
    /// Called once per parallel instance.
    fn open(&mut self, _ctx: &RuntimeContext) -> Result<(), BoxError> {
        Ok(())
    }
    /// An empty accumulator.
    fn create() -> Self::Acc;
    /// Adds an element.
    fn add(
        &mut self,
        acc: &mut Self::Acc,
        value: IN,
        timestamp: Option<EventTime>,
    ) -> Result<(), BoxError>;
    /// Merges `other` into `target` (merging windows).
    fn merge(&mut self, target: &mut Self::Acc, other: Self::Acc) -> Result<(), BoxError>;
    /// Whether nothing was added (a fire then emits nothing).
    fn is_empty(acc: &Self::Acc) -> bool;
    /// Called before the window function (evictors).
    fn before_emit(&mut self, _acc: &mut Self::Acc, _window: &W, _ctx: &EvictorContext) {}
    /// Called after the window function (evictors).
    fn after_emit(&mut self, _acc: &mut Self::Acc, _window: &W, _ctx: &EvictorContext) {}
    /// Called once per parallel instance at the end.
    fn close(&mut self) -> Result<(), BoxError> {
        Ok(())
    }
}

/// Contents folded by a reduce function.
#[derive(Clone)]
pub struct ReduceContents<F>(pub(crate) F);

impl<T: Data, W: Window, F: crate::functions::ReduceFunction<T>> WindowContents<T, W>
    for ReduceContents<F>
{
    type Acc = Option<T>;
    fn open(&mut self, ctx: &RuntimeContext) -> Result<(), BoxError> {
        self.0.open(ctx)
    }
    #[inline]
    fn create() -> Option<T> {
        None
    }
    #[inline]
    fn add(
        &mut self,
        acc: &mut Option<T>,
        value: T,
        _timestamp: Option<EventTime>,
    ) -> Result<(), BoxError> {
        *acc = Some(match acc.take() {
            Some(a) => self.0.reduce(a, value),
            None => value,
        });
        Ok(())
    }
    fn merge(&mut self, target: &mut Option<T>, other: Option<T>) -> Result<(), BoxError> {
        if let Some(value) = other {
            <Self as WindowContents<T, W>>::add(self, target, value, None)?;
        }
        Ok(())
    }
    fn is_empty(acc: &Option<T>) -> bool {
        acc.is_none()
    }
    fn close(&mut self) -> Result<(), BoxError> {
        self.0.close()
    }
}

/// Contents folded by an aggregate function's accumulator.
#[derive(Clone)]
pub struct AggregateContents<A, ACC, OUT>(pub(crate) A, pub(crate) PhantomData<fn() -> (ACC, OUT)>);

impl<IN, W: Window, ACC: Data, OUT: 'static, A> WindowContents<IN, W>
    for AggregateContents<A, ACC, OUT>
where
    A: AggregateFunction<IN, ACC, OUT> + Send + 'static,
{
    type Acc = Option<ACC>;
    #[inline]
    fn create() -> Option<ACC> {
        None
    }
    #[inline]
    fn add(
        &mut self,
        acc: &mut Option<ACC>,
        value: IN,
        _timestamp: Option<EventTime>,
    ) -> Result<(), BoxError> {
        let current = acc.take().unwrap_or_else(|| self.0.create_accumulator());
        *acc = Some(self.0.add(value, current));
        Ok(())
    }
    fn merge(&mut self, target: &mut Option<ACC>, other: Option<ACC>) -> Result<(), BoxError> {
        if let Some(other) = other {
            *target = Some(match target.take() {
                Some(t) => self.0.merge(t, other),
                None => other,
            });
        }
        Ok(())
    }
    fn is_empty(acc: &Option<ACC>) -> bool {
        acc.is_none()
    }
}

/// Contents that keep every element.
#[derive(Clone, Copy)]
pub struct ListContents;

impl<T: Data, W: Window> WindowContents<T, W> for ListContents {
    type Acc = Vec<T>;
    fn create() -> Vec<T> {
        Vec::new()
    }
    #[inline]
    fn add(
        &mut self,
        acc: &mut Vec<T>,
        value: T,
        _timestamp: Option<EventTime>,
    ) -> Result<(), BoxError> {
        acc.push(value);
        Ok(())
    }
    fn merge(&mut self, target: &mut Vec<T>, other: Vec<T>) -> Result<(), BoxError> {
        target.extend(other);
        Ok(())
    }
    fn is_empty(acc: &Vec<T>) -> bool {
        acc.is_empty()
    }
}

/// An evictor behind a trait object (evictors run only when a window fires).
pub(crate) trait ErasedEvictor<T, W>: Send {
    fn evict_before(
        &mut self,
        elements: &mut Vec<TimestampedValue<T>>,
        window: &W,
        ctx: &EvictorContext,
    );
    fn evict_after(
        &mut self,
        elements: &mut Vec<TimestampedValue<T>>,
        window: &W,
        ctx: &EvictorContext,
    );
    fn clone_box(&self) -> Box<dyn ErasedEvictor<T, W>>;
}

impl<T, W: Window, E: crate::windowing::Evictor<T, W>> ErasedEvictor<T, W> for E {
    fn evict_before(
        &mut self,
        elements: &mut Vec<TimestampedValue<T>>,
        window: &W,
        ctx: &EvictorContext,
    ) {
        crate::windowing::Evictor::evict_before(self, elements, window, ctx)
    }
    fn evict_after(
        &mut self,
        elements: &mut Vec<TimestampedValue<T>>,
        window: &W,
        ctx: &EvictorContext,
    ) {
        crate::windowing::Evictor::evict_after(self, elements, window, ctx)
    }
    fn clone_box(&self) -> Box<dyn ErasedEvictor<T, W>> {
        Box::new(self.clone())
    }
}

/// A boxed evictor that can be cloned (one per parallel instance).
pub(crate) struct BoxedEvictor<T, W>(pub(crate) Box<dyn ErasedEvictor<T, W>>);

impl<T, W> Clone for BoxedEvictor<T, W> {
    fn clone(&self) -> Self {
        BoxedEvictor(self.0.clone_box())
    }
}

/// Contents that keep every element with its timestamp, for an evictor.
#[derive(Clone)]
pub struct EvictingContents<T, W>(pub(crate) BoxedEvictor<T, W>);

impl<T: Data, W: Window> WindowContents<T, W> for EvictingContents<T, W> {
    type Acc = Vec<TimestampedValue<T>>;
    fn create() -> Self::Acc {
        Vec::new()
    }
    #[inline]
    fn add(
        &mut self,
        acc: &mut Self::Acc,
        value: T,
        timestamp: Option<EventTime>,
    ) -> Result<(), BoxError> {
        acc.push(TimestampedValue { value, timestamp });
        Ok(())
    }
    fn merge(&mut self, target: &mut Self::Acc, other: Self::Acc) -> Result<(), BoxError> {
        target.extend(other);
        Ok(())
    }
    fn is_empty(acc: &Self::Acc) -> bool {
        acc.is_empty()
    }
    fn before_emit(&mut self, acc: &mut Self::Acc, window: &W, ctx: &EvictorContext) {
        self.0.0.evict_before(acc, window, ctx);
    }
    fn after_emit(&mut self, acc: &mut Self::Acc, window: &W, ctx: &EvictorContext) {
        self.0.0.evict_after(acc, window, ctx);
    }
}
