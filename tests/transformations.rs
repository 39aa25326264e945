//! Every transformation of B2, run end to end at parallelism 1 and 2.

mod common;

use common::Collected;
use runnel::prelude::*;
use std::collections::BTreeMap;

/// Keeps, per key, the last value seen (the final rolling result of a keyed
/// aggregation is the last emitted for the key).
fn last_per_key<K: Ord, V: Clone>(records: Vec<V>, key: impl Fn(&V) -> K) -> BTreeMap<K, V> {
    let mut m = BTreeMap::new();
    for r in records {
        m.insert(key(&r), r);
    }
    m
}

#[test]
fn map_flat_map_filter_keep_every_record() {
    for p in [1, 2] {
        let env = StreamExecutionEnvironment::local();
        env.set_parallelism(p);
        let out = Collected::new();
        env.from_sequence(1, 1000)
            .map(|x| x * 3)
            .filter(|x| x % 2 == 0)
            .flat_map(|x: u64, out: &mut Collector<'_, u64>| {
                out.collect(x);
                out.collect(x + 1);
            })
            .add_sink(out.sink());
        env.execute("stateless").unwrap();
        let mut expected: Vec<u64> = (1..=1000u64)
            .map(|x| x * 3)
            .filter(|x| x % 2 == 0)
            .flat_map(|x| [x, x + 1])
            .collect();
        expected.sort();
        assert_eq!(out.sorted(), expected, "p={p}");
    }
}

#[test]
fn reduce_emits_every_rolling_update_per_key() {
    let env = StreamExecutionEnvironment::local();
    let out = Collected::new();
    env.from_elements(
        vec![("a", 1), ("b", 10), ("a", 2), ("a", 3), ("b", 20)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v)),
    )
    .key_by(|(k, _)| k.clone())
    .reduce(|acc: (String, i32), v| (acc.0, acc.1 + v.1))
    .add_sink(out.sink());
    env.execute("reduce").unwrap();
    let values = out.values();
    let a: Vec<i32> = values
        .iter()
        .filter(|(k, _)| k == "a")
        .map(|(_, v)| *v)
        .collect();
    let b: Vec<i32> = values
        .iter()
        .filter(|(k, _)| k == "b")
        .map(|(_, v)| *v)
        .collect();
    assert_eq!(a, [1, 3, 6], "first record as is, then each accumulation");
    assert_eq!(b, [10, 30]);
}

/// (sensor, reading, time): the aggregations of the seeds' `max` vs `maxBy` note.
type Reading = (String, i64, i64);

fn readings() -> Vec<Reading> {
    vec![
        ("s1".into(), 5, 1),
        ("s2".into(), 7, 2),
        ("s1".into(), 9, 3),
        ("s1".into(), 9, 4),
        ("s1".into(), 2, 5),
        ("s2".into(), 1, 6),
    ]
}

fn aggregate(
    p: u32,
    apply: impl Fn(&KeyedStream<Reading, fn(&Reading) -> String>) -> SingleOutputStreamOperator<Reading>,
) -> BTreeMap<String, Reading> {
    let env = StreamExecutionEnvironment::local();
    env.set_parallelism(p);
    let out = Collected::new();
    let key: fn(&Reading) -> String = |r| r.0.clone();
    let keyed = env.from_elements(readings()).key_by(key);
    apply(&keyed).add_sink(out.sink());
    env.execute("aggregate").unwrap();
    last_per_key(out.values(), |r| r.0.clone())
}

#[test]
fn sum_min_max_update_one_field_and_keep_the_first_record() {
    for p in [1, 2] {
        let sum = aggregate(p, |k| k.sum(|r| &mut r.1));
        assert_eq!(
            sum["s1"],
            ("s1".into(), 25, 1),
            "sum keeps the first record's other fields"
        );
        assert_eq!(sum["s2"], ("s2".into(), 8, 2));
        let max = aggregate(p, |k| k.max(|r| &mut r.1));
        assert_eq!(
            max["s1"],
            ("s1".into(), 9, 1),
            "max: only the value is right, time stays the first"
        );
        let min = aggregate(p, |k| k.min(|r| &mut r.1));
        assert_eq!(min["s1"], ("s1".into(), 2, 1));
        assert_eq!(min["s2"], ("s2".into(), 1, 2));
    }
}

