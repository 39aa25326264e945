//! The JSON view for the REST API: current values of the metrics of one job,
//! task or operator, named as Flink's REST API names them.
//!
//! A metric's `id` is relative to the entity it belongs to: plain `name` for
//! process- and job-level metrics, `<subtask>.<name>` for a task
//! (`0.numRecordsIn`) and `<subtask>.<operator>.<name>` for an operator
//! (`0.Map.numRecordsOut`), user subgroups inserted before the name.

use std::collections::BTreeMap;

use crate::histogram::HistogramSummary;
use crate::scope::{ScopeKind, variables as var};
use crate::{GaugeValue, Metric, MetricKind, MetricRegistry, RegisteredMetric};

/// Which metrics a [`snapshot`] lists: every condition set must hold.
///
/// ```
/// use runnel_metrics::MetricFilter;
/// let all_of_one_operator = MetricFilter::operator("job-1", "vertex-2", "Map");
/// let first_subtask_only = MetricFilter::task("job-1", "vertex-2").with_subtask(0);
/// # let _ = (all_of_one_operator, first_subtask_only);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricFilter {
    kinds: Option<Vec<ScopeKind>>,
    variables: BTreeMap<&'static str, String>,
}

impl MetricFilter {
    /// Every metric.
    pub fn all() -> Self {
        Self::default()
    }

    /// The JobManager's own metrics (not its jobs').
    pub fn job_manager() -> Self {
        Self::all().with_kinds(&[ScopeKind::JobManager])
    }

    /// TaskManager `tm_id`'s own metrics (not its tasks').
    pub fn task_manager(tm_id: &str) -> Self {
        Self::all()
            .with_kinds(&[ScopeKind::TaskManager])
            .with_variable(var::TM_ID, tm_id)
    }

    /// Every metric of job `job_id`, at any level (job, task, operator).
    pub fn job(job_id: &str) -> Self {
        Self::all().with_variable(var::JOB_ID, job_id)
    }

    /// The metrics of vertex `task_id` of job `job_id`: all its subtasks and their
    /// operators, as Flink's `/jobs/:job/vertices/:vertex/metrics`.
    pub fn task(job_id: &str, task_id: &str) -> Self {
        Self::job(job_id)
            .with_kinds(&[ScopeKind::Task, ScopeKind::Operator])
            .with_variable(var::TASK_ID, task_id)
    }

    /// The metrics of operator `operator_name` in vertex `task_id`, all subtasks.
    pub fn operator(job_id: &str, task_id: &str, operator_name: &str) -> Self {
        Self::task(job_id, task_id)
            .with_kinds(&[ScopeKind::Operator])
            .with_variable(var::OPERATOR_NAME, operator_name)
    }

    /// Restricts the filter to subtask `index`.
    pub fn with_subtask(self, index: u32) -> Self {
        self.with_variable(var::SUBTASK_INDEX, &index.to_string())
    }

    fn with_kinds(mut self, kinds: &[ScopeKind]) -> Self {
        self.kinds = Some(kinds.to_vec());
        self
    }

    fn with_variable(mut self, key: &'static str, value: &str) -> Self {
        self.variables.insert(key, value.to_string());
        self
    }

    /// Whether `metric` passes the filter.
    pub fn matches(&self, metric: &RegisteredMetric) -> bool {
        let scope = metric.scope();
        self.kinds.as_ref().is_none_or(|k| k.contains(&scope.kind))
            && self
                .variables
                .iter()
                .all(|(k, v)| scope.variable(k) == Some(v.as_str()))
    }
}

/// One metric's current value, as the REST API returns it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MetricValue {
    /// The REST id, relative to its job, task or operator (`0.Map.numRecordsOut`).
    pub id: String,
    /// The full identifier (`localhost.taskmanager.tm-1.WordCount.Map.0.numRecordsOut`).
    pub identifier: String,
    /// The kind of group it belongs to.
    pub scope: ScopeKind,
    /// The group's variables.
    pub variables: BTreeMap<String, String>,
    /// The metric's type and value(s).
    #[serde(flatten)]
    pub reading: MetricReading,
}

/// A metric's type and value(s); serialized with a `type` tag.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum MetricReading {
    /// A counter's count.
    Counter {
        /// The count.
        value: i64,
    },
    /// A gauge's value.
    Gauge {
        /// The value.
        value: GaugeValue,
    },
    /// A meter's rate and event count.
    Meter {
        /// Events per second over the window.
        rate: f64,
        /// Events so far.
        count: i64,
    },
    /// A histogram's statistics.
    Histogram(HistogramSummary),
}

impl MetricReading {
    /// Reads `metric` now.
    pub fn read(metric: &Metric) -> Self {
        match metric {
            Metric::Counter(c) => MetricReading::Counter { value: c.count() },
            Metric::Gauge(g) => MetricReading::Gauge { value: g.value() },
            Metric::Meter(m) => MetricReading::Meter {
                rate: m.rate(),
                count: m.count(),
            },
            Metric::Histogram(h) => MetricReading::Histogram(h.statistics().summary()),
        }
    }

    /// The type of metric read.
    pub fn kind(&self) -> MetricKind {
        match self {
            MetricReading::Counter { .. } => MetricKind::Counter,
            MetricReading::Gauge { .. } => MetricKind::Gauge,
            MetricReading::Meter { .. } => MetricKind::Meter,
            MetricReading::Histogram(_) => MetricKind::Histogram,
        }
    }
}

