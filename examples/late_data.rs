//! Late data: per-minute temperature averages in event time, with 30 seconds of
//! allowed lateness; readings later than that go to a side output instead of
//! being lost.
//!
//! ```text
//! cargo run --release --example late_data
//! ```
//!
//! A window `[start, end)` fires when the watermark reaches `end − 1`. Within the
//! allowed lateness a late reading updates the window and fires it again (a
//! corrected average); after `end − 1 + lateness` the window is gone and a reading
//! for it is late data.

use runnel::prelude::*;
use serde::{Deserialize, Serialize};
use std::time::Duration;

const SECOND: i64 = 1_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Reading {
    sensor: String,
    celsius: f64,
    at: i64,
}

#[derive(Clone, Copy)]
struct Average;

impl AggregateFunction<Reading, (f64, u32), (f64, u32)> for Average {
    fn create_accumulator(&self) -> (f64, u32) {
        (0.0, 0)
    }
    fn add(&self, r: Reading, (sum, n): (f64, u32)) -> (f64, u32) {
        (sum + r.celsius, n + 1)
    }
    fn get_result(&self, acc: &(f64, u32)) -> (f64, u32) {
        *acc
    }
    fn merge(&self, a: (f64, u32), b: (f64, u32)) -> (f64, u32) {
        (a.0 + b.0, a.1 + b.1)
    }
}

#[derive(Clone, Copy)]
struct Describe;

impl ProcessWindowFunction<String, (f64, u32), String, TimeWindow> for Describe {
    fn process(
        &mut self,
        sensor: &String,
        ctx: &mut ProcessWindowContext<'_, String, TimeWindow>,
        acc: &[(f64, u32)],
        out: &mut Collector<'_, String>,
    ) -> Result<(), BoxError> {
        let (sum, n) = acc[0];
        out.collect(format!(
            "{sensor} minute {}: {:.1} °C over {n} readings (watermark {})",
            ctx.window().start() / (60 * SECOND),
            sum / f64::from(n),
            ctx.current_watermark()
        ));
        Ok(())
    }
}

/// Marks a watermark in the stream: readings of sensor "-" only move time.
#[derive(Clone)]
struct Punctuated;

impl WatermarkGenerator<Reading> for Punctuated {
    fn on_event(&mut self, r: &Reading, ts: EventTime, out: &mut dyn WatermarkOutput) {
        if r.sensor == "-" {
            out.emit_watermark(Watermark(ts.millis()));
        }
    }
    fn on_periodic_emit(&mut self, _out: &mut dyn WatermarkOutput) {}
}

fn readings() -> Vec<Reading> {
    let r = |sensor: &str, celsius, second: i64| Reading {
        sensor: sensor.into(),
        celsius,
        at: second * SECOND,
    };
    vec![
        r("t1", 20.0, 10),
        r("t1", 22.0, 50),
        r("-", 0.0, 60),   // watermark 60 s: minute 0 fires
        r("t1", 30.0, 55), // late, within 30 s of lateness: minute 0 fires again
        r("t1", 21.0, 70),
        r("-", 0.0, 90),   // watermark 90 s: minute 0 is now past its lateness
        r("t1", 40.0, 59), // too late: side output
        r("-", 0.0, 200),
    ]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = StreamExecutionEnvironment::get_execution_environment()?;
    let late = OutputTag::<Reading>::new("late-readings");
    let strategy =
        WatermarkStrategy::for_generator(Punctuated).with_timestamp_assigner(|r: &Reading, _| r.at);
    let averages = env
        .from_elements(readings())
        .assign_timestamps_and_watermarks(strategy)
        .filter(|r: &Reading| r.sensor != "-")
        .key_by(|r: &Reading| r.sensor.clone())
        .window(TumblingEventTimeWindows::of(Duration::from_secs(60)))
        .allowed_lateness(Duration::from_secs(30))
        .side_output_late_data(&late)
        .aggregate_process(Average, Describe)
        .name("average per minute");
    averages.print_with_identifier("average");
    averages
        .get_side_output(&late)
        .map(|r: Reading| format!("{} {} °C at {} s", r.sensor, r.celsius, r.at / SECOND))
        .print_with_identifier("late");
    env.execute("Late Data")?;
    Ok(())
}
