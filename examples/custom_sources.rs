//! User-defined sources: a run/cancel source (a temperature sensor), a parallel
//! run/cancel source whose subtasks know their index, and a pull-based parallel
//! source (the interface the built-in sources implement).
//!
//! ```text
//! cargo run --release --example custom_sources
//! ```

use runnel::prelude::*;
use runnel::runtime::source::Boundedness;
use std::time::Duration;

/// A sensor that reports a reading every few milliseconds until cancelled (or
/// until it has sent `limit` readings).
#[derive(Clone)]
struct Sensor {
    limit: u32,
}

impl SourceFunction<(String, f64)> for Sensor {
    fn run(&mut self, ctx: &mut SourceContext<(String, f64)>) -> Result<(), BoxError> {
        let mut temperature = 20.0;
        for i in 0..self.limit {
            if !ctx.is_running() {
                break;
            }
            temperature += if i % 3 == 0 { 0.5 } else { -0.2 };
            ctx.collect((
                "sensor-1".to_string(),
                (temperature * 10.0_f64).round() / 10.0,
            ));
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }
}

/// A parallel source: each subtask emits a few ids of its own range.
#[derive(Clone, Default)]
struct IdRange {
    subtask: u32,
}

impl SourceFunction<String> for IdRange {
    fn open(&mut self, ctx: &RuntimeContext) -> Result<(), BoxError> {
        self.subtask = ctx.subtask_index();
        Ok(())
    }

    fn run(&mut self, ctx: &mut SourceContext<String>) -> Result<(), BoxError> {
        for i in 0..3 {
            ctx.collect(format!("id-{}", self.subtask * 1000 + i));
        }
        Ok(())
    }
}

/// A pull-based source: the task polls it; it emits what it has and returns.
struct Squares {
    up_to: u64,
}

struct SquaresReader {
    next: u64,
    step: u64,
    up_to: u64,
}

impl Source<u64> for Squares {
    type Reader = SquaresReader;
    fn boundedness(&self) -> Boundedness {
        Boundedness::Bounded
    }
    fn create_reader(&self, ctx: &SourceReaderContext) -> Result<SquaresReader, BoxError> {
        let rt = ctx.runtime();
        Ok(SquaresReader {
            next: rt.subtask_index() as u64,
            step: rt.parallelism() as u64,
            up_to: self.up_to,
        })
    }
}

impl SourceReader<u64> for SquaresReader {
    fn poll_next(&mut self, out: &mut SourceOutput<'_, u64>) -> Result<InputStatus, BoxError> {
        for _ in 0..100 {
            if self.next > self.up_to {
                return Ok(InputStatus::EndOfInput);
            }
            out.collect(self.next * self.next);
            self.next += self.step;
        }
        Ok(InputStatus::MoreAvailable)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = StreamExecutionEnvironment::get_execution_environment()?;
    env.add_source(Sensor { limit: 10 })
        .name("Source: sensor")
        .print_with_identifier("sensor");
    env.add_parallel_source(IdRange::default())
        .set_parallelism(2)
        .print_with_identifier("ids")
        .set_parallelism(2);
    env.from_source(Squares { up_to: 5 }, "squares")
        .set_parallelism(2)
        .print_with_identifier("squares")
        .set_parallelism(2);
    env.execute("Custom Sources")?;
    Ok(())
}
