//! [`MetricRegistry`]: every metric registered in a process, by group and name.
//!
//! Groups register into the registry and remove their metrics from it when they
//! close; reporters ([`crate::render_prometheus`], [`crate::snapshot`]) read it.
//! The registry's lock is taken to register, to close a group and to copy the list
//! of handles for a report, never to update a metric.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::scope::{ScopeInfo, ScopeKind, variables};
use crate::{JobManagerGroup, Metric, MetricGroup, TaskManagerGroup};

/// All metrics of a process (a JobManager, a TaskManager, or an embedded run).
///
/// Cheap to clone; clones share the metrics.
///
/// ```
/// use runnel_metrics::{MetricFilter, MetricRegistry, snapshot};
/// let registry = MetricRegistry::new();
/// let tm = registry.task_manager_group("localhost", "tm-1");
/// let task = tm.add_job("job-1", "WordCount").add_task("v-1", "Map", 0, 0);
/// task.counter("numRecordsIn")?.inc();
/// let values = snapshot(&registry, &MetricFilter::task("job-1", "v-1"));
/// assert_eq!(values[0].id, "0.numRecordsIn");
/// task.close();
/// assert!(registry.is_empty());
/// # Ok::<(), runnel_metrics::MetricError>(())
/// ```
#[derive(Clone, Default)]
pub struct MetricRegistry {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: Mutex<Entries>,
    next_group_id: AtomicU64,
}

/// Registered metrics by (group id, name): a group's metrics are one key range.
pub(crate) type Entries = BTreeMap<(u64, String), (Arc<ScopeInfo>, Metric)>;

impl MetricRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The root group of a JobManager process on `host`.
    pub fn job_manager_group(&self, host: &str) -> JobManagerGroup {
        let scope = ScopeInfo::root(
            ScopeKind::JobManager,
            &[host, "jobmanager"],
            &[(variables::HOST, host)],
        );
        JobManagerGroup(MetricGroup::root(self.clone(), scope))
    }

    /// The root group of the TaskManager `tm_id` on `host`.
    pub fn task_manager_group(&self, host: &str, tm_id: &str) -> TaskManagerGroup {
        let scope = ScopeInfo::root(
            ScopeKind::TaskManager,
            &[host, "taskmanager", tm_id],
            &[(variables::HOST, host), (variables::TM_ID, tm_id)],
        );
        TaskManagerGroup(MetricGroup::root(self.clone(), scope))
    }

    /// Brings every registered meter's rate up to `now_millis` (see
    /// [`crate::Meter::update`]); the metric ticker calls this every few seconds.
    pub fn update_meters(&self, now_millis: u64) {
        for m in self.metrics() {
            if let Metric::Meter(meter) = m.metric() {
                meter.update(now_millis);
            }
        }
    }

    /// How many metrics are registered.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no metric is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every registered metric, in a stable order (by group creation, then name).
    /// The handles are copied out, so reading their values takes no registry lock.
    pub fn metrics(&self) -> Vec<RegisteredMetric> {
        self.lock()
            .iter()
            .map(|((_, name), (scope, metric))| RegisteredMetric {
                name: name.clone(),
                scope: scope.clone(),
                metric: metric.clone(),
            })
            .collect()
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Entries> {
        self.inner.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn next_group_id(&self) -> u64 {
        self.inner.next_group_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Removes the metrics of group `id`; the caller holds the lock.
    pub(crate) fn remove_group(entries: &mut Entries, id: u64) {
        let keys: Vec<_> = entries
            .range((id, String::new())..(id + 1, String::new()))
            .map(|(k, _)| k.clone())
            .collect();
        for k in keys {
            entries.remove(&k);
        }
    }
}

impl fmt::Debug for MetricRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricRegistry")
            .field("metrics", &self.len())
            .finish()
    }
}

/// A metric as registered: its handle, name and group, for custom reporters.
#[derive(Debug, Clone)]
pub struct RegisteredMetric {
    name: String,
    scope: Arc<ScopeInfo>,
    metric: Metric,
}

impl RegisteredMetric {
    /// The metric's name within its group (`numRecordsIn`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The metric's handle.
    pub fn metric(&self) -> &Metric {
        &self.metric
    }

    /// The full identifier (`localhost.taskmanager.tm-1.WordCount.Map.0.numRecordsIn`).
    pub fn identifier(&self) -> String {
        self.scope.identifier(&self.name)
    }

    /// The id the REST API uses, relative to the job, task or operator
    /// (`0.Map.numRecordsOut`).
    pub fn query_id(&self) -> String {
        self.scope.query_id(&self.name)
    }

    /// The group's logical scope components (`["taskmanager", "job", "task"]`).
    pub fn logical_scope(&self) -> &[String] {
        &self.scope.logical
    }

    /// The group's variables (`<job_id>` → `…`).
    pub fn variables(&self) -> &BTreeMap<String, String> {
        &self.scope.variables
    }

    /// The kind of scoped group the metric lives in.
    pub fn scope_kind(&self) -> ScopeKind {
        self.scope.kind
    }

    pub(crate) fn scope(&self) -> &ScopeInfo {
        &self.scope
    }
}
