//! `WindowedStream`: a keyed stream cut into windows (`keyed.window(assigner)`),
//! and `window_all` / `count_window_all`, its non-keyed form at parallelism 1.
//!
//! The stream is configured (`trigger`, `evictor`, `allowed_lateness`,
//! `side_output_late_data`) and then finished by a window function, which adds the
//! window operator. Without an evictor, `reduce` and `aggregate` keep one
//! accumulator per (key, window); `process` and `apply` keep the elements.

use crate::datastream::{DataStream, SingleOutputStreamOperator};
use crate::functions::ReduceFunction;
use crate::keyed::KeyedStream;
use crate::operators::aggregation::{Max, MaxBy, Min, MinBy, Sum};
use crate::operators::window::{
    AggregateContents, AggregateProcess, AggregateResult, BoxedEvictor, EvictingContents,
    FoldAggregate, FoldReduce, InternalWindowFunction, ListApply, ListContents, ListProcess,
    PassThrough, ReduceContents, SingleValueProcess, Untimestamped, WindowContents, WindowOperator,
    WindowSettings,
};
use crate::prototype::Prototype;
use crate::windowing::{
    CountEvictor, CountTrigger, Evictor, GlobalWindow, GlobalWindows, ProcessWindowFunction,
    PurgingTrigger, Trigger, WindowAssigner, WindowFunction,
};
use runnel_runtime::OutputTag;
use runnel_runtime::partitioning::KeySelector;
use runnel_state::AggregateFunction;
use runnel_types::Data;
use std::marker::PhantomData;
use std::ops::Add;
use std::time::Duration;

/// A keyed stream cut into windows. Finish it with a window function.
pub struct WindowedStream<T, KS, A: WindowAssigner<T>, Tr> {
    input: KeyedStream<T, KS>,
    assigner: A,
    trigger: Tr,
    evictor: Option<BoxedEvictor<T, A::W>>,
    allowed_lateness: i64,
    late_data: Option<OutputTag<T>>,
    non_parallel: bool,
}

/// The key selector of non-keyed windows: every element has the key `()`.
pub type AllKey<T> = fn(&T) -> ();

/// A non-keyed stream cut into windows (`window_all`), evaluated at parallelism 1.
pub type AllWindowedStream<T, A, Tr> = WindowedStream<T, AllKey<T>, A, Tr>;

fn unit_key<T>(_: &T) {}

impl<T: Data, KS: KeySelector<T> + Sync> KeyedStream<T, KS> {
    /// Cuts the stream into the windows `assigner` gives each element.
    pub fn window<A: WindowAssigner<T>>(
        &self,
        assigner: A,
    ) -> WindowedStream<T, KS, A, A::DefaultTrigger> {
        WindowedStream::new(self.clone(), assigner, false)
    }

    /// Tumbling count windows: fires and purges every `size` elements of a key.
    /// A window with fewer elements at the end of the input never fires (as in
    /// Flink).
    pub fn count_window(
        &self,
        size: u64,
    ) -> WindowedStream<T, KS, GlobalWindows, PurgingTrigger<CountTrigger<GlobalWindow>>> {
        self.window(GlobalWindows::create())
            .trigger(PurgingTrigger::of(CountTrigger::of(size)))
    }

    /// Sliding count windows: every `slide` elements, fires on the last `size`
    /// elements of the key.
    pub fn count_window_sliding(
        &self,
        size: u64,
        slide: u64,
    ) -> WindowedStream<T, KS, GlobalWindows, CountTrigger<GlobalWindow>> {
        self.window(GlobalWindows::create())
            .evictor(CountEvictor::of(
                usize::try_from(size).unwrap_or(usize::MAX),
            ))
            .trigger(CountTrigger::of(slide))
    }
}

impl<T: Data> DataStream<T> {
    /// Cuts the whole stream into windows (no key); the window operator runs at
    /// parallelism 1.
    pub fn window_all<A: WindowAssigner<T>>(
        &self,
        assigner: A,
    ) -> AllWindowedStream<T, A, A::DefaultTrigger> {
        let keyed = self.key_by(unit_key::<T> as AllKey<T>);
        WindowedStream::new(keyed, assigner, true)
    }

    /// Tumbling count windows over the whole stream (parallelism 1).
    pub fn count_window_all(
        &self,
        size: u64,
    ) -> AllWindowedStream<T, GlobalWindows, PurgingTrigger<CountTrigger<GlobalWindow>>> {
        self.window_all(GlobalWindows::create())
            .trigger(PurgingTrigger::of(CountTrigger::of(size)))
    }

    /// Sliding count windows over the whole stream (parallelism 1).
    pub fn count_window_all_sliding(
        &self,
        size: u64,
        slide: u64,
    ) -> AllWindowedStream<T, GlobalWindows, CountTrigger<GlobalWindow>> {
        self.window_all(GlobalWindows::create())
            .evictor(CountEvictor::of(
                usize::try_from(size).unwrap_or(usize::MAX),
            ))
            .trigger(CountTrigger::of(slide))
    }
}

