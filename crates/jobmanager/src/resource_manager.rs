//! The [`ResourceManager`]: which TaskManagers are registered and alive, and
//! their task slots (SPEC A1, A2, A6).
//!
//! It is a pure state machine (STYLE habit 4): events in — a
//! [`register`](ResourceManager::register), a
//! [`heartbeat`](ResourceManager::heartbeat), a [`tick`](ResourceManager::tick)
//! with the current time — and decisions out — [`Registered`], a
//! [`Rejection`] with its reason, [`Lost`] TaskManagers. It reads no clock,
//! takes no lock and does no I/O: the [`Dispatcher`](crate::Dispatcher) owns
//! one behind a mutex, feeds it the time of its clock, ticks it before every
//! event and logs its decisions; the REST handlers and the endpoint's ticker
//! thread are its only callers.
//!
//! Time is epoch milliseconds, the Dispatcher's clock's (`now` arguments,
//! [`TaskManagerStatus::last_heartbeat`]).
//!
//! Invariants:
//! - a TaskManager id is registered at most once; registering it again
//!   replaces the earlier registration in place (a TaskManager that restarted),
//!   releasing its slots;
//! - a rejected registration changes nothing, not even an earlier registration
//!   of the same id;
//! - a TaskManager is alive while `now - last_heartbeat <= heartbeat_timeout`;
//!   the first [`tick`](ResourceManager::tick) after that removes it and
//!   reports it [`Lost`], once; a heartbeat of a removed id is
//!   [`HeartbeatError::UnknownTaskManager`], so the TaskManager registers again;
//! - every slot of every registered TaskManager is in the slot table, free or
//!   allocated to one job; removing a TaskManager removes its slots and names
//!   the jobs that held any (they must fail over, SPEC A6).

mod registration;
mod slots;

pub use registration::{
    Heartbeat, MAX_ID_LEN, MAX_SLOTS, Registration, Rejection, TaskManagerHardware, TaskManagerId,
    VERSION, check_version,
};
pub use slots::{NotEnoughSlots, ProcessSlots, SlotId, SlotSpread, slots_needed};

use slots::SlotTable;
use std::time::Duration;
use thiserror::Error;

/// Flink's `heartbeat.interval`: how often a TaskManager heartbeats.
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(10);

/// Flink's `heartbeat.timeout`: how long a TaskManager may be silent before it
/// is declared lost.
pub const DEFAULT_HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(50);

/// A registered TaskManager, as the ResourceManager sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskManagerStatus {
    /// Its id.
    pub id: TaskManagerId,
    /// `host:port` it serves data on (port 0: none yet).
    pub address: String,
    /// Its data port (0: none yet).
    pub data_port: u16,
    /// Its slots.
    pub slots: u32,
    /// Its slots not allocated to a job.
    pub free_slots: u32,
    /// Its machine.
    pub hardware: TaskManagerHardware,
    /// Its Runnel version.
    pub version: String,
    /// When it (last) registered, epoch ms.
    pub registered_at: i64,
    /// Its last heartbeat (or registration), epoch ms.
    pub last_heartbeat: i64,
    /// The free slots its last heartbeat reported, if it did.
    pub reported_free_slots: Option<u32>,
    /// Its allocated slots with their jobs.
    pub allocated: Vec<(SlotId, String)>,
}

/// A registration was accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// The TaskManager.
    pub id: TaskManagerId,
    /// It replaced an earlier registration of the same id.
    pub replaced: bool,
    /// Jobs that held slots of the replaced registration (they lost them).
    pub affected_jobs: Vec<String>,
}

/// A TaskManager was silent for longer than the heartbeat timeout and is
/// removed with its slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lost {
    /// The TaskManager.
    pub id: TaskManagerId,
    /// Its address.
    pub address: String,
    /// How long it had been silent, ms.
    pub silent_ms: i64,
    /// Jobs that held slots on it (they must fail over).
    pub affected_jobs: Vec<String>,
}

