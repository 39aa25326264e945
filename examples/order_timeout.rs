//! Orders not paid within 15 minutes go to a side output; paid orders to the main
//! output (the seeds' example), with event-time timers.
//!
//! ```text
//! cargo run --release --example order_timeout
//! ```
//!
//! Timestamps come from the events; watermarks allow 5 s of disorder. When an
//! order is created the function registers an event-time timer 15 minutes later;
//! payment deletes it. When the watermark passes the deadline, the timer fires
//! and the order is reported as timed out. At the end of the (bounded) input the
//! watermark jumps to +∞ and every pending deadline fires. A payment that arrives
//! before its order's timer fired, but after the deadline in event time, is late
//! too: the watermark may simply not have caught up yet.

use runnel::prelude::*;
use serde::{Deserialize, Serialize};
use std::time::Duration;

const FIFTEEN_MINUTES: i64 = 15 * 60 * 1000;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct OrderEvent {
    order: u32,
    kind: Kind,
    at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
enum Kind {
    Create,
    Pay,
}

#[derive(Clone)]
struct PaymentDeadline {
    timeouts: OutputTag<String>,
    deadline: Option<ValueState<i64>>,
}

impl KeyedProcessFunction<u32, OrderEvent, String> for PaymentDeadline {
    fn open(&mut self, ctx: &mut KeyedOpenContext<'_, u32>) -> Result<(), BoxError> {
        self.deadline = Some(ctx.get_state(&ValueStateDescriptor::new("payment-deadline"))?);
        Ok(())
    }

    fn process_element(
        &mut self,
        e: OrderEvent,
        ctx: &mut KeyedContext<'_, u32>,
        out: &mut Collector<'_, String>,
    ) -> Result<(), BoxError> {
        let deadline = self.deadline.expect("opened");
        match e.kind {
            Kind::Create => {
                let at = e.at + FIFTEEN_MINUTES;
                ctx.timer_service().register_event_time_timer(at);
                deadline.update(ctx, at)?;
            }
            Kind::Pay => {
                if let Some(at) = deadline.value(ctx)? {
                    ctx.timer_service().delete_event_time_timer(at);
                    deadline.clear(ctx)?;
                    // Decide by event time, not by whether the timer has fired yet:
                    // the watermark may lag behind a payment that is already late.
                    if e.at <= at {
                        out.collect(format!(
                            "order {} paid after {} s",
                            e.order,
                            (e.at - (at - FIFTEEN_MINUTES)) / 1000
                        ));
                    } else {
                        ctx.output(
                            &self.timeouts,
                            format!("order {} paid too late, at {}", e.order, e.at),
                        );
                    }
                }
            }
        }
        Ok(())
    }

    fn on_timer(
        &mut self,
        timestamp: i64,
        ctx: &mut KeyedContext<'_, u32>,
        _out: &mut Collector<'_, String>,
    ) -> Result<(), BoxError> {
        let order = *ctx.current_key();
        ctx.output(
            &self.timeouts,
            format!("order {order} not paid by {timestamp}"),
        );
        self.deadline.expect("opened").clear(ctx)?;
        Ok(())
    }
}

fn events() -> Vec<OrderEvent> {
    let minute = 60 * 1000;
    let e = |order, kind, at| OrderEvent { order, kind, at };
    vec![
        e(1, Kind::Create, 0),
        e(2, Kind::Create, minute),
        e(1, Kind::Pay, 5 * minute), // paid in time
        e(3, Kind::Create, 10 * minute),
        e(2, Kind::Pay, 20 * minute), // too late: its deadline passed at 16 min
        e(4, Kind::Create, 30 * minute),
        e(3, Kind::Pay, 24 * minute), // out of order but in time (deadline 25 min)
    ]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = StreamExecutionEnvironment::get_execution_environment()?;
    let timeouts = OutputTag::<String>::new("unpaid");
    let strategy = WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_secs(5))
        .with_timestamp_assigner(|e: &OrderEvent, _| e.at);
    let paid = env
        .from_elements(events())
        .assign_timestamps_and_watermarks(strategy)
        .key_by(|e| e.order)
        .process(PaymentDeadline {
            timeouts: timeouts.clone(),
            deadline: None,
        })
        .name("payment deadline");
    paid.print_with_identifier("paid");
    paid.get_side_output(&timeouts)
        .print_with_identifier("timeout");
    env.execute("Order Timeout")?;
    Ok(())
}
