//! Which pages led to an order? Each order is joined with the same user's clicks
//! from the ten minutes before it (the seeds' "user clicks joined with the user's
//! orders"), with an interval join.
//!
//! ```text
//! cargo run --release --example interval_join
//! ```
//!
//! Both streams carry event time and allow 5 s of disorder, so no element is
//! late and the output is the same on every run. An order at `t`
//! joins the clicks of its user with timestamps in `[t - 10 min, t]`
//! (`between(-10 min, 0)`, both bounds inclusive). Each click waits in keyed
//! state until the watermark passes `click + 10 min`, when no order can match it
//! any more; each order is dropped once the watermark passes it. The result:
//! one line per (order, click) pair, timestamped with the later of the two.

use runnel::prelude::*;
use serde::{Deserialize, Serialize};
use std::time::Duration;

const MINUTE: i64 = 60 * 1000;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Order {
    id: u32,
    user: String,
    at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Click {
    user: String,
    page: String,
    at: i64,
}

fn orders() -> Vec<Order> {
    let o = |id, user: &str, at| Order {
        id,
        user: user.to_string(),
        at,
    };
    vec![
        o(1, "ann", 5 * MINUTE + 30_000),
        o(3, "cid", 5 * MINUTE + 40_000),
        o(2, "bob", 14 * MINUTE),
        o(4, "ann", 40 * MINUTE), // ann's last click was 15 minutes earlier
    ]
}

fn clicks() -> Vec<Click> {
    let c = |user: &str, page: &str, at| Click {
        user: user.to_string(),
        page: page.to_string(),
        at,
    };
    vec![
        c("ann", "/shoes", 30_000),
        c("ann", "/shoes/red", 2 * MINUTE),
        c("bob", "/books", 4 * MINUTE), // exactly 10 minutes before bob's order
        c("ann", "/checkout", 5 * MINUTE),
        c("cid", "/games", 5 * MINUTE - 2_000), // 2 s out of order
        c("bob", "/music", 9 * MINUTE),
        c("ann", "/hats", 25 * MINUTE),
    ]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = StreamExecutionEnvironment::get_execution_environment()?;
    let disorder = Duration::from_secs(5);
    let orders = env
        .from_elements(orders())
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_bounded_out_of_orderness(disorder)
                .with_timestamp_assigner(|o: &Order, _| o.at),
        );
    let clicks = env
        .from_elements(clicks())
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_bounded_out_of_orderness(disorder)
                .with_timestamp_assigner(|c: &Click, _| c.at),
        );
    orders
        .key_by(|o| o.user.clone())
        .interval_join(&clicks.key_by(|c| c.user.clone()))
        .between(-10 * MINUTE, 0)
        .process(
            |order: Order,
             click: Click,
             ctx: &mut ProcessJoinContext<'_>,
             out: &mut Collector<'_, String>| {
                let before = ctx.left_timestamp().millis() - ctx.right_timestamp().millis();
                out.collect(format!(
                    "order {} by {} viewed {} {} s before",
                    order.id,
                    order.user,
                    click.page,
                    before / 1000
                ));
                Ok(())
            },
        )
        .name("orders with the clicks before them")
        .print();
    env.execute("Interval Join")?;
    Ok(())
}
