//! The cluster's job protocol (`docs/design/cluster-jobs.md`): `POST /jobs`
//! (submission), `GET /blobs/:hash`, and what an attempt's processes post
//! and ask: `POST /jobs/:jobid/attempts/:attempt/status`,
//! `POST /jobs/:jobid/attempts/:attempt/savepoints/:requestid`, and
//! `POST`/`GET /jobs/:jobid/attempts/:attempt/leader`.
//!
//! A request of a superseded attempt, or of a job that has ended, is `410`
//! (the process cancels its job and exits); an unknown job `404`.

use super::{ok, param};
use crate::cluster::{LeaderAddress, SavepointResult, Submission};
use crate::{Dispatcher, JobManagerError};
use runnel_rest::{Request, Response};
use runnel_runtime::status::JobStatus;

/// `POST /jobs?slots=N&name=...`: `202 {"jobid": ID}`.
pub(super) fn submit(d: &Dispatcher, req: &Request) -> Result<Response, JobManagerError> {
    let submission = Submission::from_query(req.query_pairs())?;
    let job_id = d.submit(submission, req.body())?;
    Ok(Response::json(202, &serde_json::json!({ "jobid": job_id })))
}

/// `GET /blobs/:hash`: the bytes, `application/octet-stream`.
pub(super) fn blob(d: &Dispatcher, req: &Request) -> Result<Response, JobManagerError> {
    let bytes = d.blob(param(req, "hash"))?;
    Ok(Response::bytes(200, "application/octet-stream", bytes))
}

/// `POST /jobs/:jobid/attempts/:attempt/status`: `{"commands": [...]}`.
pub(super) fn status(d: &Dispatcher, req: &Request) -> Result<Response, JobManagerError> {
    let attempt = attempt(req)?;
    let status: JobStatus = req.json().map_err(|e| {
        JobManagerError::bad_request(format!("invalid body of POST {}: {e}", req.path()))
    })?;
    let commands = d.report_attempt(param(req, "jobid"), attempt, status)?;
    ok(&serde_json::json!({ "commands": commands }))
}

/// `POST /jobs/:jobid/attempts/:attempt/savepoints/:requestid` with
/// `{"location"}` or `{"error"}`: `200 {}`.
pub(super) fn savepoint(d: &Dispatcher, req: &Request) -> Result<Response, JobManagerError> {
    let attempt = attempt(req)?;
    let result = req
        .json::<SavepointResult>()
        .map_err(|e| {
            JobManagerError::bad_request(format!("invalid body of POST {}: {e}", req.path()))
        })?
        .into_result()?;
    d.complete_savepoint(
        param(req, "jobid"),
        attempt,
        param(req, "requestid"),
        result,
    )?;
    ok(&serde_json::json!({}))
}

/// `POST /jobs/:jobid/attempts/:attempt/leader` with `{"control": "HOST:PORT"}`:
/// `200 {}`.
pub(super) fn set_leader(d: &Dispatcher, req: &Request) -> Result<Response, JobManagerError> {
    let attempt = attempt(req)?;
    let control = req
        .json::<LeaderAddress>()
        .map_err(|e| {
            JobManagerError::bad_request(format!("invalid body of POST {}: {e}", req.path()))
        })?
        .socket_address()?;
    d.set_attempt_leader(param(req, "jobid"), attempt, control)?;
    ok(&serde_json::json!({}))
}

/// `GET /jobs/:jobid/attempts/:attempt/leader`: `{"control": "HOST:PORT"}`,
/// `404` until process 0 posted it.
pub(super) fn leader(d: &Dispatcher, req: &Request) -> Result<Response, JobManagerError> {
    let attempt = attempt(req)?;
    let control = d.attempt_leader(param(req, "jobid"), attempt)?;
    ok(&LeaderAddress {
        control: control.to_string(),
    })
}

fn attempt(req: &Request) -> Result<u32, JobManagerError> {
    let raw = param(req, "attempt");
    raw.parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(|| {
        JobManagerError::bad_request(format!(
            "invalid attempt {raw:?}: expected a positive integer"
        ))
    })
}
