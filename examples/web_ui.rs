//! The web UI and REST API of a running job: page views are counted per page
//! and 1-second window while the job serves its UI; open the printed address
//! to see the job graph with records and backpressure per vertex, its
//! checkpoints and its metrics (`/metrics` is a Prometheus endpoint).
//!
//! ```text
//! cargo run --release --example web_ui
//! cargo run --release --example web_ui -- --seconds 600 --port 8081
//! ```
//!
//! Options: `--seconds S` (how long the job runs, 60), `--port P` (8081; 0
//! picks a free port). A deliberately slow sink keeps the window vertex
//! backpressured (HIGH in the UI).

use runnel::prelude::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const PAGES: [&str; 4] = ["/home", "/cart", "/search", "/checkout"];
/// Page views per second.
const RATE: u64 = 2_000;

fn args() -> Result<(u64, u16), Box<dyn std::error::Error>> {
    let (mut seconds, mut port) = (60, 8081);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--seconds" => seconds = value.parse()?,
            "--port" => port = value.parse()?,
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    Ok((seconds, port))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (seconds, port) = args()?;
    let env = StreamExecutionEnvironment::get_execution_environment()?;
    env.set_parallelism(2);
    env.enable_checkpointing(Duration::from_secs(1));
    env.enable_web_ui(port);
    let counted = Arc::new(AtomicU64::new(0));
    let sink = counted.clone();
    // View `i` happens at `i / RATE` seconds of event time, paced to real time.
    env.from_sequence(0, seconds * RATE - 1)
        .map(|i: u64| {
            if i.is_multiple_of(RATE / 100) {
                std::thread::sleep(Duration::from_millis(10));
            }
            (
                PAGES[(i % 4) as usize].to_string(),
                (i * 1000 / RATE) as i64,
            )
        })
        .name("Page views")
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_monotonous_timestamps()
                .with_timestamp_assigner(|v: &(String, i64), _| v.1),
        )
        .key_by(|v: &(String, i64)| v.0.clone())
        .window(TumblingEventTimeWindows::of(Duration::from_secs(1)))
        .aggregate(CountViews)
        .name("Views per page and second")
        .add_sink(move |(_page, _views): (String, u64)| {
            // A slow sink: its upstream shows backpressure.
            std::thread::sleep(Duration::from_millis(300));
            sink.fetch_add(1, Ordering::Relaxed);
        })
        .name("Slow sink");
    let result = env.execute("web UI demo")?;
    println!(
        "counted {} page-second windows in {:.1} s",
        counted.load(Ordering::Relaxed),
        result.net_runtime.as_secs_f64()
    );
    Ok(())
}

/// Counts the views of a window.
#[derive(Clone, Copy)]
struct CountViews;

impl AggregateFunction<(String, i64), (String, u64), (String, u64)> for CountViews {
    fn create_accumulator(&self) -> (String, u64) {
        (String::new(), 0)
    }

    fn add(&self, view: (String, i64), acc: (String, u64)) -> (String, u64) {
        (view.0, acc.1 + 1)
    }

    fn get_result(&self, acc: &(String, u64)) -> (String, u64) {
        acc.clone()
    }

    fn merge(&self, a: (String, u64), b: (String, u64)) -> (String, u64) {
        (if a.0.is_empty() { b.0 } else { a.0 }, a.1 + b.1)
    }
}
