//! The [`Dispatcher`]: every job the JobManager knows, running or ended.
//!
//! Invariants:
//! - a job id is registered once; the Dispatcher keeps jobs in registration
//!   order;
//! - a job is *live* (its [`JobHandle`] is kept) until a snapshot shows it in a
//!   terminal state; then only that final snapshot is kept (the handle, and with
//!   it the job's plan and functions, is dropped), as Flink's archived
//!   execution graphs;
//! - at most [`DispatcherConfig::max_finished_jobs`] ended jobs are kept; the
//!   one that ended first is forgotten first, with its savepoint requests;
//! - the lock on the job table is never held while a job is asked for its
//!   status, so a slow job master cannot stall the REST API for other jobs;
//! - the [`ResourceManager`] has a lock of its own, never held together with
//!   the job table's; before every event it is ticked with the clock's time,
//!   so a TaskManager past its heartbeat timeout is lost before anything else
//!   is asked of it (a late heartbeat is refused, not taken).

use crate::JobManagerError;
use crate::cluster::{BlobStore, Cluster};
use crate::handle::JobHandle;
use crate::resource_manager::{
    DEFAULT_HEARTBEAT_INTERVAL, DEFAULT_HEARTBEAT_TIMEOUT, Heartbeat, HeartbeatError, Lost,
    Registered, Registration, Rejection, ResourceManager, SlotSpread, TaskManagerStatus,
};
use crate::savepoints::{SavepointMode, SavepointStatus, Triggers};
use crate::view::cluster::{Slots, slots};
use crate::view::job_state_name;
use runnel_runtime::clock::{Clock, SystemClock};
use runnel_runtime::status::JobStatus;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// What the JobManager reports about itself; every field has a default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatcherConfig {
    /// Jobs run in this process (the local executor, as Flink's MiniCluster),
    /// which is then reported as the TaskManager `local` beside any that
    /// register. `false` for a standalone JobManager, whose TaskManagers are
    /// only those that registered.
    pub embedded: bool,
    /// Task slots of the local TaskManager; `None`: as many as the highest
    /// parallelism among the running jobs (as Flink's MiniCluster sizes itself).
    pub slots: Option<u32>,
    /// How often registered TaskManagers heartbeat (Flink's
    /// `heartbeat.interval`, 10 s); the JobManager checks for lost ones four
    /// times as often.
    pub heartbeat_interval: Duration,
    /// How long a TaskManager may be silent before it is declared lost
    /// (Flink's `heartbeat.timeout`, 50 s); at least the interval.
    pub heartbeat_timeout: Duration,
    /// Ended jobs kept for the overview (Flink's `jobstore.max-capacity`).
    pub max_finished_jobs: usize,
    /// How often the web UI polls, in ms (`GET /config`).
    pub refresh_interval_ms: u64,
    /// The IANA time zone the web UI shows times in.
    pub timezone: String,
    /// This process's host name: the `host` label of metrics.
    pub host: String,
    /// Where submitted job binaries are kept: a directory, or memory when
    /// `None` (the default).
    pub blob_dir: Option<PathBuf>,
    /// How often a cluster job is restarted after a failure before it fails
    /// (Flink's `restart-strategy.fixed-delay.attempts`, 3).
    pub max_restarts: u32,
    /// How long a failed cluster job waits (`RESTARTING`) before its next
    /// attempt is placed on slots (Flink's
    /// `restart-strategy.fixed-delay.delay`, 1 s).
    pub restart_delay: Duration,
    /// How long a cancelled cluster job's processes have to exit on their
    /// own (process 0 cancels the job and exits) before every one still
    /// running is killed (as Flink's `task.cancellation.timeout`; 30 s). Zero
    /// kills them at once.
    pub cancel_timeout: Duration,
    /// How long a savepoint of a cluster job may take (10 min).
    pub savepoint_timeout: Duration,
    /// Flink's `cluster.evenly-spread-out-slots`: a cluster job's slots are
    /// taken round-robin from the TaskManagers with the most free slots
    /// instead of filling one TaskManager after the other (false).
    pub evenly_spread_out_slots: bool,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        DispatcherConfig {
            embedded: true,
            slots: None,
            heartbeat_interval: DEFAULT_HEARTBEAT_INTERVAL,
            heartbeat_timeout: DEFAULT_HEARTBEAT_TIMEOUT,
            max_finished_jobs: 100,
            refresh_interval_ms: 3000,
            timezone: "UTC".to_string(),
            host: "localhost".to_string(),
            blob_dir: None,
            max_restarts: 3,
            restart_delay: Duration::from_secs(1),
            cancel_timeout: Duration::from_secs(30),
            savepoint_timeout: Duration::from_secs(600),
            evenly_spread_out_slots: false,
        }
    }
}

