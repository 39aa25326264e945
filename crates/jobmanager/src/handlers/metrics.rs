//! Metrics and backpressure: `/jobs/:jobid/metrics`,
//! `/jobs/:jobid/vertices/:vertexid/{backpressure,metrics}` and `/metrics`.

use super::{job, ok, vertex};
use crate::view::metrics as view;
use crate::{Dispatcher, JobManagerError};
use runnel_rest::{Request, Response};

/// The content type of the Prometheus text exposition format.
const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";

pub(super) fn job_metrics(d: &Dispatcher, req: &Request) -> Result<Response, JobManagerError> {
    let all = view::job_metrics(&job(d, req)?, d.now())
        .into_iter()
        .map(|(name, v)| (name.to_string(), v))
        .collect();
    ok(&view::select(all, req.query("get")))
}

pub(super) fn vertex_metrics(d: &Dispatcher, req: &Request) -> Result<Response, JobManagerError> {
    let job = job(d, req)?;
    let all = view::vertex_metrics(vertex(&job, req)?);
    ok(&view::select(all, req.query("get")))
}

pub(super) fn backpressure(d: &Dispatcher, req: &Request) -> Result<Response, JobManagerError> {
    let job = job(d, req)?;
    ok(&view::backpressure(vertex(&job, req)?, d.now()))
}

pub(super) fn prometheus(d: &Dispatcher, _: &Request) -> Result<Response, JobManagerError> {
    Ok(Response::bytes(
        200,
        PROMETHEUS,
        crate::scrape(d).into_bytes(),
    ))
}
