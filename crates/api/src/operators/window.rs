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

/// The in-flight windows of a key with merging windows, each with the window
/// whose contents it uses (Flink's `MergingWindowSet` mapping).
type InFlightWindows<W> = Vec<(W, W)>;

/// Buffers reused by every merge of windows.
struct MergeScratch<W> {
    candidates: Vec<W>,
    members: Vec<W>,
    groups: Vec<(usize, usize, W)>,
    merged: Vec<W>,
    state_windows: Vec<W>,
}

impl<W> Default for MergeScratch<W> {
    fn default() -> Self {
        MergeScratch {
            candidates: Vec::new(),
            members: Vec::new(),
            groups: Vec::new(),
            merged: Vec::new(),
            state_windows: Vec::new(),
        }
    }
}

impl<W> MergeScratch<W> {
    fn clear(&mut self) {
        self.candidates.clear();
        self.members.clear();
        self.groups.clear();
        self.merged.clear();
        self.state_windows.clear();
    }
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
    window_state: NamespacedValueState<A::W, C::Acc>,
    merging_set: Option<ValueState<InFlightWindows<A::W>>>,
    allowed_lateness: i64,
    late_data: Option<OutputTag<IN>>,
    late_records_dropped: Counter,
    event_time: bool,
    trigger_fast_path: bool,
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
        let merging_set = if assigner.is_merging() {
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
        let trigger_fast_path = !assigner.is_merging()
            && Trigger::<IN, A::W>::on_element_is_event_time_trigger(&trigger);
        Ok(WindowOperator {
            key_selector,
            event_time,
            trigger_fast_path,
            assigner,
            trigger,
            contents,
            function,
            keyed,
            window_state,
            merging_set,
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

    /// Adds `value` to the contents of `state_window`; returns whether they were
    /// created by it.
    #[inline]
    fn add_to_contents(
        &mut self,
        state_window: &A::W,
        value: IN,
        timestamp: Option<EventTime>,
    ) -> Result<bool, BoxError> {
        let contents = &mut self.contents;
        let mut result = Ok(());
        let created =
            self.window_state
                .upsert(&mut self.keyed.store, state_window, C::create, |acc| {
                    result = contents.add(acc, value, timestamp)
                })?;
        result.map(|()| created)
    }

    /// Runs the window function on the contents of `state_window`, for `window`.
    /// `keep` puts the contents back afterwards (they are about to be dropped
    /// otherwise).
    fn emit(
        &mut self,
        window: &A::W,
        state_window: &A::W,
        keep: bool,
        main: &mut MainOutput<OUT>,
        side: &mut SideOutputs,
    ) -> Result<(), BoxError> {
        let Some(mut acc) = self
            .window_state
            .take(&mut self.keyed.store, state_window)?
        else {
            return Ok(());
        };
        if C::is_empty(&acc) {
            return Ok(());
        }
        let watermark = self.keyed.timers.current_watermark();
        let evictor_ctx = EvictorContext {
            watermark,
            processing_time: self.keyed.time.now(),
        };
        self.contents.before_emit(&mut acc, window, &evictor_ctx);
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
            merging: self.merging_set.is_some(),
        };
        let timestamp = Some(EventTime::from_millis(window.max_timestamp()));
        self.function
            .process(&key, &acc, &mut ctx, &mut Collector::new(main, timestamp))?;
        self.contents.after_emit(&mut acc, window, &evictor_ctx);
        if keep && !C::is_empty(&acc) {
            self.window_state
                .put(&mut self.keyed.store, state_window.clone(), acc)?;
        }
        Ok(())
    }

    /// Drops everything `window` kept: contents, trigger state and timers, the
    /// function's per-window state, and its place among the merging windows.
    fn clear_all_state(
        &mut self,
        window: &A::W,
        state_window: &A::W,
        mapping: Option<&mut Vec<(A::W, A::W)>>,
        side: &mut SideOutputs,
    ) -> Result<(), BoxError> {
        self.window_state
            .remove(&mut self.keyed.store, state_window)?;
        let mut tctx = Self::trigger_context(&mut self.keyed, window, &[]);
        self.trigger.clear(window, &mut tctx)?;
        let mut ctx = ProcessWindowContext {
            store: &mut self.keyed.store,
            window: window.clone(),
            watermark: self.keyed.timers.current_watermark(),
            time: &self.keyed.time,
            side,
            runtime: &self.keyed.runtime,
            merging: self.merging_set.is_some(),
        };
        self.function.clear(&mut ctx)?;
        if let Some(mapping) = mapping {
            retire_window(mapping, window)?;
        }
        Ok(())
    }

    fn take_mapping(&mut self) -> Result<InFlightWindows<A::W>, BoxError> {
        let set = self.merging_set.expect("merging windows");
        Ok(set
            .with_value(&mut self.keyed.store, |slot| slot.take())?
            .unwrap_or_default())
    }

    fn persist_mapping(&mut self, mapping: Vec<(A::W, A::W)>) -> Result<(), BoxError> {
        let set = self.merging_set.expect("merging windows");
        if mapping.is_empty() {
            set.clear(&mut self.keyed.store)?;
        } else {
            set.update(&mut self.keyed.store, mapping)?;
        }
        Ok(())
    }

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
                value
                    .take()
                    .expect("the element goes to its last window once")
            } else {
                value
                    .clone()
                    .expect("the element is kept until its last window")
            };
            let result = if self.trigger_fast_path {
                let created = self.add_to_contents(window, element, timestamp)?;
                let max = window.max_timestamp();
                if max <= self.watermark() {
                    if created {
                        self.register_cleanup_timer(window);
                    }
                    TriggerResult::Fire
                } else {
                    if created {
                        let key = self.keyed.store.current_key().expect("a current key");
                        self.keyed
                            .timers
                            .register_event_time_timer(key, window, max);
                        self.register_cleanup_timer(window);
                    }
                    TriggerResult::Continue
                }
            } else {
                let mut tctx = Self::trigger_context(&mut self.keyed, window, &[]);
                let result = self
                    .trigger
                    .on_element(&element, timestamp, window, &mut tctx)?;
                self.add_to_contents(window, element, timestamp)?;
                self.register_cleanup_timer(window);
                result
            };
            if result.is_fire() {
                self.emit(window, window, !result.is_purge(), main, side)?;
            }
            if result.is_purge() {
                self.window_state.remove(&mut self.keyed.store, window)?;
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
        let mut mapping = self.take_mapping()?;
        let result = (|| -> Result<(), BoxError> {
            for (i, window) in windows.iter().enumerate() {
                let actual = self.add_window(&mut mapping, window.clone())?;
                if self.is_window_late(&actual) {
                    retire_window(&mut mapping, &actual)?;
                    continue;
                }
                skipped = false;
                let state_window = state_window_of(&mapping, &actual)
                    .ok_or_else(|| format!("window {window:?} is not in the in-flight window set"))?
                    .clone();
                let element = if i + 1 == windows.len() {
                    value
                        .take()
                        .expect("the element goes to its last window once")
                } else {
                    value
                        .clone()
                        .expect("the element is kept until its last window")
                };
                let mut tctx = Self::trigger_context(&mut self.keyed, &actual, &[]);
                let result = self
                    .trigger
                    .on_element(&element, timestamp, &actual, &mut tctx)?;
                self.add_to_contents(&state_window, element, timestamp)?;
                if result.is_fire() {
                    self.emit(&actual, &state_window, !result.is_purge(), main, side)?;
                }
                if result.is_purge() {
                    self.window_state
                        .remove(&mut self.keyed.store, &state_window)?;
                }
                self.register_cleanup_timer(&actual);
            }
            Ok(())
        })();
        self.persist_mapping(mapping)?;
        result?;
        Ok(if skipped { value } else { None })
    }

    /// Adds `new_window` to the in-flight windows, merging as the assigner says
    /// (Flink's `MergingWindowSet.addWindow`); returns the window it ended up in.
    fn add_window(
        &mut self,
        mapping: &mut InFlightWindows<A::W>,
        new_window: A::W,
    ) -> Result<A::W, BoxError> {
        // Reused buffers: merging allocates nothing once they have grown.
        let mut scratch = std::mem::take(&mut self.merge_scratch);
        scratch.clear();
        scratch
            .candidates
            .extend(mapping.iter().map(|(w, _)| w.clone()));
        scratch.candidates.push(new_window.clone());
        {
            let MergeScratch {
                candidates,
                members,
                groups,
                ..
            } = &mut scratch;
            self.assigner
                .merge_windows(candidates, &mut |group, result| {
                    let start = members.len();
                    members.extend_from_slice(group);
                    groups.push((start, members.len(), result.clone()));
                });
        }
        let result = self.apply_merges(mapping, &new_window, &mut scratch);
        self.merge_scratch = scratch;
        result
    }

    /// Applies the merges the assigner found (Flink's `MergingWindowSet.addWindow`).
    fn apply_merges(
        &mut self,
        mapping: &mut InFlightWindows<A::W>,
        new_window: &A::W,
        scratch: &mut MergeScratch<A::W>,
    ) -> Result<A::W, BoxError> {
        let mut result_window = new_window.clone();
        let mut merged_new_window = false;
        let MergeScratch {
            members,
            groups,
            merged,
            state_windows,
            ..
        } = scratch;
        for (start, end, merge_result) in groups.iter() {
            merged.clear();
            merged.extend(
                members[*start..*end]
                    .iter()
                    .filter(|w| *w != new_window)
                    .cloned(),
            );
            if merged.len() < end - start {
                merged_new_window = true;
                result_window = merge_result.clone();
            }
            let Some(first) = merged.first() else {
                continue;
            };
            let merged_state_window = state_window_of(mapping, first)
                .ok_or_else(|| format!("window {first:?} is not in the in-flight window set"))?
                .clone();
            state_windows.clear();
            for w in merged.iter() {
                if let Some(pos) = mapping.iter().position(|(x, _)| x == w) {
                    state_windows.push(mapping.swap_remove(pos).1);
                }
            }
            mapping.push((merge_result.clone(), merged_state_window.clone()));
            state_windows.retain(|s| *s != merged_state_window);
            if !(merged.len() == 1 && merged[0] == *merge_result) {
                self.merge(merge_result, merged, &merged_state_window, state_windows)?;
            }
        }
        if groups.is_empty() || (result_window == *new_window && !merged_new_window) {
            if let Some(entry) = mapping.iter_mut().find(|(w, _)| *w == result_window) {
                entry.1 = result_window.clone();
            } else {
                mapping.push((result_window.clone(), result_window.clone()));
            }
        }
        Ok(result_window)
    }

    /// What a merge does (Flink's merge function of `WindowOperator`): checks the
    /// merged window does not end before the current time, lets the trigger merge
    /// its state and timers, clears the merged windows' triggers and cleanup
    /// timers, and moves their contents into the state window.
    fn merge(
        &mut self,
        merge_result: &A::W,
        merged_windows: &[A::W],
        state_window_result: &A::W,
        merged_state_windows: &[A::W],
    ) -> Result<(), BoxError> {
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
        let mut tctx = Self::trigger_context(&mut self.keyed, merge_result, merged_windows);
        self.trigger.on_merge(merge_result, &mut tctx)?;
        for m in merged_windows {
            let mut tctx = Self::trigger_context(&mut self.keyed, m, &[]);
            self.trigger.clear(m, &mut tctx)?;
            self.delete_cleanup_timer(m);
        }
        let mut target = self
            .window_state
            .take(&mut self.keyed.store, state_window_result)?;
        for s in merged_state_windows {
            if let Some(acc) = self.window_state.take(&mut self.keyed.store, s)? {
                match &mut target {
                    Some(t) => self.contents.merge(t, acc)?,
                    None => target = Some(acc),
                }
            }
        }
        if let Some(acc) = target {
            self.window_state
                .put(&mut self.keyed.store, state_window_result.clone(), acc)?;
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
        let mut mapping = None;
        let state_window = if self.merging_set.is_some() {
            let m = self.take_mapping()?;
            let Some(sw) = state_window_of(&m, &window).cloned() else {
                // A timer of a window merged away or already purged.
                self.persist_mapping(m)?;
                return Ok(());
            };
            mapping = Some(m);
            sw
        } else {
            window.clone()
        };
        let result = (|| -> Result<(), BoxError> {
            let mut tctx = Self::trigger_context(&mut self.keyed, &window, &[]);
            let result = match domain {
                TimeDomain::EventTime => {
                    self.trigger.on_event_time(timer.time, &window, &mut tctx)?
                }
                TimeDomain::ProcessingTime => self
                    .trigger
                    .on_processing_time(timer.time, &window, &mut tctx)?,
            };
            let cleanup = (domain == TimeDomain::EventTime) == self.event_time
                && timer.time == self.cleanup_time(&window);
            if result.is_fire() {
                self.emit(
                    &window,
                    &state_window,
                    !(result.is_purge() || cleanup),
                    main,
                    side,
                )?;
            }
            if result.is_purge() {
                self.window_state
                    .remove(&mut self.keyed.store, &state_window)?;
            }
            if cleanup {
                self.clear_all_state(&window, &state_window, mapping.as_mut(), side)?;
            }
            Ok(())
        })();
        if let Some(m) = mapping {
            self.persist_mapping(m)?;
        }
        result
    }
}

fn state_window_of<'a, W: PartialEq>(mapping: &'a [(W, W)], window: &W) -> Option<&'a W> {
    mapping.iter().find(|(w, _)| w == window).map(|(_, s)| s)
}

fn retire_window<W: PartialEq + std::fmt::Debug>(
    mapping: &mut Vec<(W, W)>,
    window: &W,
) -> Result<(), BoxError> {
    match mapping.iter().position(|(w, _)| w == window) {
        Some(pos) => {
            mapping.remove(pos);
            Ok(())
        }
        None => Err(format!("window {window:?} is not in the in-flight window set").into()),
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
            let skipped = if self.merging_set.is_some() {
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
