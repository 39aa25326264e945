//! The window operator (Flink's `WindowOperator` and `EvictingWindowOperator`).
//!
//! Per element: the assigner picks its windows; each window not yet past its
//! cleanup time gets the element added to its contents (an accumulator per
//! (key, window), or the element list when the function needs every element or
//! an evictor is set) and the trigger decides; a fire runs the window function on
//! the contents, stamped with the window's max timestamp; a purge drops them. A
//! cleanup timer at `max_timestamp + allowed_lateness` (event time) or
//! `max_timestamp` (processing time) drops everything the window kept. An element
//! that lands in no window and is late goes to the late-data side output, or is
//! dropped and counted in `late_records_dropped`.
//!
//! Merging assigners (sessions) keep, per key, the in-flight windows and the
//! window holding each one's contents (Flink's `MergingWindowSet`): merged windows
//! keep the contents of one of them, so a merge moves no data but the others'.
//!
//! Contents live in namespaced keyed state (one accumulator per key and window)
//! and timers are namespaced by window, so everything a window keeps is
//! organised by key group.

use crate::functions::Collector;
use crate::operators::keyed::KeyedRuntime;
use crate::windowing::{
    EvictorContext, ProcessWindowContext, ProcessWindowFunction, TimestampedValue, Trigger,
    TriggerContext, TriggerResult, Window, WindowAssigner, WindowAssignerContext, WindowFunction,
};
use runnel_runtime::metrics::Counter;
use runnel_runtime::output::{MainOutput, SideOutputs};
use runnel_runtime::partitioning::KeySelector;
use runnel_runtime::timers::{TimeDomain, Timer};
use runnel_runtime::{
    BoxError, OneInputOperator, OperatorParameters, Output, OutputTag, RuntimeContext,
};
use runnel_state::{AggregateFunction, NamespacedValueState, ValueState, ValueStateDescriptor};
use runnel_types::{Data, EventTime, Key, StreamRecord, Watermark};
use serde::{Deserialize, Serialize};
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

/// A window in flight for a key of merging windows, with its contents. (Flink
/// keeps a "state window" per window instead, so that a merge moves no state in
/// RocksDB; on the heap moving an accumulator is cheap, and one state lookup
/// then finds a key's windows and their contents together.)
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InFlight<W, A> {
    window: W,
    acc: A,
    /// With lazily armed timers: the time of the one pending timer of this
    /// window or of a window merged into it (see `WindowOperator::lazy_timers`).
    armed: i64,
}

/// An element on its way into one of its windows: borrowed for all windows but
/// the last, which takes it. The clone for an earlier window happens where the
/// contents take the element (inside the state update), so a field-by-field
/// clone is not first stored and then reloaded whole, which stalls on store
/// forwarding.
enum ElementFor<'a, IN> {
    Shared(&'a IN),
    Last(IN),
}

impl<IN: Clone> ElementFor<'_, IN> {
    #[inline(always)]
    fn as_ref(&self) -> &IN {
        match self {
            ElementFor::Shared(v) => v,
            ElementFor::Last(v) => v,
        }
    }

    #[inline(always)]
    fn into_owned(self) -> IN {
        match self {
            ElementFor::Shared(v) => v.clone(),
            ElementFor::Last(v) => v,
        }
    }
}

/// The windows in flight for one key of merging windows: usually one, kept
/// inline so that finding it costs no second memory access.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum InFlightWindows<W, A> {
    /// One window.
    One(InFlight<W, A>),
    /// Several.
    Many(Vec<InFlight<W, A>>),
}

impl<W: PartialEq, A> InFlightWindows<W, A> {
    fn as_slice(&self) -> &[InFlight<W, A>] {
        match self {
            InFlightWindows::One(f) => std::slice::from_ref(f),
            InFlightWindows::Many(v) => v,
        }
    }

    fn as_mut_slice(&mut self) -> &mut [InFlight<W, A>] {
        match self {
            InFlightWindows::One(f) => std::slice::from_mut(f),
            InFlightWindows::Many(v) => v,
        }
    }

    fn find_mut(&mut self, window: &W) -> Option<&mut InFlight<W, A>> {
        self.as_mut_slice().iter_mut().find(|f| f.window == *window)
    }

    fn contains(&self, window: &W) -> bool {
        self.as_slice().iter().any(|f| f.window == *window)
    }

