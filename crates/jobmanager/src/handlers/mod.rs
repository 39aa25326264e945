//! The REST API's and the RPC endpoint's routes: thin handlers that look a job up in the
//! [`Dispatcher`], take a snapshot, map it with `view` and answer.
//!
//! Every handler answers errors in Flink's shape, `{"errors": ["…"]}`: an
//! unknown job, vertex, request or TaskManager is `404` naming the id; a query
//! or body that cannot be used is `400` naming the problem. Unknown paths
//! (`404`) and wrong methods (`405` with `Allow`) are the router's.

mod checkpoints;
mod cluster;
mod cluster_jobs;
mod jobs;
mod metrics;
mod registration;

use crate::{Dispatcher, JobManagerError};
use runnel_rest::{Request, Response, Router};
use runnel_runtime::status::{JobStatus, VertexStatus};
use std::sync::Arc;

/// The REST API's routes over `dispatcher` (without the web UI's files; the
/// [`JobManagerEndpoint`](crate::JobManagerEndpoint) adds them):
///
/// | Method | Path |
/// |---|---|
/// | GET | `/config`, `/overview`, `/taskmanagers`, `/taskmanagers/:id`, `/metrics` |
/// | GET | `/jobs`, `/jobs/overview`, `/jobs/:jobid`, `…/plan`, `…/exceptions`, `…/checkpoints`, `…/metrics` |
/// | POST | `/jobs` (submission) |
/// | PATCH | `/jobs/:jobid?mode=cancel` |
/// | POST | `/jobs/:jobid/savepoints`, `/jobs/:jobid/stop` |
/// | GET | `/jobs/:jobid/savepoints/:triggerid` |
/// | GET | `/jobs/:jobid/vertices/:vertexid/backpressure`, `…/metrics` |
///
/// The cluster-internal routes are [`rpc_routes`]'.
///
/// ```
/// use runnel_jobmanager::{Dispatcher, routes};
/// use runnel_rest::{Method, Request};
/// use std::sync::Arc;
///
/// let router = routes(Arc::new(Dispatcher::new()));
/// let r = router.handle(Request::new(Method::Get, "/jobs/0123/plan").unwrap());
/// assert_eq!(r.status(), 404);
/// assert_eq!(r.body(), br#"{"errors":["Job 0123 not found."]}"#);
/// ```
pub fn routes(dispatcher: Arc<Dispatcher>) -> Router {
    rest(Router::new(), &dispatcher)
}

/// The RPC endpoint's routes over `dispatcher`: what TaskManagers and the
/// processes of cluster jobs call, served on the JobManager's RPC port
/// (`jobmanager.rpc.port`), not with the REST API:
///
/// | Method | Path |
/// |---|---|
/// | POST | `/taskmanagers` (registration), `/taskmanagers/:id/heartbeat` |
/// | GET | `/blobs/:hash` |
/// | POST | `/jobs/:jobid/attempts/:attempt/status`, `…/savepoints/:requestid` |
/// | POST, GET | `/jobs/:jobid/attempts/:attempt/leader` |
///
/// ```
/// use runnel_jobmanager::{Dispatcher, rpc_routes};
/// use runnel_rest::{Method, Request};
/// use std::sync::Arc;
///
/// let router = rpc_routes(Arc::new(Dispatcher::new()));
/// let r = router.handle(Request::new(Method::Get, "/jobs").unwrap());
/// assert_eq!(r.status(), 404);
/// ```
pub fn rpc_routes(dispatcher: Arc<Dispatcher>) -> Router {
    rpc(Router::new(), &dispatcher)
}

/// Both [`routes`] and [`rpc_routes`] on one router, for tests that drive a
/// whole cluster through it.
#[cfg(test)]
pub(crate) fn all_routes(dispatcher: Arc<Dispatcher>) -> Router {
    rpc(rest(Router::new(), &dispatcher), &dispatcher)
}

