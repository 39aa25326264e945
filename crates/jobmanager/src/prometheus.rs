//! `GET /metrics`: the jobs' status snapshots as Prometheus metrics.
//!
//! Each scrape builds a fresh [`MetricRegistry`] from the snapshots of the jobs
//! that have not ended (as Flink drops a job's metrics at its end) and renders
//! it with [`render_prometheus`]: nothing is registered between scrapes, so
//! nothing can go stale or leak. The groups are Flink's:
//!
//! - JobManager: `numRegisteredTaskManagers`, `numRunningJobs`,
//!   `taskSlotsTotal`, `taskSlotsAvailable` (labels `host`);
//! - JobManager job: `uptime`, `numRestarts`, checkpoint counts,
//!   `lastCheckpointSize`, `lastCheckpointDuration`, … (plus `job_id`, `job_name`);
//! - TaskManager task, one series per subtask: `numRecordsIn`, `numRecordsOut`,
//!   `backPressuredTimeMsPerSecond`, `idleTimeMsPerSecond`,
//!   `busyTimeMsPerSecond`, accumulated times (plus `tm_id`, `task_id`,
//!   `task_name`, `subtask_index`, `task_attempt_num`);
//! - TaskManager operator, one series per operator of each subtask's chain:
//!   `numRecordsIn`, `numRecordsOut`, `numLateRecordsDropped`,
//!   `currentOutputWatermark` once it emitted one (plus
//!   `operator_id`, `operator_name`).

use crate::Dispatcher;
use crate::ids::vertex_id;
use crate::view::cluster::{ClusterSlots, LOCAL_TASK_MANAGER, cluster};
use crate::view::metrics::{job_metrics, subtask_gauges, subtask_metrics};
use runnel_metrics::names::{NUM_RECORDS_IN, NUM_RECORDS_OUT};
use runnel_metrics::{MetricError, MetricGroup, MetricRegistry, render_prometheus};
use runnel_runtime::status::JobStatus;

/// The Prometheus text (format 0.0.4) of `dispatcher`'s running jobs, now.
pub fn scrape(dispatcher: &Dispatcher) -> String {
    render_prometheus(&prometheus_registry(dispatcher))
}

/// The registry [`scrape`] renders, for other reporters.
pub fn prometheus_registry(dispatcher: &Dispatcher) -> MetricRegistry {
    let jobs = dispatcher.jobs();
    let slots = cluster(dispatcher.local_slots(&jobs), &dispatcher.task_managers());
    registry_of(&jobs, &dispatcher.config().host, slots, dispatcher.now())
}

/// The metrics of `jobs` (those not ended) at `now`.
fn registry_of(jobs: &[JobStatus], host: &str, slots: ClusterSlots, now: i64) -> MetricRegistry {
    let registry = MetricRegistry::new();
    let running: Vec<&JobStatus> = jobs.iter().filter(|j| !j.state.is_terminal()).collect();
    let jm = registry.job_manager_group(host);
    log_failure(
        "the JobManager",
        [
            ("numRegisteredTaskManagers", i64::from(slots.task_managers)),
            ("numRunningJobs", running.len() as i64),
            ("taskSlotsTotal", i64::from(slots.total)),
            ("taskSlotsAvailable", i64::from(slots.available)),
        ]
        .into_iter()
        .try_for_each(|(name, v)| gauge(&jm, name, v)),
    );
    let tm = registry.task_manager_group(host, LOCAL_TASK_MANAGER);
    for job in running {
        let job_group = jm.add_job(&job.job_id, &job.name);
        log_failure(
            &job.job_id,
            job_metrics(job, now)
                .into_iter()
                .try_for_each(|(name, v)| gauge(&job_group, name, v)),
        );
        let tm_job = tm.add_job(&job.job_id, &job.name);
        for v in &job.vertices {
            let task_id = vertex_id(v);
            for s in &v.subtasks {
                let task = tm_job.add_task(&task_id, &v.name, s.subtask, s.attempt);
                log_failure(
                    &job.job_id,
                    subtask_metrics(s)
                        .into_iter()
                        .try_for_each(|(name, value)| {
                            if name == NUM_RECORDS_IN || name == NUM_RECORDS_OUT {
                                task.counter(name).map(|c| c.inc_by(value))
                            } else {
                                gauge(&task, name, value)
                            }
                        })
                        .and_then(|()| {
                            subtask_gauges(s).into_iter().try_for_each(|(name, value)| {
                                task.gauge_f64(name, value).map(|_| ())
                            })
                        }),
                );
                for (index, op) in s.operators.iter().enumerate() {
                    let operator = task.add_operator(&format!("{task_id}-{index}"), &op.name);
                    log_failure(
                        &job.job_id,
                        [
                            (NUM_RECORDS_IN, op.records_in),
                            (NUM_RECORDS_OUT, op.records_out),
                            ("numLateRecordsDropped", op.late_records_dropped),
                        ]
                        .into_iter()
                        .try_for_each(|(name, value)| {
                            let value = i64::try_from(value).unwrap_or(i64::MAX);
                            operator.counter(name).map(|c| c.inc_by(value))
                        })
                        .and_then(|()| match op.output_watermark {
                            Some(w) => gauge(&operator, "currentOutputWatermark", w),
                            None => Ok(()),
                        }),
                    );
                }
            }
        }
    }
    registry
}

