//! The cluster: the web UI's settings, the overview and the TaskManagers —
//! those that registered with the ResourceManager and, when jobs run embedded,
//! this process as the TaskManager `local` — and the answers of the
//! TaskManager protocol.

use crate::resource_manager::{TaskManagerStatus, slots_needed};
use runnel_runtime::status::{JobState, JobStatus};
use serde::Serialize;
use std::time::Duration;

/// The id of the TaskManager that is this process.
pub(crate) const LOCAL_TASK_MANAGER: &str = "local";

/// This crate's version: the `runnel-version` of the answers.
pub(crate) const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `GET /config`.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub(crate) struct UiConfig {
    pub refresh_interval: u64,
    pub runnel_version: &'static str,
    pub timezone_name: String,
}

/// Task slots of the local TaskManager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slots {
    pub total: u32,
    pub available: u32,
}

/// The slots a job occupies: its highest parallelism (all its vertices share
/// slots, as Flink's default slot sharing group).
fn demand(job: &JobStatus) -> u32 {
    slots_needed(job.vertices.iter().map(|v| v.parallelism))
}

/// The slots of the local TaskManager: `configured`, else the highest demand
/// of a running job; available what the running jobs leave.
pub(crate) fn slots(configured: Option<u32>, jobs: &[JobStatus]) -> Slots {
    let running = jobs.iter().filter(|j| !j.state.is_terminal());
    let demands: Vec<u32> = running.map(demand).collect();
    let total = configured.unwrap_or_else(|| demands.iter().copied().max().unwrap_or(0));
    Slots {
        total,
        available: total.saturating_sub(demands.iter().sum()),
    }
}

/// The TaskManagers of the cluster and their slots, summed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClusterSlots {
    pub task_managers: u32,
    pub total: u32,
    pub available: u32,
}

/// The local TaskManager's slots (if jobs run embedded) plus the registered
/// TaskManagers'.
pub(crate) fn cluster(local: Option<Slots>, registered: &[TaskManagerStatus]) -> ClusterSlots {
    let local = local.into_iter().map(|s| (s.total, s.available));
    let remote = registered.iter().map(|t| (t.slots, t.free_slots));
    local.chain(remote).fold(
        ClusterSlots {
            task_managers: 0,
            total: 0,
            available: 0,
        },
        |c, (total, available)| ClusterSlots {
            task_managers: c.task_managers + 1,
            total: c.total + total,
            available: c.available + available,
        },
    )
}

/// `GET /overview`.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub(crate) struct ClusterOverview {
    taskmanagers: u32,
    slots_total: u32,
    slots_available: u32,
    jobs_running: u32,
    jobs_finished: u32,
    jobs_cancelled: u32,
    jobs_failed: u32,
    runnel_version: &'static str,
}

pub(crate) fn overview(slots: ClusterSlots, jobs: &[JobStatus]) -> ClusterOverview {
    let count = |f: &dyn Fn(JobState) -> bool| jobs.iter().filter(|j| f(j.state)).count() as u32;
    ClusterOverview {
        taskmanagers: slots.task_managers,
        slots_total: slots.total,
        slots_available: slots.available,
        jobs_running: count(&|s| !s.is_terminal()),
        jobs_finished: count(&|s| s == JobState::Finished),
        jobs_cancelled: count(&|s| s == JobState::Canceled),
        jobs_failed: count(&|s| s == JobState::Failed),
        runnel_version: VERSION,
    }
}

/// The machine's resources (`-1`: unknown).
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Hardware {
    pub cpu_cores: i64,
    pub physical_memory: i64,
    pub free_memory: i64,
    pub managed_memory: i64,
}

/// A TaskManager in `GET /taskmanagers`.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TaskManagerInfo {
    id: String,
    path: String,
    data_port: i32,
    time_since_last_heartbeat: i64,
    slots_number: u32,
    free_slots: u32,
    hardware: Hardware,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub(crate) struct TaskManagers {
    taskmanagers: Vec<TaskManagerInfo>,
}

/// This process as a TaskManager: it is always alive (its heartbeat is now)
/// and has no data port (its subtasks talk in memory).
pub(crate) fn local_task_manager(
    host: &str,
    slots: Slots,
    hardware: Hardware,
    now: i64,
) -> TaskManagerInfo {
    TaskManagerInfo {
        id: LOCAL_TASK_MANAGER.to_string(),
        path: format!("runnel://{host}/taskmanager/{LOCAL_TASK_MANAGER}"),
        data_port: -1,
        time_since_last_heartbeat: now,
        slots_number: slots.total,
        free_slots: slots.available,
        hardware,
    }
}

/// A registered TaskManager. Its path names its data address; `dataPort` is
/// `-1` while it serves no data; free memory is unknown (`-1`) and it has no
/// managed memory.
pub(crate) fn registered_task_manager(tm: &TaskManagerStatus) -> TaskManagerInfo {
    TaskManagerInfo {
        id: tm.id.to_string(),
        path: format!("runnel://{}/taskmanager/{}", tm.address, tm.id),
        data_port: if tm.data_port == 0 {
            -1
        } else {
            i32::from(tm.data_port)
        },
        time_since_last_heartbeat: tm.last_heartbeat,
        slots_number: tm.slots,
        free_slots: tm.free_slots,
        hardware: Hardware {
            cpu_cores: tm.hardware.cpu_cores,
            physical_memory: tm.hardware.physical_memory,
            free_memory: -1,
            managed_memory: 0,
        },
    }
}

pub(crate) fn task_managers(list: Vec<TaskManagerInfo>) -> TaskManagers {
    TaskManagers { taskmanagers: list }
}

