//! Page views (PV) and unique visitors (UV) per page, from the seeds' e-commerce
//! example: a stream of (user, page) clicks, keyed by page.
//!
//! ```text
//! cargo run --release --example pv_uv
//! ```
//!
//! `key_by(page)` sends every click on a page to the same parallel instance, so a
//! rich function can keep that page's counters in a map of its own and emit the
//! updated PV and UV on every click. (Keyed state, which makes this state part of
//! checkpoints, arrives with the state backends.)

use runnel::prelude::*;
use std::collections::{HashMap, HashSet};

/// One click: (user, page).
type Click = (String, String);

/// Per page: views and the set of distinct visitors.
#[derive(Clone, Default)]
struct PvUv {
    pages: HashMap<String, (u64, HashSet<String>)>,
}

impl ProcessFunction<Click, (String, u64, u64)> for PvUv {
    fn process_element(
        &mut self,
        (user, page): Click,
        _ctx: &mut ProcessContext<'_>,
        out: &mut Collector<'_, (String, u64, u64)>,
    ) -> Result<(), BoxError> {
        let (pv, visitors) = self.pages.entry(page.clone()).or_default();
        *pv += 1;
        visitors.insert(user);
        out.collect((page, *pv, visitors.len() as u64));
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