    /// Adds a window (`slot` is `None` when the key has none).
    fn push(slot: &mut Option<Self>, f: InFlight<W, A>) {
        match slot.take() {
            None => *slot = Some(InFlightWindows::One(f)),
            Some(InFlightWindows::One(first)) => {
                *slot = Some(InFlightWindows::Many(vec![first, f]))
            }
            Some(InFlightWindows::Many(mut v)) => {
                v.push(f);
                *slot = Some(InFlightWindows::Many(v));
            }
        }
    }

    /// Removes and returns the window at `index` (order is not kept); leaves
    /// `None` when it was the last.
    fn remove(slot: &mut Option<Self>, index: usize) -> Option<InFlight<W, A>> {
        match slot.take()? {
            InFlightWindows::One(f) if index == 0 => Some(f),
            one @ InFlightWindows::One(_) => {
                *slot = Some(one);
                None
            }
            InFlightWindows::Many(mut v) => {
                let f = (index < v.len()).then(|| v.swap_remove(index));
                *slot = match v.len() {
                    0 => None,
                    1 => v.pop().map(InFlightWindows::One),
                    _ => Some(InFlightWindows::Many(v)),
                };
                f
            }
        }
    }
}

/// A group of windows that merge: `members` (without the new window) index
/// `MergeScratch::members`.
struct MergeGroup<W> {
    result: W,
    members: std::ops::Range<usize>,
    has_new_window: bool,
}

/// Buffers reused by every merge of windows.
struct MergeScratch<W> {
    candidates: Vec<W>,
    members: Vec<W>,
    groups: Vec<MergeGroup<W>>,
    /// The groups whose merge the trigger and timers must hear about.
    merges: Vec<usize>,
}

impl<W> Default for MergeScratch<W> {
    fn default() -> Self {
        MergeScratch {
            candidates: Vec::new(),
            members: Vec::new(),
            groups: Vec::new(),
            merges: Vec::new(),
        }
    }
}

impl<W> MergeScratch<W> {
    fn clear(&mut self) {
        self.candidates.clear();
        self.members.clear();
        self.groups.clear();
        self.merges.clear();
    }
}

/// What a timer of a merging window finds.
enum Seen<W> {
    /// Its window is in flight.
    InFlight,
    /// Its window was merged into this one, and the timer moves there.
    Rearm(W),
    /// Nothing to do.
    Gone,
}

/// Where an element's window ended up among the in-flight windows.
struct AddedWindow<W> {
    /// The in-flight window (the merge result, or the new window).
    window: W,
    /// Whether it is new (neither merged nor already in flight).
    created: bool,
}

/// Flink's `MergingWindowSet.addWindow`: adds `new_window` to a key's in-flight
/// windows, merging as the assigner says. The contents of merged windows are
/// merged (in window order); the merges are recorded in `scratch.merges` for the
/// trigger and timers, which touch other state.
fn add_in_flight<T, A, C>(
    assigner: &A,
    contents: &mut C,
    slot: &mut Option<InFlightWindows<A::W, C::Acc>>,
    new_window: &A::W,
    scratch: &mut MergeScratch<A::W>,
) -> Result<AddedWindow<A::W>, BoxError>
where
    A: WindowAssigner<T>,
    C: WindowContents<T, A::W>,
{
    if let Some(flights) = slot.as_ref() {
        scratch
            .candidates
            .extend(flights.as_slice().iter().map(|f| f.window.clone()));
    }
    scratch.candidates.push(new_window.clone());
    {
        let MergeScratch {
            candidates,
            members,
            groups,
            ..
        } = &mut *scratch;
        assigner.merge_windows(candidates, &mut |group, result| {
            let start = members.len();
            members.extend(group.iter().filter(|w| *w != new_window).cloned());
            groups.push(MergeGroup {
                result: result.clone(),
                members: start..members.len(),
                has_new_window: members.len() - start < group.len(),
            });
        });
    }
    let mut result_window = new_window.clone();
    let mut merged_new_window = false;
    for (g, group) in scratch.groups.iter().enumerate() {
        if group.has_new_window {
            merged_new_window = true;
            result_window = group.result.clone();
        }
        let merged = &scratch.members[group.members.clone()];
        if merged.is_empty() {
            continue;
        }
        // The merged windows' contents, merged into the first one's; the
        // earliest of their pending timers stays armed for the result.
        let mut acc: Option<C::Acc> = None;
        let mut armed = i64::MAX;
        for w in merged {
            let pos = slot
                .as_ref()
                .and_then(|fs| fs.as_slice().iter().position(|f| f.window == *w));
            if let Some(f) = pos.and_then(|pos| InFlightWindows::remove(slot, pos)) {
                armed = armed.min(f.armed);
                acc = Some(match acc {
                    None => f.acc,
                    Some(mut a) => {
                        contents.merge(&mut a, f.acc)?;
                        a
                    }
                });
            }
        }
        InFlightWindows::push(
            slot,
            InFlight {
                window: group.result.clone(),
                acc: acc.unwrap_or_else(C::create),
                armed: if armed == i64::MAX { i64::MIN } else { armed },
            },
        );
        // Merging one window into itself (the new one lies inside it) is no merge.
        if !(merged.len() == 1 && merged[0] == group.result) {
            scratch.merges.push(g);
        }
    }
    let mut created = false;
    if (scratch.groups.is_empty() || (result_window == *new_window && !merged_new_window))
        && !slot.as_ref().is_some_and(|fs| fs.contains(&result_window))
    {
        InFlightWindows::push(
            slot,
            InFlight {
                window: result_window.clone(),
                acc: C::create(),
                armed: i64::MIN,
            },
        );
        created = true;
    }
    Ok(AddedWindow {
        window: result_window,
        created,
    })
}

