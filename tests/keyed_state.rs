//! Keyed state (D1), TTL (D2) and broadcast state (D4) through whole jobs.

mod common;

use common::{Collected, wait_until};
use runnel::prelude::*;
use runnel::runtime::clock::ManualClock;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// The average of the values added.
#[derive(Clone, Copy)]
struct Average;

impl AggregateFunction<u64, (u64, u64), u64> for Average {
    fn create_accumulator(&self) -> (u64, u64) {
        (0, 0)
    }
    fn add(&self, value: u64, (sum, n): (u64, u64)) -> (u64, u64) {
        (sum + value, n + 1)
    }
    fn get_result(&self, &(sum, n): &(u64, u64)) -> u64 {
        sum / n
    }
    fn merge(&self, a: (u64, u64), b: (u64, u64)) -> (u64, u64) {
        (a.0 + b.0, a.1 + b.1)
    }
}

/// What every kind of state holds for a key after one more record.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
struct Snapshot {
    key: u64,
    count: u64,
    list: Vec<u64>,
    by_parity: BTreeMap<u64, u64>,
    max: u64,
    average: u64,
}

/// Keeps one state of every kind per key and reports them all after each record.
#[derive(Clone, Default)]
struct EveryKind {
    count: Option<ValueState<u64>>,
    list: Option<ListState<u64>>,
    by_parity: Option<MapState<u64, u64>>,
    max: Option<ReducingState<u64>>,
    average: Option<AggregatingState<u64, u64>>,
}

impl KeyedProcessFunction<u64, (u64, u64), Snapshot> for EveryKind {
    fn open(&mut self, ctx: &mut KeyedOpenContext<'_, u64>) -> Result<(), BoxError> {
        self.count = Some(ctx.get_state(&ValueStateDescriptor::new("count"))?);
        self.list = Some(ctx.get_list_state(&ListStateDescriptor::new("list"))?);
        self.by_parity = Some(ctx.get_map_state(&MapStateDescriptor::new("by-parity"))?);
        self.max = Some(
            ctx.get_reducing_state(&ReducingStateDescriptor::new("max", |a: u64, b: u64| {
                a.max(b)
            }))?,
        );
        self.average =
            Some(ctx.get_aggregating_state(&AggregatingStateDescriptor::new("average", Average))?);
        Ok(())
    }

    fn process_element(
        &mut self,
        (_, v): (u64, u64),
        ctx: &mut KeyedContext<'_, u64>,
        out: &mut Collector<'_, Snapshot>,
    ) -> Result<(), BoxError> {
        let (count, list, by_parity, max, average) = (
            self.count.expect("opened"),
            self.list.expect("opened"),
            self.by_parity.expect("opened"),
            self.max.expect("opened"),
            self.average.expect("opened"),
        );
        let n = count.value(ctx)?.unwrap_or(0) + 1;
        count.update(ctx, n)?;
        list.add(ctx, v)?;
        let same_parity = by_parity.get(ctx, &(v % 2))?.unwrap_or(0);
        by_parity.put(ctx, v % 2, same_parity + 1)?;
        max.add(ctx, v)?;
        average.add(ctx, v)?;
        let snapshot = Snapshot {
            key: *ctx.current_key(),
            count: n,
            list: list.get(ctx)?,
            by_parity: by_parity.entries(ctx)?.into_iter().collect(),
            max: max.get(ctx)?.expect("a value was added"),
            average: average.get(ctx)?.expect("a value was added"),
        };
        out.collect(snapshot);
        Ok(())
    }
}

