//! The interval join operator (Flink's `IntervalJoinOperator`).
//!
//! Each element waits in keyed state, in a bucket of its side and timestamp (a
//! bucket lists `(element, has_been_joined)`; the flag is Flink's state layout,
//! meant for outer joins, and an inner join never sets it). A new element first
//! meets the other side's buckets within its interval — `[ts + lower, ts +
//! upper]` for a left element, `[ts - upper, ts - lower]` for a right one — then
//! joins its own side's buffer, where later elements of the other side find it.
//! Exclusive bounds are folded into inclusive ones up front (`lower + 1`,
//! `upper - 1`).
//!
//! The watermark bounds the state: an element finds no new partner once the
//! watermark passes the last timestamp it joins with, so each element registers
//! an event-time timer for that moment, in its side's namespace, which drops its
//! bucket. An element behind the watermark could only have partners that are
//! already gone, so it is late: neither joined nor kept, but sent to its side's
//! late-data side output if there is one, otherwise counted in
//! `late_records_dropped`.
//!
//! Flink keeps each side in a `MapState<timestamp, list>`. Here one keyed
//! `ValueState` holds both sides of a key, each as buckets sorted by timestamp
//! (the first bucket and the first element of a bucket inline): an element costs
//! one state lookup instead of two and, usually, no allocation, and it visits only
//! the buckets inside its interval. The pairs, their timestamps and the moments
//! state is dropped are Flink's (measured on WORKLOADS.md W7: 1.4× the throughput
//! of the Flink layout on the same runtime).
//!
//! Invariant: what the timers of a watermark drop is dropped before the watermark
//! is forwarded, and every pair is emitted while processing the element that
//! completes it, with the larger of the two timestamps.

use crate::functions::Collector;
use crate::interval_join::{ProcessJoinContext, ProcessJoinFunction};
use crate::operators::keyed::KeyedRuntime;
use runnel_runtime::checkpointing::StateSnapshotContext;
use runnel_runtime::metrics::Counter;
use runnel_runtime::partitioning::KeySelector;
use runnel_runtime::timers::Timer;
use runnel_runtime::{
    BoxError, OperatorParameters, Output, OutputTag, RuntimeContext, TwoInputOperator,
};
use runnel_state::{ValueState, ValueStateDescriptor};
use runnel_types::{Data, EventTime, Key, StreamRecord, Watermark};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::marker::PhantomData;

/// A side of the join; also the namespace of its cleanup timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum JoinSide {
    /// The stream `interval_join` was called on.
    Left,
    /// The stream passed to `interval_join`.
    Right,
}

impl fmt::Display for JoinSide {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JoinSide::Left => "left",
            JoinSide::Right => "right",
        })
    }
}

/// Why an interval join fails.
#[derive(Debug, thiserror::Error)]
pub enum IntervalJoinError {
    /// An element came without an event-time timestamp.
    #[error(
        "interval join: a {side} element has no timestamp; elements used in interval joins \
         need meaningful event-time timestamps (assign them with \
         `assign_timestamps_and_watermarks` or use a source that emits them)"
    )]
    MissingTimestamp {
        /// The side it came on.
        side: JoinSide,
    },
}

/// The elements of one side and key with one timestamp, in arrival order, each
/// with its `has_been_joined` flag. Never empty.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum Bucket<T> {
    One((T, bool)),
    Many(Vec<(T, bool)>),
}

impl<T> Bucket<T> {
    fn push(&mut self, element: T) {
        match self {
            Bucket::Many(all) => all.push((element, false)),
            Bucket::One(_) => {
                let mut all = Vec::with_capacity(4);
                if let Bucket::One(first) = std::mem::replace(self, Bucket::Many(Vec::new())) {
                    all.push(first);
                }
                all.push((element, false));
                *self = Bucket::Many(all);
            }
        }
    }

    fn elements(&self) -> &[(T, bool)] {
        match self {
            Bucket::One(entry) => std::slice::from_ref(entry),
            Bucket::Many(all) => all,
        }
    }
}

/// One side's buckets of one key, sorted by timestamp.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum SideBuffer<T> {
    Empty,
    One((i64, Bucket<T>)),
    Many(Vec<(i64, Bucket<T>)>),
}

