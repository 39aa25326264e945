//! Interval join (G2): `left.key_by(..).interval_join(&right.key_by(..))
//! .between(lower, upper)` pairs `l` and `r` of one key when
//! `l.ts + lower <= r.ts <= l.ts + upper`, as Flink's `IntervalJoinOperator`
//! does: bounds, exclusive bounds, keys, result timestamps, late data, cleanup
//! by timers, errors, and a property test against a nested-loop join.
//!
//! Matching tests run bounded sources without watermarks (nothing is late,
//! nothing is dropped before the end). Late data and cleanup are scripted: two
//! driven sources, and each watermark is awaited at the join's output before the
//! next step, so every run sees the same interleaving.

mod common;

use common::{Collected, ProbeLog, Seen, wait_until};
use runnel::prelude::*;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// An element: (key, timestamp, id).
type Ev = (char, i64, u32);

/// A joined pair: (key, left id, right id).
type Pair = (char, u32, u32);

/// The bounds of a join, as the builder takes them.
#[derive(Debug, Clone, Copy)]
struct Bounds {
    lower: i64,
    upper: i64,
    lower_exclusive: bool,
    upper_exclusive: bool,
}

fn inclusive(lower: i64, upper: i64) -> Bounds {
    Bounds {
        lower,
        upper,
        lower_exclusive: false,
        upper_exclusive: false,
    }
}

/// Applies `bounds` to an interval join of two keyed streams.
macro_rules! between {
    ($join:expr, $bounds:expr) => {{
        let b: Bounds = $bounds;
        let mut joined = $join.between(b.lower, b.upper);
        if b.lower_exclusive {
            joined = joined.lower_bound_exclusive();
        }
        if b.upper_exclusive {
            joined = joined.upper_bound_exclusive();
        }
        joined
    }};
}

/// Emits (key, left ts, right ts, pair ts) with every context timestamp checked.
fn describe(
    l: Ev,
    r: Ev,
    ctx: &mut ProcessJoinContext<'_>,
    out: &mut Collector<'_, (char, i64, i64)>,
) -> Result<(), BoxError> {
    assert_eq!(l.0, r.0, "pairs share the key");
    assert_eq!(ctx.left_timestamp().millis(), l.1);
    assert_eq!(ctx.right_timestamp().millis(), r.1);
    assert_eq!(
        ctx.timestamp(),
        ctx.left_timestamp().max(ctx.right_timestamp())
    );
    out.collect((l.0, l.1, r.1));
    Ok(())
}

/// Joins two bounded streams stamped with their timestamps, without watermarks;
/// returns the pairs `(key, l.ts, r.ts)` sorted, after checking that each record
/// carries the larger timestamp.
fn join(left: &[Ev], right: &[Ev], bounds: Bounds, parallelism: u32) -> Vec<(char, i64, i64)> {
    let env = StreamExecutionEnvironment::local();
    env.set_parallelism(parallelism);
    let stamp = || WatermarkStrategy::no_watermarks().with_timestamp_assigner(|e: &Ev, _| e.1);
    let left = env
        .from_elements(left.to_vec())
        .assign_timestamps_and_watermarks(stamp());
    let right = env
        .from_elements(right.to_vec())
        .assign_timestamps_and_watermarks(stamp());
    let joined = between!(
        left.key_by(|e| e.0).interval_join(&right.key_by(|e| e.0)),
        bounds
    )
    .process(describe);
    let probe = ProbeLog::new();
    probe.attach(&joined);
    env.execute("interval join").unwrap();
    let mut pairs = Vec::new();
    for seen in probe.seen() {
        if let Seen::Record(ts, (key, l, r)) = seen {
            assert_eq!(
                ts,
                Some(l.max(r)),
                "({l}, {r}) carries the larger timestamp"
            );
            pairs.push((key, l, r));
        }
    }
    pairs.sort();
    pairs
}