#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AllocatedSlot {
    job_id: String,
    resource: serde_json::Map<String, serde_json::Value>,
}

/// `GET /taskmanagers/{id}`.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TaskManagerDetails {
    #[serde(flatten)]
    info: TaskManagerInfo,
    allocated_slots: Vec<AllocatedSlot>,
}

/// The job of each allocated slot of the local TaskManager: one per slot a
/// running job uses.
pub(crate) fn local_allocations(jobs: &[JobStatus]) -> Vec<String> {
    jobs.iter()
        .filter(|j| !j.state.is_terminal())
        .flat_map(|j| (0..demand(j)).map(|_| j.job_id.clone()))
        .collect()
}

/// A TaskManager with the job of each of its allocated slots.
pub(crate) fn task_manager_details(info: TaskManagerInfo, jobs: Vec<String>) -> TaskManagerDetails {
    let allocated_slots = jobs
        .into_iter()
        .map(|job_id| AllocatedSlot {
            job_id,
            resource: serde_json::Map::new(),
        })
        .collect();
    TaskManagerDetails {
        info,
        allocated_slots,
    }
}

/// `POST /taskmanagers`: the registered id and the heartbeat settings.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RegistrationAnswer {
    id: String,
    heartbeat_interval_ms: u64,
    heartbeat_timeout_ms: u64,
}

pub(crate) fn registration_answer(
    id: &str,
    interval: Duration,
    timeout: Duration,
) -> RegistrationAnswer {
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    RegistrationAnswer {
        id: id.to_string(),
        heartbeat_interval_ms: ms(interval),
        heartbeat_timeout_ms: ms(timeout),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::tests::status;
    use serde_json::json;

    #[test]
    fn slots_are_configured_or_the_highest_running_parallelism() {
        let mut wide = status();
        wide.vertices[1].parallelism = 4;
        let mut ended = status();
        ended.vertices[1].parallelism = 8;
        ended.state = JobState::Failed;
        let jobs = [status(), wide, ended];
        assert_eq!(
            slots(None, &jobs),
            Slots {
                total: 4,
                available: 0
            }
        );
        assert_eq!(
            slots(Some(10), &jobs),
            Slots {
                total: 10,
                available: 4
            }
        );
        assert_eq!(
            slots(None, &[]),
            Slots {
                total: 0,
                available: 0
            }
        );
        let local = cluster(Some(slots(Some(10), &jobs)), &[]);
        let o = serde_json::to_value(overview(local, &jobs)).unwrap();
        assert_eq!(
            o,
            json!({"taskmanagers": 1, "slots-total": 10, "slots-available": 4, "jobs-running": 2,
                   "jobs-finished": 0, "jobs-cancelled": 0, "jobs-failed": 1, "runnel-version": VERSION})
        );
    }

    #[test]
    fn the_local_task_manager_lists_its_allocated_slots() {
        let hw = Hardware {
            cpu_cores: 8,
            physical_memory: 1,
            free_memory: 1,
            managed_memory: 0,
        };
        let tm = local_task_manager(
            "h",
            Slots {
                total: 2,
                available: 0,
            },
            hw,
            42,
        );
        let d =
            serde_json::to_value(task_manager_details(tm, local_allocations(&[status()]))).unwrap();
        assert_eq!(d["id"], "local");
        assert_eq!(d["timeSinceLastHeartbeat"], 42);
        assert_eq!(d["slotsNumber"], 2);
        assert_eq!(d["hardware"]["cpuCores"], 8);
        assert_eq!(d["allocatedSlots"].as_array().unwrap().len(), 2);
        assert_eq!(
            d["allocatedSlots"][0]["jobId"],
            "0123456789abcdef0123456789abcdef"
        );
    }

    #[test]
    fn registered_task_managers_are_listed_and_summed() {
        use crate::resource_manager::{TaskManagerHardware, TaskManagerId};
        let tm = |id: &str, address: &str, slots, free_slots| TaskManagerStatus {
            id: TaskManagerId::new(id).unwrap(),
            address: address.into(),
            data_port: address.rsplit_once(':').unwrap().1.parse().unwrap(),
            slots,
            free_slots,
            hardware: TaskManagerHardware {
                cpu_cores: 4,
                physical_memory: 1 << 30,
            },
            version: VERSION.into(),
            registered_at: 1_000,
            last_heartbeat: 7_000,
            reported_free_slots: None,
            allocated: Vec::new(),
        };
        let registered = [tm("tm-a", "10.0.0.1:6121", 4, 4), tm("tm-b", "h:0", 2, 1)];
        let info = serde_json::to_value(registered_task_manager(&registered[0])).unwrap();
        assert_eq!(
            info,
            json!({"id": "tm-a", "path": "runnel://10.0.0.1:6121/taskmanager/tm-a",
                   "dataPort": 6121, "timeSinceLastHeartbeat": 7_000, "slotsNumber": 4,
                   "freeSlots": 4, "hardware": {"cpuCores": 4, "physicalMemory": 1 << 30,
                   "freeMemory": -1, "managedMemory": 0}})
        );
        assert_eq!(
            serde_json::to_value(registered_task_manager(&registered[1])).unwrap()["dataPort"],
            -1
        );
        let standalone = cluster(None, &registered);
        assert_eq!(
            standalone,
            ClusterSlots {
                task_managers: 2,
                total: 6,
                available: 5
            }
        );
        let local = Slots {
            total: 2,
            available: 1,
        };
        assert_eq!(
            cluster(Some(local), &registered),
            ClusterSlots {
                task_managers: 3,
                total: 8,
                available: 6
            }
        );
        assert_eq!(cluster(None, &[]).task_managers, 0);
    }
}