#[test]
fn min_by_and_max_by_keep_the_whole_record_first_on_ties() {
    for p in [1, 2] {
        let max_by = aggregate(p, |k| k.max_by(|r| r.1));
        assert_eq!(
            max_by["s1"],
            ("s1".into(), 9, 3),
            "the whole record; on the tie at 9 the first one stays"
        );
        let min_by = aggregate(p, |k| k.min_by(|r| r.1));
        assert_eq!(min_by["s1"], ("s1".into(), 2, 5));
        assert_eq!(min_by["s2"], ("s2".into(), 1, 6));
    }
}

#[derive(Clone)]
struct SplitByParity {
    odd: OutputTag<String>,
}

impl ProcessFunction<u64, u64> for SplitByParity {
    fn process_element(
        &mut self,
        value: u64,
        ctx: &mut ProcessContext<'_>,
        out: &mut Collector<'_, u64>,
    ) -> Result<(), BoxError> {
        if value.is_multiple_of(2) {
            out.collect(value);
        } else {
            ctx.output(&self.odd, format!("odd {value}"));
        }
        Ok(())
    }
}

#[test]
fn process_function_routes_to_side_outputs() {
    for p in [1, 2] {
        let env = StreamExecutionEnvironment::local();
        env.set_parallelism(p);
        let odd = OutputTag::<String>::new("odd");
        let main = env
            .from_sequence(1, 10)
            .process(SplitByParity { odd: odd.clone() });
        let (evens, odds) = (Collected::new(), Collected::new());
        main.add_sink(evens.sink());
        main.get_side_output(&odd).add_sink(odds.sink());
        let result = env.execute("side outputs").unwrap();
        assert_eq!(evens.sorted(), [2, 4, 6, 8, 10]);
        assert_eq!(odds.sorted(), ["odd 1", "odd 3", "odd 5", "odd 7", "odd 9"]);
        assert_eq!(
            result.operator("Process").unwrap().records_out,
            10,
            "side outputs count as emitted"
        );
    }
}

#[test]
fn side_output_without_consumer_is_dropped_and_main_output_still_flows() {
    let env = StreamExecutionEnvironment::local();
    let odd = OutputTag::<String>::new("odd");
    let out = Collected::new();
    env.from_sequence(1, 6)
        .process(SplitByParity { odd })
        .add_sink(out.sink());
    env.execute("unconsumed side output").unwrap();
    assert_eq!(out.sorted(), [2, 4, 6]);
}

#[test]
fn process_context_exposes_timestamp_watermark_and_processing_time() {
    let env = StreamExecutionEnvironment::local();
    let out = Collected::new();
    env.from_elements(vec![1u8])
        .process(
            |v: u8,
             ctx: &mut ProcessContext<'_>,
             out: &mut Collector<'_, (u8, bool, bool, bool)>| {
                out.collect((
                    v,
                    ctx.timestamp().is_none(),
                    ctx.current_watermark() == Watermark::MIN,
                    ctx.current_processing_time() > 0,
                ));
                Ok(())
            },
        )
        .add_sink(out.sink());
    env.execute("context").unwrap();
    assert_eq!(
        out.values(),
        [(1, true, true, true)],
        "no timestamp, watermark at -inf, wall-clock processing time"
    );
}

#[test]
fn union_merges_many_streams_of_one_type() {
    for p in [1, 2] {
        let env = StreamExecutionEnvironment::local();
        env.set_parallelism(p);
        let a = env.from_sequence(0, 9).map(|x| x);
        let b = env.from_sequence(100, 104).map(|x| x);
        let c = env.from_elements(vec![1000u64, 1001]);
        let out = Collected::new();
        a.union([&*b, &*c]).map(|x| x + 1).add_sink(out.sink());
        env.execute("union").unwrap();
        let mut expected: Vec<u64> = (1..=10).chain(101..=105).chain([1001, 1002]).collect();
        expected.sort();
        assert_eq!(out.sorted(), expected, "p={p}");
    }
}

