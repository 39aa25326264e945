//! [`TaskManager`]: the thread that keeps this process registered with the
//! JobManager and runs the job attempts it deploys, doing the I/O the
//! [`Session`] and the [`Ledger`] decide on.

use crate::attempts::Ledger;
use crate::hardware;
use crate::processes::Processes;
use crate::protocol::{self, Heartbeat, JobManager, Orders};
use crate::session::{Outcome, Session, Step};
use crate::{TaskManagerConfig, TaskManagerError};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

/// A running TaskManager: registered (or registering) with the JobManager's
/// ResourceManager, heartbeating at the interval the JobManager set.
///
/// [`start`](Self::start) returns at once; registration goes on in the
/// background (retrying while the JobManager is unreachable). The TaskManager
/// runs until [`shutdown`](Self::shutdown) or a failure repeating cannot fix
/// (another Runnel version, a wrong token, the registration timeout passed);
/// [`wait`](Self::wait) says which. Dropping it shuts it down. When it stops
/// it kills the job processes it started, waits for them, and removes its
/// working directory if it made it.
///
/// ```no_run
/// use runnel_taskmanager::{TaskManager, TaskManagerConfig};
///
/// let tm = TaskManager::start(TaskManagerConfig {
///     jobmanager: "10.0.0.2:6123".parse().unwrap(),
///     slots: 4,
///     ..TaskManagerConfig::default()
/// })?;
/// println!("TaskManager {} is up", tm.id());
/// tm.wait()?; // until it fails for good
/// # Ok::<(), runnel_taskmanager::TaskManagerError>(())
/// ```
#[derive(Debug)]
pub struct TaskManager {
    id: String,
    working_dir: PathBuf,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<Result<(), TaskManagerError>>>,
}

/// What the TaskManager's thread and its handle share.
#[derive(Debug, Default)]
struct Shared {
    stop: Mutex<bool>,
    wake: Condvar,
    registered: AtomicBool,
}

