//! Savepoints and rescaling: a job counting page views per page runs at
//! parallelism 2 and is stopped with a savepoint halfway; the same job resumes
//! from the savepoint at parallelism 3 and finishes. The counts equal those of
//! a run without the stop: the keyed state moved by key group to the three new
//! subtasks, the source continued where it stopped, and a map function's own
//! operator state (a list state counting what each instance saw) was split
//! over the new instances.
//!
//! ```text
//! cargo run --release --example savepoints
//! ```
//!
//! The same from the command line, for any job: `runnel stop --savepoint-path
//! DIR JOB_ID`, then `runnel run -s DIR/savepoint-… -p 3 JOB_BINARY`.

use runnel::prelude::*;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const VIEWS: u64 = 200_000;
const PAGES: u64 = 20;

/// View `i` is of page `i % PAGES`.
fn page_of(i: u64) -> u64 {
    (i * 7) % PAGES
}

/// Counts the views each instance parses, kept in operator list state (split
/// over the instances when the job is rescaled).
#[derive(Clone, Default)]
struct ParseViews {
    seen: u64,
    counter: Option<OperatorListState<u64>>,
    total: Arc<AtomicU64>,
}

impl MapFunction<u64, (u64, u64)> for ParseViews {
    fn initialize_state(
        &mut self,
        ctx: &mut FunctionInitializationContext<'_>,
    ) -> Result<(), BoxError> {
        let counter = ctx
            .operator_state_store()
            .get_list_state(&ListStateDescriptor::<u64>::new("views parsed"))?;
        self.seen = counter.get(ctx)?.iter().sum();
        self.counter = Some(counter);
        Ok(())
    }

    fn map(&mut self, i: u64) -> (u64, u64) {
        self.seen += 1;
        if i.is_multiple_of(1_000) {
            // Slow enough to stop it halfway.
            std::thread::sleep(Duration::from_millis(1));
        }
        (page_of(i), 1)
    }

    fn snapshot_state(&mut self, ctx: &mut FunctionSnapshotContext<'_>) -> Result<(), BoxError> {
        if let Some(counter) = self.counter {
            counter.update(ctx, vec![self.seen])?;
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), BoxError> {
        self.total.fetch_add(self.seen, Ordering::Relaxed);
        Ok(())
    }
}

type Counts = Arc<Mutex<BTreeMap<u64, u64>>>;

/// The job; `parsed` receives each instance's count of parsed views at its end.
fn job(env: &StreamExecutionEnvironment, counts: &Counts, parsed: &Arc<AtomicU64>) {
    let counts = counts.clone();
    env.from_generator(VIEWS, |i| i)
        .uid("views")
        .map_with(ParseViews {
            total: parsed.clone(),
            ..ParseViews::default()
        })
        .uid("parse")
        .key_by(|(page, _)| *page)
        .sum(|(_, n)| n)
        .uid("views-per-page")
        .add_sink(move |(page, n): (u64, u64)| {
            counts.lock().unwrap().insert(page, n);
        });
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("runnel-savepoints-{}", std::process::id()));

    // 1. Run at parallelism 2 and stop with a savepoint once some views are in.
    let env = StreamExecutionEnvironment::local();
    env.set_parallelism(2);
    let (counts, parsed) = (Counts::default(), Arc::new(AtomicU64::new(0)));
    job(&env, &counts, &parsed);
    let client = env.execute_async("views per page")?;
    while counts.lock().unwrap().values().sum::<u64>() < VIEWS / 4 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let savepoint = client.stop_with_savepoint(Some(dir.clone()))?;
    client.wait()?;
    let before = counts.lock().unwrap().values().sum::<u64>();
    println!("stopped at parallelism 2 after {before} views; savepoint at {savepoint}");

    // 2. Resume at parallelism 3.
    let env = StreamExecutionEnvironment::local();
    env.set_parallelism(3);
    env.restore_from(&savepoint, false);
    let (counts, parsed) = (Counts::default(), Arc::new(AtomicU64::new(0)));
    job(&env, &counts, &parsed);
    let result = env.execute("views per page")?;
    let source = result
        .operator("Source: Data Generator")
        .map(|o| o.records_out);
    println!(
        "resumed at parallelism 3: the source emitted {} more views",
        source.unwrap_or(0)
    );

    // 3. The result is that of a run without the stop.
    let mut expected = BTreeMap::new();
    for i in 0..VIEWS {
        *expected.entry(page_of(i)).or_insert(0u64) += 1;
    }
    let counts = counts.lock().unwrap().clone();
    for (page, n) in &counts {
        println!("page {page:>2}: {n} views");
    }
    let parsed = parsed.load(Ordering::Relaxed);
    println!("views parsed, over both runs, by the map's operator state: {parsed}");
    let _ = std::fs::remove_dir_all(&dir);
    if counts != expected || parsed != VIEWS {
        return Err("the resumed job's results differ from a run without the stop".into());
    }
    Ok(())
}
