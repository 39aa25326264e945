//! Operator state of user functions (Flink's `CheckpointedFunction`, D3): a
//! map function counts the records its instance saw in list state and a
//! union list state; the counts survive failures and rescaling.

use runnel::prelude::*;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const N: u64 = 60_000;

/// What each instance reported at its end: subtask → (its count, the union of
/// all counts it restored).
type Reports = Arc<Mutex<BTreeMap<u32, (u64, Vec<u64>)>>>;

/// Counts records; the count is list state (split on rescale), and every
/// instance also keeps the counts of all instances it restored (union state).
#[derive(Clone)]
struct CountingMap {
    reports: Reports,
    progress: Arc<AtomicU64>,
    count: u64,
    restored_union: Vec<u64>,
    subtask: u32,
    counts: Option<OperatorListState<u64>>,
    everyone: Option<OperatorListState<u64>>,
}

impl CountingMap {
    fn new(reports: &Reports) -> Self {
        CountingMap {
            reports: reports.clone(),
            progress: Arc::default(),
            count: 0,
            restored_union: Vec::new(),
            subtask: 0,
            counts: None,
            everyone: None,
        }
    }
}

impl MapFunction<u64, u64> for CountingMap {
    fn initialize_state(
        &mut self,
        ctx: &mut FunctionInitializationContext<'_>,
    ) -> Result<(), BoxError> {
        let counts = ctx
            .operator_state_store()
            .get_list_state(&ListStateDescriptor::<u64>::new("count"))?;
        let everyone = ctx
            .operator_state_store()
            .get_union_list_state(&ListStateDescriptor::<u64>::new("all counts"))?;
        // After a rescale an instance may get several counts, or none.
        self.count = counts.get(ctx)?.iter().sum();
        self.restored_union = everyone.get(ctx)?;
        self.counts = Some(counts);
        self.everyone = Some(everyone);
        Ok(())
    }

    fn open(&mut self, ctx: &RuntimeContext) -> Result<(), BoxError> {
        self.subtask = ctx.subtask_index();
        Ok(())
    }

    fn map(&mut self, x: u64) -> u64 {
        self.count += 1;
        self.progress.fetch_add(1, Ordering::Relaxed);
        x
    }

    fn snapshot_state(&mut self, ctx: &mut FunctionSnapshotContext<'_>) -> Result<(), BoxError> {
        self.counts.unwrap().update(ctx, vec![self.count])?;
        self.everyone.unwrap().update(ctx, vec![self.count])?;
        Ok(())
    }

    fn close(&mut self) -> Result<(), BoxError> {
        self.reports
            .lock()
            .unwrap()
            .insert(self.subtask, (self.count, self.restored_union.clone()));
        Ok(())
    }
}

/// The job; returns the number of records mapped so far, as it runs.
fn job(env: &StreamExecutionEnvironment, reports: &Reports) -> Arc<AtomicU64> {
    let map = CountingMap::new(reports);
    let progress = map.progress.clone();
    env.from_sequence(1, N)
        .uid("numbers")
        .map(|x: u64| {
            // Slow enough for checkpoints to complete while the source runs.
            if x.is_multiple_of(100) {
                std::thread::sleep(Duration::from_millis(1));
            }
            x
        })
        .uid("slow")
        .rebalance()
        .map_with(map)
        .name("Counting Map")
        .uid("counting-map")
        .add_sink(|_: u64| {});
    progress
}

fn total(reports: &Reports) -> u64 {
    reports.lock().unwrap().values().map(|(c, _)| c).sum()
}

#[test]
fn function_state_comes_back_after_failures() {
    let mut config = Configuration {
        restart_strategy: Some(RestartStrategyConfig::FixedDelay {
            attempts: 5,
            delay: Duration::ZERO,
        }),
        ..Configuration::default()
    };
    config.checkpointing.interval = Some(Duration::from_millis(10));
    let mut fault = FaultInjection::new("Counting Map", 25_000);
    fault.subtask = 1;
    fault.failures = 2;
    fault.seed = Some(4);
    config.fault_injection = Some(fault);
    let env = StreamExecutionEnvironment::with_config(config);
    env.set_parallelism(2);
    let reports = Reports::default();
    job(&env, &reports);
    let result = env.execute("counting").unwrap();
    assert!(result.restarts >= 1);
    assert_eq!(
        total(&reports),
        N,
        "restored counts plus the records replayed since the checkpoint"
    );
    let source = result.operator("Source: Sequence Source").unwrap();
    assert!(
        source.records_out < N,
        "the last attempt started from a checkpoint"
    );
}

#[test]
fn list_state_is_split_and_union_state_is_given_to_all_on_rescale() {
    let dir = std::env::temp_dir().join(format!("runnel-function-state-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // Run at p=3, stop with a savepoint midway.
    let env = StreamExecutionEnvironment::local();
    env.set_parallelism(3);
    let before = Reports::default();
    let progress = job(&env, &before);
    let client = env.execute_async("before").unwrap();
    while progress.load(Ordering::Relaxed) < N / 4 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let savepoint = client
        .stop_with_savepoint(Some(PathBuf::from(&dir)))
        .unwrap();
    client.wait().unwrap();
    let counted_before = total(&before);
    assert!(
        counted_before > 0 && counted_before < N,
        "stopped midway: {counted_before}"
    );

    // Resume at p=2: the three counts are split over two instances.
    let env = StreamExecutionEnvironment::local();
    env.set_parallelism(2);
    env.restore_from(&savepoint, false);
    let after = Reports::default();
    job(&env, &after);
    env.execute("after").unwrap();
    assert_eq!(total(&after), N, "no count lost or doubled by the split");
    let reports = after.lock().unwrap();
    for (subtask, (_, union)) in reports.iter() {
        let mut union = union.clone();
        union.sort_unstable();
        let mut expected: Vec<u64> = before.lock().unwrap().values().map(|(c, _)| *c).collect();
        expected.sort_unstable();
        assert_eq!(
            union, expected,
            "subtask {subtask} got every instance's count"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