/// The window settings that are not types.
#[derive(Clone)]
pub(crate) struct WindowSettings<T> {
    pub(crate) allowed_lateness: i64,
    pub(crate) late_data: Option<OutputTag<T>>,
}

/// The window operator.
pub struct WindowOperator<IN, OUT, KS, A, Tr, C, F>
where
    IN: Data,
    KS: KeySelector<IN>,
    A: WindowAssigner<IN>,
    C: WindowContents<IN, A::W>,
{
    key_selector: KS,
    assigner: A,
    trigger: Tr,
    contents: C,
    function: F,
    keyed: KeyedRuntime<KS::Key, A::W>,
    /// Contents of non-merging windows, per key and window.
    window_state: NamespacedValueState<A::W, C::Acc>,
    /// In-flight windows and their contents, per key, for merging windows.
    in_flight: Option<ValueState<InFlightWindows<A::W, C::Acc>>>,
    allowed_lateness: i64,
    late_data: Option<OutputTag<IN>>,
    late_records_dropped: Counter,
    event_time: bool,
    trigger_fast_path: bool,
    /// Merging windows with the event-time trigger and no lateness: a window's
    /// one timer is pushed when it is created, a merge keeps the earliest timer
    /// of the merged windows, and when that fires it moves to the merged
    /// window's end. So a session that keeps growing has one timer, not one per
    /// element.
    lazy_timers: bool,
    windows: Vec<A::W>,
    merge_scratch: MergeScratch<A::W>,
    _types: PhantomData<fn(IN) -> OUT>,
}

