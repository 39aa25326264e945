//! Event time (E1–E4): watermark strategies, propagation through the graph,
//! idleness, lateness and the final +∞.

mod common;

use common::{EveryEvent, ProbeLog, Seen, wait_until};
use runnel::prelude::*;
use runnel::runtime::clock::ManualClock;
use runnel::runtime::source::Boundedness;
use runnel::types::WatermarkStatus;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Emit a (timestamp, value) pair, or finish (`None`).
type Command = Option<(i64, u64)>;

/// A source the test drives.
#[derive(Clone)]
struct Driven {
    commands: Arc<Mutex<Receiver<Command>>>,
}

fn driven() -> (Sender<Command>, Driven) {
    let (tx, rx) = channel();
    (
        tx,
        Driven {
            commands: Arc::new(Mutex::new(rx)),
        },
    )
}

impl SourceFunction<u64> for Driven {
    fn run(&mut self, ctx: &mut SourceContext<u64>) -> Result<(), BoxError> {
        while ctx.is_running() {
            let next = self
                .commands
                .lock()
                .unwrap()
                .recv_timeout(Duration::from_millis(5));
            match next {
                Ok(Some((ts, v))) => ctx.collect_with_timestamp(v, EventTime::from_millis(ts)),
                Ok(None) | Err(RecvTimeoutError::Disconnected) => return Ok(()),
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
        Ok(())
    }
}

fn fast_env() -> StreamExecutionEnvironment {
    let env = StreamExecutionEnvironment::local();
    env.set_buffer_timeout(0);
    env
}

/// Runs `strategy` over a driven source, emitting the periodic watermark (on a
/// manual clock) after each group of timestamps; returns the watermarks seen.
fn periodic_watermarks<G, A>(strategy: WatermarkStrategy<G, A>, groups: &[&[i64]]) -> Vec<i64>
where
    WatermarkStrategy<G, A>: runnel::runtime::watermark::WatermarkStrategyFor<u64> + Sync,
{
    let clock = Arc::new(ManualClock::new(0));
    let config = Configuration {
        auto_watermark_interval: Duration::from_millis(200),
        ..Configuration::default()
    };
    let env = StreamExecutionEnvironment::with_config(config);
    env.set_clock(clock.clone());
    env.set_buffer_timeout(0);
    let (tx, source) = driven();
    let probe = ProbeLog::new();
    probe.attach(
        &env.add_source(source)
            .assign_timestamps_and_watermarks(strategy),
    );
    let client = env.execute_async("periodic").unwrap();
    let mut sent = 0;
    for group in groups {
        for ts in *group {
            tx.send(Some((*ts, 0))).unwrap();
        }
        sent += group.len();
        wait_until("the group's records", 10, || probe.records().len() == sent);
        let before = probe.watermarks().len();
        clock.advance(200);
        // A periodic emission that advances the watermark shows up; one that does not
        // emits nothing, so give it a moment either way.
        let _ = (0..20).any(|_| {
            std::thread::sleep(Duration::from_millis(5));
            probe.watermarks().len() > before
        });
    }
    tx.send(None).unwrap();
    client.wait().unwrap();
    probe.watermarks()
}

#[test]
fn bounded_out_of_orderness_trails_the_maximum_by_bound_plus_one() {
    let strategy = WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_millis(1000));
    let watermarks = periodic_watermarks(strategy, &[&[1000, 5000, 3000], &[4000], &[6500]]);
    // 5000 - 1000 - 1; then no advance (max still 5000); then 6500 - 1001.
    assert_eq!(watermarks, [3999, 5499, i64::MAX]);
}

#[test]
fn monotonous_timestamps_give_max_minus_one() {
    let watermarks = periodic_watermarks(
        WatermarkStrategy::for_monotonous_timestamps(),
        &[&[7, 8, 9], &[10]],
    );
    assert_eq!(watermarks, [8, 9, i64::MAX]);
}

#[test]
fn a_fast_bounded_job_ends_with_infinity_like_flink() {
    // The input ends before any periodic emission: as in Flink's StreamTask.endData,
    // +inf comes first and the operator's final periodic emission is then a no-op.
    let env = fast_env();
    let probe = ProbeLog::new();
    let strategy = WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_millis(1000))
        .with_timestamp_assigner(|v: &i64, _| *v);
    probe.attach(
        &env.from_elements(vec![1000i64, 5000, 3000])
            .assign_timestamps_and_watermarks(strategy),
    );
    env.execute("bounded").unwrap();
    assert_eq!(
        probe.seen(),
        [
            Seen::Record(Some(1000), 1000),
            Seen::Record(Some(5000), 5000),
            Seen::Record(Some(3000), 3000),
            Seen::Watermark(i64::MAX),
        ]
    );
}

