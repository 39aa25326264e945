//! `runnel run`: launch the job binary, wait for it, exit with its exit code.

use crate::args::JobOptions;
use crate::job::{self, Mode};
use crate::report;
use anyhow::Result;
use std::process::ExitCode;

/// Runs the job binary in the foreground (standard streams inherited) and returns
/// its exit code (128 + N if it was killed by signal N).
pub(crate) fn run(options: &JobOptions) -> Result<ExitCode> {
    let mut command = job::command(options, Mode::Local)?;
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