fn gauge(group: &MetricGroup, name: &str, value: i64) -> Result<(), MetricError> {
    group.gauge_i64(name, value).map(|_| ())
}

/// Registering fixed names in a fresh registry cannot fail; if it did, the
/// scrape goes on without the metric.
fn log_failure(whose: &str, result: Result<(), MetricError>) {
    if let Err(e) = result {
        log::warn!("prometheus: a metric of {whose} is left out: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::tests::status;
    use runnel_runtime::status::{JobState, OperatorMetrics};

    #[test]
    fn running_jobs_render_job_and_task_series_with_labels() {
        let mut ended = status();
        ended.job_id = "ffffffffffffffffffffffffffffffff".into();
        ended.state = JobState::Finished;
        let mut running = status();
        running.vertices[1].subtasks[0].operators = vec![OperatorMetrics {
            name: "Window(Tumbling)".into(),
            records_in: 40,
            records_out: 7,
            late_records_dropped: 3,
            output_watermark: Some(41_999),
        }];
        let jobs = [running, ended];
        let slots = cluster(Some(crate::view::cluster::slots(None, &jobs)), &[]);
        let text = render_prometheus(&registry_of(&jobs, "h", slots, 5_000));
        let sample = |line: &str| text.lines().any(|l| l == line);
        let job = r#"host="h",job_id="0123456789abcdef0123456789abcdef",job_name="Shop Revenue""#;
        assert!(
            sample(&format!("runnel_jobmanager_job_uptime{{{job}}} 4000")),
            "{text}"
        );
        assert!(sample(&format!(
            "runnel_jobmanager_job_lastCheckpointSize{{{job}}} -1"
        )));
        assert!(sample(r#"runnel_jobmanager_numRunningJobs{host="h"} 1"#));
        assert!(sample(r#"runnel_jobmanager_taskSlotsTotal{host="h"} 2"#));
        let sink = text
            .lines()
            .find(|l| {
                l.starts_with("runnel_taskmanager_job_task_numRecordsOut{")
                    && l.contains(r#"task_name="Sink: Report""#)
            })
            .unwrap_or_default();
        assert!(sink.contains(r#"subtask_index="0""#), "{sink}");
        assert!(sink.contains(r#"tm_id="local""#), "{sink}");
        assert!(sink.ends_with("} 100"), "{sink}");
        assert!(!text.contains("ffffffff"), "ended jobs have no series");
        let late = text
            .lines()
            .find(|l| l.starts_with("runnel_taskmanager_job_task_operator_numLateRecordsDropped{"))
            .unwrap_or_else(|| panic!("no operator series: {text}"));
        assert!(
            late.contains(r#"operator_name="Window(Tumbling)""#),
            "{late}"
        );
        assert!(late.ends_with("} 3"), "{late}");
        assert!(
            text.lines().any(|l| l
                .starts_with("runnel_taskmanager_job_task_operator_currentOutputWatermark{")
                && l.ends_with("} 41999")),
            "{text}"
        );
    }
}