#[test]
fn punctuated_watermarks_follow_their_record_and_never_overtake_it() {
    let env = fast_env();
    let probe = ProbeLog::new();
    let strategy = WatermarkStrategy::for_generator(EveryEvent { lag: 1 })
        .with_timestamp_assigner(|v: &i64, _| *v);
    probe.attach(
        &env.from_elements(vec![10i64, 30, 20, 40])
            .assign_timestamps_and_watermarks(strategy),
    );
    env.execute("punctuated").unwrap();
    assert_eq!(
        probe.seen(),
        [
            Seen::Record(Some(10), 10),
            Seen::Watermark(9),
            Seen::Record(Some(30), 30),
            Seen::Watermark(29),
            Seen::Record(Some(20), 20), // 19 < 29: no watermark (it only moves forward)
            Seen::Record(Some(40), 40),
            Seen::Watermark(39),
            Seen::Watermark(i64::MAX),
        ]
    );
}

#[test]
fn an_operator_takes_the_minimum_watermark_of_its_inputs() {
    let env = fast_env();
    env.set_parallelism(1);
    let strategy = WatermarkStrategy::for_generator(EveryEvent { lag: 0 });
    let (tx_a, a) = driven();
    let (tx_b, b) = driven();
    let a = env
        .add_source(a)
        .assign_timestamps_and_watermarks(strategy.clone());
    let b = env.add_source(b).assign_timestamps_and_watermarks(strategy);
    let probe = ProbeLog::new();
    probe.attach(&a.union([&*b]));
    let client = env.execute_async("minimum").unwrap();

    tx_b.send(Some((5, 0))).unwrap();
    for ts in [10, 20, 100] {
        tx_a.send(Some((ts, 1))).unwrap();
    }
    wait_until("four records", 10, || probe.records().len() == 4);
    wait_until("watermark 5", 10, || probe.max_watermark() == Some(5));
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        probe.max_watermark(),
        Some(5),
        "input b holds the operator back at 5"
    );

    tx_b.send(Some((50, 0))).unwrap();
    wait_until("watermark 50", 10, || probe.max_watermark() == Some(50));
    // A finished input (+inf) no longer holds the minimum back.
    tx_b.send(None).unwrap();
    wait_until("watermark 100", 10, || probe.max_watermark() == Some(100));
    tx_a.send(None).unwrap();
    client.wait().unwrap();
    assert_eq!(
        probe.watermarks(),
        [5, 50, 100, i64::MAX],
        "only forward, +inf when both inputs end"
    );
}