/// The pairs a nested loop finds.
fn reference(left: &[Ev], right: &[Ev], b: Bounds) -> Vec<(char, i64, i64)> {
    let lower = if b.lower_exclusive {
        b.lower + 1
    } else {
        b.lower
    };
    let upper = if b.upper_exclusive {
        b.upper - 1
    } else {
        b.upper
    };
    let mut pairs = Vec::new();
    for l in left {
        for r in right {
            if l.0 == r.0 && l.1 + lower <= r.1 && r.1 <= l.1 + upper {
                pairs.push((l.0, l.1, r.1));
            }
        }
    }
    pairs.sort();
    pairs
}

fn ev(key: char, ts: i64) -> Ev {
    (key, ts, 0)
}

#[test]
fn inclusive_bounds_join_exactly_at_ts_plus_lower_and_ts_plus_upper() {
    let left = [ev('a', 100)];
    let right: Vec<Ev> = (95..=106).map(|ts| ev('a', ts)).collect();
    assert_eq!(
        join(&left, &right, inclusive(-2, 3), 1),
        [98, 99, 100, 101, 102, 103].map(|r| ('a', 100, r))
    );
}

#[test]
fn exclusive_bounds_leave_out_the_bound_itself() {
    let left = [ev('a', 100)];
    let right: Vec<Ev> = (95..=106).map(|ts| ev('a', ts)).collect();
    let lower_excl = Bounds {
        lower_exclusive: true,
        ..inclusive(-2, 3)
    };
    assert_eq!(
        join(&left, &right, lower_excl, 1),
        [99, 100, 101, 102, 103].map(|r| ('a', 100, r))
    );
    let upper_excl = Bounds {
        upper_exclusive: true,
        ..inclusive(-2, 3)
    };
    assert_eq!(
        join(&left, &right, upper_excl, 1),
        [98, 99, 100, 101, 102].map(|r| ('a', 100, r))
    );
    let both = Bounds {
        lower_exclusive: true,
        upper_exclusive: true,
        ..inclusive(-2, 3)
    };
    assert_eq!(
        join(&left, &right, both, 1),
        [99, 100, 101, 102].map(|r| ('a', 100, r))
    );
    // (0, 1) with both bounds exclusive is empty, and not an error.
    let empty = Bounds {
        lower_exclusive: true,
        upper_exclusive: true,
        ..inclusive(0, 1)
    };
    assert_eq!(join(&left, &right, empty, 1), []);
}

#[test]
fn negative_and_positive_windows_and_a_single_point() {
    let left = [ev('a', 100), ev('a', 200)];
    let right: Vec<Ev> = [90, 95, 99, 100, 101, 105, 190, 200, 210]
        .map(|ts| ev('a', ts))
        .to_vec();
    // Only the past.
    assert_eq!(
        join(&left, &right, inclusive(-10, -1), 1),
        [
            ('a', 100, 90),
            ('a', 100, 95),
            ('a', 100, 99),
            ('a', 200, 190)
        ]
    );
    // Only the future.
    assert_eq!(
        join(&left, &right, inclusive(1, 5), 1),
        [('a', 100, 101), ('a', 100, 105)]
    );
    // lower == upper: exactly that offset.
    assert_eq!(
        join(&left, &right, inclusive(0, 0), 1),
        [('a', 100, 100), ('a', 200, 200)]
    );
    assert_eq!(join(&left, &right, inclusive(10, 10), 1), [('a', 200, 210)]);
}

#[test]
fn only_elements_of_one_key_are_joined() {
    let left = [ev('a', 10), ev('b', 10), ev('c', 10)];
    let right = [ev('a', 11), ev('b', 9), ev('b', 12), ev('d', 10)];
    for p in [1, 2, 3] {
        assert_eq!(
            join(&left, &right, inclusive(-1, 1), p),
            [('a', 10, 11), ('b', 10, 9)],
            "parallelism {p}"
        );
    }
}

