//! Three consecutive failed logins by the same user raise an alert (the seeds'
//! example), with a keyed `ListState` holding the current run of failures.
//!
//! ```text
//! cargo run --release --example failed_logins
//! ```

use runnel::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Login {
    user: String,
    ok: bool,
    at: i64,
}

#[derive(Clone, Default)]
struct ThreeFailures {
    failures: Option<ListState<i64>>,
}

impl KeyedProcessFunction<String, Login, String> for ThreeFailures {
    fn open(&mut self, ctx: &mut KeyedOpenContext<'_, String>) -> Result<(), BoxError> {
        self.failures =
            Some(ctx.get_list_state(&ListStateDescriptor::new("consecutive-failures"))?);
        Ok(())
    }

    fn process_element(
        &mut self,
        login: Login,
        ctx: &mut KeyedContext<'_, String>,
        out: &mut Collector<'_, String>,
    ) -> Result<(), BoxError> {
        let failures = self.failures.expect("opened");
        if login.ok {
            failures.clear(ctx)?;
            return Ok(());
        }
        failures.add(ctx, login.at)?;
        let run = failures.get(ctx)?;
        if run.len() >= 3 {
            out.collect(format!(
                "user {} failed to log in 3 times in a row (at {:?})",
                login.user, run
            ));
            failures.clear(ctx)?;
        }
        Ok(())
    }
}

fn logins() -> Vec<Login> {
    let l = |user: &str, ok, at| Login {
        user: user.to_string(),
        ok,
        at,
    };
    vec![
        l("ann", false, 1),
        l("bob", false, 2),
        l("ann", false, 3),
        l("bob", true, 4),
        l("ann", false, 5), // ann's third failure in a row: alert
        l("bob", false, 6),
        l("bob", false, 7),
        l("ann", true, 8),
        l("bob", true, 9), // bob never failed three times in a row
        l("cid", false, 10),
        l("cid", false, 11),
        l("cid", false, 12), // alert
    ]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = StreamExecutionEnvironment::get_execution_environment()?;
    env.set_parallelism(2);
    env.from_elements(logins())
        .key_by(|login| login.user.clone())
        .process(ThreeFailures::default())
        .name("three failures")
        .print();
    env.execute("Failed Logins")?;
    Ok(())
}
