//! Side outputs: one ProcessFunction splits a stream of orders into normal orders
//! (main output), large orders and invalid orders (two side outputs).
//!
//! ```text
//! cargo run --release --example side_outputs
//! ```

use runnel::prelude::*;

/// (order id, amount in cents)
type Order = (u32, i64);

#[derive(Clone)]
struct Triage {
    large: OutputTag<Order>,
    invalid: OutputTag<String>,
}

impl ProcessFunction<Order, Order> for Triage {
    fn process_element(
        &mut self,
        order: Order,
        ctx: &mut ProcessContext<'_>,
        out: &mut Collector<'_, Order>,
    ) -> Result<(), BoxError> {
        match order.1 {
            amount if amount <= 0 => ctx.output(
                &self.invalid,
                format!("order {} has amount {amount}", order.0),
            ),
            amount if amount >= 100_000 => ctx.output(&self.large, order),
            _ => out.collect(order),
        }
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = StreamExecutionEnvironment::get_execution_environment()?;
    let large = OutputTag::<Order>::new("large-orders");
    let invalid = OutputTag::<String>::new("invalid-orders");
    let orders = vec![
        (1, 2_500),
        (2, 250_000),
        (3, -10),
        (4, 9_900),
        (5, 100_000),
        (6, 0),
    ];

    let normal = env
        .from_elements(orders)
        .process(Triage {
            large: large.clone(),
            invalid: invalid.clone(),
        })
        .name("triage");
    normal.print_with_identifier("normal");
    normal
        .get_side_output(&large)
        .print_with_identifier("large");
    normal
        .get_side_output(&invalid)
        .print_with_identifier("invalid");
    env.execute("Side Outputs")?;
    Ok(())
}
