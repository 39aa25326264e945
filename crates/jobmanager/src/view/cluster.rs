//! The cluster: the web UI's settings, the overview and the TaskManagers (this
//! process is the one TaskManager, `local`).

use runnel_runtime::status::{JobState, JobStatus};
use serde::Serialize;

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
    job.vertices
        .iter()
        .map(|v| v.parallelism)
        .max()
        .unwrap_or(0)
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

pub(crate) fn overview(configured_slots: Option<u32>, jobs: &[JobStatus]) -> ClusterOverview {
    let count = |f: &dyn Fn(JobState) -> bool| jobs.iter().filter(|j| f(j.state)).count() as u32;
    let slots = slots(configured_slots, jobs);
    ClusterOverview {
        taskmanagers: 1,
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
    id: &'static str,
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
        id: LOCAL_TASK_MANAGER,
        path: format!("runnel://{host}/taskmanager/{LOCAL_TASK_MANAGER}"),
        data_port: -1,
        time_since_last_heartbeat: now,
        slots_number: slots.total,
        free_slots: slots.available,
        hardware,
    }
}

pub(crate) fn task_managers(local: TaskManagerInfo) -> TaskManagers {
    TaskManagers {
        taskmanagers: vec![local],
    }
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

/// The local TaskManager with one allocated slot per slot a running job uses.
pub(crate) fn task_manager_details(
    local: TaskManagerInfo,
    jobs: &[JobStatus],
) -> TaskManagerDetails {
    let allocated_slots = jobs
        .iter()
        .filter(|j| !j.state.is_terminal())
        .flat_map(|j| {
            (0..demand(j)).map(|_| AllocatedSlot {
                job_id: j.job_id.clone(),
                resource: serde_json::Map::new(),
            })
        })
        .collect();
    TaskManagerDetails {
        info: local,
        allocated_slots,
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
        let o = serde_json::to_value(overview(Some(10), &jobs)).unwrap();
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
        let d = serde_json::to_value(task_manager_details(tm, &[status()])).unwrap();
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
}