#[test]
fn every_element_of_a_timestamp_joins_and_the_pair_carries_the_larger_timestamp() {
    // Two left and three right elements share timestamps; `join` checks each
    // record's timestamp is max(l.ts, r.ts) and the context's timestamps.
    let left = [('k', 50, 1), ('k', 50, 2)];
    let right = [('k', 48, 3), ('k', 53, 4), ('k', 53, 5)];
    assert_eq!(
        join(&left, &right, inclusive(-5, 5), 1),
        [
            ('k', 50, 48),
            ('k', 50, 48),
            ('k', 50, 53),
            ('k', 50, 53),
            ('k', 50, 53),
            ('k', 50, 53)
        ]
    );
}

#[test]
fn join_emits_one_record_per_pair_with_the_pair_timestamp() {
    let env = StreamExecutionEnvironment::local();
    let stamp = || WatermarkStrategy::no_watermarks().with_timestamp_assigner(|e: &Ev, _| e.1);
    let left = env
        .from_elements(vec![('a', 10, 1), ('a', 30, 2)])
        .assign_timestamps_and_watermarks(stamp());
    let right = env
        .from_elements(vec![('a', 12, 7)])
        .assign_timestamps_and_watermarks(stamp());
    let joined = left
        .key_by(|e| e.0)
        .interval_join(&right.key_by(|e| e.0))
        .between(0, 5)
        .join(|l: Ev, r: Ev| (l.2, r.2));
    let probe = ProbeLog::new();
    probe.attach(&joined);
    env.execute("join").unwrap();
    assert_eq!(probe.records(), [(1, 7)], "(30, 12) is outside [30, 35]");
    assert!(probe.seen().contains(&Seen::Record(Some(12), (1, 7))));
}

#[test]
fn a_side_output_of_the_join_function_carries_the_pair_timestamp() {
    let env = StreamExecutionEnvironment::local();
    let stamp = || WatermarkStrategy::no_watermarks().with_timestamp_assigner(|e: &Ev, _| e.1);
    let far = OutputTag::<(u32, u32)>::new("far apart");
    let tag = far.clone();
    let joined = env
        .from_elements(vec![('a', 10, 1)])
        .assign_timestamps_and_watermarks(stamp())
        .key_by(|e| e.0)
        .interval_join(
            &env.from_elements(vec![('a', 11, 2), ('a', 19, 3)])
                .assign_timestamps_and_watermarks(stamp())
                .key_by(|e| e.0),
        )
        .between(0, 10)
        .process(
            move |l: Ev, r: Ev, ctx: &mut ProcessJoinContext<'_>, out: &mut Collector<'_, u32>| {
                if r.1 - l.1 > 5 {
                    ctx.output(&tag, (l.2, r.2));
                } else {
                    out.collect(r.2);
                }
                Ok(())
            },
        );
    let side = ProbeLog::new();
    side.attach(&joined.get_side_output(&far));
    let main = Collected::new();
    joined.add_sink(main.sink());
    env.execute("side output").unwrap();
    assert_eq!(main.values(), [2]);
    assert_eq!(
        side.seen()
            .into_iter()
            .filter(|s| matches!(s, Seen::Record(..)))
            .collect::<Vec<_>>(),
        [Seen::Record(Some(19), (1, 3))]
    );
}

#[test]
fn an_element_without_timestamp_fails_the_job_naming_the_operator() {
    let env = StreamExecutionEnvironment::local();
    let left = env.from_elements(vec![ev('a', 1)]);
    let right = env
        .from_elements(vec![ev('a', 1)])
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::no_watermarks().with_timestamp_assigner(|e: &Ev, _| e.1),
        );
    left.key_by(|e| e.0)
        .interval_join(&right.key_by(|e| e.0))
        .between(-1, 1)
        .join(|l: Ev, r: Ev| (l.2, r.2))
        .name("clicks with orders")
        .print();
    let message = env.execute("no timestamps").unwrap_err().to_string();
    assert!(
        message.contains("clicks with orders")
            && message.contains("a left element has no timestamp")
            && message.contains("assign_timestamps_and_watermarks"),
        "{message}"
    );
}