impl<T> SideBuffer<T> {
    fn buckets(&self) -> &[(i64, Bucket<T>)] {
        match self {
            SideBuffer::Empty => &[],
            SideBuffer::One(bucket) => std::slice::from_ref(bucket),
            SideBuffer::Many(all) => all,
        }
    }

    /// The buckets with timestamps in `[low, high]`.
    fn range(&self, low: i64, high: i64) -> &[(i64, Bucket<T>)] {
        let all = self.buckets();
        let start = all.partition_point(|(ts, _)| *ts < low);
        let end = start + all[start..].partition_point(|(ts, _)| *ts <= high);
        &all[start..end]
    }

    /// Adds `element` to the bucket of `ts`.
    fn insert(&mut self, ts: i64, element: T) {
        let all = match self {
            SideBuffer::Empty => {
                *self = SideBuffer::One((ts, Bucket::One((element, false))));
                return;
            }
            SideBuffer::One((t, bucket)) if *t == ts => return bucket.push(element),
            SideBuffer::One(_) => {
                let mut all = Vec::with_capacity(4);
                if let SideBuffer::One(first) = std::mem::replace(self, SideBuffer::Empty) {
                    all.push(first);
                }
                *self = SideBuffer::Many(all);
                match self {
                    SideBuffer::Many(all) => all,
                    _ => return,
                }
            }
            SideBuffer::Many(all) => all,
        };
        match all.binary_search_by_key(&ts, |(t, _)| *t) {
            Ok(i) => all[i].1.push(element),
            Err(i) => all.insert(i, (ts, Bucket::One((element, false)))),
        }
    }

    /// Drops the bucket of `ts`, if any.
    fn remove(&mut self, ts: i64) {
        match self {
            SideBuffer::Empty => {}
            SideBuffer::One((t, _)) => {
                if *t == ts {
                    *self = SideBuffer::Empty;
                }
            }
            SideBuffer::Many(all) => {
                if let Ok(i) = all.binary_search_by_key(&ts, |(t, _)| *t) {
                    all.remove(i);
                }
                if all.is_empty() {
                    *self = SideBuffer::Empty;
                }
            }
        }
    }

    fn is_empty(&self) -> bool {
        matches!(self, SideBuffer::Empty)
    }
}

/// Both sides' buffers of one key: the operator's keyed state.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct JoinBuffers<L, R> {
    left: SideBuffer<L>,
    right: SideBuffer<R>,
}

impl<L, R> JoinBuffers<L, R> {
    fn new() -> Self {
        JoinBuffers {
            left: SideBuffer::Empty,
            right: SideBuffer::Empty,
        }
    }

    fn is_empty(&self) -> bool {
        self.left.is_empty() && self.right.is_empty()
    }
}

/// Runs a [`ProcessJoinFunction`] over the pairs of an interval join.
pub struct IntervalJoinOperator<L, R, O, KS1: KeySelector<L>, KS2, F> {
    key1: KS1,
    key2: KS2,
    /// Inclusive lower bound of `right.ts - left.ts`.
    lower_bound: i64,
    /// Inclusive upper bound of `right.ts - left.ts`.
    upper_bound: i64,
    left_late: Option<OutputTag<L>>,
    right_late: Option<OutputTag<R>>,
    /// Late elements without a side output to go to.
    late_records_dropped: Counter,
    function: F,
    keyed: KeyedRuntime<KS1::Key, JoinSide>,
    buffers: ValueState<JoinBuffers<L, R>>,
    _types: PhantomData<fn() -> O>,
}