/// The current values of the metrics `filter` selects, sorted by id, then identifier.
pub fn snapshot(registry: &MetricRegistry, filter: &MetricFilter) -> Vec<MetricValue> {
    let mut values: Vec<MetricValue> = registry
        .metrics()
        .into_iter()
        .filter(|m| filter.matches(m))
        .map(|m| MetricValue {
            id: m.query_id(),
            identifier: m.identifier(),
            scope: m.scope_kind(),
            variables: m.variables().clone(),
            reading: MetricReading::read(m.metric()),
        })
        .collect();
    values.sort_by(|a, b| (&a.id, &a.identifier).cmp(&(&b.id, &b.identifier)));
    values
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MetricError;

    /// One TaskManager running job `j` (vertices `v1` Source and `v2` Map, two
    /// subtasks each) and job `k`, plus JobManager metrics.
    fn cluster() -> Result<MetricRegistry, MetricError> {
        let registry = MetricRegistry::new();
        let jm = registry.job_manager_group("jm");
        jm.gauge_i64("numRunningJobs", 2)?;
        jm.add_job("j", "job").counter("numRestarts")?;
        let tm = registry.task_manager_group("h", "tm-1");
        tm.gauge_i64("numSlots", 4)?;
        let job = tm.add_job("j", "job");
        for subtask in 0..2 {
            let source = job.add_task("v1", "Source", subtask, 0);
            source.counter("numRecordsOut")?.inc_by(10);
            let map = job.add_task("v2", "Map", subtask, 0);
            map.counter("numRecordsIn")?.inc_by(10 + i64::from(subtask));
            let op = map.add_operator("o2", "Map");
            op.counter("numRecordsOut")?.inc();
            op.add_group("cache")?.counter("hits")?;
        }
        tm.add_job("k", "other")
            .add_task("v1", "Source", 0, 0)
            .counter("numRecordsOut")?;
        Ok(registry)
    }

    fn ids(registry: &MetricRegistry, filter: &MetricFilter) -> Vec<String> {
        snapshot(registry, filter)
            .into_iter()
            .map(|v| v.id)
            .collect()
    }

    #[test]
    fn ids_are_relative_to_their_job_task_or_operator() -> Result<(), MetricError> {
        let r = cluster()?;
        assert_eq!(
            ids(&r, &MetricFilter::task("j", "v2")),
            [
                "0.Map.cache.hits",
                "0.Map.numRecordsOut",
                "0.numRecordsIn",
                "1.Map.cache.hits",
                "1.Map.numRecordsOut",
                "1.numRecordsIn",
            ]
        );
        assert_eq!(ids(&r, &MetricFilter::job_manager()), ["numRunningJobs"]);
        assert_eq!(ids(&r, &MetricFilter::task_manager("tm-1")), ["numSlots"]);
        Ok(())
    }

    #[test]
    fn filters_select_one_job_task_operator_or_subtask() -> Result<(), MetricError> {
        let r = cluster()?;
        assert_eq!(snapshot(&r, &MetricFilter::all()).len(), 12);
        assert_eq!(
            snapshot(&r, &MetricFilter::job("j")).len(),
            9,
            "JM and TM side"
        );
        assert_eq!(ids(&r, &MetricFilter::job("k")), ["0.numRecordsOut"]);
        assert_eq!(
            ids(
                &r,
                &MetricFilter::operator("j", "v2", "Map").with_subtask(1)
            ),
            ["1.Map.cache.hits", "1.Map.numRecordsOut"]
        );
        let first = snapshot(&r, &MetricFilter::task("j", "v2").with_subtask(1));
        let records_in = first.iter().find(|v| v.id == "1.numRecordsIn");
        assert_eq!(
            records_in.map(|v| &v.reading),
            Some(&MetricReading::Counter { value: 11 })
        );
        assert!(snapshot(&r, &MetricFilter::task("j", "nope")).is_empty());
        Ok(())
    }

    #[test]
    fn serializes_like_the_rest_api() -> Result<(), Box<dyn std::error::Error>> {
        let registry = MetricRegistry::new();
        let task = registry
            .task_manager_group("h", "tm")
            .add_job("j", "job")
            .add_task("v", "Map", 0, 0);
        task.counter("numRecordsIn")?.inc_by(3);
        task.gauge_f64("ratio", 0.25)?;
        task.meter("perSecond")?;
        let h = task.histogram_with_size("latency", 2)?;
        h.update(4);
        let json = serde_json::to_value(snapshot(&registry, &MetricFilter::all()))?;
        let expected = serde_json::json!([
            {
                "id": "0.latency",
                "identifier": "h.taskmanager.tm.job.Map.0.latency",
                "scope": "task",
                "variables": {
                    "<host>": "h", "<job_id>": "j", "<job_name>": "job",
                    "<subtask_index>": "0", "<task_attempt_num>": "0",
                    "<task_id>": "v", "<task_name>": "Map", "<tm_id>": "tm"
                },
                "type": "histogram", "count": 1, "min": 4, "max": 4, "mean": 4.0,
                "stddev": 0.0, "p50": 4.0, "p75": 4.0, "p95": 4.0, "p98": 4.0,
                "p99": 4.0, "p999": 4.0
            }
        ]);
        assert_eq!(json[0], expected[0]);
        let rest: Vec<_> = json.as_array().into_iter().flatten().skip(1).collect();
        let value = |i: usize, key: &str| rest[i].get(key).cloned();
        assert_eq!(value(0, "id"), Some("0.numRecordsIn".into()));
        assert_eq!(value(0, "type"), Some("counter".into()));
        assert_eq!(value(0, "value"), Some(3.into()));
        assert_eq!(value(1, "type"), Some("meter".into()));
        assert_eq!(value(1, "rate"), Some(0.0.into()));
        assert_eq!(value(2, "type"), Some("gauge".into()));
        assert_eq!(value(2, "value"), Some(0.25.into()));
        Ok(())
    }
}
