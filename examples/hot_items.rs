//! Hot items: every 5 minutes, the 3 items with the most page views over the last
//! hour (the seeds' e-commerce example; Nexmark q5 style).
//!
//! ```text
//! cargo run --release --example hot_items
//! ```
//!
//! Stage 1 counts views per item in sliding event-time windows (1 h, every 5 min)
//! with an incremental aggregate (one counter per item and window), and attaches
//! the window's end. Stage 2 keys those counts by window end; a keyed process
//! function buffers them in list state and, when the watermark passes the window
//! end, ranks them and prints the top 3.

use runnel::prelude::*;
use serde::{Deserialize, Serialize};
use std::time::Duration;

const MINUTE: i64 = 60_000;
const TOP: usize = 3;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct View {
    user: u32,
    item: u32,
    at: i64,
}

/// `(item, window end, views)`.
type ItemViews = (u32, i64, u64);

#[derive(Clone, Copy)]
struct CountViews;

impl AggregateFunction<View, u64, u64> for CountViews {
    fn create_accumulator(&self) -> u64 {
        0
    }
    fn add(&self, _view: View, count: u64) -> u64 {
        count + 1
    }
    fn get_result(&self, count: &u64) -> u64 {
        *count
    }
    fn merge(&self, a: u64, b: u64) -> u64 {
        a + b
    }
}

#[derive(Clone, Copy)]
struct WithWindowEnd;

impl ProcessWindowFunction<u32, u64, ItemViews, TimeWindow> for WithWindowEnd {
    fn process(
        &mut self,
        item: &u32,
        ctx: &mut ProcessWindowContext<'_, u32, TimeWindow>,
        counts: &[u64],
        out: &mut Collector<'_, ItemViews>,
    ) -> Result<(), BoxError> {
        out.collect((*item, ctx.window().end(), counts[0]));
        Ok(())
    }
}

/// Collects the counts of one window and ranks them once all have arrived.
#[derive(Clone, Default)]
struct TopItems {
    counts: Option<ListState<ItemViews>>,
}

impl KeyedProcessFunction<i64, ItemViews, String> for TopItems {
    fn open(&mut self, ctx: &mut KeyedOpenContext<'_, i64>) -> Result<(), BoxError> {
        self.counts = Some(ctx.get_list_state(&ListStateDescriptor::new("item-views"))?);
        Ok(())
    }

    fn process_element(
        &mut self,
        views: ItemViews,
        ctx: &mut KeyedContext<'_, i64>,
        _out: &mut Collector<'_, String>,
    ) -> Result<(), BoxError> {
        self.counts.expect("opened").add(ctx, views)?;
        // Every count of the window carries the timestamp end - 1; once the
        // watermark passes it, all of them are here.
        ctx.timer_service().register_event_time_timer(views.1 - 1);
        Ok(())
    }

    fn on_timer(
        &mut self,
        _t: i64,
        ctx: &mut KeyedContext<'_, i64>,
        out: &mut Collector<'_, String>,
    ) -> Result<(), BoxError> {
        let counts = self.counts.expect("opened");
        let mut all = counts.get(ctx)?;
        counts.clear(ctx)?;
        all.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
        let end = *ctx.current_key();
        let ranking: Vec<String> = all
            .iter()
            .take(TOP)
            .enumerate()
            .map(|(i, (item, _, views))| format!("#{} item {item} ({views} views)", i + 1))
            .collect();
        out.collect(format!(
            "hour ending {:02}:{:02}: {}",
            end / (60 * MINUTE),
            end / MINUTE % 60,
            ranking.join(", ")
        ));
        Ok(())
    }
}

/// Two hours of views: 50 items, a few of them popular in turn.
fn views() -> Vec<View> {
    let mut out = Vec::new();
    let mut seed = 42u64;
    let mut next = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as u32
    };
    for second in (0..2 * 60 * 60).step_by(3) {
        let at = second as i64 * 1000;
        let hot = (at / (20 * MINUTE)) as u32 % 5; // the trend changes every 20 minutes
        let item = if next() % 3 == 0 { hot } else { next() % 50 };
        out.push(View {
            user: next() % 1000,
            item,
            at,
        });
    }
    out
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = StreamExecutionEnvironment::get_execution_environment()?;
    env.set_parallelism(2);
    let strategy = WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_secs(5))
        .with_timestamp_assigner(|v: &View, _| v.at);
    env.from_elements(views())
        .assign_timestamps_and_watermarks(strategy)
        .key_by(|v: &View| v.item)
        .window(SlidingEventTimeWindows::of(
            Duration::from_secs(3600),
            Duration::from_secs(300),
        ))
        .aggregate_process(CountViews, WithWindowEnd)
        .name("views per item and hour")
        .key_by(|c: &ItemViews| c.1)
        .process(TopItems::default())
        .name("top items")
        .set_parallelism(1)
        .print()
        .set_parallelism(1);
    env.execute("Hot Items")?;
    Ok(())
}