#[test]
fn an_error_of_the_join_function_fails_the_job_naming_the_operator() {
    let env = StreamExecutionEnvironment::local();
    let s = env
        .from_elements(vec![ev('a', 1)])
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::no_watermarks().with_timestamp_assigner(|e: &Ev, _| e.1),
        );
    s.key_by(|e| e.0)
        .interval_join(&s.key_by(|e| e.0))
        .between(0, 0)
        .process(
            |_: Ev, _: Ev, _: &mut ProcessJoinContext<'_>, _: &mut Collector<'_, u32>| {
                Err(std::io::Error::other("price feed unavailable").into())
            },
        )
        .name("enrich pairs")
        .print();
    let message = env.execute("failing join").unwrap_err().to_string();
    assert!(
        message.contains("enrich pairs") && message.contains("price feed unavailable"),
        "{message}"
    );
}

#[test]
fn a_lower_bound_above_the_upper_bound_is_an_invalid_program() {
    let env = StreamExecutionEnvironment::local();
    let s = env.from_elements(vec![ev('a', 1)]);
    s.key_by(|e| e.0)
        .interval_join(&s.key_by(|e| e.0))
        .between(5, 1)
        .join(|l: Ev, r: Ev| (l.2, r.2))
        .print();
    let err = env.execute("bad bounds").unwrap_err();
    assert!(matches!(err, JobError::Plan(_)), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("lowerBound <= upperBound must be fulfilled")
            && message.contains("between(5, 1)"),
        "{message}"
    );
}

/// What a driven source is told to do.
enum Command {
    Element(Ev),
    Watermark(i64),
}

/// A source emitting what the test sends it, until the sender is dropped.
#[derive(Clone)]
struct Driven(Arc<Mutex<Receiver<Command>>>);

