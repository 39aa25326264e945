//! `/jobs`, `/jobs/overview`, `/jobs/:jobid` (GET and PATCH), its plan and
//! exceptions.

use super::{job, ok, param};
use crate::view::jobs as view;
use crate::view::{exceptions as exceptions_view, plan as plan_view};
use crate::{Dispatcher, JobManagerError};
use runnel_rest::{Request, Response};

pub(super) fn list(d: &Dispatcher, _: &Request) -> Result<Response, JobManagerError> {
    ok(&view::jobs_list(&d.jobs()))
}

pub(super) fn overview(d: &Dispatcher, _: &Request) -> Result<Response, JobManagerError> {
    ok(&view::jobs_overview(&d.jobs(), d.now()))
}

pub(super) fn details(d: &Dispatcher, req: &Request) -> Result<Response, JobManagerError> {
    ok(&view::job_details(&job(d, req)?, d.now()))
}

pub(super) fn plan(d: &Dispatcher, req: &Request) -> Result<Response, JobManagerError> {
    ok(&plan_view::plan_info(&job(d, req)?))
}

/// `PATCH /jobs/:jobid?mode=cancel`: `202` once cancellation is requested
/// (also for a job that has already ended: there is nothing left to do).
pub(super) fn cancel(d: &Dispatcher, req: &Request) -> Result<Response, JobManagerError> {
    match req.query("mode") {
        None | Some("cancel") => {}
        Some(other) => {
            return Err(JobManagerError::bad_request(format!(
                "unknown mode {other}; expected cancel"
            )));
        }
    }
    d.cancel(param(req, "jobid"))?;
    Ok(Response::json(202, &serde_json::json!({})))
}

/// `GET /jobs/:jobid/exceptions[?maxExceptions=n]`.
pub(super) fn exceptions(d: &Dispatcher, req: &Request) -> Result<Response, JobManagerError> {
    let max = match req.query("maxExceptions") {
        None => None,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n >= 1 => Some(n),
            _ => {
                return Err(JobManagerError::bad_request(format!(
                    "invalid maxExceptions {v:?}: expected a positive integer"
                )));
            }
        },
    };
    ok(&exceptions_view::exceptions(&job(d, req)?, max))
}