#[test]
fn an_idle_input_stops_holding_back_and_rejoins_when_active() {
    let clock = Arc::new(ManualClock::new(0));
    let config = Configuration {
        auto_watermark_interval: Duration::from_millis(100),
        ..Configuration::default()
    };
    let env = StreamExecutionEnvironment::with_config(config);
    env.set_clock(clock.clone());
    env.set_buffer_timeout(0);
    env.set_parallelism(1);
    let (tx_a, a) = driven();
    let (tx_b, b) = driven();
    let periodic = WatermarkStrategy::for_bounded_out_of_orderness(Duration::ZERO);
    let a = env
        .add_source(a)
        .assign_timestamps_and_watermarks(periodic.clone());
    let b = env
        .add_source(b)
        .assign_timestamps_and_watermarks(periodic.with_idleness(Duration::from_millis(1000)));
    let probe = ProbeLog::new();
    probe.attach(&a.union([&*b]));
    let b_out = ProbeLog::new();
    b_out.attach(&b);
    let client = env.execute_async("idleness").unwrap();
    let tick = |ms: i64| {
        clock.advance(ms);
        std::thread::sleep(Duration::from_millis(20));
    };

    tx_a.send(Some((100, 1))).unwrap();
    tx_b.send(Some((50, 2))).unwrap();
    wait_until("both records", 10, || probe.records().len() == 2);
    tick(100);
    wait_until("the minimum of both", 10, || {
        probe.max_watermark() == Some(49)
    });

    // Only a has data now; b goes idle after 1 s of processing time without events.
    tx_a.send(Some((500, 1))).unwrap();
    for _ in 0..8 {
        tick(100);
    }
    assert_eq!(
        probe.max_watermark(),
        Some(49),
        "b is not idle yet (1 s has not passed)"
    );
    for _ in 0..6 {
        tick(100);
    }
    wait_until("a alone decides", 10, || probe.max_watermark() == Some(499));

    // b comes back with newer data: it turns active with its next watermark...
    tx_b.send(Some((600, 2))).unwrap();
    wait_until("b's record", 10, || b_out.records().len() == 2);
    tick(100);
    wait_until("b active at 599", 10, || b_out.max_watermark() == Some(599));
    let b_seen = b_out.seen();
    assert!(
        b_seen.contains(&Seen::Status(WatermarkStatus::Idle)),
        "b announced idleness: {b_seen:?}"
    );
    let active = b_seen
        .iter()
        .position(|s| *s == Seen::Status(WatermarkStatus::Active))
        .expect("b announced it is active");
    assert_eq!(b_seen[active + 1], Seen::Watermark(599));
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        probe.max_watermark(),
        Some(499),
        "b rejoined above the operator's watermark: nothing to emit yet"
    );
    // ...and holds a back once more.
    tx_a.send(Some((1000, 1))).unwrap();
    wait_until("a's record", 10, || probe.records().len() == 5);
    tick(100);
    wait_until("the minimum of a and b again", 10, || {
        probe.max_watermark() == Some(599)
    });
    tick(100);
    assert_eq!(
        probe.max_watermark(),
        Some(599),
        "a is at 999 but b, active again, is at 599"
    );
    tx_a.send(None).unwrap();
    tx_b.send(None).unwrap();
    client.wait().unwrap();
    let watermarks = probe.watermarks();
    assert!(
        watermarks.windows(2).all(|w| w[0] < w[1]),
        "watermarks only move forward: {watermarks:?}"
    );
}

#[test]
fn all_inputs_idle_makes_the_operator_idle() {
    let clock = Arc::new(ManualClock::new(0));
    let config = Configuration {
        auto_watermark_interval: Duration::from_millis(100),
        ..Configuration::default()
    };
    let env = StreamExecutionEnvironment::with_config(config);
    env.set_clock(clock.clone());
    env.set_buffer_timeout(0);
    let (tx, source) = driven();
    let strategy = WatermarkStrategy::for_bounded_out_of_orderness(Duration::ZERO)
        .with_idleness(Duration::from_millis(300));
    let probe = ProbeLog::new();
    probe.attach(
        &env.add_source(source)
            .assign_timestamps_and_watermarks(strategy)
            .rebalance(),
    );
    let client = env.execute_async("all idle").unwrap();
    tx.send(Some((10, 1))).unwrap();
    wait_until("the record", 10, || probe.records().len() == 1);
    for _ in 0..6 {
        clock.advance(100);
        std::thread::sleep(Duration::from_millis(20));
    }
    wait_until("the idle status", 10, || {
        probe.seen().contains(&Seen::Status(WatermarkStatus::Idle))
    });
    tx.send(Some((20, 1))).unwrap();
    wait_until("the second record", 10, || probe.records().len() == 2);
    clock.advance(100);
    wait_until("active again", 10, || {
        probe
            .seen()
            .contains(&Seen::Status(WatermarkStatus::Active))
    });
    tx.send(None).unwrap();
    client.wait().unwrap();
    let seen = probe.seen();
    let active = seen
        .iter()
        .position(|s| *s == Seen::Status(WatermarkStatus::Active))
        .unwrap();
    assert_eq!(
        seen[active + 1],
        Seen::Watermark(19),
        "the status turns active with the next watermark"
    );
}

