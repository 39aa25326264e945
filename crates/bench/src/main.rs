//! `runnel-bench`: runs one anchor workload of `WORKLOADS.md` and prints its
//! `RESULT` line.
//!
//! ```text
//! cargo run --release -p runnel-bench -- <W1..W7|limit-W1..limit-W7> [--n <N>] [--parallelism <P>]
//!     [--checkpoint-interval-ms <MS>] [--checkpoint-mode <exactly-once|at-least-once|unaligned>]
//!     [--state-backend <heap|lsm>] [--checkpoint-dir <DIR>] [--incremental-checkpoints]
//!     [--inject-failures <K> --seed <S>] [--jobmanager <HOST:PORT>]
//! ```

use clap::Parser;
use runnel::config::StateBackendType;
use runnel_bench::report::{Check, check, peak_rss_mb, result_line};
use runnel_bench::workloads::{self, CheckpointMode, Engine, RunOptions, Selection};
use std::process::ExitCode;
use std::time::Duration;

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

    /// Take a checkpoint every MS milliseconds (none by default).
    #[arg(long, value_name = "MS")]
    checkpoint_interval_ms: Option<u64>,

    /// How barriers are handled.
    #[arg(long, default_value = "exactly-once")]
    checkpoint_mode: CheckpointMode,

    /// Where keyed state lives: heap, or lsm (the embedded on-disk backend).
    #[arg(long, default_value = "heap")]
    state_backend: String,

    /// Where checkpoints are written (default: in memory).
    #[arg(long, value_name = "DIR")]
    checkpoint_dir: Option<std::path::PathBuf>,

    /// Incremental checkpoints of LSM state (only new RocksDB files uploaded).
    #[arg(long)]
    incremental_checkpoints: bool,

    /// Make K tasks fail at random points (each followed by a restart from the
    /// latest checkpoint); the RESULT must still match §5.
    #[arg(long, value_name = "K", default_value_t = 0)]
    inject_failures: u32,

    /// Seed of the failure points.
    #[arg(long, value_name = "S", default_value_t = 0)]
    seed: u64,

    /// Run the workload as a job of the standalone cluster whose JobManager is
    /// at HOST:PORT (the bench submits itself; a TaskManager runs it)
    #[arg(long, value_name = "HOST:PORT")]
    jobmanager: Option<String>,

    /// Also write the RESULT line (and the check's outcome) to this file
    /// (used by cluster runs)
    #[arg(long, value_name = "FILE")]
    result_file: Option<std::path::PathBuf>,
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
    if let Some(jm) = &args.jobmanager {
        return runnel_bench::cluster::run(jm, parallelism, selection.workload.name());
    }
    if let Some(file) = &args.result_file {
        runnel_bench::spool::set(runnel_bench::cluster::spool_dir(file))?;
    }
    let options = RunOptions {
        checkpoint_interval: args.checkpoint_interval_ms.map(Duration::from_millis),
        checkpoint_mode: args.checkpoint_mode,
        checkpoint_dir: args.checkpoint_dir.clone(),
        incremental_checkpoints: args.incremental_checkpoints,
        state_backend: state_backend(&args.state_backend)?,
        inject_failures: args.inject_failures,
        seed: args.seed,
    };
    let m = workloads::run(selection, n, parallelism, &options)?;
    if runnel::api::runs_as_task_executor() {
        // The job master's process reports the job's result.
        return Ok(ExitCode::SUCCESS);
    }
    let outcome = check(selection.workload.name(), n, m.totals);
    let mut line = result_line(selection, parallelism, n, &m, outcome, peak_rss_mb());
    if options != RunOptions::default() {
        line.push_str(&format!(
            " restarts={} checkpoints={}",
            m.recovery.restarts, m.recovery.checkpoints
        ));
    }
    println!("{line}");
    let failure = match outcome {
        Check::Failed { expected } => Some(format!(
            "expected records={} checksum={:016x}, got records={} checksum={:016x} ({} n={n})",
            expected.records,
            expected.checksum,
            m.totals.records,
            m.totals.checksum,
            selection.workload.name(),
        )),
        _ => None,
    };
    if let Some(file) = &args.result_file {
        runnel_bench::cluster::write_result(file, &line, failure.as_deref())?;
    }
    if let Some(failure) = failure {
        eprintln!("CHECK FAILED: {failure}");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// `--state-backend`.
fn state_backend(name: &str) -> anyhow::Result<StateBackendType> {
    workloads::state_backend_from_name(name).map_err(anyhow::Error::msg)
}
