//! Interval join (G2, Flink's `KeyedStream.intervalJoin`): joins two keyed streams
//! on equal keys and event time, pairing a left element `l` with every right
//! element `r` of the same key such that
//! `l.ts + lower <= r.ts <= l.ts + upper`.
//!
//! Unlike a window join there are no windows: each element waits in keyed state
//! exactly as long as it can still find partners, which the watermark decides, so
//! the join suits "what happened around this event" questions (clicks within a
//! minute of an order, a payment within ten seconds of a checkout). Elements need
//! event-time timestamps; an element behind the watermark is late: it is not
//! joined, and goes to a side output if one is set.
//!
//! ```
//! use runnel_api::StreamExecutionEnvironment;
//! use runnel_api::watermark::WatermarkStrategy;
//!
//! let env = StreamExecutionEnvironment::local();
//! // (user, event time in ms)
//! let orders = env
//!     .from_elements(vec![("ann".to_string(), 1_000i64)])
//!     .assign_timestamps_and_watermarks(
//!         WatermarkStrategy::for_monotonous_timestamps()
//!             .with_timestamp_assigner(|o: &(String, i64), _| o.1),
//!     );
//! let clicks = env
//!     .from_elements(vec![("ann".to_string(), 400i64), ("ann".to_string(), 3_000)])
//!     .assign_timestamps_and_watermarks(
//!         WatermarkStrategy::for_monotonous_timestamps()
//!             .with_timestamp_assigner(|c: &(String, i64), _| c.1),
//!     );
//! orders
//!     .key_by(|o| o.0.clone())
//!     .interval_join(&clicks.key_by(|c| c.0.clone()))
//!     .between(-1_000, 1_000)
//!     .join(|order, click| format!("{} ordered at {} after a click at {}", order.0, order.1, click.1))
//!     .print(); // ann ordered at 1000 after a click at 400
//! env.execute("interval join").unwrap();
//! ```

use crate::connected::add_two_input;
use crate::datastream::SingleOutputStreamOperator;
use crate::functions::Collector;
use crate::keyed::KeyedStream;
use crate::operators::interval_join::IntervalJoinOperator;
use crate::prototype::Prototype;
use runnel_runtime::output::SideOutputs;
use runnel_runtime::partitioning::KeySelector;
use runnel_runtime::{BoxError, OutputTag, RuntimeContext};
use runnel_types::{Data, EventTime, StreamRecord};

impl<T: Data, KS: KeySelector<T> + Sync> KeyedStream<T, KS> {
    /// Starts an interval join of this stream (the left side) with `other` (the
    /// right side), keyed alike; set the bounds with [`IntervalJoin::between`].
    pub fn interval_join<R: Data, KS2>(
        &self,
        other: &KeyedStream<R, KS2>,
    ) -> IntervalJoin<T, R, KS, KS2>
    where
        KS2: KeySelector<R, Key = KS::Key> + Sync,
    {
        IntervalJoin {
            left: self.clone(),
            right: other.clone(),
        }
    }
}

/// Two keyed streams to join on time intervals; [`IntervalJoin::between`] sets
/// the interval.
pub struct IntervalJoin<L, R, KS1, KS2> {
    left: KeyedStream<L, KS1>,
    right: KeyedStream<R, KS2>,
}

impl<L, R, KS1, KS2> IntervalJoin<L, R, KS1, KS2>
where
    L: Data,
    R: Data,
    KS1: KeySelector<L> + Sync,
    KS2: KeySelector<R, Key = KS1::Key> + Sync,
{
    /// Joins each left element `l` with the right elements `r` of its key such
    /// that `l.ts + lower <= r.ts <= l.ts + upper` (milliseconds; `lower` may be
    /// negative). Both bounds are inclusive unless made exclusive. `lower` must not
    /// exceed `upper`, or the job fails to start with an invalid-program error.
    pub fn between(self, lower: i64, upper: i64) -> IntervalJoined<L, R, KS1, KS2> {
        IntervalJoined {
            left: self.left,
            right: self.right,
            lower,
            upper,
            lower_inclusive: true,
            upper_inclusive: true,
            left_late: None,
            right_late: None,
        }
    }
}

/// An interval join with its bounds: set the options, then
/// [`process`](IntervalJoined::process) the joined pairs.
pub struct IntervalJoined<L, R, KS1, KS2> {
    left: KeyedStream<L, KS1>,
    right: KeyedStream<R, KS2>,
    lower: i64,
    upper: i64,
    lower_inclusive: bool,
    upper_inclusive: bool,
    left_late: Option<OutputTag<L>>,
    right_late: Option<OutputTag<R>>,
}

