//! Every partitioner of B3: which downstream subtask each record reaches.

mod common;

use common::Collected;
use runnel::prelude::*;
use runnel::types::assign_key_to_parallel_operator;
use std::collections::BTreeMap;

/// Tags each record with the subtask index of the instance that saw it.
#[derive(Clone, Default)]
struct WhoSawIt {
    subtask: u32,
}

impl MapFunction<u64, (u32, u64)> for WhoSawIt {
    fn open(&mut self, ctx: &RuntimeContext) -> Result<(), BoxError> {
        self.subtask = ctx.subtask_index();
        Ok(())
    }
    fn map(&mut self, value: u64) -> (u32, u64) {
        (self.subtask, value)
    }
}

/// Runs `numbers` (source at `source_p`) through `partition` into a map at
/// `map_p`; returns (map subtask, value) pairs.
fn route(
    source_p: u32,
    map_p: u32,
    n: u64,
    partition: impl Fn(DataStream<u64>) -> DataStream<u64>,
) -> Vec<(u32, u64)> {
    let env = StreamExecutionEnvironment::local();
    let out = Collected::new();
    let source = env.from_sequence(0, n - 1).set_parallelism(source_p);
    partition((*source).clone())
        .map_with(WhoSawIt::default())
        .set_parallelism(map_p)
        .add_sink(out.sink());
    env.execute("route").unwrap();
    out.values()
}

fn counts(routed: &[(u32, u64)]) -> BTreeMap<u32, usize> {
    let mut m = BTreeMap::new();
    for (s, _) in routed {
        *m.entry(*s).or_default() += 1;
    }
    m
}

#[test]
fn forward_keeps_records_in_their_subtask() {
    // The sequence source splits 0..100 contiguously: subtask 0 has 0..50.
    let routed = route(2, 2, 100, |s| s.forward());
    assert_eq!(routed.len(), 100);
    for (subtask, v) in routed {
        assert_eq!(subtask, u32::from(v >= 50), "value {v}");
    }
}

#[test]
fn rebalance_spreads_round_robin() {
    let routed = route(1, 3, 99, |s| s.rebalance());
    assert_eq!(counts(&routed), BTreeMap::from([(0, 33), (1, 33), (2, 33)]));
    let mut by_value = routed.clone();
    by_value.sort_by_key(|(_, v)| *v);
    for w in by_value.windows(2) {
        assert_eq!(
            (w[0].0 + 1) % 3,
            w[1].0,
            "consecutive records go to consecutive subtasks"
        );
    }
}

#[test]
fn default_partitioning_rebalances_when_parallelism_changes() {
    let routed = route(1, 2, 100, |s| s);
    assert_eq!(counts(&routed), BTreeMap::from([(0, 50), (1, 50)]));
}

#[test]
fn rescale_stays_within_local_groups() {
    // 2 producers, 4 consumers: producer 0 feeds 0 and 1, producer 1 feeds 2 and 3.
    let routed = route(2, 4, 200, |s| s.rescale());
    for (subtask, v) in &routed {
        let producer = u32::from(*v >= 100);
        assert!(
            subtask / 2 == producer,
            "value {v} from producer {producer} reached {subtask}"
        );
    }
    assert_eq!(
        counts(&routed),
        BTreeMap::from([(0, 50), (1, 50), (2, 50), (3, 50)])
    );
}

#[test]
fn shuffle_reaches_every_subtask() {
    let routed = route(1, 4, 4000, |s| s.shuffle());
    let c = counts(&routed);
    assert_eq!(c.len(), 4);
    assert!(c.values().all(|n| *n > 500), "{c:?}");
    assert_eq!(routed.len(), 4000);
}

#[test]
fn broadcast_sends_every_record_everywhere() {
    let routed = route(1, 3, 10, |s| s.broadcast());
    assert_eq!(counts(&routed), BTreeMap::from([(0, 10), (1, 10), (2, 10)]));
}

#[test]
fn global_sends_everything_to_the_first_subtask() {
    let routed = route(2, 3, 50, |s| s.global());
    assert_eq!(counts(&routed), BTreeMap::from([(0, 50)]));
}

#[test]
fn key_by_routes_by_key_group_like_flink() {
    let env = StreamExecutionEnvironment::local();
    let out = Collected::new();
    env.from_sequence(0, 999)
        .set_parallelism(2)
        .key_by(|v: &u64| v % 37)
        .map_with(WhoSawIt::default())
        .set_parallelism(3)
        .add_sink(out.sink());
    env.execute("keyed").unwrap();
    let routed = out.values();
    assert_eq!(routed.len(), 1000);
    for (subtask, v) in routed {
        let expected = assign_key_to_parallel_operator(&(v % 37), 128, 3);
        assert_eq!(subtask, expected, "key {} went to {subtask}", v % 37);
    }
}

#[test]
fn key_by_honours_a_configured_max_parallelism() {
    let env = StreamExecutionEnvironment::local();
    env.set_max_parallelism(16);
    let out = Collected::new();
    env.from_sequence(0, 99)
        .key_by(|v: &u64| *v)
        .map_with(WhoSawIt::default())
        .set_parallelism(4)
        .add_sink(out.sink());
    env.execute("keyed").unwrap();
    for (subtask, v) in out.values() {
        assert_eq!(subtask, assign_key_to_parallel_operator(&v, 16, 4));
    }
}

#[test]
fn custom_partitioner_chooses_the_subtask() {
    let routed = route(1, 3, 30, |s| {
        s.partition_custom(|k: &u64, n: usize| (*k as usize) % n, |v: &u64| *v)
    });
    for (subtask, v) in routed {
        assert_eq!(subtask as u64, v % 3);
    }
}

#[test]
fn custom_partitioner_out_of_range_fails_the_job_clearly() {
    let env = StreamExecutionEnvironment::local();
    env.from_sequence(0, 9)
        .partition_custom(|_k: &u64, n: usize| n + 5, |v: &u64| *v)
        .map(|v| v)
        .set_parallelism(2)
        .print();
    let err = env.execute("bad partitioner").unwrap_err().to_string();
    assert!(
        err.contains("partition 7") && err.contains("2 partitions"),
        "{err}"
    );
}