impl<IN, OUT, KS, A, Tr, C, F> WindowOperator<IN, OUT, KS, A, Tr, C, F>
where
    IN: Data,
    OUT: Data,
    KS: KeySelector<IN>,
    A: WindowAssigner<IN>,
    Tr: Trigger<IN, A::W>,
    C: WindowContents<IN, A::W>,
    F: InternalWindowFunction<KS::Key, C::Acc, OUT, A::W>,
{
    /// The operator of one parallel instance.
    pub(crate) fn new(
        key_selector: KS,
        assigner: A,
        trigger: Tr,
        contents: C,
        function: F,
        settings: WindowSettings<IN>,
        params: &OperatorParameters,
    ) -> Result<Self, BoxError> {
        let mut keyed = KeyedRuntime::new(params);
        let window_state = keyed
            .store
            .get_namespaced_state(&ValueStateDescriptor::new("window-contents"))?;
        let in_flight = if assigner.is_merging() {
            if !trigger.can_merge() {
                return Err("a merging window assigner cannot be used with a trigger that does not support merging".into());
            }
            Some(
                keyed
                    .store
                    .get_state(&ValueStateDescriptor::new("merging-window-set"))?,
            )
        } else {
            None
        };
        let event_time = assigner.is_event_time();
        let trigger_fast_path = Trigger::<IN, A::W>::on_element_is_event_time_trigger(&trigger);
        let lazy_timers = trigger_fast_path
            && assigner.is_merging()
            && settings.allowed_lateness <= 0
            && event_time;
        Ok(WindowOperator {
            key_selector,
            event_time,
            trigger_fast_path,
            lazy_timers,
            assigner,
            trigger,
            contents,
            function,
            keyed,
            window_state,
            in_flight,
            allowed_lateness: settings.allowed_lateness.max(0),
            late_data: settings.late_data,
            late_records_dropped: params.counters().late_records_dropped.clone(),
            windows: Vec::new(),
            merge_scratch: MergeScratch::default(),
            _types: PhantomData,
        })
    }

    #[inline]
    fn watermark(&self) -> i64 {
        self.keyed.timers.current_watermark().0
    }

    /// `max_timestamp + allowed_lateness` in event time (saturating at +∞), the
    /// max timestamp in processing time.
    #[inline]
    fn cleanup_time(&self, window: &A::W) -> i64 {
        let max = window.max_timestamp();
        if self.event_time {
            max.checked_add(self.allowed_lateness).unwrap_or(i64::MAX)
        } else {
            max
        }
    }

    #[inline]
    fn is_window_late(&self, window: &A::W) -> bool {
        self.event_time && self.cleanup_time(window) <= self.watermark()
    }

    fn is_element_late(&self, timestamp: Option<EventTime>) -> bool {
        self.event_time
            && timestamp
                .map(EventTime::millis)
                .unwrap_or(i64::MIN)
                .saturating_add(self.allowed_lateness)
                <= self.watermark()
    }

    fn trigger_context<'a>(
        keyed: &'a mut KeyedRuntime<KS::Key, A::W>,
        window: &A::W,
        merged: &'a [A::W],
    ) -> TriggerContext<'a, KS::Key, A::W> {
        TriggerContext {
            store: &mut keyed.store,
            timers: &mut keyed.timers,
            time: &keyed.time,
            window: window.clone(),
            merged_windows: merged,
        }
    }

    /// The event-time trigger's timer of a new window (at its max timestamp,
    /// unless the watermark passed it) and its cleanup timer, pushed: they are
    /// not deduplicated, and when they fire for a window no longer in flight
    /// nothing happens.
    fn push_window_timers(&mut self, window: &A::W) {
        let key = self.keyed.store.current_key().expect("a current key");
        let max = window.max_timestamp();
        if max > self.keyed.timers.current_watermark().0 {
            self.keyed.timers.push_event_time_timer(key, window, max);
        }
        let cleanup = self.cleanup_time(window);
        if cleanup != max && cleanup != i64::MAX {
            self.keyed
                .timers
                .push_event_time_timer(key, window, cleanup);
        }
    }

    fn register_cleanup_timer(&mut self, window: &A::W) {
        let time = self.cleanup_time(window);
        if time == i64::MAX {
            return;
        }
        let key = self.keyed.store.current_key().expect("a current key");
        if self.event_time {
            self.keyed
                .timers
                .register_event_time_timer(key, window, time);
        } else if self
            .keyed
            .timers
            .register_processing_time_timer(key, window, time)
        {
            self.keyed.time.request_callback_at(time);
        }
    }

    fn delete_cleanup_timer(&mut self, window: &A::W) {
        let time = self.cleanup_time(window);
        if time == i64::MAX {
            return;
        }
        let key = self.keyed.store.current_key().expect("a current key");
        if self.event_time {
            self.keyed.timers.delete_event_time_timer(key, window, time);
        } else {
            self.keyed
                .timers
                .delete_processing_time_timer(key, window, time);
        }
    }

    /// Adds `value` to the contents of a non-merging window; returns whether
    /// they were created by it. Always inlined (as is `process_non_merging`): the
    /// element then goes from the input batch into the state update without a
    /// stack round trip whose reload stalls on store forwarding.
    #[inline(always)]
    fn add_to_contents(
        &mut self,
        window: &A::W,
        value: ElementFor<'_, IN>,
        timestamp: Option<EventTime>,
    ) -> Result<bool, BoxError> {
        let contents = &mut self.contents;
        let mut result = Ok(());
        let created =
            self.window_state
                .upsert(&mut self.keyed.store, window, C::create, |acc| {
                    result = contents.add(acc, value.into_owned(), timestamp)
                })?;
        result.map(|()| created)
    }

    /// Runs the window function on `acc`, the contents of `window` (evictors
    /// first and after).
    fn emit_contents(
        &mut self,
        window: &A::W,
        acc: &mut C::Acc,
        main: &mut MainOutput<OUT>,
        side: &mut SideOutputs,
    ) -> Result<(), BoxError> {
        let watermark = self.keyed.timers.current_watermark();
        let evictor_ctx = EvictorContext {
            watermark,
            processing_time: self.keyed.time.now(),
        };
        self.contents.before_emit(acc, window, &evictor_ctx);
        let key = self
            .keyed
            .store
            .current_key()
            .expect("a current key")
            .clone();
        let mut ctx = ProcessWindowContext {
            store: &mut self.keyed.store,
            window: window.clone(),
            watermark,
            time: &self.keyed.time,
            side,
            runtime: &self.keyed.runtime,
            merging: self.in_flight.is_some(),
        };
        let timestamp = Some(EventTime::from_millis(window.max_timestamp()));
        self.function
            .process(&key, acc, &mut ctx, &mut Collector::new(main, timestamp))?;
        self.contents.after_emit(acc, window, &evictor_ctx);
        Ok(())
    }

    /// Fires `window`: its contents go through the window function. `keep` puts
    /// them back afterwards (otherwise they are about to be dropped).
    fn emit(
        &mut self,
        window: &A::W,
        keep: bool,
        main: &mut MainOutput<OUT>,
        side: &mut SideOutputs,
    ) -> Result<(), BoxError> {
        match self.in_flight {
            None => {
                let Some(mut acc) = self.window_state.take(&mut self.keyed.store, window)? else {
                    return Ok(());
                };
                if C::is_empty(&acc) {
                    return Ok(());
                }
                self.emit_contents(window, &mut acc, main, side)?;
                if keep && !C::is_empty(&acc) {
                    self.window_state
                        .put(&mut self.keyed.store, window.clone(), acc)?;
                }
            }
            Some(set) => {
                let taken = set.with_value(&mut self.keyed.store, |slot| {
                    slot.as_mut()
                        .and_then(|fs| fs.find_mut(window))
                        .map(|f| std::mem::replace(&mut f.acc, C::create()))
                })?;
                let Some(mut acc) = taken.filter(|a| !C::is_empty(a)) else {
                    return Ok(());
                };
                self.emit_contents(window, &mut acc, main, side)?;
                if keep && !C::is_empty(&acc) {
                    set.with_value(&mut self.keyed.store, |slot| {
                        if let Some(f) = slot.as_mut().and_then(|fs| fs.find_mut(window)) {
                            f.acc = acc;
                        }
                    })?;
                }
            }
        }
        Ok(())
    }

    /// Drops the contents of `window` (a purge); a merging window stays in flight.
    fn purge(&mut self, window: &A::W) -> Result<(), BoxError> {
        match self.in_flight {
            None => self.window_state.remove(&mut self.keyed.store, window)?,
            Some(set) => set.with_value(&mut self.keyed.store, |slot| {
                if let Some(f) = slot.as_mut().and_then(|fs| fs.find_mut(window)) {
                    f.acc = C::create();
                }
            })?,
        }
        Ok(())
    }

    /// Drops everything `window` kept: contents, trigger state and timers, the
    /// function's per-window state, and its place among the merging windows.
    fn clear_all_state(&mut self, window: &A::W, side: &mut SideOutputs) -> Result<(), BoxError> {
        match self.in_flight {
            None => self.window_state.remove(&mut self.keyed.store, window)?,
            Some(set) => set.with_value(&mut self.keyed.store, |slot| {
                let pos = slot
                    .as_ref()
                    .and_then(|fs| fs.as_slice().iter().position(|f| f.window == *window));
                if let Some(pos) = pos {
                    InFlightWindows::remove(slot, pos);
                }
            })?,
        }
        if !self.trigger_fast_path {
            // (The event-time trigger's timers are pushed, not registered: there
            // is nothing to delete.)
            let mut tctx = Self::trigger_context(&mut self.keyed, window, &[]);
            self.trigger.clear(window, &mut tctx)?;
        }
        let mut ctx = ProcessWindowContext {
            store: &mut self.keyed.store,
            window: window.clone(),
            watermark: self.keyed.timers.current_watermark(),
            time: &self.keyed.time,
            side,
            runtime: &self.keyed.runtime,
            merging: self.in_flight.is_some(),
        };
        self.function.clear(&mut ctx)?;
        Ok(())
    }

    #[inline(always)]
    fn process_non_merging(
        &mut self,
        record: StreamRecord<IN>,
        windows: &[A::W],
        out: &mut Output<OUT>,
    ) -> Result<Option<IN>, BoxError> {
        let Output { main, side } = out;
        let timestamp = record.timestamp;
        let mut value = Some(record.value);
        let mut skipped = true;
        let last_live = windows.iter().rposition(|w| !self.is_window_late(w));
        for (i, window) in windows.iter().enumerate() {
            if self.is_window_late(window) {
                continue;
            }
            skipped = false;
            let element = if Some(i) == last_live {
                ElementFor::Last(
                    value
                        .take()
                        .expect("the element goes to its last window once"),
                )
            } else {
                ElementFor::Shared(
                    value
                        .as_ref()
                        .expect("the element is kept until its last window"),
                )
            };
            let result = if self.trigger_fast_path {
                // The event-time trigger's `on_element`, with its timers pushed
                // once per window instead of registered per element.
                let created = self.add_to_contents(window, element, timestamp)?;
                if created {
                    self.push_window_timers(window);
                }
                if window.max_timestamp() <= self.watermark() {
                    TriggerResult::Fire
                } else {
                    TriggerResult::Continue
                }
            } else {
                let mut tctx = Self::trigger_context(&mut self.keyed, window, &[]);
                let result =
                    self.trigger
                        .on_element(element.as_ref(), timestamp, window, &mut tctx)?;
                self.add_to_contents(window, element, timestamp)?;
                self.register_cleanup_timer(window);
                result
            };
            if result.is_fire() {
                self.emit(window, !result.is_purge(), main, side)?;
            }
            if result.is_purge() {
                self.purge(window)?;
            }
        }
        Ok(if skipped { value } else { None })
    }

    fn process_merging(
        &mut self,
        record: StreamRecord<IN>,
        windows: &[A::W],
        out: &mut Output<OUT>,
    ) -> Result<Option<IN>, BoxError> {
        let Output { main, side } = out;
        let timestamp = record.timestamp;
        let mut value = Some(record.value);
        let mut skipped = true;
        for (i, window) in windows.iter().enumerate() {
            let last = i + 1 == windows.len();
            // With the event-time trigger the element goes into the contents in
            // the same state access that places the window.
            let mut pending = if self.trigger_fast_path {
                if last { value.take() } else { value.clone() }
            } else {
                None
            };
            let Some(added) = self.add_window(window, &mut pending, timestamp)? else {
                if let Some(v) = pending {
                    value = Some(v);
                }
                continue; // the window it ended up in is late
            };
            skipped = false;
            self.run_merges()?;
            let actual = &added.window;
            let result = if self.trigger_fast_path {
                if added.created {
                    self.push_window_timers(actual);
                }
                if actual.max_timestamp() <= self.watermark() {
                    TriggerResult::Fire
                } else {
                    TriggerResult::Continue
                }
            } else {
                let element = if last {
                    value
                        .take()
                        .expect("the element goes to its last window once")
                } else {
                    value
                        .clone()
                        .expect("the element is kept until its last window")
                };
                let mut tctx = Self::trigger_context(&mut self.keyed, actual, &[]);
                let result = self
                    .trigger
                    .on_element(&element, timestamp, actual, &mut tctx)?;
                let set = self.in_flight.expect("merging windows");
                let contents = &mut self.contents;
                set.with_value(&mut self.keyed.store, |slot| {
                    match slot.as_mut().and_then(|fs| fs.find_mut(actual)) {
                        Some(f) => contents.add(&mut f.acc, element, timestamp),
                        None => Err(format!("window {actual:?} is not in flight").into()),
                    }
                })??;
                self.register_cleanup_timer(actual);
                result
            };
            if result.is_fire() {
                self.emit(actual, !result.is_purge(), main, side)?;
            }
            if result.is_purge() {
                self.purge(actual)?;
            }
        }
        Ok(if skipped { value } else { None })
    }

    /// Places `window` among the key's in-flight windows (one state access):
    /// merges, retires the result if it is late (`None`), and adds `pending` to
    /// its contents if given (taking it). The merges found wait in the scratch
    /// buffers for [`Self::run_merges`].
    fn add_window(
        &mut self,
        window: &A::W,
        pending: &mut Option<IN>,
        timestamp: Option<EventTime>,
    ) -> Result<Option<AddedWindow<A::W>>, BoxError> {
        let set = self.in_flight.expect("merging windows");
        let late_after = if self.event_time {
            Some(self.watermark())
        } else {
            None
        };
        let lateness = self.allowed_lateness;
        let self_lazy = self.lazy_timers;
        let WindowOperator {
            assigner,
            contents,
            merge_scratch: scratch,
            keyed,
            ..
        } = self;
        scratch.clear();
        let lazy = self_lazy;
        set.with_value(&mut keyed.store, |slot| {
            let added = add_in_flight(assigner, contents, slot, window, scratch)?;
            let late = late_after.is_some_and(|watermark| {
                added
                    .window
                    .max_timestamp()
                    .checked_add(lateness)
                    .is_some_and(|cleanup| cleanup <= watermark)
            });
            if late {
                let pos = slot
                    .as_ref()
                    .and_then(|fs| fs.as_slice().iter().position(|f| f.window == added.window));
                if let Some(pos) = pos {
                    InFlightWindows::remove(slot, pos);
                }
                return Ok(None);
            }
            let f = slot
                .as_mut()
                .and_then(|fs| fs.find_mut(&added.window))
                .expect("the window was just placed");
            if lazy && added.created {
                f.armed = added.window.max_timestamp();
            }
            if let Some(element) = pending.take() {
                contents.add(&mut f.acc, element, timestamp)?;
            }
            Ok(Some(added))
        })?
    }

    /// What the merges found by [`Self::add_window`] mean for the trigger and
    /// timers (Flink's merge function of `WindowOperator`): a merged window may
    /// not end before the current time; the trigger merges its state and
    /// timers, and the merged windows' triggers and cleanup timers are cleared.
    fn run_merges(&mut self) -> Result<(), BoxError> {
        let scratch = std::mem::take(&mut self.merge_scratch);
        let result = scratch.merges.iter().try_for_each(|&g| {
            let group = &scratch.groups[g];
            self.merge(&group.result, &scratch.members[group.members.clone()])
        });
        self.merge_scratch = scratch;
        result
    }

    fn merge(&mut self, merge_result: &A::W, merged_windows: &[A::W]) -> Result<(), BoxError> {
        let max = merge_result.max_timestamp();
        if self.event_time {
            let watermark = self.watermark();
            if max.saturating_add(self.allowed_lateness) <= watermark {
                return Err(format!(
                    "the end timestamp of an event-time window cannot become earlier than the current \
                     watermark by merging: current watermark {watermark}, window {merge_result:?}"
                )
                .into());
            }
        } else {
            let now = self.keyed.time.now();
            if max <= now {
                return Err(format!(
                    "the end timestamp of a processing-time window cannot become earlier than the \
                     current processing time by merging: current processing time {now}, window {merge_result:?}"
                )
                .into());
            }
        }
        if self.lazy_timers {
            // The earliest timer of the merged windows stays armed and moves to
            // the merged window's end when it fires.
        } else if self.trigger_fast_path {
            // The event-time trigger's `on_merge`, with pushed timers: those of
            // the merged windows fire later for windows no longer in flight and
            // are skipped then.
            self.push_window_timers(merge_result);
        } else {
            let mut tctx = Self::trigger_context(&mut self.keyed, merge_result, merged_windows);
            self.trigger.on_merge(merge_result, &mut tctx)?;
            for m in merged_windows {
                let mut tctx = Self::trigger_context(&mut self.keyed, m, &[]);
                self.trigger.clear(m, &mut tctx)?;
                self.delete_cleanup_timer(m);
            }
        }
        Ok(())
    }

    /// A timer of `window` fired.
    fn on_timer(
        &mut self,
        timer: Timer<KS::Key, A::W>,
        domain: TimeDomain,
        out: &mut Output<OUT>,
    ) -> Result<(), BoxError> {
        let Output { main, side } = out;
        self.keyed.set_current_key(timer.key)?;
        let window = timer.namespace;
        if let Some(set) = self.in_flight {
            let lazy = self.lazy_timers;
            let time = timer.time;
            let seen = set.with_value(&mut self.keyed.store, |slot| {
                let Some(fs) = slot.as_mut() else {
                    return Seen::Gone;
                };
                if fs.contains(&window) {
                    return Seen::InFlight;
                }
                if !lazy {
                    return Seen::Gone;
                }
                // A window merged into another: if this timer is the one armed
                // for the merged window, it moves to the merged window's end.
                match fs
                    .as_mut_slice()
                    .iter_mut()
                    .find(|f| f.window.covers(&window))
                {
                    Some(f) if f.armed == time => {
                        f.armed = f.window.max_timestamp();
                        Seen::Rearm(f.window.clone())
                    }
                    _ => Seen::Gone,
                }
            })?;
            match seen {
                Seen::InFlight => {}
                Seen::Gone => return Ok(()), // merged away or purged
                Seen::Rearm(merged) => {
                    let key = self.keyed.store.current_key().expect("a current key");
                    self.keyed
                        .timers
                        .push_event_time_timer(key, &merged, merged.max_timestamp());
                    return Ok(());
                }
            }
        }
        let mut tctx = Self::trigger_context(&mut self.keyed, &window, &[]);
        let result = match domain {
            TimeDomain::EventTime => self.trigger.on_event_time(timer.time, &window, &mut tctx)?,
            TimeDomain::ProcessingTime => self
                .trigger
                .on_processing_time(timer.time, &window, &mut tctx)?,
        };
        let cleanup = (domain == TimeDomain::EventTime) == self.event_time
            && timer.time == self.cleanup_time(&window);
        if result.is_fire() {
            self.emit(&window, !(result.is_purge() || cleanup), main, side)?;
        }
        if result.is_purge() {
            self.purge(&window)?;
        }
        if cleanup {
            self.clear_all_state(&window, side)?;
        }
        Ok(())
    }
}