impl<T: Data, KS: KeySelector<T> + Sync, A: WindowAssigner<T>>
    WindowedStream<T, KS, A, A::DefaultTrigger>
{
    fn new(input: KeyedStream<T, KS>, assigner: A, non_parallel: bool) -> Self {
        if let Err(problem) = assigner.validate() {
            input.env().record_error(problem);
        }
        let trigger = assigner.default_trigger();
        WindowedStream {
            input,
            assigner,
            trigger,
            evictor: None,
            allowed_lateness: 0,
            late_data: None,
            non_parallel,
        }
    }
}

impl<T: Data, KS: KeySelector<T> + Sync, A: WindowAssigner<T>, Tr: Trigger<T, A::W>>
    WindowedStream<T, KS, A, Tr>
{
    /// Replaces the assigner's default trigger.
    pub fn trigger<Tr2: Trigger<T, A::W>>(self, trigger: Tr2) -> WindowedStream<T, KS, A, Tr2> {
        if self.assigner.is_merging() && !trigger.can_merge() {
            self.input.env().record_error(
                "a merging window assigner cannot be used with a trigger that does not support merging"
                    .to_string(),
            );
        }
        WindowedStream {
            input: self.input,
            assigner: self.assigner,
            trigger,
            evictor: self.evictor,
            allowed_lateness: self.allowed_lateness,
            late_data: self.late_data,
            non_parallel: self.non_parallel,
        }
    }

    /// Sets an evictor: the window then keeps every element, and the evictor
    /// removes some before and/or after the window function.
    pub fn evictor<E: Evictor<T, A::W>>(mut self, evictor: E) -> Self {
        self.evictor = Some(BoxedEvictor(Box::new(evictor)));
        self
    }

    /// Keeps each event-time window for `lateness` after its end: late elements
    /// within it update the window and fire it again; its state is dropped when
    /// the watermark passes `end − 1 + lateness`.
    pub fn allowed_lateness(mut self, lateness: Duration) -> Self {
        self.allowed_lateness = i64::try_from(lateness.as_millis()).unwrap_or(i64::MAX);
        self
    }

    /// Sends elements that arrive too late for any window to `tag` instead of
    /// dropping them.
    pub fn side_output_late_data(mut self, tag: &OutputTag<T>) -> Self {
        self.late_data = Some(tag.clone());
        self
    }

    fn settings(&self) -> WindowSettings<T> {
        WindowSettings {
            allowed_lateness: self.allowed_lateness,
            late_data: self.late_data.clone(),
        }
    }

    /// Adds the window operator with `contents` and `function`.
    fn build<O, C, F>(self, name: &str, contents: C, function: F) -> SingleOutputStreamOperator<O>
    where
        O: Data,
        C: WindowContents<T, A::W> + Clone,
        F: InternalWindowFunction<KS::Key, C::Acc, O, A::W> + Clone,
    {
        let contents = Prototype::new(contents);
        let function = Prototype::new(function);
        let trigger = Prototype::new(self.trigger.clone());
        let ks = self.input.key_selector().clone();
        let assigner = self.assigner.clone();
        let settings = self.settings();
        let name = format!("Window({}, {name})", self.assigner.describe());
        let op = self.input.add_one_input(&name, "Window", true, move |p| {
            WindowOperator::new(
                ks.clone(),
                assigner.clone(),
                trigger.instance(),
                contents.instance(),
                function.instance(),
                settings.clone(),
                p,
            )
        });
        if self.non_parallel {
            op.set_parallelism(1)
        } else {
            op
        }
    }

    /// Runs a list-based function: over the elements, or over the elements that
    /// remain after the evictor.
    fn build_over_elements<O, F>(self, name: &str, function: F) -> SingleOutputStreamOperator<O>
    where
        O: Data,
        F: InternalWindowFunction<KS::Key, Vec<T>, O, A::W> + Clone,
    {
        match self.evictor.clone() {
            None => self.build(name, ListContents, function),
            Some(evictor) => self.build(name, EvictingContents(evictor), Untimestamped(function)),
        }
    }

    /// Reduces each window's elements with a closure (incrementally, one value per
    /// key and window) and emits the result when the window fires.
    pub fn reduce<F>(self, f: F) -> SingleOutputStreamOperator<T>
    where
        F: FnMut(T, T) -> T + Clone + Send + 'static,
    {
        self.reduce_with(f)
    }

    /// Like [`WindowedStream::reduce`], with a [`ReduceFunction`].
    pub fn reduce_with<F: ReduceFunction<T> + Clone>(self, f: F) -> SingleOutputStreamOperator<T> {
        match self.evictor.clone() {
            None => self.build("Reduce", ReduceContents(f), PassThrough),
            Some(evictor) => self.build(
                "Reduce",
                EvictingContents(evictor),
                Untimestamped(FoldReduce(f, PassThrough)),
            ),
        }
    }

    /// Reduces incrementally, then hands the single reduced value of each fired
    /// window to `process` (with the window and its context).
    pub fn reduce_process<O, F, P>(self, reduce: F, process: P) -> SingleOutputStreamOperator<O>
    where
        O: Data,
        F: ReduceFunction<T> + Clone,
        P: ProcessWindowFunction<KS::Key, T, O, A::W> + Clone,
    {
        match self.evictor.clone() {
            None => self.build(
                "Reduce",
                ReduceContents(reduce),
                SingleValueProcess(process),
            ),
            Some(evictor) => self.build(
                "Reduce",
                EvictingContents(evictor),
                Untimestamped(FoldReduce(reduce, SingleValueProcess(process))),
            ),
        }
    }

    /// Aggregates each window incrementally with an [`AggregateFunction`] (one
    /// accumulator per key and window) and emits its result when it fires.
    pub fn aggregate<ACC: Data, R: Data, F>(self, f: F) -> SingleOutputStreamOperator<R>
    where
        F: AggregateFunction<T, ACC, R> + Clone + Send + 'static,
    {
        match self.evictor.clone() {
            None => self.build(
                "Aggregate",
                AggregateContents(f.clone(), PhantomData),
                AggregateResult(f, PhantomData),
            ),
            Some(evictor) => self.build(
                "Aggregate",
                EvictingContents(evictor),
                Untimestamped(FoldAggregate(
                    f.clone(),
                    AggregateResult(f, PhantomData),
                    PhantomData,
                )),
            ),
        }
    }

    /// Aggregates incrementally, then hands the aggregate's result of each fired
    /// window to `process`.
    pub fn aggregate_process<ACC: Data, R: Data, O: Data, F, P>(
        self,
        f: F,
        process: P,
    ) -> SingleOutputStreamOperator<O>
    where
        F: AggregateFunction<T, ACC, R> + Clone + Send + 'static,
        P: ProcessWindowFunction<KS::Key, R, O, A::W> + Clone,
    {
        match self.evictor.clone() {
            None => self.build(
                "Aggregate",
                AggregateContents(f.clone(), PhantomData),
                AggregateProcess(f, process, PhantomData),
            ),
            Some(evictor) => self.build(
                "Aggregate",
                EvictingContents(evictor),
                Untimestamped(FoldAggregate(
                    f.clone(),
                    AggregateProcess(f, process, PhantomData),
                    PhantomData,
                )),
            ),
        }
    }

    /// Hands every element of a fired window to a [`ProcessWindowFunction`].
    pub fn process<O: Data, P>(self, process: P) -> SingleOutputStreamOperator<O>
    where
        P: ProcessWindowFunction<KS::Key, T, O, A::W> + Clone,
    {
        self.build_over_elements("Process", ListProcess(process))
    }

    /// Evaluates each fired window with a closure of `(key, window, elements,
    /// out)` (Flink's `apply` with a `WindowFunction`).
    pub fn apply<O: Data, F>(self, f: F) -> SingleOutputStreamOperator<O>
    where
        F: FnMut(&KS::Key, &A::W, &[T], &mut crate::Collector<'_, O>) + Clone + Send + 'static,
    {
        self.apply_with(f)
    }

    /// Like [`WindowedStream::apply`], with a [`WindowFunction`].
    pub fn apply_with<O: Data, F>(self, f: F) -> SingleOutputStreamOperator<O>
    where
        F: WindowFunction<KS::Key, T, O, A::W> + Clone,
    {
        self.build_over_elements("Apply", ListApply(f))
    }

    /// The sum of a field per window, kept in the window's first element.
    pub fn sum<V, F>(self, field: F) -> SingleOutputStreamOperator<T>
    where
        F: Fn(&mut T) -> &mut V + Clone + Send + 'static,
        V: Add<Output = V> + Clone,
    {
        self.reduce_with(Sum(field))
    }

    /// The minimum of a field per window (only the field; see `min_by`).
    pub fn min<V, F>(self, field: F) -> SingleOutputStreamOperator<T>
    where
        F: Fn(&mut T) -> &mut V + Clone + Send + 'static,
        V: PartialOrd + Clone,
    {
        self.reduce_with(Min(field))
    }

    /// The maximum of a field per window (only the field; see `max_by`).
    pub fn max<V, F>(self, field: F) -> SingleOutputStreamOperator<T>
    where
        F: Fn(&mut T) -> &mut V + Clone + Send + 'static,
        V: PartialOrd + Clone,
    {
        self.reduce_with(Max(field))
    }

    /// The element with the smallest field value per window (the first on ties).
    pub fn min_by<V, F>(self, field: F) -> SingleOutputStreamOperator<T>
    where
        F: Fn(&T) -> V + Clone + Send + 'static,
        V: PartialOrd,
    {
        self.reduce_with(MinBy(field))
    }

    /// The element with the largest field value per window (the first on ties).
    pub fn max_by<V, F>(self, field: F) -> SingleOutputStreamOperator<T>
    where
        F: Fn(&T) -> V + Clone + Send + 'static,
        V: PartialOrd,
    {
        self.reduce_with(MaxBy(field))
    }
}
