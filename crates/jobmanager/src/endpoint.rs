//! [`JobManagerEndpoint`]: the REST server with the API, the web UI and
//! `GET /metrics`, for a standalone JobManager the RPC server TaskManagers and
//! job processes call, and the ticker that declares silent TaskManagers lost.

use crate::{Dispatcher, JobManagerError, routes, rpc_routes};
use runnel_rest::{RestConfig, RestServer};
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The JobManager's HTTP endpoints: Flink's `WebMonitorEndpoint` (the REST
/// API over a [`Dispatcher`], the web UI at `/`, the Prometheus scrape at
/// `/metrics`) and, when started with [`start_with_rpc`](Self::start_with_rpc),
/// the RPC endpoint on its own listener ([`rpc_routes`]: TaskManager
/// registration and heartbeats, job binaries, the reports of cluster jobs'
/// processes). A ticker thread checks the registered TaskManagers' heartbeats
/// every quarter heartbeat interval, so a lost TaskManager is removed even if
/// no request arrives. Stops on [`shutdown`](Self::shutdown) or drop.
#[derive(Debug)]
pub struct JobManagerEndpoint {
    server: RestServer,
    rpc: Option<RestServer>,
    dispatcher: Arc<Dispatcher>,
    ticker: Ticker,
}

impl JobManagerEndpoint {
    /// Binds `config.address` (port 0 picks a free port) and starts serving
    /// the REST API and the web UI; no RPC endpoint (an embedded job's web
    /// monitor: no TaskManager joins it).
    ///
    /// Fails as [`RestServer::bind`] does: a non-loopback address without
    /// `allow_non_loopback`, an invalid setting, or an address in use; or with
    /// [`JobManagerError::InvalidConfig`] for unusable heartbeat settings of the
    /// Dispatcher, [`JobManagerError::Spawn`] without a thread for the ticker.
    pub fn start(
        config: RestConfig,
        dispatcher: Arc<Dispatcher>,
    ) -> Result<JobManagerEndpoint, JobManagerError> {
        JobManagerEndpoint::bind(config, None, dispatcher)
    }

    /// As [`start`](Self::start), and binds `rpc.address` for the RPC
    /// endpoint (port 0 picks a free port); its bearer token guards every RPC
    /// route. Fails with [`JobManagerError::Rpc`] if that server cannot start
    /// (and then serves nothing).
    pub fn start_with_rpc(
        rest: RestConfig,
        rpc: RestConfig,
        dispatcher: Arc<Dispatcher>,
    ) -> Result<JobManagerEndpoint, JobManagerError> {
        JobManagerEndpoint::bind(rest, Some(rpc), dispatcher)
    }

    fn bind(
        config: RestConfig,
        rpc: Option<RestConfig>,
        dispatcher: Arc<Dispatcher>,
    ) -> Result<JobManagerEndpoint, JobManagerError> {
        dispatcher.config().validate()?;
        let ticker = Ticker::start(Arc::clone(&dispatcher))?;
        let rpc = rpc
            .map(|config| {
                RestServer::bind(config, rpc_routes(Arc::clone(&dispatcher)))
                    .map_err(JobManagerError::Rpc)
            })
            .transpose()?;
        let router = routes(Arc::clone(&dispatcher)).static_files(runnel_webui::static_files());
        let server = RestServer::bind(config, router)?;
        log::info!(
            "JobManager REST endpoint and web UI on http://{}",
            server.local_addr()
        );
        if let Some(rpc) = &rpc {
            log::info!("JobManager RPC endpoint on {}", rpc.local_addr());
        }
        Ok(JobManagerEndpoint {
            server,
            rpc,
            dispatcher,
            ticker,
        })
    }

    /// The REST endpoint's bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The RPC endpoint's bound address, if it serves one.
    pub fn rpc_addr(&self) -> Option<SocketAddr> {
        self.rpc.as_ref().map(RestServer::local_addr)
    }

    /// The Dispatcher it serves.
    pub fn dispatcher(&self) -> &Arc<Dispatcher> {
        &self.dispatcher
    }

    /// Stops serving: closes connections of both endpoints, waits for running
    /// requests, stops the ticker. Jobs are not affected. Idempotent.
    pub fn shutdown(&mut self) {
        self.server.shutdown();
        if let Some(rpc) = &mut self.rpc {
            rpc.shutdown();
        }
        self.ticker.stop();
    }
}

/// The thread that calls [`Dispatcher::check_task_managers`] every quarter
/// heartbeat interval (at least every 10 ms) until stopped.
#[derive(Debug)]
struct Ticker {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    fn start(dispatcher: Arc<Dispatcher>) -> Result<Ticker, JobManagerError> {
        let period = (dispatcher.config().heartbeat_interval / 4).max(Duration::from_millis(10));
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let signal = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("jobmanager-heartbeat-ticker".into())
            .spawn(move || {
                let (stopped, wake) = &*signal;
                let mut guard = stopped.lock().unwrap_or_else(|e| e.into_inner());
                while !*guard {
                    guard = wake
                        .wait_timeout(guard, period)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                    if !*guard {
                        drop(guard);
                        dispatcher.check_task_managers();
                        guard = stopped.lock().unwrap_or_else(|e| e.into_inner());
                    }
                }
            })
            .map_err(|source| JobManagerError::Spawn {
                what: "check TaskManager heartbeats".into(),
                source,
            })?;
        Ok(Ticker {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops the thread and waits for it. Idempotent.
    fn stop(&mut self) {
        let (stopped, wake) = &*self.stop;
        *stopped.lock().unwrap_or_else(|e| e.into_inner()) = true;
        wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop();
    }
}
