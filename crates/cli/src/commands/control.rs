//! `runnel list`, `savepoint`, `stop` and `cancel`: talking to jobs that
//! `runnel run` started on this machine, through their registration in the jobs
//! directory (`RUNNEL_JOBS_DIR`, else `runnel-jobs` in the temporary directory).

use crate::args::{SavepointArgs, StopArgs};
use anyhow::{Result, anyhow};
use runnel_api::control::{ControlRequest, jobs_dir, list_jobs, send_request};
use std::process::ExitCode;
use std::time::Duration;

/// How long a savepoint may take before the command gives up waiting.
const TIMEOUT: Duration = Duration::from_secs(600);

/// Prints the running jobs: id, process id, name.
pub(crate) fn list() -> Result<ExitCode> {
    let dir = jobs_dir();
    let jobs = list_jobs(&dir).map_err(|e| anyhow!("cannot read {}: {e}", dir.display()))?;
    if jobs.is_empty() {
        println!("No running jobs.");
    }
    for job in jobs {
        println!("{}  pid {}  {}", job.id, job.pid, job.name);
    }
    Ok(ExitCode::SUCCESS)
}

fn request(job_id: &str, request: ControlRequest) -> Result<String> {
    send_request(&jobs_dir(), job_id, &request, TIMEOUT).map_err(|e| anyhow!(e))
}

/// Takes a savepoint and prints its path.
pub(crate) fn savepoint(args: &SavepointArgs) -> Result<ExitCode> {
    let location = request(
        &args.job_id,
        ControlRequest::Savepoint(absolute(args.target_directory.as_deref())?),
    )?;
    println!("Savepoint completed. Path: {location}");
    Ok(ExitCode::SUCCESS)
}

/// Stops the job with a savepoint and prints its path.
pub(crate) fn stop(args: &StopArgs) -> Result<ExitCode> {
    let location = request(
        &args.job_id,
        ControlRequest::Stop(absolute(args.savepoint_path.as_deref())?),
    )?;
    println!("Savepoint completed. Path: {location}");
    Ok(ExitCode::SUCCESS)
}

/// Cancels the job.
pub(crate) fn cancel(job_id: &str) -> Result<ExitCode> {
    request(job_id, ControlRequest::Cancel)?;
    println!("Cancelled job {job_id}.");
    Ok(ExitCode::SUCCESS)
}

/// The job runs in another directory: hand it an absolute path.
fn absolute(dir: Option<&std::path::Path>) -> Result<Option<std::path::PathBuf>> {
    dir.map(|d| std::path::absolute(d).map_err(|e| anyhow!("cannot resolve {}: {e}", d.display())))
        .transpose()
}
