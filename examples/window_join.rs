//! Window join and co-group: orders matched with their payments within the same
//! 10-minute window, and the orders left unpaid in that window.
//!
//! ```text
//! cargo run --release --example window_join
//! ```
//!
//! `join` pairs every order with every payment of the same order id in a window
//! (an inner join); `co_group` sees both sides of each id and window, so it can
//! also report orders without a payment.

use runnel::prelude::*;
use serde::{Deserialize, Serialize};
use std::time::Duration;

const MINUTE: i64 = 60_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Order {
    id: u32,
    item: String,
    at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Payment {
    order: u32,
    amount: u32,
    at: i64,
}

fn orders() -> Vec<Order> {
    let o = |id, item: &str, minute: i64| Order {
        id,
        item: item.into(),
        at: minute * MINUTE,
    };
    vec![
        o(1, "book", 1),
        o(2, "lamp", 3),
        o(3, "desk", 12),
        o(4, "pen", 15),
    ]
}

fn payments() -> Vec<Payment> {
    let p = |order, amount, minute: i64| Payment {
        order,
        amount,
        at: minute * MINUTE,
    };
    vec![p(1, 25, 4), p(3, 310, 18), p(2, 40, 11)] // order 2 is paid in the next window
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = StreamExecutionEnvironment::get_execution_environment()?;
    let ten_minutes = TumblingEventTimeWindows::of(Duration::from_secs(600));
    let orders = env
        .from_elements(orders())
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_monotonous_timestamps()
                .with_timestamp_assigner(|o: &Order, _| o.at),
        );
    let payments = env
        .from_elements(payments())
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_monotonous_timestamps()
                .with_timestamp_assigner(|p: &Payment, _| p.at),
        );

    orders
        .join(&payments)
        .where_(|o: &Order| o.id)
        .equal_to(|p: &Payment| p.order)
        .window(ten_minutes)
        .apply(|o: Order, p: Payment| format!("order {} ({}) paid {}", o.id, o.item, p.amount))
        .print_with_identifier("joined");

    orders
        .co_group(&payments)
        .where_(|o: &Order| o.id)
        .equal_to(|p: &Payment| p.order)
        .window(ten_minutes)
        .apply(
            |o: &[Order], p: &[Payment], out: &mut Collector<'_, String>| {
                if p.is_empty() {
                    for order in o {
                        out.collect(format!(
                            "order {} ({}) unpaid in its window",
                            order.id, order.item
                        ));
                    }
                }
            },
        )
        .print_with_identifier("unpaid");
    env.execute("Window Join")?;
    Ok(())
}
