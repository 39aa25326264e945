//! The JobManager: the [`Dispatcher`] that keeps the cluster's jobs, and the
//! REST endpoint that reports on them and steers them (SPEC M1, the web UI of
//! M2, the Prometheus endpoint of M3, the backpressure view of I3).
//!
//! What it owns now: the jobs the local executor runs in this process, as
//! Flink's MiniCluster with its web UI. A program submits a job, registers its
//! [`JobClient`](runnel_runtime::JobClient) as a [`LocalJob`], and the
//! [`JobManagerEndpoint`] serves Flink's REST API over the jobs' status
//! snapshots: overview, details, plan, exceptions, checkpoints, backpressure,
//! metrics, cancellation and savepoints (triggered asynchronously, polled by
//! request id), plus the web UI's static files and `GET /metrics`.
//!
//! It also owns the cluster's [`ResourceManager`] (SPEC A1, A2, A6):
//! TaskManager processes (`runnel-taskmanager`) register on the JobManager's
//! RPC endpoint ([`rpc_routes`]: `POST /taskmanagers`), heartbeat
//! (`POST /taskmanagers/{id}/heartbeat`) and are declared lost when silent
//! for longer than the heartbeat timeout; the overview and `/taskmanagers`
//! report them with their slots. A [`standalone`] JobManager is a process
//! that runs only this.
//!
//! And it runs jobs on the standalone cluster ([`cluster`],
//! `docs/design/cluster-jobs.md`): a job binary submitted with `POST /jobs`
//! is kept in the blob store, registered as a [`ClusterJob`](cluster::ClusterJob)
//! (a [`JobHandle`] like a local job), placed on the free slots of one or more
//! TaskManagers, deployed as one process per TaskManager in their heartbeat
//! answers, steered through commands its process 0 fetches with its status
//! reports, and restarted from its latest checkpoint when a TaskManager of it
//! is lost or a process of it fails.
//!
//! How it fits together:
//! - the [`Dispatcher`] keeps live jobs as [`JobHandle`]s and, once a job has
//!   ended, only its final [`JobStatus`](runnel_runtime::status::JobStatus)
//!   (the newest [`DispatcherConfig::max_finished_jobs`]); it runs savepoint
//!   requests on their own threads and remembers their outcome by request id;
//!   it owns the [`ResourceManager`], a pure state machine it feeds with its
//!   clock's time, and logs its decisions;
//! - the [`JobManagerEndpoint`] serves the REST routes (and, for a
//!   standalone JobManager, the RPC routes on their own listener) and runs a
//!   ticker thread that declares silent TaskManagers lost without waiting for
//!   a request;
//! - `view` maps a status snapshot to Flink's JSON shapes with pure functions
//!   (no locks, no clock: `now` is an argument), so every shape is unit-tested
//!   from hand-built snapshots;
//! - `handlers` are thin: look the job up, take a snapshot, map it, answer;
//! - `GET /metrics` builds a fresh metric registry from the snapshots at scrape
//!   time and renders it with `runnel_metrics::render_prometheus`.
//!
//! Nothing here is on a task's hot path: every answer reads a snapshot the job
//! master keeps. This crate depends on the runtime (status types and the local
//! executor's client), the REST server, the web UI and the metric system; nothing
//! in Runnel depends on it but binaries.
//!
//! ```no_run
//! use runnel_jobmanager::{Dispatcher, JobManagerEndpoint, LocalJob};
//! use runnel_rest::RestConfig;
//! use std::sync::Arc;
//!
//! # fn run(client: runnel_runtime::JobClient) -> Result<(), runnel_jobmanager::JobManagerError> {
//! let dispatcher = Arc::new(Dispatcher::new());
//! dispatcher.register(Arc::new(LocalJob::new(&client)))?;
//! let endpoint = JobManagerEndpoint::start(RestConfig::default(), dispatcher)?;
//! println!("web UI on http://{}", endpoint.local_addr());
//! # Ok(()) }
//! ```

pub mod cluster;
mod dispatcher;
mod endpoint;
mod error;
#[cfg(test)]
mod fake;
mod handle;
mod handlers;
mod ids;
mod prometheus;
pub mod resource_manager;
mod savepoints;
pub mod standalone;
mod view;

pub use dispatcher::{Dispatcher, DispatcherConfig};
pub use endpoint::JobManagerEndpoint;
pub use error::JobManagerError;
pub use handle::{JobHandle, LocalJob};
pub use handlers::{routes, rpc_routes};
pub use ids::vertex_id;
pub use prometheus::{prometheus_registry, scrape};
pub use resource_manager::ResourceManager;
pub use savepoints::{SavepointMode, SavepointStatus};
