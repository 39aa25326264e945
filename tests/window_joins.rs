//! Window joins (G1) and co-groups (G3).

mod common;

use common::Collected;
use runnel::prelude::*;
use std::time::Duration;

type Side = (u32, String, i64);

fn side(env: &StreamExecutionEnvironment, elements: &[(u32, &str, i64)]) -> DataStream<Side> {
    let elements: Vec<Side> = elements
        .iter()
        .map(|(k, v, ts)| (*k, v.to_string(), *ts))
        .collect();
    let strategy =
        WatermarkStrategy::for_monotonous_timestamps().with_timestamp_assigner(|e: &Side, _| e.2);
    (*env
        .from_elements(elements)
        .assign_timestamps_and_watermarks(strategy))
    .clone()
}

fn inputs(env: &StreamExecutionEnvironment) -> (DataStream<Side>, DataStream<Side>) {
    let left = side(env, &[(1, "a", 1), (2, "c", 3), (1, "b", 12)]);
    let right = side(env, &[(3, "w", 2), (1, "x", 5), (2, "z", 14), (1, "y", 15)]);
    (left, right)
}

#[test]
fn a_tumbling_window_join_pairs_equal_keys_of_the_same_window() {
    let env = StreamExecutionEnvironment::local();
    env.set_parallelism(2);
    let (left, right) = inputs(&env);
    let out = Collected::new();
    left.join(&right)
        .where_(|l: &Side| l.0)
        .equal_to(|r: &Side| r.0)
        .window(TumblingEventTimeWindows::of(Duration::from_millis(10)))
        .apply(|l: Side, r: Side| format!("{} {}+{}", l.0, l.1, r.1))
        .collect_with_timestamps(out.clone());
    env.execute("join").unwrap();
    assert_eq!(
        out.sorted(),
        ["1 a+x @9", "1 b+y @19"],
        "an inner join, stamped with the window's max timestamp"
    );
}

/// Records each value with its timestamp.
trait WithTimestamp {
    fn collect_with_timestamps(&self, out: Collected<String>);
}

impl WithTimestamp for SingleOutputStreamOperator<String> {
    fn collect_with_timestamps(&self, out: Collected<String>) {
        #[derive(Clone)]
        struct Stamp;
        impl ProcessFunction<String, String> for Stamp {
            fn process_element(
                &mut self,
                v: String,
                ctx: &mut ProcessContext<'_>,
                out: &mut Collector<'_, String>,
            ) -> Result<(), BoxError> {
                let ts = ctx
                    .timestamp()
                    .map_or("-".to_string(), |t| t.millis().to_string());
                out.collect(format!("{v} @{ts}"));
                Ok(())
            }
        }
        self.process(Stamp).add_sink(out.sink());
    }
}

#[test]
fn a_sliding_window_join_pairs_elements_once_per_shared_window() {
    let env = StreamExecutionEnvironment::local();
    let left = side(&env, &[(1, "a", 7)]);
    let right = side(&env, &[(1, "x", 12)]);
    let out = Collected::new();
    left.join(&right)
        .where_(|l: &Side| l.0)
        .equal_to(|r: &Side| r.0)
        .window(SlidingEventTimeWindows::of(
            Duration::from_millis(10),
            Duration::from_millis(5),
        ))
        .apply(|l: Side, r: Side| format!("{}+{}", l.1, r.1))
        .collect_with_timestamps(out.clone());
    env.execute("sliding join").unwrap();
    assert_eq!(out.values(), ["a+x @14"], "only [5, 15) holds both");
}

#[test]
fn a_session_window_join_pairs_elements_of_merged_sessions() {
    let env = StreamExecutionEnvironment::local();
    let left = side(&env, &[(1, "a", 1), (1, "b", 20)]);
    let right = side(&env, &[(1, "x", 4), (1, "y", 30)]);
    let out = Collected::new();
    left.join(&right)
        .where_(|l: &Side| l.0)
        .equal_to(|r: &Side| r.0)
        .window(EventTimeSessionWindows::with_gap(Duration::from_millis(5)))
        .flat_apply(|l: Side, r: Side, out: &mut Collector<'_, String>| {
            out.collect(format!("{}+{}", l.1, r.1));
            out.collect(format!("{}+{} again", l.1, r.1));
        })
        .add_sink(out.sink());
    env.execute("session join").unwrap();
    assert_eq!(
        out.sorted(),
        ["a+x", "a+x again"],
        "[1, 6) and [4, 9) merge; b and y have no partner"
    );
}

#[test]
fn co_group_sees_both_sides_of_every_key_and_window_even_when_one_is_empty() {
    let env = StreamExecutionEnvironment::local();
    env.set_parallelism(2);
    let (left, right) = inputs(&env);
    let out = Collected::new();
    left.co_group(&right)
        .where_(|l: &Side| l.0)
        .equal_to(|r: &Side| r.0)
        .window(TumblingEventTimeWindows::of(Duration::from_millis(10)))
        .apply(|l: &[Side], r: &[Side], out: &mut Collector<'_, String>| {
            let names = |s: &[Side]| s.iter().map(|e| e.1.clone()).collect::<Vec<_>>().join(",");
            let key = l.first().or(r.first()).map(|e| e.0).unwrap();
            out.collect(format!("{key}: [{}] [{}]", names(l), names(r)));
        })
        .collect_with_timestamps(out.clone());
    env.execute("co-group").unwrap();
    assert_eq!(
        out.sorted(),
        [
            "1: [a] [x] @9",
            "1: [b] [y] @19",
            "2: [] [z] @19",
            "2: [c] [] @9",
            "3: [] [w] @9"
        ]
    );
}
