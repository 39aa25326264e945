//! Timers (C2): event-time and processing-time timers of keyed process functions.

mod common;

use common::{Collected, EveryEvent, ProbeLog, Seen, wait_until};
use runnel::prelude::*;
use runnel::runtime::clock::ManualClock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// (key, timestamp, timer times to register, timer times to delete)
type Command = (String, i64, Vec<i64>, Vec<i64>);

/// Registers and deletes event-time timers as told; reports every firing.
#[derive(Clone, Default)]
struct TimerScript;

impl KeyedProcessFunction<String, Command, String> for TimerScript {
    fn process_element(
        &mut self,
        (_, _, register, delete): Command,
        ctx: &mut KeyedContext<'_, String>,
        _out: &mut Collector<'_, String>,
    ) -> Result<(), BoxError> {
        for t in register {
            ctx.timer_service().register_event_time_timer(t);
        }
        for t in delete {
            ctx.timer_service().delete_event_time_timer(t);
        }
        Ok(())
    }

    fn on_timer(
        &mut self,
        timestamp: i64,
        ctx: &mut KeyedContext<'_, String>,
        out: &mut Collector<'_, String>,
    ) -> Result<(), BoxError> {
        assert_eq!(
            ctx.timestamp(),
            Some(EventTime::from_millis(timestamp)),
            "on_timer sees the timer's time"
        );
        assert_eq!(ctx.time_domain(), Some(TimeDomain::EventTime));
        out.collect(format!("{}@{timestamp}", ctx.current_key()));
        Ok(())
    }
}

fn run_script(commands: Vec<Command>) -> Vec<Seen<String>> {
    let env = StreamExecutionEnvironment::local();
    env.set_buffer_timeout(0);
    let strategy = WatermarkStrategy::for_generator(EveryEvent { lag: 0 })
        .with_timestamp_assigner(|c: &Command, _| c.1);
    let fired = env
        .from_elements(commands)
        .assign_timestamps_and_watermarks(strategy)
        .key_by(|c| c.0.clone())
        .process(TimerScript);
    let probe = ProbeLog::new();
    probe.attach(&fired);
    env.execute("timers").unwrap();
    probe.seen()
}

fn cmd(key: &str, ts: i64, register: &[i64], delete: &[i64]) -> Command {
    (key.to_string(), ts, register.to_vec(), delete.to_vec())
}

fn fired(seen: &[Seen<String>]) -> Vec<String> {
    seen.iter()
        .filter_map(|s| {
            if let Seen::Record(_, v) = s {
                Some(v.clone())
            } else {
                None
            }
        })
        .collect()
}

#[test]
fn timers_fire_in_time_order_once_per_key_and_time() {
    let seen = run_script(vec![
        cmd("a", 1, &[300, 100, 100], &[]), // the same time twice: one timer
        cmd("b", 2, &[200, 100], &[]),
        cmd("a", 3, &[100], &[]), // again: still one
    ]);
    assert_eq!(
        fired(&seen),
        ["a@100", "b@100", "b@200", "a@300"],
        "time order; ties in registration order"
    );
}

#[test]
fn deleted_timers_do_not_fire() {
    let seen = run_script(vec![
        cmd("a", 1, &[100, 200], &[]),
        cmd("a", 2, &[], &[100]),
        cmd("b", 3, &[], &[200]),
    ]);
    assert_eq!(
        fired(&seen),
        ["a@200"],
        "deleting another key's timer does nothing"
    );
}

#[test]
fn a_watermark_moves_on_only_after_the_timers_it_fired_and_their_output() {
    let seen = run_script(vec![
        cmd("a", 10, &[50, 60], &[]),
        cmd("a", 55, &[], &[]),
        cmd("a", 100, &[], &[]),
    ]);
    let position = |s: &Seen<String>| seen.iter().position(|x| x == s).unwrap();
    assert!(position(&Seen::Record(Some(50), "a@50".into())) < position(&Seen::Watermark(55)));
    assert!(position(&Seen::Watermark(55)) < position(&Seen::Record(Some(60), "a@60".into())));
    assert!(position(&Seen::Record(Some(60), "a@60".into())) < position(&Seen::Watermark(100)));
}

#[test]
fn a_timer_at_or_before_the_watermark_is_not_lost() {
    // At ts 100 the watermark is 100: timers at 50 and 100 are already "due" and
    // fire with the next watermark.
    let seen = run_script(vec![
        cmd("a", 100, &[], &[]),
        cmd("a", 100, &[50, 100], &[]),
        cmd("a", 150, &[], &[]),
    ]);
    assert_eq!(fired(&seen), ["a@50", "a@100"]);
    let first_fire = seen
        .iter()
        .position(|s| matches!(s, Seen::Record(_, v) if v == "a@50"))
        .unwrap();
    assert_eq!(
        seen[first_fire + 2],
        Seen::Watermark(150),
        "fired by the watermark that followed"
    );
}

