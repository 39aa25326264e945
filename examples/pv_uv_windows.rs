//! Page views (PV) and unique visitors (UV) per page and per minute of event time,
//! computed with keyed state and event-time timers (the seeds' windowed PV/UV,
//! before the window API).
//!
//! ```text
//! cargo run --release --example pv_uv_windows
//! ```
//!
//! Each click is keyed by (page, minute); the function counts views in a
//! `ValueState` and visitors in a `MapState`, and registers a timer at the end of
//! the minute (`end − 1`, like Flink's event-time trigger). When the watermark
//! passes it, the minute is complete: the function emits its PV and UV and clears
//! the state.

use runnel::prelude::*;
use serde::{Deserialize, Serialize};
use std::time::Duration;

const MINUTE: i64 = 60_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Click {
    user: String,
    page: String,
    at: i64,
}

#[derive(Clone, Default)]
struct PvUv {
    views: Option<ValueState<u64>>,
    visitors: Option<MapState<String, ()>>,
}

impl KeyedProcessFunction<(String, i64), Click, String> for PvUv {
    fn open(&mut self, ctx: &mut KeyedOpenContext<'_, (String, i64)>) -> Result<(), BoxError> {
        self.views = Some(ctx.get_state(&ValueStateDescriptor::new("views"))?);
        self.visitors = Some(ctx.get_map_state(&MapStateDescriptor::new("visitors"))?);
        Ok(())
    }

    fn process_element(
        &mut self,
        click: Click,
        ctx: &mut KeyedContext<'_, (String, i64)>,
        _out: &mut Collector<'_, String>,
    ) -> Result<(), BoxError> {
        let (views, visitors) = (self.views.expect("opened"), self.visitors.expect("opened"));
        let seen = views.value(ctx)?.unwrap_or(0);
        views.update(ctx, seen + 1)?;
        visitors.put(ctx, click.user, ())?;
        let window_start = ctx.current_key().1;
        ctx.timer_service()
            .register_event_time_timer(window_start + MINUTE - 1);
        Ok(())
    }

    fn on_timer(
        &mut self,
        _timestamp: i64,
        ctx: &mut KeyedContext<'_, (String, i64)>,
        out: &mut Collector<'_, String>,
    ) -> Result<(), BoxError> {
        let (views, visitors) = (self.views.expect("opened"), self.visitors.expect("opened"));
        let (page, start) = ctx.current_key().clone();
        let pv = views.value(ctx)?.unwrap_or(0);
        let uv = visitors.keys(ctx)?.len();
        out.collect(format!(
            "{page} [{start}, {}): pv={pv} uv={uv}",
            start + MINUTE
        ));
        views.clear(ctx)?;
        visitors.clear(ctx)?;
        Ok(())
    }
}

fn clicks() -> Vec<Click> {
    let users = ["ann", "bob", "cid"];
    let pages = ["/home", "/cart"];
    (0..30i64)
        .map(|i| Click {
            user: users[(i % 3) as usize].to_string(),
            page: pages[((i / 4) % 2) as usize].to_string(),
            // 10 s apart, slightly out of order
            at: i * 10_000 - if i % 5 == 0 { 3_000 } else { 0 },
        })
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = StreamExecutionEnvironment::get_execution_environment()?;
    env.set_parallelism(2);
    let strategy = WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_secs(5))
        .with_timestamp_assigner(|c: &Click, _| c.at);
    env.from_elements(clicks())
        .assign_timestamps_and_watermarks(strategy)
        .key_by(|c| (c.page.clone(), c.at.div_euclid(MINUTE) * MINUTE))
        .process(PvUv::default())
        .name("pv-uv per minute")
        .print();
    env.execute("PV/UV per minute")?;
    Ok(())
}