#[test]
fn a_record_at_or_before_the_watermark_is_late() {
    let env = fast_env();
    let out = common::Collected::new();
    let strategy = WatermarkStrategy::for_generator(EveryEvent { lag: 0 })
        .with_timestamp_assigner(|v: &i64, _| *v);
    env.from_elements(vec![100i64, 50, 100, 101, 99])
        .assign_timestamps_and_watermarks(strategy)
        .process(
            |v: i64, ctx: &mut ProcessContext<'_>, out: &mut Collector<'_, (i64, bool)>| {
                let ts = ctx.timestamp().expect("assigned");
                out.collect((v, ctx.current_watermark().is_late(ts)));
                Ok(())
            },
        )
        .add_sink(out.sink());
    env.execute("late").unwrap();
    assert_eq!(
        out.values(),
        [
            (100, false),
            (50, true),
            (100, true),
            (101, false),
            (99, true)
        ]
    );
}

#[test]
fn ingestion_time_stamps_records_with_processing_time() {
    let env = fast_env();
    env.set_clock(Arc::new(ManualClock::new(1_234)));
    let probe = ProbeLog::new();
    probe.attach(
        &env.from_elements(vec![1u8, 2])
            .assign_timestamps_and_watermarks(WatermarkStrategy::ingestion_time()),
    );
    env.execute("ingestion").unwrap();
    assert_eq!(
        probe.seen()[..2],
        [Seen::Record(Some(1_234), 1), Seen::Record(Some(1_234), 2)]
    );
}

#[test]
fn upstream_watermarks_are_replaced_except_the_end_of_input() {
    let env = fast_env();
    let probe = ProbeLog::new();
    let first = WatermarkStrategy::for_generator(EveryEvent { lag: 0 })
        .with_timestamp_assigner(|v: &i64, _| *v);
    let second = WatermarkStrategy::for_generator(EveryEvent { lag: 1000 });
    let restamped = env
        .from_elements(vec![5_000i64, 6_000])
        .assign_timestamps_and_watermarks(first)
        .assign_timestamps_and_watermarks(second);
    probe.attach(&restamped);
    env.execute("restamp").unwrap();
    assert_eq!(probe.watermarks(), [4_000, 5_000, i64::MAX]);
}

/// A source with two splits: split `b` is behind split `a`.
struct TwoSplits;
struct TwoSplitsReader(u8);

impl Source<i64> for TwoSplits {
    type Reader = TwoSplitsReader;
    fn boundedness(&self) -> Boundedness {
        Boundedness::Bounded
    }
    fn create_reader(&self, _ctx: &SourceReaderContext) -> Result<TwoSplitsReader, BoxError> {
        Ok(TwoSplitsReader(0))
    }
}

impl SourceReader<i64> for TwoSplitsReader {
    fn poll_next(&mut self, out: &mut SourceOutput<'_, i64>) -> Result<InputStatus, BoxError> {
        self.0 += 1;
        match self.0 {
            1 => out.split("b").collect(10),
            2 => out.split("a").collect(100),
            3 => out.split("a").collect(200),
            4 => out.release_split("b"),
            _ => return Ok(InputStatus::EndOfInput),
        }
        Ok(InputStatus::MoreAvailable)
    }
}

#[test]
fn a_source_keeps_a_watermark_per_split() {
    let env = fast_env();
    let probe = ProbeLog::new();
    let strategy = WatermarkStrategy::for_generator(EveryEvent { lag: 0 })
        .with_timestamp_assigner(|v: &i64, _| *v);
    probe.attach(&env.from_source_with_watermarks(TwoSplits, strategy, "two splits"));
    env.execute("splits").unwrap();
    assert_eq!(
        probe.watermarks(),
        [10, 200, i64::MAX],
        "split b (at 10) holds the source back until it is released"
    );
    assert_eq!(probe.records(), [10, 100, 200]);
}