impl<L, R, KS1, KS2> IntervalJoined<L, R, KS1, KS2>
where
    L: Data,
    R: Data,
    KS1: KeySelector<L> + Sync,
    KS2: KeySelector<R, Key = KS1::Key> + Sync,
{
    /// Excludes the lower bound: `l.ts + lower < r.ts`.
    pub fn lower_bound_exclusive(mut self) -> Self {
        self.lower_inclusive = false;
        self
    }

    /// Excludes the upper bound: `r.ts < l.ts + upper`.
    pub fn upper_bound_exclusive(mut self) -> Self {
        self.upper_inclusive = false;
        self
    }

    /// Sends late left elements (behind the watermark, so never joined) to the side
    /// output `tag` instead of dropping them.
    pub fn side_output_left_late_data(mut self, tag: &OutputTag<L>) -> Self {
        self.left_late = Some(tag.clone());
        self
    }

    /// Sends late right elements to the side output `tag` instead of dropping them.
    pub fn side_output_right_late_data(mut self, tag: &OutputTag<R>) -> Self {
        self.right_late = Some(tag.clone());
        self
    }

    /// Calls `f` for every joined pair; what it emits carries the larger of the
    /// two timestamps.
    pub fn process<O: Data, F>(&self, f: F) -> SingleOutputStreamOperator<O>
    where
        F: ProcessJoinFunction<L, R, O> + Clone,
    {
        let (lower, upper) = (self.lower, self.upper);
        if lower > upper {
            self.left.env().graph(|g| {
                g.errors.push(format!(
                    "interval join: lowerBound <= upperBound must be fulfilled, \
                     but between({lower}, {upper}) has the lower bound above the upper"
                ))
            });
        }
        let lower = if self.lower_inclusive {
            lower
        } else {
            lower.saturating_add(1)
        };
        let upper = if self.upper_inclusive {
            upper
        } else {
            upper.saturating_sub(1)
        };
        let f = Prototype::new(f);
        let (k1, k2) = (
            self.left.key_selector().clone(),
            self.right.key_selector().clone(),
        );
        let (left_late, right_late) = (self.left_late.clone(), self.right_late.clone());
        add_two_input(&self.left, &self.right, "Interval Join", true, move |p| {
            IntervalJoinOperator::new(
                k1.clone(),
                k2.clone(),
                (lower, upper),
                (left_late.clone(), right_late.clone()),
                f.instance(),
                p,
            )
        })
    }

    /// Joins every pair into one record with `f` (a [`process`](Self::process)
    /// that emits exactly one record per pair).
    pub fn join<O: Data, F>(&self, f: F) -> SingleOutputStreamOperator<O>
    where
        F: FnMut(L, R) -> O + Clone + Send + 'static,
    {
        self.process(JoinFn(f))
    }
}

/// What a [`ProcessJoinFunction`] knows about the pair it joins, and how it emits
/// to side outputs (Flink's `ProcessJoinFunction.Context`).
pub struct ProcessJoinContext<'a> {
    pub(crate) left_timestamp: EventTime,
    pub(crate) right_timestamp: EventTime,
    pub(crate) side: &'a mut SideOutputs,
    pub(crate) runtime: &'a RuntimeContext,
}

impl ProcessJoinContext<'_> {
    /// The left element's timestamp.
    pub fn left_timestamp(&self) -> EventTime {
        self.left_timestamp
    }

    /// The right element's timestamp.
    pub fn right_timestamp(&self) -> EventTime {
        self.right_timestamp
    }

    /// The pair's timestamp: the larger of the two, carried by what the function
    /// emits.
    pub fn timestamp(&self) -> EventTime {
        self.left_timestamp.max(self.right_timestamp)
    }

    /// Emits `value` to the side output `tag`, with the pair's timestamp.
    pub fn output<X: Data>(&mut self, tag: &OutputTag<X>, value: X) {
        let timestamp = self.timestamp();
        self.side
            .collect(tag, StreamRecord::with_timestamp(value, timestamp));
    }

    /// The runtime context of this instance.
    pub fn runtime_context(&self) -> &RuntimeContext {
        self.runtime
    }
}

/// The function of an interval join (Flink's `ProcessJoinFunction`): called once
/// per joined pair, in no particular order among the pairs of one element.
pub trait ProcessJoinFunction<L, R, O>: Send + 'static {
    /// Called once per parallel instance before the first pair.
    fn open(&mut self, _ctx: &RuntimeContext) -> Result<(), BoxError> {
        Ok(())
    }

    /// Processes one joined pair; `out` stamps records with the pair's timestamp.
    fn process_element(
        &mut self,
        left: L,
        right: R,
        ctx: &mut ProcessJoinContext<'_>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError>;

    /// Called once per parallel instance at the end.
    fn close(&mut self) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<L, R, O, F> ProcessJoinFunction<L, R, O> for F
where
    F: FnMut(L, R, &mut ProcessJoinContext<'_>, &mut Collector<'_, O>) -> Result<(), BoxError>
        + Send
        + 'static,
{
    #[inline]
    fn process_element(
        &mut self,
        left: L,
        right: R,
        ctx: &mut ProcessJoinContext<'_>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError> {
        self(left, right, ctx, out)
    }
}

/// A closure joining a pair into one record, as a [`ProcessJoinFunction`].
#[derive(Clone)]
struct JoinFn<F>(F);

impl<L, R, O: Data, F> ProcessJoinFunction<L, R, O> for JoinFn<F>
where
    F: FnMut(L, R) -> O + Send + 'static,
{
    #[inline]
    fn process_element(
        &mut self,
        left: L,
        right: R,
        _ctx: &mut ProcessJoinContext<'_>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError> {
        out.collect((self.0)(left, right));
        Ok(())
    }
}
