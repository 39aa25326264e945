//! `runnel run`: launch the job binary, wait for it, exit with its exit code.

use crate::args::RunArgs;
use crate::job::{self, Mode};
use crate::report;
use anyhow::Result;
use runnel_api::control::jobs_dir;
use runnel_api::{ENV_ALLOW_NON_RESTORED_STATE, ENV_JOBS_DIR, ENV_SAVEPOINT_PATH};
use std::process::ExitCode;

/// Runs the job binary in the foreground (standard streams inherited) and returns
/// its exit code (128 + N if it was killed by signal N). The job registers
/// itself in the jobs directory, so `runnel savepoint`, `stop`, `cancel` and
/// `list` find it.
pub(crate) fn run(args: &RunArgs) -> Result<ExitCode> {
    let options = &args.job;
    let mut command = job::command(options, Mode::Local)?;
    command.env(ENV_JOBS_DIR, jobs_dir());
    if let Some(savepoint) = &args.from_savepoint {
        if !savepoint.join("_metadata").is_file() {
            anyhow::bail!(
                "{} is not a savepoint or checkpoint directory (it has no _metadata)",
                savepoint.display()
            );
        }
        command.env(ENV_SAVEPOINT_PATH, std::path::absolute(savepoint)?);
        if args.allow_non_restored_state {
            command.env(ENV_ALLOW_NON_RESTORED_STATE, "true");
        }
    }
    job::survive_interrupts();
    let status = command
        .status()
        .map_err(|e| job::spawn_error(e, options.job()))?;
    if status.code().is_none() {
        let note = format!(
            "runnel: job binary {} {}\n",
            options.job().display(),
            job::describe(status)
        );
        report::write_stderr(note.as_bytes())?;
    }
    Ok(ExitCode::from(job::exit_code(status)))
}
