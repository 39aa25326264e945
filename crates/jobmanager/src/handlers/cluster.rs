//! `/config`, `/overview` and `/taskmanagers`.

use super::{ok, param};
use crate::view::cluster::{self as view, Hardware, LOCAL_TASK_MANAGER, TaskManagerInfo};
use crate::{Dispatcher, JobManagerError};
use runnel_rest::{Request, Response};

pub(super) fn config(d: &Dispatcher, _: &Request) -> Result<Response, JobManagerError> {
    let c = d.config();
    ok(&view::UiConfig {
        refresh_interval: c.refresh_interval_ms,
        runnel_version: view::VERSION,
        timezone_name: c.timezone.clone(),
    })
}

pub(super) fn overview(d: &Dispatcher, _: &Request) -> Result<Response, JobManagerError> {
    ok(&view::overview(d.config().slots, &d.jobs()))
}

fn local(d: &Dispatcher, jobs: &[runnel_runtime::status::JobStatus]) -> TaskManagerInfo {
    let slots = view::slots(d.config().slots, jobs);
    view::local_task_manager(&d.config().host, slots, hardware(), d.now())
}

pub(super) fn task_managers(d: &Dispatcher, _: &Request) -> Result<Response, JobManagerError> {
    ok(&view::task_managers(local(d, &d.jobs())))
}

pub(super) fn task_manager(d: &Dispatcher, req: &Request) -> Result<Response, JobManagerError> {
    let id = param(req, "taskmanagerid");
    if id != LOCAL_TASK_MANAGER {
        return Err(JobManagerError::TaskManagerNotFound { id: id.to_string() });
    }
    let jobs = d.jobs();
    ok(&view::task_manager_details(local(d, &jobs), &jobs))
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
