//! `runnel-bench`: runs one anchor workload of `WORKLOADS.md` and prints its
//! `RESULT` line.
//!
//! ```text
//! cargo run --release -p runnel-bench -- <W1|W2|limit-W1|limit-W2> [--n <N>] [--parallelism <P>]
//! ```

use clap::Parser;
use runnel_bench::report::{Check, check, peak_rss_mb, result_line};
use runnel_bench::workloads::{self, Engine, Selection};
use std::process::ExitCode;

/// Runs one anchor workload and prints `RESULT engine=... workload=... ...`.
#[derive(Debug, Parser)]
#[command(name = "runnel-bench", version)]
struct Args {
    /// The workload: W1, W2, or limit-W1 / limit-W2 for the single-threaded
    /// physical-limit loops.
    workload: Selection,

    /// Number of input bids (default: the workload's default N of WORKLOADS.md §5).
    #[arg(long, value_parser = parse_count)]
    n: Option<u64>,

    /// Parallelism of every operator (limit loops always run on one thread).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    parallelism: u32,
}

/// A count, with optional `_` separators (`100_000_000`).
fn parse_count(s: &str) -> Result<u64, String> {
    s.replace('_', "")
        .parse()
        .map_err(|e| format!("`{s}` is not a count: {e}"))
}

fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    let selection = args.workload;
    let n = args.n.unwrap_or_else(|| selection.workload.default_n());
    let parallelism = match selection.engine {
        Engine::Runnel => args.parallelism,
        Engine::Limit => 1,
    };
    let m = workloads::run(selection, n, parallelism)?;
    let outcome = check(selection.workload.name(), n, m.totals);
    println!(
        "{}",
        result_line(selection, parallelism, n, &m, outcome, peak_rss_mb())
    );
    if let Check::Failed { expected } = outcome {
        eprintln!(
            "CHECK FAILED: expected records={} checksum={:016x}, got records={} checksum={:016x} \
             ({} n={n})",
            expected.records,
            expected.checksum,
            m.totals.records,
            m.totals.checksum,
            selection.workload.name(),
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
