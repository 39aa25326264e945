//! Checkpoints, recovery and exactly-once output: orders are counted per user
//! and 1-second event-time window and written with the exactly-once file sink
//! while a failure is injected; the job restarts from its latest checkpoint and
//! the committed files hold every order exactly once.
//!
//! ```text
//! cargo run --release --example checkpointing
//! cargo run --release --example checkpointing -- --orders 200000 --rate 20000 --out /tmp/orders
//! ```
//!
//! Options: `--orders N` (how many, 100 000), `--rate R` (orders per second,
//! unlimited by default), `--out DIR` (where the part files go, a temporary
//! directory by default), `--fail-after N` (fail the window operator after N
//! records, 20 000; `0` for no failure). Under `runnel run` the job can be
//! savepointed, stopped with a savepoint and resumed with `runnel run -s`.

use runnel::connectors::FileSink;
use runnel::prelude::*;
use std::time::Duration;

/// Order `i`: user `i % 50`, amount `1 + i % 100` cents, at `i` ms.
fn order(i: u64) -> (u32, u64, i64) {
    ((i % 50) as u32, 1 + i % 100, i as i64)
}

struct Args {
    orders: u64,
    rate: Option<u64>,
    out: std::path::PathBuf,
    fail_after: u64,
}

fn args() -> Result<Args, Box<dyn std::error::Error>> {
    let mut a = Args {
        orders: 100_000,
        rate: None,
        out: std::env::temp_dir().join(format!("runnel-checkpointing-{}", std::process::id())),
        fail_after: 20_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--orders" => a.orders = value.parse()?,
            "--rate" => a.rate = Some(value.parse()?),
            "--out" => a.out = value.into(),
            "--fail-after" => a.fail_after = value.parse()?,
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    Ok(a)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args()?;
    let env = StreamExecutionEnvironment::get_execution_environment()?;
    env.set_parallelism(2);
    env.enable_checkpointing(Duration::from_millis(200));
    env.set_restart_strategy(RestartStrategyConfig::FixedDelay {
        attempts: 3,
        delay: Duration::from_millis(100),
    });
    if args.fail_after > 0 && env.config().fault_injection.is_none() {
        env.set_fault_injection(Some(FaultInjection::new(
            "Orders per window",
            args.fail_after,
        )));
    }
    let per_subtask_pause = args
        .rate
        .map(|r| Duration::from_secs_f64(2.0 / r.max(1) as f64));
    let strategy = WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_millis(100))
        .with_timestamp_assigner(|o: &(u32, u64, i64), _| o.2);
    env.from_generator(args.orders, order)
        .uid("orders")
        .map(move |o: (u32, u64, i64)| {
            if let Some(pause) = per_subtask_pause {
                std::thread::sleep(pause);
            }
            o
        })
        .assign_timestamps_and_watermarks(strategy)
        .key_by(|o| o.0)
        .window(TumblingEventTimeWindows::of(Duration::from_secs(1)))
        .aggregate_process(CountAndAmount, WithWindow)
        .name("Orders per window")
        .uid("orders-per-window")
        .sink_to_file(FileSink::new(&args.out).with_part_names("orders", ".txt"))
        .uid("files");
    let result = env.execute("Checkpointed orders")?;
    println!(
        "done: {} restart(s), {} checkpoint(s); committed part files in {}",
        result.restarts,
        result.completed_checkpoints,
        args.out.display()
    );
    Ok(())
}

/// Counts orders and sums their amounts.
#[derive(Clone, Copy)]
struct CountAndAmount;

impl AggregateFunction<(u32, u64, i64), (u64, u64), (u64, u64)> for CountAndAmount {
    fn create_accumulator(&self) -> (u64, u64) {
        (0, 0)
    }
    fn add(&self, o: (u32, u64, i64), (n, sum): (u64, u64)) -> (u64, u64) {
        (n + 1, sum + o.1)
    }
    fn get_result(&self, acc: &(u64, u64)) -> (u64, u64) {
        *acc
    }
    fn merge(&self, a: (u64, u64), b: (u64, u64)) -> (u64, u64) {
        (a.0 + b.0, a.1 + b.1)
    }
}

/// Formats a user's window as a line.
#[derive(Clone, Copy)]
struct WithWindow;

impl ProcessWindowFunction<u32, (u64, u64), String, TimeWindow> for WithWindow {
    fn process(
        &mut self,
        user: &u32,
        ctx: &mut ProcessWindowContext<'_, u32, TimeWindow>,
        results: &[(u64, u64)],
        out: &mut Collector<'_, String>,
    ) -> Result<(), BoxError> {
        let (count, amount) = results[0];
        out.collect(format!(
            "user={user} window={} count={count} amount={amount}",
            ctx.window().start() / 1000
        ));
        Ok(())
    }
}
