//! One module per command; [`dispatch`] routes a parsed command line to it.
//!
//! Every command returns the process exit code, or an error that `main` prints
//! as `error: ...` with exit code 1.

mod config;
mod control;
mod explain;
mod info;
mod run;

use crate::args::Command;
use anyhow::Result;
use std::process::ExitCode;

/// Runs `command`.
pub(crate) fn dispatch(command: Command) -> Result<ExitCode> {
    match command {
        Command::Run(args) => run::run(&args),
        Command::Explain(args) => explain::explain(&args.job, args.json),
        Command::Info(job) => info::info(&job),
        Command::Config(args) => config::config(&args),
        Command::List => control::list(),
        Command::Savepoint(args) => control::savepoint(&args),
        Command::Stop(args) => control::stop(&args),
        Command::Cancel(args) => control::cancel(&args.job_id),
    }
}
