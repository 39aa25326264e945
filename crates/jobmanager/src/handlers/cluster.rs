//! `/config`, `/overview` and `GET /taskmanagers`: the registered
//! TaskManagers, and this process as `local` when jobs run embedded.

use super::{ok, param};
use crate::view::cluster::{self as view, Hardware, LOCAL_TASK_MANAGER, TaskManagerInfo};
use crate::{Dispatcher, JobManagerError};
use runnel_rest::{Request, Response};
use runnel_runtime::status::JobStatus;

pub(super) fn config(d: &Dispatcher, _: &Request) -> Result<Response, JobManagerError> {
    let c = d.config();
    ok(&view::UiConfig {
        refresh_interval: c.refresh_interval_ms,
        runnel_version: view::VERSION,
        timezone_name: c.timezone.clone(),
    })
}

pub(super) fn overview(d: &Dispatcher, _: &Request) -> Result<Response, JobManagerError> {
    let jobs = d.jobs();
    let cluster = view::cluster(d.local_slots(&jobs), &d.task_managers());
    ok(&view::overview(cluster, &jobs))
}

/// This process as a TaskManager, if jobs run embedded.
fn local(d: &Dispatcher, jobs: &[JobStatus]) -> Option<TaskManagerInfo> {
    let slots = d.local_slots(jobs)?;
    Some(view::local_task_manager(
        &d.config().host,
        slots,
        hardware(),
        d.now(),
    ))
}

pub(super) fn task_managers(d: &Dispatcher, _: &Request) -> Result<Response, JobManagerError> {
    let registered = d.task_managers();
    let list = local(d, &d.jobs())
        .into_iter()
        .chain(registered.iter().map(view::registered_task_manager))
        .collect();
    ok(&view::task_managers(list))
}

pub(super) fn task_manager(d: &Dispatcher, req: &Request) -> Result<Response, JobManagerError> {
    let id = param(req, "taskmanagerid");
    if id == LOCAL_TASK_MANAGER {
        let jobs = d.jobs();
        if let Some(info) = local(d, &jobs) {
            return ok(&view::task_manager_details(
                info,
                view::local_allocations(&jobs),
            ));
        }
    }
    let tm = d.task_manager(id)?;
    let jobs = tm.allocated.iter().map(|(_, job)| job.clone()).collect();
    ok(&view::task_manager_details(
        view::registered_task_manager(&tm),
        jobs,
    ))
}

/// This machine's cores and memory (memory from `/proc/meminfo`, `-1` where
/// that is not available).
fn hardware() -> Hardware {
    let cores = std::thread::available_parallelism().map_or(-1, |n| n.get() as i64);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let kib = |key: &str| {
        meminfo
            .lines()
            .find_map(|l| {
                l.strip_prefix(key)?
                    .trim()
                    .strip_suffix("kB")?
                    .trim()
                    .parse()
                    .ok()
            })
            .map_or(-1, |k: i64| k * 1024)
    };
    Hardware {
        cpu_cores: cores,
        physical_memory: kib("MemTotal:"),
        free_memory: kib("MemAvailable:"),
        managed_memory: 0,
    }
}
