//! Session-window click analysis: each user's sessions of activity, closed by 30
//! minutes without a click, with their length, clicks and pages.
//!
//! ```text
//! cargo run --release --example session_clicks
//! ```
//!
//! Session windows start at a click and extend 30 minutes past the last one;
//! sessions that come within 30 minutes of each other merge (also when a late,
//! out-of-order click bridges them). A process window function sees every click
//! of a session and its bounds.

use runnel::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::time::Duration;

const MINUTE: i64 = 60_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Click {
    user: String,
    page: String,
    at: i64,
}

#[derive(Clone, Copy)]
struct Summarize;

impl ProcessWindowFunction<String, Click, String, TimeWindow> for Summarize {
    fn process(
        &mut self,
        user: &String,
        ctx: &mut ProcessWindowContext<'_, String, TimeWindow>,
        clicks: &[Click],
        out: &mut Collector<'_, String>,
    ) -> Result<(), BoxError> {
        let first = clicks.iter().map(|c| c.at).min().unwrap_or(0);
        let last = clicks.iter().map(|c| c.at).max().unwrap_or(0);
        let pages: BTreeSet<&str> = clicks.iter().map(|c| c.page.as_str()).collect();
        let w = ctx.window();
        out.collect(format!(
            "{user}: session {}..{} min ({} min of activity), {} clicks on {:?}",
            w.start() / MINUTE,
            w.end() / MINUTE,
            (last - first) / MINUTE,
            clicks.len(),
            pages
        ));
        Ok(())
    }
}

fn clicks() -> Vec<Click> {
    let c = |user: &str, page: &str, minute: i64| Click {
        user: user.into(),
        page: page.into(),
        at: minute * MINUTE,
    };
    vec![
        c("ann", "/home", 0),
        c("ann", "/search", 5),
        c("bob", "/home", 7),
        c("ann", "/item/1", 20),
        c("bob", "/cart", 50), // 43 minutes after bob's last click: a new session
        c("ann", "/checkout", 49),
        c("ann", "/home", 120),  // a new session for ann
        c("bob", "/item/2", 30), // out of order: bridges bob's two sessions into one
    ]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = StreamExecutionEnvironment::get_execution_environment()?;
    let strategy = WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_secs(30 * 60))
        .with_timestamp_assigner(|c: &Click, _| c.at);
    env.from_elements(clicks())
        .assign_timestamps_and_watermarks(strategy)
        .key_by(|c: &Click| c.user.clone())
        .window(EventTimeSessionWindows::with_gap(Duration::from_secs(
            30 * 60,
        )))
        .process(Summarize)
        .name("sessions")
        .print();
    env.execute("Session Clicks")?;
    Ok(())
}
