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
//! Merging assigners (sessions) keep, per key, the windows in flight with their
//! contents in one keyed value (Flink's `MergingWindowSet`; see `merging`).
//!
//! Contents live in namespaced keyed state (one accumulator per key and window)
//! and timers are namespaced by window, so everything a window keeps is
//! organised by key group.

use crate::functions::Collector;
use crate::operators::keyed::KeyedRuntime;
use crate::windowing::{
    EvictorContext, ProcessWindowContext, Trigger, TriggerContext, TriggerResult, Window,
    WindowAssigner, WindowAssignerContext,
};
use runnel_runtime::checkpointing::StateSnapshotContext;
use runnel_runtime::metrics::Counter;
use runnel_runtime::output::{MainOutput, SideOutputs};
use runnel_runtime::partitioning::KeySelector;
use runnel_runtime::timers::{TimeDomain, Timer};
use runnel_runtime::{
    BoxError, OneInputOperator, OperatorParameters, Output, OutputTag, RuntimeContext,
};
use runnel_state::{NamespacedValueState, ValueState, ValueStateDescriptor};
use runnel_types::{Data, EventTime, StreamRecord, Watermark};
use std::marker::PhantomData;

mod contents;
mod functions;
mod merging;

pub use contents::*;
pub use functions::*;
use merging::*;
pub use merging::{InFlight, InFlightWindows};

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
        let mut keyed = KeyedRuntime::new(params)?;
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

    fn snapshot_state(&mut self, ctx: &mut StateSnapshotContext<'_>) -> Result<(), BoxError> {
        self.keyed.snapshot_state(ctx)
    }

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