impl<L, R, O, KS1, KS2, F> IntervalJoinOperator<L, R, O, KS1, KS2, F>
where
    L: Data,
    R: Data,
    O: Data,
    KS1: KeySelector<L>,
    KS2: KeySelector<R, Key = KS1::Key>,
    F: ProcessJoinFunction<L, R, O>,
{
    /// The operator of one parallel instance. `bounds` are inclusive (exclusive
    /// bounds already moved inwards); `late` are the late-data side outputs of the
    /// left and right side.
    pub fn new(
        key1: KS1,
        key2: KS2,
        bounds: (i64, i64),
        late: (Option<OutputTag<L>>, Option<OutputTag<R>>),
        function: F,
        params: &OperatorParameters,
    ) -> Result<Self, BoxError> {
        let mut keyed = KeyedRuntime::new(params)?;
        let buffers = keyed
            .store
            .get_state(&ValueStateDescriptor::new("INTERVAL_JOIN_BUFFERS"))?;
        Ok(IntervalJoinOperator {
            key1,
            key2,
            lower_bound: bounds.0,
            upper_bound: bounds.1,
            left_late: late.0,
            right_late: late.1,
            late_records_dropped: params.counters().late_records_dropped.clone(),
            function,
            keyed,
            buffers,
            _types: PhantomData,
        })
    }

    /// The timestamp of an element of `side` that is not late; `None` if it is.
    #[inline]
    fn on_time(
        &self,
        ts: Option<EventTime>,
        side: JoinSide,
    ) -> Result<Option<EventTime>, BoxError> {
        let Some(ts) = ts else {
            return Err(IntervalJoinError::MissingTimestamp { side }.into());
        };
        let watermark = self.keyed.timers.current_watermark();
        let late = watermark != Watermark::MIN && ts.millis() < watermark.millis();
        Ok((!late).then_some(ts))
    }
}

/// How an element of one side is joined: its side, its interval relative to its
/// timestamp, and which buffers are its own and the other side's.
struct SideOf<L, R, OUR, OTHER> {
    side: JoinSide,
    relative_lower: i64,
    relative_upper: i64,
    split: Split<L, R, OUR, OTHER>,
}

/// Picks an element's own buffer (to insert into) and the other side's (to join).
type Split<L, R, OUR, OTHER> =
    fn(&mut JoinBuffers<L, R>) -> (&mut SideBuffer<OUR>, &SideBuffer<OTHER>);

/// Joins an on-time element (timestamp `ts`) of the current key with the other
/// side's buckets in its interval, calling `pair(ours, other, ctx, out)` for each
/// partner, then buffers it and registers its cleanup timer.
fn join_element<K: Key, L: Data, R: Data, OUR, OTHER, O: Data>(
    keyed: &mut KeyedRuntime<K, JoinSide>,
    buffers: ValueState<JoinBuffers<L, R>>,
    spec: SideOf<L, R, OUR, OTHER>,
    ts: EventTime,
    value: OUR,
    out: &mut Output<O>,
    mut pair: impl FnMut(
        &OUR,
        &OTHER,
        &mut ProcessJoinContext<'_>,
        &mut Collector<'_, O>,
    ) -> Result<(), BoxError>,
) -> Result<(), BoxError> {
    let KeyedRuntime {
        store,
        timers,
        runtime,
        ..
    } = keyed;
    let Output { main, side } = out;
    let our_ts = ts.millis();
    let low = our_ts.saturating_add(spec.relative_lower);
    let high = our_ts.saturating_add(spec.relative_upper);
    buffers.with_value(store, |state| {
        let buffers = state.get_or_insert_with(JoinBuffers::new);
        let (ours, other) = (spec.split)(buffers);
        for (other_ts, bucket) in other.range(low, high) {
            let other_ts = EventTime::from_millis(*other_ts);
            let (left_timestamp, right_timestamp) = match spec.side {
                JoinSide::Left => (ts, other_ts),
                JoinSide::Right => (other_ts, ts),
            };
            let mut ctx = ProcessJoinContext {
                left_timestamp,
                right_timestamp,
                side: &mut *side,
                runtime,
            };
            let mut collector = Collector::new(main, Some(ts.max(other_ts)));
            for (element, _) in bucket.elements() {
                pair(&value, element, &mut ctx, &mut collector)?;
            }
        }
        ours.insert(our_ts, value);
        Ok::<(), BoxError>(())
    })??;
    let cleanup = if spec.relative_upper > 0 {
        our_ts.saturating_add(spec.relative_upper)
    } else {
        our_ts
    };
    let key = store
        .current_key()
        .expect("the operator set the current key");
    // Pushed, not registered: no lookup to deduplicate (two elements of a key
    // and side with one timestamp get two timers; the second finds its bucket
    // gone, which is fine).
    timers.push_event_time_timer(key, &spec.side, cleanup);
    Ok(())
}