impl Shared {
    /// Waits until `at` or a stop request; `true` if stopped.
    fn wait_until(&self, at: Instant) -> bool {
        let mut stopped = self.stop.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if *stopped {
                return true;
            }
            let now = Instant::now();
            if now >= at {
                return false;
            }
            stopped = self
                .wake
                .wait_timeout(stopped, at - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn request_stop(&self) {
        *self.stop.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.wake.notify_all();
    }
}

impl TaskManager {
    /// Checks `config` and starts registering with the JobManager on a
    /// thread of its own.
    ///
    /// Fails at once only for an unusable setting
    /// ([`TaskManagerError::InvalidConfig`]), without a working directory
    /// ([`TaskManagerError::WorkingDir`]) or without a thread
    /// ([`TaskManagerError::Spawn`]); everything that happens later is
    /// reported by [`wait`](Self::wait).
    pub fn start(config: TaskManagerConfig) -> Result<TaskManager, TaskManagerError> {
        let id = config.validate()?;
        let host = data_address(config.data_address, config.jobmanager).ip();
        let processes = Processes::new(
            config.working_dir.as_deref(),
            &id,
            config.jobmanager,
            config.bearer_token.clone(),
            host,
        )
        .map_err(|source| TaskManagerError::WorkingDir {
            path: config
                .working_dir
                .clone()
                .unwrap_or_else(std::env::temp_dir),
            source,
        })?;
        let working_dir = processes.workdir().to_path_buf();
        let shared = Arc::new(Shared::default());
        let worker = Worker {
            id: id.clone(),
            jobmanager: JobManager {
                address: config.jobmanager,
                bearer_token: config.bearer_token.clone(),
            },
            config,
            shared: Arc::clone(&shared),
            ledger: Ledger::default(),
            processes,
        };
        let thread = std::thread::Builder::new()
            .name(format!("taskmanager-{id}"))
            .spawn(move || worker.run())
            .map_err(|source| TaskManagerError::Spawn {
                what: "register with the JobManager".into(),
                source,
            })?;
        Ok(TaskManager {
            id,
            working_dir,
            shared,
            thread: Some(thread),
        })
    }

    /// Its id (the configured one, or the random one it made up).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Its working directory: cached job binaries, and each job attempt's
    /// configuration and output (`<jobId>-<attempt>.log`).
    pub fn working_dir(&self) -> &Path {
        &self.working_dir
    }

    /// Whether the JobManager has it registered, as far as it knows (until a
    /// heartbeat tells otherwise).
    pub fn is_registered(&self) -> bool {
        self.shared.registered.load(Ordering::Acquire)
    }

    /// Whether it has stopped (after [`shutdown`](Self::shutdown), or on its
    /// own after a failure [`wait`](Self::wait) returns).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Asks it to stop and returns at once; it stops heartbeating (after the
    /// request it may be sending), then kills the job processes it started
    /// ([`wait`](Self::wait) or dropping it waits for that). It does not
    /// deregister: the JobManager
    /// declares it lost after the heartbeat timeout, as after a crash.
    pub fn shutdown(&self) {
        self.shared.request_stop();
    }

    /// Waits until it has stopped: `Ok` after [`shutdown`](Self::shutdown),
    /// else the failure that stopped it.
    pub fn wait(mut self) -> Result<(), TaskManagerError> {
        self.join()
    }

    fn join(&mut self) -> Result<(), TaskManagerError> {
        match self.thread.take() {
            None => Ok(()),
            Some(thread) => thread.join().unwrap_or_else(|_| {
                Err(TaskManagerError::Panicked {
                    id: self.id.clone(),
                })
            }),
        }
    }
}

impl Drop for TaskManager {
    fn drop(&mut self) {
        self.shutdown();
        let _ = self.join();
    }
}

/// The TaskManager's thread.
struct Worker {
    id: String,
    config: TaskManagerConfig,
    jobmanager: JobManager,
    shared: Arc<Shared>,
    ledger: Ledger,
    /// Dropped with the worker: kills every child, whichever way `run` ends.
    processes: Processes,
}

impl Worker {
    fn run(mut self) -> Result<(), TaskManagerError> {
        log::info!(
            "TaskManager {} with {} slots registers with the JobManager at {}",
            self.id,
            self.config.slots,
            self.config.jobmanager
        );
        let (mut session, mut step) = Session::new(
            self.config.jobmanager,
            self.id.clone(),
            self.config.registration_timeout,
            Instant::now(),
        );
        loop {
            let (at, registering) = match step {
                Step::Register { at } => (at, true),
                Step::Heartbeat { at } => (at, false),
                Step::Fail(e) => {
                    self.shared.registered.store(false, Ordering::Release);
                    log::error!("TaskManager {} stops: {e}", self.id);
                    return Err(e);
                }
            };
            if self.shared.wait_until(at) {
                log::info!("TaskManager {} stops", self.id);
                return Ok(());
            }
            let outcome = if registering {
                self.register()
            } else {
                self.heartbeat()
            };
            if let (true, Outcome::Registered { interval, .. }) = (registering, &outcome) {
                log::info!(
                    "TaskManager {} registered with the JobManager at {}; heartbeat every {} ms",
                    self.id,
                    self.config.jobmanager,
                    interval.as_millis()
                );
            }
            step = session.on(outcome, Instant::now());
            self.shared
                .registered
                .store(session.is_registered(), Ordering::Release);
        }
    }

    /// Sees which attempts ended, reports them all in a heartbeat, and
    /// follows the answer's orders.
    fn heartbeat(&mut self) -> Outcome {
        for (id, code) in self.processes.poll() {
            self.ledger.ended(id, code);
        }
        let heartbeat = Heartbeat {
            free_slots: self.ledger.free_slots(self.config.slots),
            attempts: self.ledger.report(),
        };
        let (outcome, orders) = self.jobmanager.heartbeat(&self.id, &heartbeat);
        if matches!(outcome, Outcome::HeartbeatTaken) {
            self.ledger.delivered(&heartbeat.attempts);
        }
        self.follow(orders);
        outcome
    }

    fn follow(&mut self, orders: Orders) {
        for id in orders.cancel {
            if self.ledger.is_running(&id) {
                log::info!("TaskManager {}: cancelling attempt {id}", self.id);
                let code = self.processes.kill(&id).flatten();
                self.ledger.ended(id, code);
            }
        }
        for deployment in orders.deploy {
            let id = deployment.id.clone();
            if !self.ledger.accepts(&id) {
                continue;
            }
            let jobmanager = &self.jobmanager;
            match self
                .processes
                .launch(&deployment, |hash| jobmanager.blob(hash))
            {
                Ok(()) => self.ledger.started(id, deployment.slots),
                Err(e) => {
                    log::warn!(
                        "TaskManager {}: attempt {} of job {} cannot start: {e}",
                        self.id,
                        id.attempt,
                        id.job_id
                    );
                    self.ledger.ended(id, None);
                }
            }
        }
    }

    fn register(&self) -> Outcome {
        let registration = protocol::Registration {
            id: &self.id,
            address: data_address(self.config.data_address, self.config.jobmanager).to_string(),
            slots: self.config.slots,
            hardware: hardware::detect(),
            version: protocol::VERSION,
        };
        self.jobmanager.register(&registration)
    }
}

/// The data address to register: the configured one, with an unspecified IP
/// (or none at all, then with port 0) replaced by the IP this host reaches
/// `jobmanager` from.
fn data_address(configured: Option<SocketAddr>, jobmanager: SocketAddr) -> SocketAddr {
    match configured {
        Some(a) if !a.ip().is_unspecified() => a,
        other => SocketAddr::new(local_ip_towards(jobmanager), other.map_or(0, |a| a.port())),
    }
}

/// The local IP the route to `peer` leaves from (a connected UDP socket sends
/// nothing); the loopback address if there is no route.
fn local_ip_towards(peer: SocketAddr) -> IpAddr {
    let any: IpAddr = match peer {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    UdpSocket::bind((any, 0))
        .and_then(|s| {
            s.connect(peer)?;
            s.local_addr()
        })
        .map(|a| a.ip())
        .unwrap_or(match peer {
            SocketAddr::V4(_) => Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => Ipv6Addr::LOCALHOST.into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_address_is_the_configured_one_or_the_route_to_the_jobmanager() {
        let jm: SocketAddr = "127.0.0.1:6123".parse().unwrap();
        let table = [
            (Some("10.0.0.5:6121"), "10.0.0.5:6121"),
            (Some("0.0.0.0:6121"), "127.0.0.1:6121"),
            (None, "127.0.0.1:0"),
        ];
        for (configured, expected) in table {
            let configured = configured.map(|a| a.parse().unwrap());
            assert_eq!(data_address(configured, jm).to_string(), expected);
        }
    }

    #[test]
    fn a_stop_request_ends_a_wait_early() {
        let shared = Shared::default();
        let later = Instant::now() + std::time::Duration::from_millis(20);
        assert!(!shared.wait_until(later));
        assert!(Instant::now() >= later);
        shared.request_stop();
        let much_later = Instant::now() + std::time::Duration::from_secs(60);
        assert!(shared.wait_until(much_later));
    }
}
