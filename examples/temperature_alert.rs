//! Temperature alert: warn when a sensor's reading has risen continuously for one
//! second (processing time), the seeds' `KeyedProcessFunction` example.
//!
//! ```text
//! cargo run --release --example temperature_alert
//! ```
//!
//! Per sensor, the function keeps the last reading and the time of a pending
//! processing-time timer. A rise with no timer pending registers one for now + 1 s;
//! a drop deletes it. If the timer fires, the readings rose for a full second.

use runnel::prelude::*;
use std::time::Duration;

/// (sensor id, temperature)
type Reading = (String, f64);

#[derive(Clone, Default)]
struct RisingFor {
    last: Option<ValueState<f64>>,
    timer: Option<ValueState<i64>>,
}

const ALERT_AFTER_MS: i64 = 1_000;

impl KeyedProcessFunction<String, Reading, String> for RisingFor {
    fn open(&mut self, ctx: &mut KeyedOpenContext<'_, String>) -> Result<(), BoxError> {
        self.last = Some(ctx.get_state(&ValueStateDescriptor::new("last-temperature"))?);
        self.timer = Some(ctx.get_state(&ValueStateDescriptor::new("timer"))?);
        Ok(())
    }

    fn process_element(
        &mut self,
        (_sensor, temperature): Reading,
        ctx: &mut KeyedContext<'_, String>,
        _out: &mut Collector<'_, String>,
    ) -> Result<(), BoxError> {
        let (last, timer) = (self.last.expect("opened"), self.timer.expect("opened"));
        let previous = last.value(ctx)?;
        last.update(ctx, temperature)?;
        let pending = timer.value(ctx)?;
        match previous {
            Some(p) if temperature > p && pending.is_none() => {
                let at = ctx.current_processing_time() + ALERT_AFTER_MS;
                ctx.timer_service().register_processing_time_timer(at);
                timer.update(ctx, at)?;
            }
            Some(p) if temperature <= p => {
                if let Some(at) = pending {
                    ctx.timer_service().delete_processing_time_timer(at);
                }
                timer.clear(ctx)?;
            }
            _ => {}
        }
        Ok(())
    }

    fn on_timer(
        &mut self,
        _timestamp: i64,
        ctx: &mut KeyedContext<'_, String>,
        out: &mut Collector<'_, String>,
    ) -> Result<(), BoxError> {
        out.collect(format!(
            "sensor {} rose continuously for {} ms",
            ctx.current_key(),
            ALERT_AFTER_MS
        ));
        self.timer.expect("opened").clear(ctx)?;
        Ok(())
    }
}

/// Two sensors reporting every 100 ms for 2 s: sensor-1 rises steadily for 1.5 s,
/// then falls; sensor-2 goes up and down.
#[derive(Clone)]
struct Sensors;

impl SourceFunction<Reading> for Sensors {
    fn run(&mut self, ctx: &mut SourceContext<Reading>) -> Result<(), BoxError> {
        for tick in 0..20 {
            if !ctx.is_running() {
                break;
            }
            let rising = if tick < 15 {
                20.0 + tick as f64 * 0.1
            } else {
                18.0
            };
            ctx.collect(("sensor-1".to_string(), rising));
            ctx.collect((
                "sensor-2".to_string(),
                if tick % 2 == 0 { 21.0 } else { 20.5 },
            ));
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = StreamExecutionEnvironment::get_execution_environment()?;
    env.add_source(Sensors)
        .name("Source: sensors")
        .key_by(|(sensor, _)| sensor.clone())
        .process(RisingFor::default())
        .name("rising temperature")
        .print();
    env.execute("Temperature Alert")?;
    Ok(())
}