impl<L, R, O, KS1, KS2, F> TwoInputOperator for IntervalJoinOperator<L, R, O, KS1, KS2, F>
where
    L: Data,
    R: Data,
    O: Data,
    KS1: KeySelector<L>,
    KS2: KeySelector<R, Key = KS1::Key>,
    F: ProcessJoinFunction<L, R, O>,
{
    type In1 = L;
    type In2 = R;
    type Out = O;

    fn snapshot_state(&mut self, ctx: &mut StateSnapshotContext<'_>) -> Result<(), BoxError> {
        self.keyed.snapshot_state(ctx)
    }

    fn open(&mut self, ctx: &RuntimeContext) -> Result<(), BoxError> {
        self.function.open(ctx)
    }

    fn process_element1(
        &mut self,
        record: StreamRecord<L>,
        out: &mut Output<O>,
    ) -> Result<(), BoxError> {
        let Some(ts) = self.on_time(record.timestamp, JoinSide::Left)? else {
            match &self.left_late {
                Some(tag) => out.side.collect(tag, record),
                None => self.late_records_dropped.inc_by(1),
            }
            return Ok(());
        };
        self.keyed
            .set_current_key(self.key1.get_key(&record.value))?;
        let spec = SideOf {
            side: JoinSide::Left,
            relative_lower: self.lower_bound,
            relative_upper: self.upper_bound,
            split: |b| (&mut b.left, &b.right),
        };
        let f = &mut self.function;
        join_element(
            &mut self.keyed,
            self.buffers,
            spec,
            ts,
            record.value,
            out,
            |l, r, ctx, c| f.process_element(l.clone(), r.clone(), ctx, c),
        )
    }

    fn process_element2(
        &mut self,
        record: StreamRecord<R>,
        out: &mut Output<O>,
    ) -> Result<(), BoxError> {
        let Some(ts) = self.on_time(record.timestamp, JoinSide::Right)? else {
            match &self.right_late {
                Some(tag) => out.side.collect(tag, record),
                None => self.late_records_dropped.inc_by(1),
            }
            return Ok(());
        };
        self.keyed
            .set_current_key(self.key2.get_key(&record.value))?;
        let spec = SideOf {
            side: JoinSide::Right,
            relative_lower: self.upper_bound.saturating_neg(),
            relative_upper: self.lower_bound.saturating_neg(),
            split: |b| (&mut b.right, &b.left),
        };
        let f = &mut self.function;
        join_element(
            &mut self.keyed,
            self.buffers,
            spec,
            ts,
            record.value,
            out,
            |r, l, ctx, c| f.process_element(l.clone(), r.clone(), ctx, c),
        )
    }

    /// Drops the buckets whose cleanup timers the watermark reached, then forwards
    /// the watermark.
    fn process_watermark(
        &mut self,
        watermark: Watermark,
        out: &mut Output<O>,
    ) -> Result<(), BoxError> {
        let KeyedRuntime { store, timers, .. } = &mut self.keyed;
        timers.advance_watermark(watermark);
        while let Some(Timer {
            time,
            key,
            namespace,
        }) = timers.next_event_timer()
        {
            store.set_current_key(key)?;
            let (lower, upper) = (self.lower_bound, self.upper_bound);
            self.buffers.with_value(store, |state| {
                let Some(buffers) = state else { return };
                match namespace {
                    JoinSide::Left if upper <= 0 => buffers.left.remove(time),
                    JoinSide::Left => buffers.left.remove(time.saturating_sub(upper)),
                    JoinSide::Right if lower <= 0 => {
                        buffers.right.remove(time.saturating_add(lower))
                    }
                    JoinSide::Right => buffers.right.remove(time),
                }
                if buffers.is_empty() {
                    *state = None;
                }
            })?;
        }
        out.emit_watermark(watermark);
        Ok(())
    }

    fn close(&mut self) -> Result<(), BoxError> {
        self.function.close()
    }
}