fn rest(router: Router, d: &Arc<Dispatcher>) -> Router {
    router
        .get("/config", with(d, cluster::config))
        .get("/overview", with(d, cluster::overview))
        .get("/taskmanagers", with(d, cluster::task_managers))
        .get(
            "/taskmanagers/:taskmanagerid",
            with(d, cluster::task_manager),
        )
        .get("/metrics", with(d, metrics::prometheus))
        .get("/jobs", with(d, jobs::list))
        .post("/jobs", with(d, cluster_jobs::submit))
        .get("/jobs/overview", with(d, jobs::overview))
        .get("/jobs/:jobid", with(d, jobs::details))
        .patch("/jobs/:jobid", with(d, jobs::cancel))
        .get("/jobs/:jobid/plan", with(d, jobs::plan))
        .get("/jobs/:jobid/exceptions", with(d, jobs::exceptions))
        .get("/jobs/:jobid/checkpoints", with(d, checkpoints::statistics))
        .post("/jobs/:jobid/savepoints", with(d, checkpoints::trigger))
        .get(
            "/jobs/:jobid/savepoints/:triggerid",
            with(d, checkpoints::trigger_status),
        )
        .post("/jobs/:jobid/stop", with(d, checkpoints::stop))
        .get("/jobs/:jobid/metrics", with(d, metrics::job_metrics))
        .get(
            "/jobs/:jobid/vertices/:vertexid/backpressure",
            with(d, metrics::backpressure),
        )
        .get(
            "/jobs/:jobid/vertices/:vertexid/metrics",
            with(d, metrics::vertex_metrics),
        )
}

fn rpc(router: Router, d: &Arc<Dispatcher>) -> Router {
    router
        .post("/taskmanagers", with(d, registration::register))
        .post(
            "/taskmanagers/:taskmanagerid/heartbeat",
            with(d, registration::heartbeat),
        )
        .get("/blobs/:hash", with(d, cluster_jobs::blob))
        .post(
            "/jobs/:jobid/attempts/:attempt/status",
            with(d, cluster_jobs::status),
        )
        .post(
            "/jobs/:jobid/attempts/:attempt/savepoints/:requestid",
            with(d, cluster_jobs::savepoint),
        )
        .post(
            "/jobs/:jobid/attempts/:attempt/leader",
            with(d, cluster_jobs::set_leader),
        )
        .get(
            "/jobs/:jobid/attempts/:attempt/leader",
            with(d, cluster_jobs::leader),
        )
}

type Handler = fn(&Dispatcher, &Request) -> Result<Response, JobManagerError>;

/// `handler` as a route: sharing `dispatcher`, its errors as responses.
fn with(
    dispatcher: &Arc<Dispatcher>,
    handler: Handler,
) -> impl Fn(&Request) -> Response + Send + Sync + 'static {
    let dispatcher = Arc::clone(dispatcher);
    move |req: &Request| handler(&dispatcher, req).unwrap_or_else(Response::from)
}

/// A path parameter (the router only calls a handler with all of its route's).
fn param<'a>(req: &'a Request, name: &str) -> &'a str {
    req.param(name).unwrap_or_default()
}

/// The job of the `:jobid` parameter.
fn job(d: &Dispatcher, req: &Request) -> Result<JobStatus, JobManagerError> {
    d.job(param(req, "jobid"))
}

/// The vertex of `job` with the REST id of the `:vertexid` parameter.
fn vertex<'a>(job: &'a JobStatus, req: &Request) -> Result<&'a VertexStatus, JobManagerError> {
    let id = param(req, "vertexid");
    job.vertices
        .iter()
        .find(|v| crate::vertex_id(v) == id)
        .ok_or_else(|| JobManagerError::VertexNotFound {
            job_id: job.job_id.clone(),
            vertex_id: id.to_string(),
        })
}

/// A `200` with `value` as JSON.
fn ok<T: serde::Serialize>(value: &T) -> Result<Response, JobManagerError> {
    Ok(Response::json(200, value))
}

#[cfg(test)]
mod tests;