#[test]
fn every_kind_of_keyed_state_is_scoped_to_the_current_key() {
    const KEYS: u64 = 37;
    let input: Vec<(u64, u64)> = (0..3_000u64)
        .map(|i| (i * 7 % KEYS, i * 13 % 1_000))
        .collect();
    let env = StreamExecutionEnvironment::local();
    env.set_parallelism(3);
    let out = Collected::new();
    env.from_elements(input.clone())
        .key_by(|r| r.0)
        .process(EveryKind::default())
        .add_sink(out.sink());
    env.execute("every kind of state").unwrap();

    // The reference: per key, the records in input order (one source keeps it).
    let mut expected: BTreeMap<u64, Vec<Snapshot>> = BTreeMap::new();
    for (key, v) in input {
        let history = expected.entry(key).or_default();
        let mut list = history.last().map(|s| s.list.clone()).unwrap_or_default();
        list.push(v);
        let mut by_parity = BTreeMap::new();
        for x in &list {
            *by_parity.entry(x % 2).or_insert(0) += 1;
        }
        history.push(Snapshot {
            key,
            count: list.len() as u64,
            max: *list.iter().max().unwrap(),
            average: list.iter().sum::<u64>() / list.len() as u64,
            list,
            by_parity,
        });
    }
    let mut actual: BTreeMap<u64, Vec<Snapshot>> = BTreeMap::new();
    for s in out.values() {
        actual.entry(s.key).or_default().push(s);
    }
    assert_eq!(actual.len(), KEYS as usize);
    assert_eq!(actual, expected);
}

/// Commands for a state that is cleared, or registered lazily.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
enum Op {
    Add(char, u32),
    Clear(char),
}

fn op_key(op: &Op) -> char {
    match op {
        Op::Add(k, _) | Op::Clear(k) => *k,
    }
}

/// Gets its state lazily, on every call, instead of in `open`.
#[derive(Clone, Default)]
struct LazySum;

impl KeyedProcessFunction<char, Op, String> for LazySum {
    fn process_element(
        &mut self,
        op: Op,
        ctx: &mut KeyedContext<'_, char>,
        out: &mut Collector<'_, String>,
    ) -> Result<(), BoxError> {
        let sum = ctx.get_state(&ValueStateDescriptor::<u32>::new("sum"))?;
        let seen = ctx.get_list_state(&ListStateDescriptor::<u32>::new("seen"))?;
        match op {
            Op::Add(_, v) => {
                let total = sum.value(ctx)?.unwrap_or(0) + v;
                sum.update(ctx, total)?;
                seen.add(ctx, v)?;
            }
            Op::Clear(_) => {
                sum.clear(ctx)?;
                seen.clear(ctx)?;
            }
        }
        let total = sum.value(ctx)?;
        let values = seen.get(ctx)?;
        out.collect(format!("{} {total:?} {values:?}", ctx.current_key()));
        Ok(())
    }
}

#[test]
fn state_obtained_lazily_is_the_same_state_and_clear_empties_only_the_current_key() {
    let env = StreamExecutionEnvironment::local();
    env.set_parallelism(1);
    let out = Collected::new();
    let ops = vec![
        Op::Add('a', 1),
        Op::Add('b', 10),
        Op::Add('a', 2),
        Op::Clear('a'),
        Op::Add('b', 20),
        Op::Add('a', 3),
    ];
    env.from_elements(ops)
        .key_by(op_key)
        .process(LazySum)
        .add_sink(out.sink());
    env.execute("lazy state").unwrap();
    assert_eq!(
        out.values(),
        [
            "a Some(1) [1]",
            "b Some(10) [10]",
            "a Some(3) [1, 2]",
            "a None []",
            "b Some(30) [10, 20]",
            "a Some(3) [3]",
        ]
    );
}

#[test]
fn registering_a_state_name_with_another_type_fails_the_job_naming_the_state() {
    #[derive(Clone, Default)]
    struct Clash;
    impl KeyedProcessFunction<u32, u32, u32> for Clash {
        fn open(&mut self, ctx: &mut KeyedOpenContext<'_, u32>) -> Result<(), BoxError> {
            ctx.get_state(&ValueStateDescriptor::<u32>::new("total"))?;
            ctx.get_list_state(&ListStateDescriptor::<u32>::new("total"))?;
            Ok(())
        }
        fn process_element(
            &mut self,
            v: u32,
            _ctx: &mut KeyedContext<'_, u32>,
            out: &mut Collector<'_, u32>,
        ) -> Result<(), BoxError> {
            out.collect(v);
            Ok(())
        }
    }
    let env = StreamExecutionEnvironment::local();
    env.set_parallelism(1);
    env.from_elements(vec![1u32])
        .key_by(|v| *v)
        .process(Clash)
        .name("clash")
        .add_sink(Collected::new().sink());
    let err = env.execute("clash").unwrap_err().to_string();
    assert!(err.contains("clash") && err.contains("`total`"), "{err}");
}