#[test]
fn pending_event_time_timers_fire_at_the_end_of_a_bounded_input() {
    let seen = run_script(vec![
        cmd("a", 1, &[1_000_000_000], &[]),
        cmd("b", 2, &[i64::MAX - 1], &[]),
    ]);
    assert_eq!(
        fired(&seen),
        ["a@1000000000", format!("b@{}", i64::MAX - 1).as_str()]
    );
    assert_eq!(seen.last(), Some(&Seen::Watermark(i64::MAX)));
}

/// Registers a processing-time timer at now + 1000 per key.
#[derive(Clone, Default)]
struct Deadline {
    processed: Arc<AtomicU64>,
}

impl KeyedProcessFunction<u32, u32, String> for Deadline {
    fn process_element(
        &mut self,
        _v: u32,
        ctx: &mut KeyedContext<'_, u32>,
        _out: &mut Collector<'_, String>,
    ) -> Result<(), BoxError> {
        let at = ctx.current_processing_time() + 1000;
        ctx.timer_service().register_processing_time_timer(at);
        self.processed.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn on_timer(
        &mut self,
        timestamp: i64,
        ctx: &mut KeyedContext<'_, u32>,
        out: &mut Collector<'_, String>,
    ) -> Result<(), BoxError> {
        assert_eq!(ctx.time_domain(), Some(TimeDomain::ProcessingTime));
        assert_eq!(
            ctx.timestamp(),
            None,
            "processing-time timers stamp nothing"
        );
        out.collect(format!("{}@{timestamp}", ctx.current_key()));
        Ok(())
    }
}

#[test]
fn processing_time_timers_fire_when_the_clock_reaches_them() {
    let clock = Arc::new(ManualClock::new(10_000));
    let env = StreamExecutionEnvironment::local();
    env.set_clock(clock.clone());
    let out = Collected::new();
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let deadline = Deadline::default();
    let processed = deadline.processed.clone();
    env.add_source(move |ctx: &mut SourceContext<u32>| {
        ctx.collect(1);
        ctx.collect(2);
        ctx.collect(1); // the same key and time: one timer
        while ctx.is_running() && !s.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(())
    })
    .key_by(|v| *v)
    .process(deadline)
    .add_sink(out.sink());
    let client = env.execute_async("processing time").unwrap();
    wait_until("the records", 10, || processed.load(Ordering::SeqCst) == 3);
    clock.advance(999);
    std::thread::sleep(Duration::from_millis(100));
    assert!(out.values().is_empty(), "not yet: {:?}", out.values());
    clock.advance(1);
    wait_until("both timers", 10, || out.values().len() == 2);
    stop.store(true, Ordering::SeqCst);
    client.wait().unwrap();
    let mut fired = out.values();
    fired.sort();
    assert_eq!(fired, ["1@11000", "2@11000"]);
}

/// Checks that `on_timer` never runs while `process_element` is running, with
/// processing-time timers firing throughout a busy stream.
#[derive(Clone)]
struct Atomicity {
    busy: Arc<AtomicBool>,
    fired: Arc<AtomicU64>,
}

impl KeyedProcessFunction<u64, u64, u64> for Atomicity {
    fn process_element(
        &mut self,
        v: u64,
        ctx: &mut KeyedContext<'_, u64>,
        _out: &mut Collector<'_, u64>,
    ) -> Result<(), BoxError> {
        assert!(!self.busy.swap(true, Ordering::SeqCst));
        let now = ctx.current_processing_time();
        ctx.timer_service()
            .register_processing_time_timer(now + (v % 7) as i64);
        std::thread::yield_now();
        self.busy.store(false, Ordering::SeqCst);
        Ok(())
    }

