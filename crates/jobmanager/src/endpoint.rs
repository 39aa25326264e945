//! [`JobManagerEndpoint`]: the REST server with the API, the web UI and
//! `GET /metrics`.

use crate::{Dispatcher, JobManagerError, routes};
use runnel_rest::{RestConfig, RestServer};
use std::net::SocketAddr;
use std::sync::Arc;

/// The JobManager's HTTP endpoint (Flink's `WebMonitorEndpoint`): the REST API
/// over a [`Dispatcher`], the web UI at `/`, and the Prometheus scrape at
/// `/metrics`. Stops on [`shutdown`](Self::shutdown) or drop.
#[derive(Debug)]
pub struct JobManagerEndpoint {
    server: RestServer,
    dispatcher: Arc<Dispatcher>,
}

impl JobManagerEndpoint {
    /// Binds `config.address` (port 0 picks a free port) and starts serving.
    ///
    /// Fails as [`RestServer::bind`] does: a non-loopback address without
    /// `allow_non_loopback`, an invalid setting, or an address in use.
    pub fn start(
        config: RestConfig,
        dispatcher: Arc<Dispatcher>,
    ) -> Result<JobManagerEndpoint, JobManagerError> {
        let router = routes(Arc::clone(&dispatcher)).static_files(runnel_webui::static_files());
        let server = RestServer::bind(config, router)?;
        log::info!(
            "JobManager REST endpoint and web UI on http://{}",
            server.local_addr()
        );
        Ok(JobManagerEndpoint { server, dispatcher })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The Dispatcher it serves.
    pub fn dispatcher(&self) -> &Arc<Dispatcher> {
        &self.dispatcher
    }

    /// Stops serving: closes connections, waits for running requests. Jobs are
    /// not affected. Idempotent.
    pub fn shutdown(&mut self) {
        self.server.shutdown();
    }
}
