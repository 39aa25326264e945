//! `runnel info`: the job's plan as JSON, like `flink info`.

use super::explain;
use crate::args::JobOptions;
use anyhow::Result;
use std::process::ExitCode;

/// Prints the plan of the job binary as JSON (the same as `explain --json`).
pub(crate) fn info(options: &JobOptions) -> Result<ExitCode> {
    explain::explain(options, true)
}