impl<IN, OUT, KS, A, Tr, C, F> OneInputOperator for WindowOperator<IN, OUT, KS, A, Tr, C, F>
where
    IN: Data,
    OUT: Data,
    KS: KeySelector<IN>,
    A: WindowAssigner<IN>,
    Tr: Trigger<IN, A::W>,
    C: WindowContents<IN, A::W>,
    F: InternalWindowFunction<KS::Key, C::Acc, OUT, A::W>,
{
    type In = IN;
    type Out = OUT;

    fn open(&mut self, ctx: &RuntimeContext) -> Result<(), BoxError> {
        self.contents.open(ctx)?;
        self.function.open(ctx)
    }

    #[inline]
    fn process_element(
        &mut self,
        record: StreamRecord<IN>,
        out: &mut Output<OUT>,
    ) -> Result<(), BoxError> {
        self.keyed
            .set_current_key(self.key_selector.get_key(&record.value))?;
        let mut windows = std::mem::take(&mut self.windows);
        windows.clear();
        let assigned = self.assigner.assign_windows(
            &record.value,
            record.timestamp,
            &WindowAssignerContext {
                time: &self.keyed.time,
            },
            &mut windows,
        );
        let result = assigned.and_then(|()| {
            let timestamp = record.timestamp;
            let skipped = if self.in_flight.is_some() {
                self.process_merging(record, &windows, out)?
            } else {
                self.process_non_merging(record, &windows, out)?
            };
            // An element no window took: to the late-data side output if it is
            // late and one is set, else counted if late (dropped either way).
            if let Some(value) = skipped.filter(|_| self.is_element_late(timestamp)) {
                match &self.late_data {
                    Some(tag) => out.side.collect(tag, StreamRecord { value, timestamp }),
                    None => self.late_records_dropped.inc_by(1),
                }
            }
            Ok(())
        });
        self.windows = windows;
        result
    }

    fn process_watermark(
        &mut self,
        watermark: Watermark,
        out: &mut Output<OUT>,
    ) -> Result<(), BoxError> {
        self.keyed.timers.advance_watermark(watermark);
        while let Some(timer) = self.keyed.timers.next_event_timer() {
            self.on_timer(timer, TimeDomain::EventTime, out)?;
        }
        out.emit_watermark(watermark);
        Ok(())
    }

    fn on_processing_time(&mut self, now: i64, out: &mut Output<OUT>) -> Result<(), BoxError> {
        while let Some(timer) = self.keyed.timers.next_processing_timer(now) {
            self.on_timer(timer, TimeDomain::ProcessingTime, out)?;
        }
        if let Some(next) = self.keyed.timers.earliest_processing_timer() {
            self.keyed.time.request_callback_at(next);
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), BoxError> {
        let contents = self.contents.close();
        self.function.close().and(contents)
    }
}