impl DispatcherConfig {
    /// Checks the settings that can be wrong: a zero heartbeat interval, a
    /// timeout shorter than the interval.
    pub fn validate(&self) -> Result<(), JobManagerError> {
        if self.heartbeat_interval.is_zero() {
            return Err(JobManagerError::invalid_config(
                "heartbeat interval must be positive",
            ));
        }
        if self.heartbeat_timeout < self.heartbeat_interval {
            return Err(JobManagerError::invalid_config(format!(
                "heartbeat timeout ({} ms) must be at least the heartbeat interval ({} ms)",
                self.heartbeat_timeout.as_millis(),
                self.heartbeat_interval.as_millis()
            )));
        }
        Ok(())
    }
}

/// A job in the table: its handle while it runs, its final snapshot after.
enum Job {
    Live(Arc<dyn JobHandle>),
    Ended(Box<JobStatus>),
}

struct Entry {
    job_id: String,
    job: Job,
}

/// Keeps the JobManager's jobs: registers them, finds them by id, lists them,
/// cancels them and runs savepoint requests. Shared behind an `Arc` by the REST
/// handlers and whoever registers jobs.
pub struct Dispatcher {
    config: DispatcherConfig,
    clock: Arc<dyn Clock>,
    jobs: Mutex<Vec<Entry>>,
    triggers: Arc<Triggers>,
    resources: Mutex<ResourceManager>,
    pub(crate) cluster: Cluster,
}

impl fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<String> = self.lock().iter().map(|e| e.job_id.clone()).collect();
        f.debug_struct("Dispatcher")
            .field("config", &self.config)
            .field("jobs", &ids)
            .finish_non_exhaustive()
    }
}

impl Default for Dispatcher {
    fn default() -> Self {
        Self::with_config(DispatcherConfig::default())
    }
}

impl Dispatcher {
    /// A Dispatcher with the default settings and the system clock.
    pub fn new() -> Self {
        Self::default()
    }

    /// A Dispatcher with `config` and the system clock.
    pub fn with_config(config: DispatcherConfig) -> Self {
        let spread = if config.evenly_spread_out_slots {
            SlotSpread::Evenly
        } else {
            SlotSpread::Fill
        };
        let resources = ResourceManager::new(config.heartbeat_interval, config.heartbeat_timeout)
            .with_slot_spread(spread);
        let cluster = Cluster::new(BlobStore::new(config.blob_dir.clone()));
        Dispatcher {
            cluster,
            config,
            clock: Arc::new(SystemClock),
            jobs: Mutex::new(Vec::new()),
            triggers: Arc::default(),
            resources: Mutex::new(resources),
        }
    }

    /// Reads "now" from `clock` (tests pass a `ManualClock`).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Its settings.
    pub fn config(&self) -> &DispatcherConfig {
        &self.config
    }