impl SourceFunction<Ev> for Driven {
    fn run(&mut self, ctx: &mut SourceContext<Ev>) -> Result<(), BoxError> {
        while ctx.is_running() {
            let next = self
                .0
                .lock()
                .unwrap()
                .recv_timeout(Duration::from_millis(5));
            match next {
                Ok(Command::Element(e)) => {
                    ctx.collect_with_timestamp(e, EventTime::from_millis(e.1))
                }
                Ok(Command::Watermark(w)) => ctx.emit_watermark(Watermark(w)),
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
        Ok(())
    }
}

fn driven() -> (Sender<Command>, Driven) {
    let (tx, rx) = channel();
    (tx, Driven(Arc::new(Mutex::new(rx))))
}

/// A running join whose inputs the test drives step by step.
struct Script {
    left: Sender<Command>,
    right: Sender<Command>,
    probe: ProbeLog<Pair>,
    late_left: Collected<Ev>,
    late_right: Collected<Ev>,
    client: runnel::runtime::JobClient,
}

impl Script {
    /// Starts a join with `bounds`, late data going to side outputs if
    /// `side_outputs`.
    fn start(bounds: Bounds, side_outputs: bool) -> Script {
        let env = StreamExecutionEnvironment::local();
        env.set_parallelism(1);
        env.set_buffer_timeout(0);
        let (left_tx, left) = driven();
        let (right_tx, right) = driven();
        let (tag_l, tag_r) = (OutputTag::new("late left"), OutputTag::new("late right"));
        let mut joined = between!(
            env.add_source(left)
                .key_by(|e: &Ev| e.0)
                .interval_join(&env.add_source(right).key_by(|e: &Ev| e.0)),
            bounds
        );
        if side_outputs {
            joined = joined
                .side_output_left_late_data(&tag_l)
                .side_output_right_late_data(&tag_r);
        }
        let joined = joined.join(|l: Ev, r: Ev| (l.0, l.2, r.2));
        let probe = ProbeLog::new();
        probe.attach(&joined);
        let (late_left, late_right) = (Collected::new(), Collected::new());
        joined.get_side_output(&tag_l).add_sink(late_left.sink());
        joined.get_side_output(&tag_r).add_sink(late_right.sink());
        let client = env.execute_async("scripted interval join").unwrap();
        Script {
            left: left_tx,
            right: right_tx,
            probe,
            late_left,
            late_right,
            client,
        }
    }

    fn left(&self, key: char, ts: i64, id: u32) -> &Self {
        self.left.send(Command::Element((key, ts, id))).unwrap();
        self
    }

    fn right(&self, key: char, ts: i64, id: u32) -> &Self {
        self.right.send(Command::Element((key, ts, id))).unwrap();
        self
    }

    /// Advances both inputs to `w` and waits until the join forwarded it: every
    /// element sent before has been processed, and the timers `w` reached fired.
    fn watermark(&self, w: i64) -> &Self {
        self.left.send(Command::Watermark(w)).unwrap();
        self.right.send(Command::Watermark(w)).unwrap();
        wait_until(&format!("watermark {w}"), 10, || {
            self.probe.max_watermark() >= Some(w)
        });
        self
    }

    /// Ends both inputs; returns the pairs with their timestamps, sorted, and
    /// the late elements of each side.
    fn finish(self) -> (Vec<(i64, Pair)>, Vec<Ev>, Vec<Ev>) {
        let (pairs, late_left, late_right, _dropped) = self.finish_counting_drops();
        (pairs, late_left, late_right)
    }

    /// As [`Script::finish`], plus the job's count of late records dropped.
    fn finish_counting_drops(self) -> Finished {
        drop(self.left);
        drop(self.right);
        let result = self.client.wait().unwrap();
        let dropped = result
            .operators
            .iter()
            .map(|o| o.late_records_dropped)
            .sum();
        let mut pairs = self
            .probe
            .seen()
            .into_iter()
            .filter_map(|s| match s {
                Seen::Record(ts, p) => Some((ts.expect("pairs carry a timestamp"), p)),
                _ => None,
            })
            .collect::<Vec<_>>();
        pairs.sort();
        (
            pairs,
            self.late_left.values(),
            self.late_right.values(),
            dropped,
        )
    }
}

/// What a script produced: the pairs with their timestamps, the late elements
/// of each side, and the count of late records dropped.
type Finished = (Vec<(i64, Pair)>, Vec<Ev>, Vec<Ev>, u64);

/// Left element 3 and right element 6 are late: each goes to its side's late
/// output (or nowhere), is not joined, and is not kept for later elements.
fn late_data_script(side_outputs: bool) -> Finished {
    let s = Script::start(inclusive(-10, 10), side_outputs);
    s.right('a', 100, 1).left('a', 105, 2).right('b', 101, 9);
    s.watermark(200);
    // 199 < 200: late. Were it kept, right element 4 (205) would join it.
    s.left('a', 199, 3);
    s.right('a', 205, 4);
    // 200 is not late: the watermark says no more elements *before* 200.
    s.left('a', 200, 5);
    s.right('a', 190, 6);
    s.left('a', 210, 7);
    s.finish_counting_drops()
}

#[test]
fn late_elements_go_to_their_side_output_and_are_neither_joined_nor_kept() {
    let (pairs, late_left, late_right, dropped) = late_data_script(true);
    assert_eq!(
        pairs,
        [(105, ('a', 2, 1)), (205, ('a', 5, 4)), (210, ('a', 7, 4))]
    );
    assert_eq!(late_left, [('a', 199, 3)]);
    assert_eq!(late_right, [('a', 190, 6)]);
    assert_eq!(dropped, 0, "side-output elements are not dropped");
}

#[test]
fn without_side_outputs_late_elements_are_dropped_and_counted() {
    let (pairs, late_left, late_right, dropped) = late_data_script(false);
    assert_eq!(
        pairs,
        [(105, ('a', 2, 1)), (205, ('a', 5, 4)), (210, ('a', 7, 4))]
    );
    assert!(late_left.is_empty() && late_right.is_empty());
    assert_eq!(dropped, 2);
}

#[test]
fn a_left_element_is_dropped_when_the_watermark_reaches_ts_plus_upper() {
    // between(0, 10): left 100 joins rights in [100, 110]; its cleanup timer is
    // at 110. A right element at exactly 110 is on time at watermark 110 but the
    // left element is gone by then (Flink's behaviour); at 109 it is still there.
    for (watermark, expected) in [(109, vec![(110, ('a', 1, 2))]), (110, vec![])] {
        let s = Script::start(inclusive(0, 10), true);
        s.left('a', 100, 1);
        s.watermark(watermark);
        s.right('a', 110, 2);
        let (pairs, late_left, late_right) = s.finish();
        assert_eq!(pairs, expected, "watermark {watermark}");
        assert!(late_left.is_empty() && late_right.is_empty());
    }
}

#[test]
fn a_right_element_is_dropped_when_the_watermark_reaches_ts_minus_lower() {
    // between(-10, 0): right 100 joins lefts in [100, 110]; its cleanup timer is
    // at 100 - (-10) = 110.
    for (watermark, expected) in [(109, vec![(110, ('a', 2, 1))]), (110, vec![])] {
        let s = Script::start(inclusive(-10, 0), true);
        s.right('a', 100, 1);
        s.watermark(watermark);
        s.left('a', 110, 2);
        let (pairs, _, _) = s.finish();
        assert_eq!(pairs, expected, "watermark {watermark}");
    }
}

#[test]
fn cleanup_is_per_key_and_per_timestamp() {
    let s = Script::start(inclusive(0, 10), true);
    s.left('a', 100, 1).left('a', 105, 2).left('b', 100, 3);
    // Drops left 100 of both keys, keeps left 105 of key a.
    s.watermark(110);
    // Each would join every left element of its key in [100, 110].
    s.right('a', 110, 4).right('b', 110, 5).right('a', 115, 6);
    let (pairs, _, _) = s.finish();
    assert_eq!(pairs, [(110, ('a', 2, 4)), (115, ('a', 2, 6))]);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// A side: elements with non-decreasing timestamps over keys a..c.
    fn side() -> impl Strategy<Value = Vec<Ev>> {
        proptest::collection::vec((0u8..3, 0i64..4), 0..40).prop_map(|steps| {
            let mut ts = 0;
            steps
                .into_iter()
                .enumerate()
                .map(|(i, (key, step))| {
                    ts += step;
                    (char::from(b'a' + key), ts, i as u32)
                })
                .collect()
        })
    }

    /// Joins in-order sides with monotonous watermarks, so timers drop state
    /// while the job runs, yet no element is late.
    fn join_with_watermarks(
        left: &[Ev],
        right: &[Ev],
        bounds: Bounds,
        p: u32,
    ) -> Vec<(char, i64, i64)> {
        let env = StreamExecutionEnvironment::local();
        env.set_parallelism(p);
        let stamp = || {
            WatermarkStrategy::for_monotonous_timestamps().with_timestamp_assigner(|e: &Ev, _| e.1)
        };
        let left = env
            .from_elements(left.to_vec())
            .assign_timestamps_and_watermarks(stamp())
            .set_parallelism(1);
        let right = env
            .from_elements(right.to_vec())
            .assign_timestamps_and_watermarks(stamp())
            .set_parallelism(1);
        let out = Collected::new();
        between!(
            left.key_by(|e| e.0).interval_join(&right.key_by(|e| e.0)),
            bounds
        )
        .process(describe)
        .add_sink(out.sink());
        env.execute("interval join property").unwrap();
        out.sorted()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        #[test]
        fn equals_a_nested_loop_join(
            left in side(),
            right in side(),
            lower in -12i64..12,
            width in 0i64..15,
            lower_exclusive in any::<bool>(),
            upper_exclusive in any::<bool>(),
            p in 1u32..=2,
        ) {
            let bounds = Bounds { lower, upper: lower + width, lower_exclusive, upper_exclusive };
            prop_assert_eq!(
                join_with_watermarks(&left, &right, bounds, p),
                reference(&left, &right, bounds)
            );
        }
    }
}