/// A heartbeat that cannot be taken.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HeartbeatError {
    /// No TaskManager with this id is registered (never, or lost): it must
    /// register again (`404`).
    #[error("TaskManager {id} not found.")]
    UnknownTaskManager {
        /// The id.
        id: String,
    },
    /// The heartbeat reports more free slots than the TaskManager has (`400`).
    #[error("heartbeat of TaskManager {id}: freeSlots {free} exceeds its {slots} slots")]
    Malformed {
        /// The id.
        id: String,
        /// The reported free slots.
        free: u32,
        /// Its slots.
        slots: u32,
    },
}

/// One registered TaskManager.
#[derive(Debug)]
struct Entry {
    id: TaskManagerId,
    registration: Registration,
    data_port: u16,
    registered_at: i64,
    last_heartbeat: i64,
    reported_free_slots: Option<u32>,
}

/// The TaskManagers and their slots. See the [module docs](self).
///
/// ```
/// use runnel_jobmanager::resource_manager::{
///     Heartbeat, Registration, ResourceManager, TaskManagerHardware, VERSION,
/// };
/// use std::time::Duration;
///
/// let mut rm = ResourceManager::new(Duration::from_secs(10), Duration::from_secs(50));
/// let registration = Registration {
///     id: "tm-1".into(),
///     address: "10.0.0.11:6121".into(),
///     slots: 4,
///     hardware: TaskManagerHardware { cpu_cores: 8, physical_memory: 1 << 34 },
///     version: VERSION.into(),
/// };
/// rm.register(registration, 1_000).unwrap();
/// rm.heartbeat("tm-1", Heartbeat::default(), 11_000).unwrap();
/// assert!(rm.tick(61_000).is_empty(), "silent for exactly the timeout");
/// let lost = rm.tick(61_001);
/// assert_eq!((lost[0].id.as_str(), lost[0].silent_ms), ("tm-1", 50_001));
/// assert!(rm.heartbeat("tm-1", Heartbeat::default(), 61_002).is_err());
/// ```
#[derive(Debug)]
pub struct ResourceManager {
    heartbeat_interval: Duration,
    heartbeat_timeout: Duration,
    /// In registration order.
    entries: Vec<Entry>,
    slots: SlotTable,
    spread: SlotSpread,
}

impl Default for ResourceManager {
    fn default() -> Self {
        ResourceManager::new(DEFAULT_HEARTBEAT_INTERVAL, DEFAULT_HEARTBEAT_TIMEOUT)
    }
}

impl ResourceManager {
    /// No TaskManagers yet; TaskManagers heartbeat every `heartbeat_interval`
    /// and are lost after `heartbeat_timeout` of silence.
    pub fn new(heartbeat_interval: Duration, heartbeat_timeout: Duration) -> Self {
        ResourceManager {
            heartbeat_interval,
            heartbeat_timeout,
            entries: Vec::new(),
            slots: SlotTable::default(),
            spread: SlotSpread::Fill,
        }
    }

    /// Takes the slots of jobs' processes as `spread` says (Flink's
    /// `cluster.evenly-spread-out-slots`; [`SlotSpread::Fill`] by default).
    pub fn with_slot_spread(mut self, spread: SlotSpread) -> Self {
        self.spread = spread;
        self
    }

    /// How often TaskManagers heartbeat (told to them at registration).
    pub fn heartbeat_interval(&self) -> Duration {
        self.heartbeat_interval
    }

    /// How long a TaskManager may be silent.
    pub fn heartbeat_timeout(&self) -> Duration {
        self.heartbeat_timeout
    }

    /// Registers a TaskManager at `now`: validates `registration` entirely
    /// (version first), then adds it with free slots, or replaces the earlier
    /// registration of its id (keeping its place, dropping its allocations).
    pub fn register(
        &mut self,
        registration: Registration,
        now: i64,
    ) -> Result<Registered, Rejection> {
        let id = registration.validate()?;
        let data_port = registration::data_port(&registration.address)?;
        let affected_jobs = self.slots.add(&id, registration.slots);
        let entry = Entry {
            id: id.clone(),
            registration,
            data_port,
            registered_at: now,
            last_heartbeat: now,
            reported_free_slots: None,
        };
        let replaced = match self.entries.iter_mut().find(|e| e.id == id) {
            Some(old) => {
                *old = entry;
                true
            }
            None => {
                self.entries.push(entry);
                false
            }
        };
        Ok(Registered {
            id,
            replaced,
            affected_jobs,
        })
    }