    /// Its clock.
    pub(crate) fn clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.clock)
    }

    /// The current time, epoch ms.
    pub fn now(&self) -> i64 {
        self.clock.now_millis()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Entry>> {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a job. Fails if a job with its id is already known.
    pub fn register(&self, job: Arc<dyn JobHandle>) -> Result<(), JobManagerError> {
        let job_id = job.job_id().to_string();
        let mut jobs = self.lock();
        if jobs.iter().any(|e| e.job_id == job_id) {
            return Err(JobManagerError::DuplicateJob { job_id });
        }
        log::info!("dispatcher: registered job {job_id}");
        jobs.push(Entry {
            job_id,
            job: Job::Live(job),
        });
        Ok(())
    }

    /// The ids of every known job, in registration order.
    pub fn job_ids(&self) -> Vec<String> {
        self.lock().iter().map(|e| e.job_id.clone()).collect()
    }

    /// A snapshot of every known job, in registration order.
    pub fn jobs(&self) -> Vec<JobStatus> {
        let entries: Vec<(String, Found)> = self
            .lock()
            .iter()
            .map(|e| (e.job_id.clone(), Found::of(&e.job)))
            .collect();
        entries
            .into_iter()
            .map(|(job_id, job)| match job {
                Found::Live(handle) => self.observe(&job_id, handle.as_ref()),
                Found::Ended(status) => *status,
            })
            .collect()
    }

    /// A snapshot of job `job_id`.
    pub fn job(&self, job_id: &str) -> Result<JobStatus, JobManagerError> {
        match self.find(job_id)? {
            Found::Live(handle) => Ok(self.observe(job_id, handle.as_ref())),
            Found::Ended(status) => Ok(*status),
        }
    }

    /// Requests cancellation of job `job_id` (a no-op once it has ended).
    pub fn cancel(&self, job_id: &str) -> Result<(), JobManagerError> {
        if let Found::Live(handle) = self.find(job_id)? {
            log::info!("dispatcher: cancelling job {job_id}");
            handle.cancel();
            // A cluster job that was not deployed has ended: free its slots;
            // a deployed one's kill orders (due after the cancel timeout)
            // go to the Cluster.
            self.resources(|_, _| ());
        }
        Ok(())
    }

    /// Starts a savepoint of job `job_id` into `dir` (the job's configured
    /// directory when `None`) on a thread of its own and returns the request id
    /// to poll with [`savepoint_status`](Self::savepoint_status). `request_id`
    /// is the client's own id (the same id again is the same request). For a
    /// job that has ended, the request is recorded as failed at once.
    pub fn trigger_savepoint(
        &self,
        job_id: &str,
        dir: Option<PathBuf>,
        mode: SavepointMode,
        request_id: Option<String>,
    ) -> Result<String, JobManagerError> {
        let handle = match self.find(job_id)? {
            Found::Live(handle) => handle,
            Found::Ended(status) => {
                let message = format!(
                    "job {job_id} has already reached the terminal state {}; \
                     no savepoint can be taken",
                    job_state_name(status.state)
                );
                return self
                    .triggers
                    .reject(job_id, request_id, "JobTerminatedError", message);
            }
        };
        log::info!("dispatcher: savepoint ({mode:?}) of job {job_id} requested");
        self.triggers.start(handle, dir, mode, request_id)
    }

    /// The state of savepoint request `request_id` of job `job_id`.
    pub fn savepoint_status(
        &self,
        job_id: &str,
        request_id: &str,
    ) -> Result<SavepointStatus, JobManagerError> {
        let _known = self.find(job_id)?;
        self.triggers
            .status(job_id, request_id)
            .ok_or_else(|| JobManagerError::TriggerNotFound {
                job_id: job_id.to_string(),
                trigger_id: request_id.to_string(),
            })
    }

    /// Registers a TaskManager (or replaces its earlier registration); the
    /// answer tells it how often to heartbeat.
    pub fn register_task_manager(
        &self,
        registration: Registration,
    ) -> Result<Registered, Rejection> {
        let (id, address, slots) = (
            registration.id.clone(),
            registration.address.clone(),
            registration.slots,
        );
        let result = self.resources(|rm, now| {
            let result = rm.register(registration, now);
            if let Ok(r) = &result
                && r.replaced
            {
                self.cluster
                    .task_manager_gone(&r.id, "re-registered (it restarted)");
            }
            result
        });
        match &result {
            Ok(r) => log::info!(
                "resource manager: {} TaskManager {id} at {address} with {slots} slots{}",
                if r.replaced {
                    "re-registered"
                } else {
                    "registered"
                },
                if r.affected_jobs.is_empty() {
                    String::new()
                } else {
                    format!("; jobs {:?} lost their earlier slots", r.affected_jobs)
                }
            ),
            Err(e) => log::warn!("resource manager: refused TaskManager {id:?}: {e}"),
        }
        result
    }

    /// Takes a heartbeat of TaskManager `id`.
    pub fn task_manager_heartbeat(
        &self,
        id: &str,
        heartbeat: Heartbeat,
    ) -> Result<(), HeartbeatError> {
        let result = self.resources(|rm, now| rm.heartbeat(id, heartbeat, now));
        if let Err(e) = &result {
            log::debug!("resource manager: heartbeat refused: {e}");
        }
        result
    }

    /// Declares the TaskManagers silent for longer than the heartbeat timeout
    /// lost (logged at warn) and returns them. The endpoint's ticker calls it
    /// every quarter heartbeat interval; every other TaskManager operation
    /// does it first.
    pub fn check_task_managers(&self) -> Vec<Lost> {
        self.ticked(|_, _| ()).1
    }

    /// Logs the TaskManagers declared lost.
    fn log_lost(&self, lost: &[Lost]) {
        for l in lost {
            log::warn!(
                "resource manager: TaskManager {} at {} lost: no heartbeat for {} ms \
                 (heartbeat timeout {} ms){}",
                l.id,
                l.address,
                l.silent_ms,
                self.config.heartbeat_timeout.as_millis(),
                if l.affected_jobs.is_empty() {
                    String::new()
                } else {
                    format!("; its slots held jobs {:?}", l.affected_jobs)
                }
            );
        }
    }

    /// The registered TaskManagers, in registration order.
    pub fn task_managers(&self) -> Vec<TaskManagerStatus> {
        self.resources(|rm, _| rm.task_managers())
    }

    /// Registered TaskManager `id`.
    pub fn task_manager(&self, id: &str) -> Result<TaskManagerStatus, JobManagerError> {
        self.resources(|rm, _| rm.task_manager(id))
            .ok_or_else(|| JobManagerError::TaskManagerNotFound { id: id.to_string() })
    }

    /// The slots of the local TaskManager given `jobs` (see
    /// [`DispatcherConfig::slots`]); `None` unless [`DispatcherConfig::embedded`].
    pub(crate) fn local_slots(&self, jobs: &[JobStatus]) -> Option<Slots> {
        self.config.embedded.then(|| slots(self.config.slots, jobs))
    }

    /// Runs `f` on the ResourceManager at the current time, after declaring
    /// the TaskManagers lost whose timeout has passed.
    pub(crate) fn resources<T>(&self, f: impl FnOnce(&mut ResourceManager, i64) -> T) -> T {
        self.ticked(f).0
    }

    /// [`resources`](Self::resources), also returning the lost TaskManagers
    /// (logged after the lock is released).
    fn ticked<T>(&self, f: impl FnOnce(&mut ResourceManager, i64) -> T) -> (T, Vec<Lost>) {
        let (out, lost) = {
            let mut rm = self.resources.lock().unwrap_or_else(|e| e.into_inner());
            let now = self.now();
            let lost = rm.tick(now);
            for l in &lost {
                self.cluster
                    .task_manager_gone(&l.id, "was lost (no heartbeat)");
            }
            let out = f(&mut rm, now);
            self.cluster.settle(&mut rm, now);
            (out, lost)
        };
        self.log_lost(&lost);
        (out, lost)
    }

    /// The handle of a live job or the final status of an ended one.
    fn find(&self, job_id: &str) -> Result<Found, JobManagerError> {
        self.lock()
            .iter()
            .find(|e| e.job_id == job_id)
            .map(|e| Found::of(&e.job))
            .ok_or_else(|| JobManagerError::JobNotFound {
                job_id: job_id.to_string(),
            })
    }

    /// Takes a snapshot of a live job; archives it if it has ended.
    fn observe(&self, job_id: &str, handle: &dyn JobHandle) -> JobStatus {
        let status = handle.status();
        if status.state.is_terminal() {
            self.archive(job_id, &status);
        }
        status
    }

    /// Keeps only the final `status` of job `job_id`, then forgets the ended
    /// jobs beyond the configured number, those that ended first.
    fn archive(&self, job_id: &str, status: &JobStatus) {
        let mut jobs = self.lock();
        if let Some(e) = jobs
            .iter_mut()
            .find(|e| e.job_id == job_id && matches!(e.job, Job::Live(_)))
        {
            log::info!("dispatcher: job {job_id} ended {:?}", status.state);
            e.job = Job::Ended(Box::new(status.clone()));
        }
        let ended = |e: &Entry| match &e.job {
            Job::Ended(s) => Some(s.end_time.unwrap_or(i64::MAX)),
            Job::Live(_) => None,
        };
        while jobs.iter().filter(|e| ended(e).is_some()).count() > self.config.max_finished_jobs {
            let Some(oldest) = jobs
                .iter()
                .enumerate()
                .filter_map(|(i, e)| ended(e).map(|end| (end, i)))
                .min()
                .map(|(_, i)| i)
            else {
                break;
            };
            let forgotten = jobs.remove(oldest);
            self.triggers.forget_job(&forgotten.job_id);
        }
    }
}

/// A job taken out of the table, so that no lock is held while using it.
enum Found {
    Live(Arc<dyn JobHandle>),
    Ended(Box<JobStatus>),
}

impl Found {
    fn of(job: &Job) -> Found {
        match job {
            Job::Live(handle) => Found::Live(Arc::clone(handle)),
            Job::Ended(status) => Found::Ended(status.clone()),
        }
    }
}

#[cfg(test)]
mod tests;
