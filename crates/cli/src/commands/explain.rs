//! `runnel explain`: run the job binary in explain mode, where its `execute`
//! prints the plan (StreamGraph, JobGraph, ExecutionGraph) and exits instead of
//! running the job.

use crate::args::JobOptions;
use crate::job::{self, Mode};
use crate::report;
use anyhow::{Result, bail};
use std::process::{ExitCode, Stdio};

/// The first line of a text plan (`runnel_plan::Plan`'s `Display`).
const TEXT_PLAN_START: &str = "== StreamGraph";
/// The first line of a JSON plan (`Plan::to_json` pretty-prints an object, so
/// only the outermost braces stand at the start of a line).
const JSON_PLAN_START: &str = "{";

/// Prints the plan of the job binary: the plan on standard output, anything the
/// job printed before it on standard error. Fails if the job fails or prints no
/// plan.
pub(crate) fn explain(options: &JobOptions, json: bool) -> Result<ExitCode> {
    let (before, plan) = plan(options, json)?;
    report::write_stderr(before.as_bytes())?;
    report::write_stdout(plan.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// Runs the job binary in explain mode: what it printed before its plan, and
/// the plan (JSON with `json`).
pub(crate) fn plan(options: &JobOptions, json: bool) -> Result<(String, String)> {
    let mode = if json {
        Mode::ExplainJson
    } else {
        Mode::Explain
    };
    let mut command = job::command(options, mode)?;
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    job::survive_interrupts();
    let child = command
        .spawn()
        .map_err(|e| job::spawn_error(e, options.job()))?;
    let output = child.wait_with_output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let job = options.job().display();
    if !output.status.success() {
        report::write_stderr(stdout.as_bytes())?;
        bail!(
            "job binary {job} {} instead of printing its plan",
            job::describe(output.status)
        );
    }
    let Some((before, plan)) = split_plan(&stdout, json) else {
        report::write_stderr(stdout.as_bytes())?;
        let printed = if stdout.trim().is_empty() {
            "printed nothing"
        } else {
            "printed no plan (its output is above)"
        };
        bail!(
            "job binary {job} {printed}: a job must create its environment with \
             StreamExecutionEnvironment::get_execution_environment() and call execute()"
        );
    };
    Ok((before.to_string(), plan.to_string()))
}

/// Splits the job's standard output into what it printed before the plan and
/// the plan itself (which `execute` prints last, then exits).
fn split_plan(stdout: &str, json: bool) -> Option<(&str, &str)> {
    let is_start = |line: &str| {
        if json {
            line.trim_end() == JSON_PLAN_START
        } else {
            line.starts_with(TEXT_PLAN_START)
        }
    };
    let mut start = None;
    let mut offset = 0;
    for line in stdout.split_inclusive('\n') {
        if is_start(line) {
            start = Some(offset);
        }
        offset += line.len();
    }
    start.map(|at| stdout.split_at(at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_output_before_the_plan_is_separated() {
        let out = "PARALLELISM 2\n{\n  \"a\": {\n    \"b\": 1\n  }\n}\n";
        assert_eq!(
            split_plan(out, true),
            Some(("PARALLELISM 2\n", "{\n  \"a\": {\n    \"b\": 1\n  }\n}\n"))
        );
        let out = "hello\n== StreamGraph of `j`: 1 operators ==\n== JobGraph ==\n";
        assert_eq!(
            split_plan(out, false),
            Some((
                "hello\n",
                "== StreamGraph of `j`: 1 operators ==\n== JobGraph ==\n"
            ))
        );
        assert_eq!(split_plan("", false), None);
        assert_eq!(split_plan("1> (a, 1)\n", true), None);
        assert_eq!(split_plan("1> (a, 1)\n", false), None);
    }
}