#[test]
fn union_of_a_stream_with_itself_duplicates_it() {
    let env = StreamExecutionEnvironment::local();
    let s = env.from_elements(vec![7u8]);
    let out = Collected::new();
    s.union([&*s]).add_sink(out.sink());
    env.execute("self union").unwrap();
    assert_eq!(out.values(), [7, 7]);
}

#[test]
fn connect_co_map_and_co_flat_map_two_types() {
    for p in [1, 2] {
        let env = StreamExecutionEnvironment::local();
        env.set_parallelism(p);
        let numbers = env.from_sequence(1, 3);
        let words = env.from_elements(vec!["x".to_string(), "yy".to_string()]);
        let mapped = Collected::new();
        numbers
            .connect(&words)
            .map(|n| format!("n{n}"), |w: String| format!("w{}", w.len()))
            .add_sink(mapped.sink());
        let flat = Collected::new();
        numbers
            .connect(&words)
            .flat_map(
                |n: u64, out: &mut Collector<'_, u64>| {
                    for _ in 0..n {
                        out.collect(n)
                    }
                },
                |w: String, out: &mut Collector<'_, u64>| out.collect(w.len() as u64 * 100),
            )
            .add_sink(flat.sink());
        env.execute("connect").unwrap();
        assert_eq!(mapped.sorted(), ["n1", "n2", "n3", "w1", "w2"]);
        assert_eq!(flat.sorted(), [1, 2, 2, 3, 3, 3, 100, 200]);
    }
}

/// Rules arrive on one input, values on the other; values pass if above the
/// threshold seen so far (the state is shared between the two inputs).
#[derive(Clone, Default)]
struct Threshold {
    threshold: Option<u64>,
    pending: Vec<u64>,
}

impl CoProcessFunction<u64, u64, u64> for Threshold {
    fn process_element1(
        &mut self,
        value: u64,
        _ctx: &mut ProcessContext<'_>,
        out: &mut Collector<'_, u64>,
    ) -> Result<(), BoxError> {
        match self.threshold {
            Some(t) if value > t => out.collect(value),
            Some(_) => {}
            None => self.pending.push(value),
        }
        Ok(())
    }

    fn process_element2(
        &mut self,
        rule: u64,
        _ctx: &mut ProcessContext<'_>,
        out: &mut Collector<'_, u64>,
    ) -> Result<(), BoxError> {
        self.threshold = Some(rule);
        for v in std::mem::take(&mut self.pending) {
            if v > rule {
                out.collect(v);
            }
        }
        Ok(())
    }
}

#[test]
fn co_process_shares_state_between_inputs() {
    let env = StreamExecutionEnvironment::local();
    let out = Collected::new();
    env.from_sequence(1, 10)
        .connect(&env.from_elements(vec![6u64]))
        .process(Threshold::default())
        .add_sink(out.sink());
    env.execute("co-process").unwrap();
    assert_eq!(out.sorted(), [7, 8, 9, 10]);
}

