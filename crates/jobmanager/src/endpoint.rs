//! [`JobManagerEndpoint`]: the REST server with the API, the web UI and
//! `GET /metrics`, and the ticker that declares silent TaskManagers lost.

use crate::{Dispatcher, JobManagerError, routes};
use runnel_rest::{RestConfig, RestServer};
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The JobManager's HTTP endpoint (Flink's `WebMonitorEndpoint`): the REST API
/// over a [`Dispatcher`], the web UI at `/`, and the Prometheus scrape at
/// `/metrics`. A ticker thread checks the registered TaskManagers' heartbeats
/// every quarter heartbeat interval, so a lost TaskManager is removed even if
/// no request arrives. Stops on [`shutdown`](Self::shutdown) or drop.
#[derive(Debug)]
pub struct JobManagerEndpoint {
    server: RestServer,
    dispatcher: Arc<Dispatcher>,
    ticker: Ticker,
}

impl JobManagerEndpoint {
    /// Binds `config.address` (port 0 picks a free port) and starts serving.
    ///
    /// Fails as [`RestServer::bind`] does: a non-loopback address without
    /// `allow_non_loopback`, an invalid setting, or an address in use; or with
    /// [`JobManagerError::InvalidConfig`] for unusable heartbeat settings of the
    /// Dispatcher, [`JobManagerError::Spawn`] without a thread for the ticker.
    pub fn start(
        config: RestConfig,
        dispatcher: Arc<Dispatcher>,
    ) -> Result<JobManagerEndpoint, JobManagerError> {
        dispatcher.config().validate()?;
        let ticker = Ticker::start(Arc::clone(&dispatcher))?;
        let router = routes(Arc::clone(&dispatcher)).static_files(runnel_webui::static_files());
        let server = RestServer::bind(config, router)?;
        log::info!(
            "JobManager REST endpoint and web UI on http://{}",
            server.local_addr()
        );
        Ok(JobManagerEndpoint {
            server,
            dispatcher,
            ticker,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The Dispatcher it serves.
    pub fn dispatcher(&self) -> &Arc<Dispatcher> {
        &self.dispatcher
    }

    /// Stops serving: closes connections, waits for running requests, stops
    /// the ticker. Jobs are not affected. Idempotent.
    pub fn shutdown(&mut self) {
        self.server.shutdown();
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