/// A command to a TTL job: the function also drives the job's manual clock, so
/// every state access happens at a known processing time.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
enum TtlOp {
    /// Sets the clock to this time, then writes a value for the key.
    Write(u32, i64, u32),
    /// Sets the clock, then reads the key's value and reports it.
    Read(u32, i64),
}

fn ttl_key(op: &TtlOp) -> u32 {
    match op {
        TtlOp::Write(k, ..) | TtlOp::Read(k, ..) => *k,
    }
}

#[derive(Clone)]
struct TtlProbe {
    clock: Arc<ManualClock>,
    ttl: StateTtlConfig,
    state: Option<ValueState<u32>>,
}

impl KeyedProcessFunction<u32, TtlOp, String> for TtlProbe {
    fn open(&mut self, ctx: &mut KeyedOpenContext<'_, u32>) -> Result<(), BoxError> {
        self.state = Some(ctx.get_state(&ValueStateDescriptor::new("last").with_ttl(self.ttl))?);
        Ok(())
    }

    fn process_element(
        &mut self,
        op: TtlOp,
        ctx: &mut KeyedContext<'_, u32>,
        out: &mut Collector<'_, String>,
    ) -> Result<(), BoxError> {
        let state = self.state.expect("opened");
        match op {
            TtlOp::Write(_, at, v) => {
                self.clock.set(at);
                state.update(ctx, v)?;
            }
            TtlOp::Read(k, at) => {
                self.clock.set(at);
                out.collect(format!("{k}@{at}: {:?}", state.value(ctx)?));
            }
        }
        Ok(())
    }
}

fn run_ttl(ttl: StateTtlConfig, ops: Vec<TtlOp>) -> Vec<String> {
    let clock = Arc::new(ManualClock::new(0));
    let env = StreamExecutionEnvironment::local();
    env.set_parallelism(1);
    env.set_clock(clock.clone());
    let out = Collected::new();
    let probe = TtlProbe {
        clock,
        ttl,
        state: None,
    };
    env.from_elements(ops)
        .key_by(ttl_key)
        .process(probe)
        .add_sink(out.sink());
    env.execute("ttl").unwrap();
    out.values()
}

#[test]
fn a_value_expires_ttl_after_its_last_write() {
    let ttl = StateTtlConfig::new(Duration::from_millis(1_000));
    let seen = run_ttl(
        ttl,
        vec![
            TtlOp::Write(1, 0, 7),
            TtlOp::Read(1, 999),   // reads do not refresh by default
            TtlOp::Read(1, 1_000), // last write + ttl: expired
            TtlOp::Write(1, 2_000, 8),
            TtlOp::Write(1, 2_500, 9), // a write refreshes
            TtlOp::Read(1, 3_499),
            TtlOp::Read(1, 3_500),
        ],
    );
    assert_eq!(
        seen,
        [
            "1@999: Some(7)",
            "1@1000: None",
            "1@3499: Some(9)",
            "1@3500: None"
        ]
    );
}

#[test]
fn on_read_and_write_reads_keep_a_value_alive() {
    let ttl =
        StateTtlConfig::new(Duration::from_millis(1_000)).update_type(UpdateType::OnReadAndWrite);
    let seen = run_ttl(
        ttl,
        vec![
            TtlOp::Write(1, 0, 7),
            TtlOp::Read(1, 999),
            TtlOp::Read(1, 1_998),
            TtlOp::Read(1, 2_997),
            TtlOp::Read(1, 3_997), // 1 000 after the last read
        ],
    );
    assert_eq!(
        seen,
        [
            "1@999: Some(7)",
            "1@1998: Some(7)",
            "1@2997: Some(7)",
            "1@3997: None"
        ]
    );
}

