//! One module per command; [`dispatch`] routes a parsed command line to it.
//!
//! Every command returns the process exit code, or an error that `main` prints
//! as `error: ...` with exit code 1.

mod cluster;
mod config;
mod control;
mod explain;
mod info;
mod rest_control;
mod run;
mod submit;

use crate::args::Command;
use anyhow::Result;
use std::process::ExitCode;

/// Runs `command`.
pub(crate) fn dispatch(command: Command) -> Result<ExitCode> {
    match command {
        Command::Run(args) => match &args.jobmanager {
            Some(jm) => submit::submit(&args, jm),
            None => run::run(&args),
        },
        Command::Explain(args) => explain::explain(&args.job, args.json),
        Command::Info(job) => info::info(&job),
        Command::Config(args) => config::config(&args),
        Command::List(args) => match &args.target.jobmanager {
            Some(jm) => rest_control::list(&args.target, jm),
            None => control::list(),
        },
        Command::Savepoint(args) => match &args.target.jobmanager {
            Some(jm) => rest_control::savepoint(
                &args.target,
                jm,
                &args.job_id,
                path_text(args.target_directory.as_deref()),
                false,
            ),
            None => control::savepoint(&args),
        },
        Command::Stop(args) => match &args.target.jobmanager {
            Some(jm) => rest_control::savepoint(
                &args.target,
                jm,
                &args.job_id,
                path_text(args.savepoint_path.as_deref()),
                true,
            ),
            None => control::stop(&args),
        },
        Command::Jobmanager(args) => cluster::jobmanager(&args),
        Command::Taskmanager(args) => cluster::taskmanager(&args),
        Command::Cancel(args) => match &args.target.jobmanager {
            Some(jm) => rest_control::cancel(&args.target, jm, &args.job_id),
            None => control::cancel(&args.job_id),
        },
    }
}

/// A directory as the REST API takes it (the JobManager resolves it).
fn path_text(dir: Option<&std::path::Path>) -> Option<String> {
    dir.map(|d| {
        std::path::absolute(d)
            .unwrap_or_else(|_| d.to_path_buf())
            .display()
            .to_string()
    })
}
