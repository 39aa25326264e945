//! The `runnel` command line.
//!
//! A Runnel job is a Rust binary that links Runnel, gets its environment with
//! `StreamExecutionEnvironment::get_execution_environment()` and calls
//! `env.execute(name)` (design A7: closures cannot be shipped, so the job's own
//! binary is what runs). The CLI therefore never loads user code: it validates its
//! arguments and the configuration file, then **launches the job binary as a child
//! process**, passing settings through environment variables that the job's
//! environment reads:
//!
//! | variable                          | set from                      | meaning                                   |
//! |-----------------------------------|-------------------------------|-------------------------------------------|
//! | `RUNNEL_PARALLELISM`              | `-p N`                        | command-line parallelism                  |
//! | `RUNNEL_CONFIG`                   | `-c FILE`                     | path of the YAML configuration file       |
//! | `RUNNEL_EXECUTION_MODE`           | the command                   | `local`, `explain` or `explain-json`      |
//! | `RUNNEL_SAVEPOINT_PATH`           | `run -s PATH`                 | savepoint to start from                   |
//! | `RUNNEL_ALLOW_NON_RESTORED_STATE` | `--allow-non-restored-state`  | drop state of removed operators           |
//! | `RUNNEL_JOBS_DIR`                 | `run`                         | where the running job registers itself    |
//!
//! Commands: `run` (run a job, exit with its exit code), `explain` (print its
//! StreamGraph, JobGraph and ExecutionGraph without running it), `info` (the plan
//! as JSON, like `flink info`), `config` (list the configuration keys or check
//! a file), and, for jobs `run` started on this machine, `list`, `savepoint`,
//! `stop` (with a savepoint) and `cancel`, which talk to the job through its
//! registration in the jobs directory.
//!
//! This crate must stay a **thin process launcher**: everything about building,
//! planning and running jobs belongs to the job binary and the crates it links.
//! Each command is one module under `commands/`; cluster commands
//! (`jobmanager`, `taskmanager`, a `--jobmanager` address for `run`) are meant to
//! be added the same way.

mod args;
mod commands;
mod job;
mod report;

use args::Cli;
use std::ffi::OsString;
use std::process::ExitCode;

/// Entry point of the `runnel` binary: parses the command line, runs the command
/// and returns its exit code (`1` after printing `error: ...` for a failure, `2`
/// for a usage error, the job's own code for `run`).
pub fn main() -> ExitCode {
    run_from(std::env::args_os())
}

/// Runs the CLI on explicit arguments (the first is the program name).
fn run_from<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::parse_args(args) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version are "errors" with exit code 0 in clap.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    match commands::dispatch(cli.command) {
        Ok(code) => code,
        Err(e) => {
            report::print_error(&e);
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_exit_with_2_and_help_with_0() {
        assert_eq!(run_from(["runnel", "frobnicate"]), ExitCode::from(2));
        assert_eq!(
            run_from(["runnel", "run", "-p", "0", "job"]),
            ExitCode::from(2)
        );
        assert_eq!(run_from(["runnel", "--version"]), ExitCode::SUCCESS);
    }

    #[test]
    fn command_errors_exit_with_1() {
        assert_eq!(
            run_from(["runnel", "run", "/nonexistent/runnel/job"]),
            ExitCode::FAILURE
        );
        assert_eq!(
            run_from(["runnel", "config", "--check", "/nonexistent/runnel/c.yaml"]),
            ExitCode::FAILURE
        );
    }
}