/// Writes 200 keys at time 0, lets them expire, touches one other key `touches`
/// times, then reads the 200 back with `ReturnExpiredIfNotCleanedUp`: a value
/// still returned was only hidden; a `None` was removed by cleanup.
fn expired_values_left_after(touches: usize, cleanup: StateTtlConfig) -> usize {
    let ttl = cleanup.state_visibility(StateVisibility::ReturnExpiredIfNotCleanedUp);
    let mut ops: Vec<TtlOp> = (0..200).map(|k| TtlOp::Write(k, 0, k)).collect();
    ops.extend((0..touches).map(|i| TtlOp::Write(1_000, 5_000 + i as i64, 0)));
    ops.extend((0..200).map(|k| TtlOp::Read(k, 10_000)));
    let seen = run_ttl(ttl, ops);
    assert_eq!(seen.len(), 200);
    seen.iter().filter(|s| s.contains("Some")).count()
}

#[test]
fn expired_entries_are_cleaned_up_by_later_accesses_not_only_hidden() {
    let ttl = StateTtlConfig::new(Duration::from_millis(1_000));
    // Without cleanup the expired values are still there to be returned (this
    // visibility returns them once, on the read that removes them)...
    assert_eq!(
        expired_values_left_after(1_000, ttl.disable_cleanup_in_background()),
        200
    );
    // ...with incremental cleanup, accesses to another key remove them all.
    assert_eq!(
        expired_values_left_after(1_000, ttl.cleanup_incrementally(5)),
        0
    );
}

/// Reads thresholds from broadcast state; only the broadcast side writes them.
#[derive(Clone)]
struct Thresholds {
    descriptor: MapStateDescriptor<String, u32>,
    rules_seen: Arc<AtomicU32>,
    alerts: Option<ValueState<u32>>,
}

impl KeyedBroadcastProcessFunction<String, (String, u32), (String, u32), String> for Thresholds {
    fn open(&mut self, ctx: &mut KeyedOpenContext<'_, String>) -> Result<(), BoxError> {
        self.alerts = Some(ctx.get_state(&ValueStateDescriptor::new("alerts"))?);
        Ok(())
    }

    fn process_element(
        &mut self,
        (sensor, reading): (String, u32),
        ctx: &mut KeyedReadOnlyBroadcastContext<'_, String>,
        out: &mut Collector<'_, String>,
    ) -> Result<(), BoxError> {
        let limit = ctx.broadcast_state(&self.descriptor)?.get(&sensor).copied();
        if let Some(limit) = limit.filter(|l| reading > *l) {
            let alerts = self.alerts.expect("opened");
            let n = alerts.value(ctx)?.unwrap_or(0) + 1;
            alerts.update(ctx, n)?;
            out.collect(format!("{sensor}: {reading} > {limit} (alert {n})"));
        }
        Ok(())
    }

