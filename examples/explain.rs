//! The three graphs of the seeds' example job, printed without running it:
//! source (p=1) → flat_map (p=2) → key_by → reduce (p=2) → sink (p=2) gives three
//! JobGraph vertices (source | flat_map | reduce→sink) and five subtasks.
//!
//! ```text
//! cargo run --example explain            # text
//! cargo run --example explain -- --json  # JSON
//! ```

use runnel::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = StreamExecutionEnvironment::get_execution_environment()?;
    env.from_elements(vec!["to be or not to be".to_string()])
        .set_parallelism(1)
        .flat_map(|line: String, out: &mut Collector<'_, (String, u64)>| {
            for w in line.split(' ') {
                out.collect((w.to_string(), 1));
            }
        })
        .set_parallelism(2)
        .key_by(|(w, _)| w.clone())
        .reduce(|a, b| (a.0, a.1 + b.1))
        .set_parallelism(2)
        .print()
        .set_parallelism(2);
    let plan = env.explain("Seeds Example")?;
    if std::env::args().any(|a| a == "--json") {
        println!("{}", plan.to_json());
    } else {
        print!("{plan}");
    }
    Ok(())
}
