//! The REST API and web UI of an embedded job (`rest.enabled`), as Flink's
//! local environment with its web UI: a JobManager endpoint in this process
//! that serves the one job while it runs, and stops when the job has ended.

use crate::environment::StreamExecutionEnvironment;
use runnel_config::RestConfig;
use runnel_jobmanager::{Dispatcher, JobManagerEndpoint, LocalJob};
use runnel_runtime::status::JobStatusBoard;
use runnel_runtime::{JobClient, JobError};
use std::net::ToSocketAddrs;
use std::sync::Arc;
use std::time::Duration;

impl StreamExecutionEnvironment {
    /// Serves the REST API and the web UI on `127.0.0.1:port` while the job
    /// runs (Flink's local environment with web UI; `rest.enabled`,
    /// `rest.port`). Port 0 picks a free port; the address is printed.
    pub fn enable_web_ui(&self, port: u16) -> &Self {
        self.update_config(|c| {
            c.rest.enabled = true;
            c.rest.port = port;
        });
        self
    }
}

/// Serves `client`'s job on the configured address until it ends; prints
/// where. An address that cannot be served is an error naming it.
pub(crate) fn serve(client: &JobClient, rest: &RestConfig) -> Result<(), JobError> {
    let fail = |message: String| JobError::Startup {
        job: client.job_name().to_string(),
        message,
    };
    let target = format!("{}:{}", rest.bind_address, rest.port);
    let address = target
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| fail(format!("rest.bind-address `{target}` is not an address")))?;
    let config = runnel_rest::RestConfig {
        address,
        // Another address than loopback was configured explicitly.
        allow_non_loopback: !rest.is_loopback(),
        bearer_token: rest.bearer_token.clone(),
        ..runnel_rest::RestConfig::default()
    };
    let dispatcher = Arc::new(Dispatcher::new());
    dispatcher
        .register(Arc::new(LocalJob::new(client)))
        .map_err(|e| fail(e.to_string()))?;
    let endpoint = JobManagerEndpoint::start(config, dispatcher)
        .map_err(|e| fail(format!("cannot serve the REST API on {target}: {e}")))?;
    eprintln!(
        "Runnel web UI of job `{}`: http://{}/",
        client.job_name(),
        endpoint.local_addr()
    );
    let board = client.status_board();
    std::thread::Builder::new()
        .name(format!("{} [web monitor]", client.job_name()))
        .spawn(move || watch(board, endpoint))
        .map_err(|e| fail(format!("cannot start the web monitor: {e}")))?;
    Ok(())
}

/// Keeps `endpoint` up until the job has ended (and a last look at its end).
fn watch(board: Arc<JobStatusBoard>, mut endpoint: JobManagerEndpoint) {
    while !board.snapshot().state.is_terminal() {
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(500));
    endpoint.shutdown();
}