    fn process_broadcast_element(
        &mut self,
        (sensor, limit): (String, u32),
        ctx: &mut BroadcastContext<'_>,
        _out: &mut Collector<'_, String>,
    ) -> Result<(), BoxError> {
        ctx.broadcast_state(&self.descriptor)?.put(sensor, limit);
        self.rules_seen.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[test]
fn broadcast_state_reaches_every_parallel_instance() {
    const PARALLELISM: u32 = 3;
    let rules_seen = Arc::new(AtomicU32::new(0));
    let descriptor = MapStateDescriptor::<String, u32>::new("thresholds");
    let env = StreamExecutionEnvironment::local();
    env.set_parallelism(PARALLELISM);
    let rules = env
        .from_elements(vec![("s1".to_string(), 50u32), ("s2".to_string(), 10)])
        .broadcast_with(&descriptor);
    // Readings wait until every instance has both rules, so the result does not
    // depend on how the two inputs interleave.
    let ready = rules_seen.clone();
    let readings = env
        .add_source(move |ctx: &mut SourceContext<(String, u32)>| {
            wait_until("the rules on every instance", 10, || {
                ready.load(Ordering::SeqCst) == 2 * PARALLELISM
            });
            for i in 0..40u32 {
                for s in ["s1", "s2", "s3"] {
                    ctx.collect((s.to_string(), i * 3));
                }
            }
            Ok(())
        })
        .key_by(|r| r.0.clone());
    let out = Collected::new();
    readings
        .connect_broadcast(&rules)
        .process(Thresholds {
            descriptor,
            rules_seen: rules_seen.clone(),
            alerts: None,
        })
        .add_sink(out.sink());
    env.execute("broadcast state").unwrap();
    assert_eq!(
        rules_seen.load(Ordering::SeqCst),
        2 * PARALLELISM,
        "each instance gets every rule"
    );
    let alerts = out.values();
    let s1: Vec<_> = alerts.iter().filter(|a| a.starts_with("s1")).collect();
    let s2: Vec<_> = alerts.iter().filter(|a| a.starts_with("s2")).collect();
    let over = |limit: u32| (0..40u32).filter(|i| i * 3 > limit).count();
    assert_eq!((s1.len(), s2.len()), (over(50), over(10)));
    assert!(
        alerts.iter().all(|a| !a.starts_with("s3")),
        "no rule for s3"
    );
    // Keyed state counts per sensor, whatever instance the sensor is on.
    assert_eq!(
        s1.last().unwrap().as_str(),
        format!("s1: 117 > 50 (alert {})", over(50))
    );
    assert_eq!(
        s2.last().unwrap().as_str(),
        format!("s2: 117 > 10 (alert {})", over(10))
    );
}

/// The non-keyed variant: each instance filters with the broadcast words.
#[derive(Clone)]
struct Blocklist {
    descriptor: MapStateDescriptor<String, ()>,
    rules_seen: Arc<AtomicU32>,
}

impl BroadcastProcessFunction<String, String, String> for Blocklist {
    fn process_element(
        &mut self,
        word: String,
        ctx: &mut ReadOnlyBroadcastContext<'_>,
        out: &mut Collector<'_, String>,
    ) -> Result<(), BoxError> {
        if !ctx.broadcast_state(&self.descriptor)?.contains(&word) {
            out.collect(word);
        }
        Ok(())
    }

    fn process_broadcast_element(
        &mut self,
        word: String,
        ctx: &mut BroadcastContext<'_>,
        _out: &mut Collector<'_, String>,
    ) -> Result<(), BoxError> {
        ctx.broadcast_state(&self.descriptor)?.put(word, ());
        self.rules_seen.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[test]
fn a_non_keyed_stream_reads_broadcast_state_on_every_instance() {
    let rules_seen = Arc::new(AtomicU32::new(0));
    let descriptor = MapStateDescriptor::<String, ()>::new("blocked");
    let env = StreamExecutionEnvironment::local();
    env.set_parallelism(2);
    let blocked = env
        .from_elements(vec!["spam".to_string()])
        .broadcast_with(&descriptor);
    let ready = rules_seen.clone();
    let words = env.add_source(move |ctx: &mut SourceContext<String>| {
        wait_until("the rule on both instances", 10, || {
            ready.load(Ordering::SeqCst) == 2
        });
        for w in ["ham", "spam", "eggs", "spam", "jam"] {
            ctx.collect(w.to_string());
        }
        Ok(())
    });
    let out = Collected::new();
    words
        .rebalance()
        .connect_broadcast(&blocked)
        .process(Blocklist {
            descriptor,
            rules_seen,
        })
        .add_sink(out.sink());
    env.execute("blocklist").unwrap();
    assert_eq!(out.sorted(), ["eggs", "ham", "jam"]);
}

#[test]
fn keyed_reduce_keeps_its_accumulator_per_key_in_keyed_state() {
    let env = StreamExecutionEnvironment::local();
    env.set_parallelism(2);
    env.set_max_parallelism(16);
    let out = Collected::new();
    let input: Vec<(u32, u64)> = (0..1_000u64).map(|i| ((i % 10) as u32, i)).collect();
    env.from_elements(input)
        .key_by(|r| r.0)
        .reduce(|a, b| (a.0, a.1 + b.1))
        .add_sink(out.sink());
    env.execute("reduce").unwrap();
    let mut last: BTreeMap<u32, (usize, u64)> = BTreeMap::new();
    for (k, sum) in out.values() {
        let e = last.entry(k).or_default();
        e.0 += 1;
        e.1 = sum;
    }
    for k in 0..10u32 {
        let expected: u64 = (0..1_000u64).filter(|i| i % 10 == k as u64).sum();
        assert_eq!(
            last[&k],
            (100, expected),
            "key {k}: one rolling result per record, the last the full sum"
        );
    }
}