    /// Takes a heartbeat of TaskManager `id` at `now`: it is alive until
    /// `now + heartbeat_timeout`. Losses are declared by [`tick`](Self::tick)
    /// only, so tick first to refuse a heartbeat that comes too late.
    pub fn heartbeat(
        &mut self,
        id: &str,
        heartbeat: Heartbeat,
        now: i64,
    ) -> Result<(), HeartbeatError> {
        let Some(entry) = self.entries.iter_mut().find(|e| e.id.as_str() == id) else {
            return Err(HeartbeatError::UnknownTaskManager { id: id.to_string() });
        };
        if let Some(free) = heartbeat.free_slots
            && free > entry.registration.slots
        {
            return Err(HeartbeatError::Malformed {
                id: id.to_string(),
                free,
                slots: entry.registration.slots,
            });
        }
        entry.last_heartbeat = entry.last_heartbeat.max(now);
        entry.reported_free_slots = heartbeat.free_slots;
        Ok(())
    }

    /// Removes every TaskManager silent for longer than the heartbeat timeout
    /// at `now`, with its slots, and reports them.
    pub fn tick(&mut self, now: i64) -> Vec<Lost> {
        let timeout = i64::try_from(self.heartbeat_timeout.as_millis()).unwrap_or(i64::MAX);
        let mut lost = Vec::new();
        let mut i = 0;
        while i < self.entries.len() {
            let silent_ms = now.saturating_sub(self.entries[i].last_heartbeat);
            if silent_ms > timeout {
                let entry = self.entries.remove(i);
                lost.push(Lost {
                    affected_jobs: self.slots.remove(&entry.id),
                    id: entry.id,
                    address: entry.registration.address,
                    silent_ms,
                });
            } else {
                i += 1;
            }
        }
        lost
    }

    /// Every registered TaskManager, in registration order.
    pub fn task_managers(&self) -> Vec<TaskManagerStatus> {
        self.entries.iter().map(|e| self.status(e)).collect()
    }

    /// TaskManager `id`, if registered.
    pub fn task_manager(&self, id: &str) -> Option<TaskManagerStatus> {
        self.entries
            .iter()
            .find(|e| e.id.as_str() == id)
            .map(|e| self.status(e))
    }

    /// How many TaskManagers are registered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No TaskManager is registered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Makes `job` hold `n` slots (with slot sharing, `n` is
    /// [`slots_needed`] of its operators' parallelisms). The slots it already
    /// holds count, so after losing a TaskManager the same call replaces the
    /// lost slots. Returns every slot the job holds; on [`NotEnoughSlots`]
    /// nothing is allocated.
    pub fn allocate(&mut self, job: &str, n: u32) -> Result<Vec<SlotId>, NotEnoughSlots> {
        self.slots.allocate(job, n)
    }

    /// Makes `job` (holding no slots) hold `n` slots over as many
    /// TaskManagers as it takes, as the [slot spread](Self::with_slot_spread)
    /// says; returns the job's processes, one per TaskManager used (see
    /// [`ProcessSlots`]; process 0 holds job slot 0). On [`NotEnoughSlots`]
    /// nothing is allocated.
    pub fn allocate_processes(
        &mut self,
        job: &str,
        n: u32,
    ) -> Result<Vec<ProcessSlots>, NotEnoughSlots> {
        self.slots.allocate_processes(job, n, self.spread)
    }

    /// Frees every slot of `job` (it ended or is rescheduled); returns them.
    pub fn release(&mut self, job: &str) -> Vec<SlotId> {
        self.slots.release(job)
    }

    fn status(&self, e: &Entry) -> TaskManagerStatus {
        TaskManagerStatus {
            id: e.id.clone(),
            address: e.registration.address.clone(),
            data_port: e.data_port,
            slots: e.registration.slots,
            free_slots: self.slots.free(&e.id),
            hardware: e.registration.hardware,
            version: e.registration.version.clone(),
            registered_at: e.registered_at,
            last_heartbeat: e.last_heartbeat,
            reported_free_slots: e.reported_free_slots,
            allocated: self.slots.allocated(&e.id),
        }
    }
}

#[cfg(test)]
mod tests;
