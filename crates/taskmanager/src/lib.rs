//! Runnel's TaskManager: the worker process of a standalone cluster (SPEC A1,
//! A2, A6).
//!
//! What it owns now: this process's membership in the cluster. A
//! [`TaskManager`] registers with the JobManager's ResourceManager
//! (`POST /taskmanagers` on the JobManager's RPC address) with its id, the
//! address it will serve data on, its task slots, its machine and its Runnel
//! version; then it heartbeats at the interval the JobManager answered, so
//! the JobManager can tell it is alive and declare it lost when it falls
//! silent. It keeps trying while the JobManager is unreachable (started first,
//! restarting), registers again when a heartbeat is answered `404` (the
//! JobManager declared it lost, or is a new one), and gives up only for a
//! reason repeating cannot fix: another Runnel major or minor version, a
//! wrong bearer token, or no registration within the registration timeout.
//!
//! It also runs the job attempts the JobManager deploys in its heartbeat
//! answers (`docs/design/cluster-jobs.md`): each is the job's binary, fetched
//! from the JobManager's blob store and run as a child process in the
//! TaskManager's working directory with all of the job's slots; heartbeats
//! report the attempts running and, once, each attempt's end; a `cancel`
//! kills one, and stopping the TaskManager kills them all.
//!
//! What it will own: the subtasks deployed into its slots. A JobMaster
//! allocates slots from the ResourceManager and deploys subtasks onto the
//! TaskManagers holding them; each runs the same task loop as the local
//! executor, with the network transport between subtasks instead of
//! in-process channels, and reports its slots in its heartbeats.
//!
//! How it fits together:
//! - `session` decides, as a pure state machine, what to send next and when
//!   (registration backoff, heartbeat interval, when the JobManager is lost);
//! - `attempts` decides, as a pure state machine, what heartbeats report of
//!   the job attempts and which orders to follow; `processes` starts, watches
//!   and kills their processes (one per attempt), `environment` says what
//!   each is told (`RUNNEL_CLUSTER_*`);
//! - `protocol` sends the requests with `runnel_rest::client` (blocking,
//!   std only) and classifies each answer by whether a retry can help;
//! - the [`TaskManager`] runs both on one thread of its own, until
//!   [`TaskManager::shutdown`] or a failure [`TaskManager::wait`] returns.
//!
//! The JSON shapes are the `TaskManager protocol` of `docs/rest-api.yaml`.
//! This crate depends on Runnel's REST client only; it does not depend on the
//! JobManager (its tests do, to run one).
//!
//! ```no_run
//! use runnel_taskmanager::{TaskManagerConfig, run};
//! use std::sync::atomic::{AtomicBool, Ordering};
//!
//! static STOP: AtomicBool = AtomicBool::new(false); // set by a Ctrl-C handler
//! let config = TaskManagerConfig {
//!     jobmanager: "10.0.0.2:6123".parse().unwrap(),
//!     slots: 4,
//!     ..TaskManagerConfig::default()
//! };
//! run(config, || STOP.load(Ordering::Relaxed))?;
//! # Ok::<(), runnel_taskmanager::TaskManagerError>(())
//! ```

mod attempts;
mod config;
mod environment;
mod error;
mod hardware;
mod processes;
mod protocol;
mod session;
mod task_manager;

pub use config::TaskManagerConfig;
pub use error::TaskManagerError;
pub use task_manager::TaskManager;

use std::time::Duration;

/// How often [`run`] asks its `stop` function.
const STOP_POLL: Duration = Duration::from_millis(100);

/// Runs a TaskManager until `stop` returns `true` (asked every 100 ms; e.g. a
/// flag a Ctrl-C handler sets) — then `Ok` — or until it fails for good (see
/// [`TaskManager::wait`]). The `runnel taskmanager` command runs this.
pub fn run(config: TaskManagerConfig, stop: impl Fn() -> bool) -> Result<(), TaskManagerError> {
    let tm = TaskManager::start(config)?;
    while !tm.is_finished() {
        if stop() {
            tm.shutdown();
            break;
        }
        std::thread::sleep(STOP_POLL);
    }
    tm.wait()
}
