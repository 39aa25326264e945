//! Page views (PV) and unique visitors (UV) per page, from the seeds' e-commerce
//! example: a stream of (user, page) clicks, keyed by page.
//!
//! ```text
//! cargo run --release --example pv_uv
//! ```
//!
//! `key_by(page)` sends every click on a page to the same parallel instance; the
//! keyed process function keeps the page's view count in a `ValueState` and its
//! visitors in a `MapState`, both scoped to the page, and emits the updated PV and
//! UV on every click. (`pv_uv_windows` computes them per minute of event time.)

use runnel::prelude::*;

/// One click: (user, page).
type Click = (String, String);

#[derive(Clone, Default)]
struct PvUv {
    views: Option<ValueState<u64>>,
    visitors: Option<MapState<String, ()>>,
}

impl KeyedProcessFunction<String, Click, (String, u64, u64)> for PvUv {
    fn open(&mut self, ctx: &mut KeyedOpenContext<'_, String>) -> Result<(), BoxError> {
        self.views = Some(ctx.get_state(&ValueStateDescriptor::new("views"))?);
        self.visitors = Some(ctx.get_map_state(&MapStateDescriptor::new("visitors"))?);
        Ok(())
    }

    fn process_element(
        &mut self,
        (user, page): Click,
        ctx: &mut KeyedContext<'_, String>,
        out: &mut Collector<'_, (String, u64, u64)>,
    ) -> Result<(), BoxError> {
        let (views, visitors) = (self.views.expect("opened"), self.visitors.expect("opened"));
        let pv = views.value(ctx)?.unwrap_or(0) + 1;
        views.update(ctx, pv)?;
        visitors.put(ctx, user, ())?;
        let uv = visitors.keys(ctx)?.len() as u64;
        out.collect((page, pv, uv));
        Ok(())
    }
}

/// A deterministic click log: 5 users browsing 3 pages.
fn clicks() -> Vec<Click> {
    let users = ["ann", "bob", "cid", "dee", "eve"];
    let pages = ["/home", "/item/42", "/cart"];
    (0..40u32)
        .map(|i| {
            (
                users[(i * 7 % 5) as usize].to_string(),
                pages[((i + i / 4) % 3) as usize].to_string(),
            )
        })
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = StreamExecutionEnvironment::get_execution_environment()?;
    env.set_parallelism(2);
    env.from_elements(clicks())
        .name("Source: clicks")
        .key_by(|(_, page)| page.clone())
        .process(PvUv::default())
        .name("pv-uv")
        .print_with_identifier("pv,uv");
    env.execute("PV/UV")?;
    Ok(())
}