#[test]
fn keyed_connected_streams_meet_by_key() {
    let env = StreamExecutionEnvironment::local();
    env.set_parallelism(2);
    let orders = env.from_elements(vec![
        (1u32, "order-1".to_string()),
        (2, "order-2".to_string()),
    ]);
    let users = env.from_elements(vec![(1u32, "ann".to_string()), (2, "bob".to_string())]);
    let out = Collected::new();
    #[derive(Clone, Default)]
    struct Join {
        seen: Vec<(u32, String, bool)>,
    }
    impl CoFlatMapFunction<(u32, String), (u32, String), String> for Join {
        fn flat_map1(&mut self, v: (u32, String), out: &mut Collector<'_, String>) {
            self.emit(v, true, out)
        }
        fn flat_map2(&mut self, v: (u32, String), out: &mut Collector<'_, String>) {
            self.emit(v, false, out)
        }
    }
    impl Join {
        fn emit(&mut self, v: (u32, String), is_order: bool, out: &mut Collector<'_, String>) {
            for (k, other, other_is_order) in &self.seen {
                if *k == v.0 && *other_is_order != is_order {
                    let (order, user) = if is_order {
                        (&v.1, other)
                    } else {
                        (other, &v.1)
                    };
                    out.collect(format!("{user}:{order}"));
                }
            }
            self.seen.push((v.0, v.1, is_order));
        }
    }
    orders
        .connect(&users)
        .key_by(|o| o.0, |u| u.0)
        .flat_map_with(Join::default())
        .add_sink(out.sink());
    env.execute("keyed connect").unwrap();
    assert_eq!(out.sorted(), ["ann:order-1", "bob:order-2"]);
}

#[test]
fn a_stream_used_twice_feeds_both_consumers() {
    let env = StreamExecutionEnvironment::local();
    let s = env.from_sequence(1, 5);
    let (a, b) = (Collected::new(), Collected::new());
    s.map(|x| x * 10).add_sink(a.sink());
    s.map(|x| x + 1).add_sink(b.sink());
    let plan = env.explain("fan out").unwrap();
    assert_eq!(
        plan.job_graph.vertices.len(),
        1,
        "both branches chain to the source"
    );
    env.execute("fan out").unwrap();
    assert_eq!(a.sorted(), [10, 20, 30, 40, 50]);
    assert_eq!(b.sorted(), [2, 3, 4, 5, 6]);
}

#[test]
fn execution_result_reports_records_per_operator() {
    let env = StreamExecutionEnvironment::local();
    env.set_parallelism(2);
    env.from_sequence(1, 100)
        .map(|x| x)
        .name("identity")
        .filter(|x| x % 4 == 0)
        .name("quarter")
        .add_sink(|_x: u64| {});
    let result = env.execute("metrics").unwrap();
    assert_eq!(result.job_name, "metrics");
    let identity = result.operator("identity").unwrap();
    assert_eq!(
        (
            identity.records_in,
            identity.records_out,
            identity.parallelism
        ),
        (100, 100, 2)
    );
    let quarter = result.operator("quarter").unwrap();
    assert_eq!((quarter.records_in, quarter.records_out), (100, 25));
    assert_eq!(
        result
            .operator("Source: Sequence Source")
            .unwrap()
            .records_out,
        100
    );
    assert!(result.net_runtime.as_nanos() > 0);
}

#[test]
fn a_side_output_requested_with_two_types_is_an_error() {
    let env = StreamExecutionEnvironment::local();
    let main = env.from_sequence(1, 3).process(SplitByParity {
        odd: OutputTag::new("odd"),
    });
    main.get_side_output(&OutputTag::<String>::new("odd"))
        .print();
    main.get_side_output(&OutputTag::<u64>::new("odd")).print();
    let message = env.execute("mismatch").unwrap_err().to_string();
    assert!(
        message.contains("side output `odd`") && message.contains("two different types"),
        "{message}"
    );
}

#[test]
fn emitting_a_side_output_of_the_wrong_type_fails_the_job() {
    #[derive(Clone)]
    struct Wrong;
    impl ProcessFunction<u64, u64> for Wrong {
        fn process_element(
            &mut self,
            v: u64,
            ctx: &mut ProcessContext<'_>,
            _out: &mut Collector<'_, u64>,
        ) -> Result<(), BoxError> {
            ctx.output(&OutputTag::<u64>::new("tag"), v);
            Ok(())
        }
    }
    let env = StreamExecutionEnvironment::local();
    env.from_sequence(1, 3)
        .process(Wrong)
        .name("wrong")
        .get_side_output(&OutputTag::<String>::new("tag"))
        .print();
    let message = env.execute("wrong type").unwrap_err().to_string();
    assert!(
        message.contains("`wrong`")
            && message.contains("side output `tag`")
            && message.contains("u64"),
        "{message}"
    );
}