    fn on_timer(
        &mut self,
        _t: i64,
        _ctx: &mut KeyedContext<'_, u64>,
        _out: &mut Collector<'_, u64>,
    ) -> Result<(), BoxError> {
        assert!(
            !self.busy.load(Ordering::SeqCst),
            "on_timer ran during process_element"
        );
        self.fired.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[test]
fn on_timer_and_process_element_never_run_concurrently() {
    let clock = Arc::new(ManualClock::new(0));
    let env = StreamExecutionEnvironment::local();
    env.set_clock(clock.clone());
    let fired = Arc::new(AtomicU64::new(0));
    let f = Atomicity {
        busy: Arc::new(AtomicBool::new(false)),
        fired: fired.clone(),
    };
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    env.add_source(move |ctx: &mut SourceContext<u64>| {
        for i in 0..20_000u64 {
            ctx.collect(i % 13);
        }
        while !d.load(Ordering::SeqCst) && ctx.is_running() {
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    })
    .key_by(|v| *v)
    .process(f)
    .add_sink(|_v: u64| {});
    let client = env.execute_async("atomicity").unwrap();
    let ticker = {
        let clock = clock.clone();
        std::thread::spawn(move || {
            for _ in 0..500 {
                clock.advance(1);
                std::thread::sleep(Duration::from_micros(200));
            }
        })
    };
    ticker.join().unwrap();
    clock.advance(100);
    wait_until("timers", 10, || fired.load(Ordering::SeqCst) > 0);
    done.store(true, Ordering::SeqCst);
    client.wait().unwrap();
}

/// Keeps a count per key in state and a timer per key; the timer reads the state.
#[derive(Clone, Default)]
struct CountUntil {
    count: Option<ValueState<u32>>,
}

impl KeyedProcessFunction<char, (char, i64), String> for CountUntil {
    fn open(&mut self, ctx: &mut KeyedOpenContext<'_, char>) -> Result<(), BoxError> {
        self.count = Some(ctx.get_state(&ValueStateDescriptor::new("count"))?);
        Ok(())
    }

    fn process_element(
        &mut self,
        (_, ts): (char, i64),
        ctx: &mut KeyedContext<'_, char>,
        _out: &mut Collector<'_, String>,
    ) -> Result<(), BoxError> {
        let count = self.count.expect("opened");
        let n = count.value(ctx)?.unwrap_or(0);
        count.update(ctx, n + 1)?;
        ctx.timer_service()
            .register_event_time_timer(ts / 100 * 100 + 99);
        Ok(())
    }

    fn on_timer(
        &mut self,
        t: i64,
        ctx: &mut KeyedContext<'_, char>,
        out: &mut Collector<'_, String>,
    ) -> Result<(), BoxError> {
        let count = self.count.expect("opened");
        let n = count.value(ctx)?.unwrap_or(0);
        out.collect(format!("{} had {n} by {t}", ctx.current_key()));
        count.clear(ctx)?;
        Ok(())
    }
}

#[test]
fn timers_see_the_state_of_their_own_key() {
    let env = StreamExecutionEnvironment::local();
    env.set_parallelism(2);
    let out = Collected::new();
    let events: Vec<(char, i64)> = vec![
        ('x', 10),
        ('y', 20),
        ('x', 50),
        ('x', 120),
        ('y', 150),
        ('y', 160),
        ('x', 250),
    ];
    let strategy = WatermarkStrategy::for_generator(EveryEvent { lag: 0 })
        .with_timestamp_assigner(|e: &(char, i64), _| e.1);
    // One assigner sees every event, so the watermark follows them exactly.
    env.from_elements(events)
        .assign_timestamps_and_watermarks(strategy)
        .set_parallelism(1)
        .key_by(|e| e.0)
        .process(CountUntil::default())
        .add_sink(out.sink());
    env.execute("per-key timers").unwrap();
    assert_eq!(
        out.sorted(),
        // A record is processed before the watermark it brings: x@120 counts
        // toward x's timer at 99, which watermark 119 fires.
        [
            "x had 0 by 299",
            "x had 1 by 199",
            "x had 3 by 99",
            "y had 1 by 99",
            "y had 2 by 199"
        ]
    );
}

#[test]
fn keyed_co_process_functions_share_state_and_timers_across_inputs() {
    #[derive(Clone, Default)]
    struct Match {
        order: Option<ValueState<String>>,
    }
    impl KeyedCoProcessFunction<u32, (u32, String), (u32, i64), String> for Match {
        fn open(&mut self, ctx: &mut KeyedOpenContext<'_, u32>) -> Result<(), BoxError> {
            self.order = Some(ctx.get_state(&ValueStateDescriptor::new("order"))?);
            Ok(())
        }
        fn process_element1(
            &mut self,
            (_, item): (u32, String),
            ctx: &mut KeyedContext<'_, u32>,
            _out: &mut Collector<'_, String>,
        ) -> Result<(), BoxError> {
            self.order.expect("opened").update(ctx, item)?;
            ctx.timer_service().register_event_time_timer(1_000);
            Ok(())
        }
        fn process_element2(
            &mut self,
            (_, paid): (u32, i64),
            ctx: &mut KeyedContext<'_, u32>,
            out: &mut Collector<'_, String>,
        ) -> Result<(), BoxError> {
            if let Some(item) = self.order.expect("opened").value(ctx)? {
                out.collect(format!("{} paid {paid} for {item}", ctx.current_key()));
                self.order.expect("opened").clear(ctx)?;
            }
            Ok(())
        }
        fn on_timer(
            &mut self,
            t: i64,
            ctx: &mut KeyedContext<'_, u32>,
            out: &mut Collector<'_, String>,
        ) -> Result<(), BoxError> {
            if let Some(item) = self.order.expect("opened").value(ctx)? {
                out.collect(format!(
                    "{} never paid for {item} (timer {t})",
                    ctx.current_key()
                ));
            }
            Ok(())
        }
    }
    let env = StreamExecutionEnvironment::local();
    env.set_parallelism(2);
    let orders = env.from_elements(vec![(1u32, "book".to_string()), (2, "pen".to_string())]);
    // Payments arrive after the orders have been seen.
    let seen = Arc::new(Mutex::new(()));
    let _guard = seen.lock().unwrap();
    let payments = env.add_source(|ctx: &mut SourceContext<(u32, i64)>| {
        std::thread::sleep(Duration::from_millis(200));
        ctx.collect((1, 12));
        Ok(())
    });
    let out = Collected::new();
    orders
        .connect(&payments)
        .key_by(|o| o.0, |p| p.0)
        .process(Match::default())
        .add_sink(out.sink());
    env.execute("keyed co-process").unwrap();
    assert_eq!(
        out.sorted(),
        ["1 paid 12 for book", "2 never paid for pen (timer 1000)"]
    );
}
