//! [`MetricGroup`]: a named scope that metrics and subgroups are registered in.
//!
//! Invariants:
//! - a name is unique within a group: asking again for a metric of the same type
//!   returns the registered handle, of another type is [`MetricError::TypeMismatch`];
//! - closing a group closes its subgroups and removes all their metrics from the
//!   registry; the closed flag is read and written under the registry lock, so a
//!   registration racing with `close` either lands before (and is removed) or
//!   sees the group closed;
//! - a closed group still hands out working metrics (an operator that registers
//!   late must not fail), but they are not registered, so nobody reports them.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use crate::histogram::DEFAULT_HISTOGRAM_SIZE;
use crate::meter::DEFAULT_TIME_SPAN_SECS;
use crate::scope::{ScopeInfo, ScopeKind};
use crate::{Counter, Gauge, Histogram, Meter, Metric, MetricError, MetricKind, MetricRegistry};

/// A group of metrics: the root of a process, a job, a task, an operator, or a
/// user subgroup. Cheap to clone; clones are the same group.
#[derive(Clone)]
pub struct MetricGroup {
    inner: Arc<Inner>,
}

struct Inner {
    registry: MetricRegistry,
    id: u64,
    scope: Arc<ScopeInfo>,
    /// Written only under the registry lock (see the module docs).
    closed: AtomicBool,
    /// The parent and this group's key among its children.
    parent: Option<(Weak<Inner>, String)>,
    children: Mutex<BTreeMap<String, MetricGroup>>,
}

impl MetricGroup {
    pub(crate) fn root(registry: MetricRegistry, scope: ScopeInfo) -> Self {
        Self::create(registry, scope, None, false)
    }

    fn create(
        registry: MetricRegistry,
        scope: ScopeInfo,
        parent: Option<(Weak<Inner>, String)>,
        closed: bool,
    ) -> Self {
        let id = registry.next_group_id();
        MetricGroup {
            inner: Arc::new(Inner {
                registry,
                id,
                scope: Arc::new(scope),
                closed: AtomicBool::new(closed),
                parent,
                children: Mutex::new(BTreeMap::new()),
            }),
        }
    }

    /// The child under `key`, created with `scope` if there is none. A closed
    /// group's children are created closed and not remembered.
    pub(crate) fn child(&self, key: String, scope: impl FnOnce(&ScopeInfo) -> ScopeInfo) -> Self {
        let mut children = self.children();
        if let Some(existing) = children.get(&key) {
            return existing.clone();
        }
        let registry = self.inner.registry.clone();
        if self.is_closed() {
            return Self::create(registry, scope(&self.inner.scope), None, true);
        }
        let parent = Some((Arc::downgrade(&self.inner), key.clone()));
        let child = Self::create(registry, scope(&self.inner.scope), parent, false);
        children.insert(key, child.clone());
        child
    }

    /// The user subgroup `name` (created on first use), e.g. `operator.add_group("cache")`.
    pub fn add_group(&self, name: &str) -> Result<MetricGroup, MetricError> {
        self.check_name(name)?;
        Ok(self.child(format!("g:{name}"), |s| s.user_child(name, None)))
    }

    /// A key/value subgroup as Flink's `addGroup(key, value)`: `key` joins the
    /// logical scope and `<key>` = `value` becomes a variable (a Prometheus label).
    pub fn add_key_value_group(&self, key: &str, value: &str) -> Result<MetricGroup, MetricError> {
        self.check_name(key)?;
        self.check_name(value)?;
        Ok(self.child(format!("kv:{key}\u{0}{value}"), |s| {
            s.user_child(key, Some(value))
        }))
    }

    /// The counter `name`, registered on first use.
    pub fn counter(&self, name: &str) -> Result<Counter, MetricError> {
        self.get_or_register(
            name,
            MetricKind::Counter,
            Counter::new,
            Metric::Counter,
            |m| match m {
                Metric::Counter(c) => Some(c.clone()),
                _ => None,
            },
        )
    }

    /// The integral gauge `name` (starting at `initial`), registered on first use.
    pub fn gauge_i64(&self, name: &str, initial: i64) -> Result<Gauge, MetricError> {
        self.gauge(name, || Gauge::new_i64(initial))
    }

    /// The floating-point gauge `name` (starting at `initial`), registered on first use.
    pub fn gauge_f64(&self, name: &str, initial: f64) -> Result<Gauge, MetricError> {
        self.gauge(name, || Gauge::new_f64(initial))
    }

    /// The gauge `name` computed by `f` on each read. If a gauge `name` already
    /// exists it is returned and `f` is dropped (as Flink keeps the first).
    pub fn gauge_fn(
        &self,
        name: &str,
        f: impl Fn() -> f64 + Send + Sync + 'static,
    ) -> Result<Gauge, MetricError> {
        self.gauge(name, || Gauge::from_fn(f))
    }

    fn gauge(&self, name: &str, make: impl FnOnce() -> Gauge) -> Result<Gauge, MetricError> {
        self.get_or_register(name, MetricKind::Gauge, make, Metric::Gauge, |m| match m {
            Metric::Gauge(g) => Some(g.clone()),
            _ => None,
        })
    }

    /// The meter `name` with its own counter and a 60 s window, registered on first use.
    pub fn meter(&self, name: &str) -> Result<Meter, MetricError> {
        self.register_meter(name, Meter::new)
    }

    /// The meter `name` reporting the rate of `counter` over 60 s (Flink's
    /// `MeterView(counter)`, e.g. `numRecordsInPerSecond`), registered on first use.
    pub fn meter_for(&self, name: &str, counter: &Counter) -> Result<Meter, MetricError> {
        self.register_meter(name, || {
            Meter::from_counter(counter.clone(), DEFAULT_TIME_SPAN_SECS)
        })
    }

    fn register_meter(
        &self,
        name: &str,
        make: impl FnOnce() -> Meter,
    ) -> Result<Meter, MetricError> {
        self.get_or_register(name, MetricKind::Meter, make, Metric::Meter, |m| match m {
            Metric::Meter(x) => Some(x.clone()),
            _ => None,
        })
    }

    /// The histogram `name` over the last 1024 values, registered on first use.
    pub fn histogram(&self, name: &str) -> Result<Histogram, MetricError> {
        self.histogram_with_size(name, DEFAULT_HISTOGRAM_SIZE)
    }

    /// The histogram `name` over the last `window_size` values, registered on first
    /// use (an existing histogram keeps its size).
    pub fn histogram_with_size(
        &self,
        name: &str,
        window_size: usize,
    ) -> Result<Histogram, MetricError> {
        let make = || Histogram::new(window_size);
        self.get_or_register(
            name,
            MetricKind::Histogram,
            make,
            Metric::Histogram,
            |m| match m {
                Metric::Histogram(h) => Some(h.clone()),
                _ => None,
            },
        )
    }

    fn get_or_register<T: Clone>(
        &self,
        name: &str,
        requested: MetricKind,
        make: impl FnOnce() -> T,
        wrap: fn(T) -> Metric,
        pick: fn(&Metric) -> Option<T>,
    ) -> Result<T, MetricError> {
        self.check_name(name)?;
        let mut entries = self.inner.registry.lock();
        if self.is_closed() {
            return Ok(make());
        }
        let key = (self.inner.id, name.to_string());
        if let Some((_, existing)) = entries.get(&key) {
            return pick(existing).ok_or_else(|| MetricError::TypeMismatch {
                scope: self.inner.scope.scope_string(),
                name: name.to_string(),
                existing: existing.kind(),
                requested,
            });
        }
        let metric = make();
        entries.insert(key, (self.inner.scope.clone(), wrap(metric.clone())));
        Ok(metric)
    }

    fn check_name(&self, name: &str) -> Result<(), MetricError> {
        if name.trim().is_empty() {
            return Err(MetricError::InvalidName {
                scope: self.inner.scope.scope_string(),
                name: name.to_string(),
            });
        }
        Ok(())
    }

    /// Closes the group and its subgroups and unregisters all their metrics (e.g.
    /// when a task ends). Idempotent.
    pub fn close(&self) {
        {
            let mut entries = self.inner.registry.lock();
            if self.inner.closed.swap(true, Ordering::AcqRel) {
                return;
            }
            MetricRegistry::remove_group(&mut entries, self.inner.id);
        }
        let children = std::mem::take(&mut *self.children());
        for child in children.values() {
            child.close();
        }
        if let Some((parent, key)) = &self.inner.parent
            && let Some(parent) = parent.upgrade()
        {
            let mut siblings = parent.children.lock().unwrap_or_else(|e| e.into_inner());
            if siblings
                .get(key)
                .is_some_and(|g| Arc::ptr_eq(&g.inner, &self.inner))
            {
                siblings.remove(key);
            }
        }
    }

    /// Whether [`MetricGroup::close`] was called on this group or an ancestor.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// The full identifier metric `name` has in this group
    /// (`localhost.taskmanager.tm-1.WordCount.Map.0.numRecordsIn`).
    pub fn metric_identifier(&self, name: &str) -> String {
        self.inner.scope.identifier(name)
    }

    /// The scope components (`["localhost", "taskmanager", "tm-1", …]`).
    pub fn scope_components(&self) -> &[String] {
        &self.inner.scope.components
    }

    /// The logical scope, joined with `.` (`taskmanager.job.task.operator`).
    pub fn logical_scope(&self) -> String {
        self.inner.scope.logical.join(".")
    }

    /// The variables of this group and its ancestors (`<job_id>` → `…`).
    pub fn variables(&self) -> &BTreeMap<String, String> {
        &self.inner.scope.variables
    }

    /// The kind of scoped group this is, or hangs under.
    pub fn scope_kind(&self) -> ScopeKind {
        self.inner.scope.kind
    }

    fn children(&self) -> MutexGuard<'_, BTreeMap<String, MetricGroup>> {
        self.inner
            .children
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}

impl fmt::Debug for MetricGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricGroup")
            .field("scope", &self.inner.scope.scope_string())
            .field("closed", &self.is_closed())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job_group() -> (MetricRegistry, MetricGroup) {
        let registry = MetricRegistry::new();
        let job = registry.job_manager_group("h").add_job("j", "job");
        (registry.clone(), job.group().clone())
    }

    #[test]
    fn same_name_and_type_returns_the_registered_metric() -> Result<(), MetricError> {
        let (registry, g) = job_group();
        let first = g.counter("numRestarts")?;
        first.inc();
        let again = g.counter("numRestarts")?;
        assert!(again.same_as(&first));
        assert_eq!(again.count(), 1);
        assert!(
            g.gauge_i64("g", 1)?.same_as(&g.gauge_fn("g", || 2.0)?),
            "first gauge kept"
        );
        assert!(g.histogram("h")?.same_as(&g.histogram_with_size("h", 3)?));
        assert!(g.meter("m")?.same_as(&g.meter("m")?));
        assert_eq!(registry.len(), 4);
        Ok(())
    }

    #[test]
    fn another_type_under_a_taken_name_is_an_error() -> Result<(), MetricError> {
        let (registry, g) = job_group();
        g.counter("x")?;
        let err = g.meter("x").err();
        assert_eq!(
            err,
            Some(MetricError::TypeMismatch {
                scope: "h.jobmanager.job".into(),
                name: "x".into(),
                existing: MetricKind::Counter,
                requested: MetricKind::Meter,
            })
        );
        let message = err.map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(
            message,
            "metric `x` in group `h.jobmanager.job` is already registered as a counter, \
             cannot register it as a meter"
        );
        assert!(g.gauge_f64("x", 0.0).is_err());
        assert!(g.histogram("x").is_err());
        assert_eq!(registry.len(), 1);
        Ok(())
    }

    #[test]
    fn blank_names_are_rejected() {
        let (registry, g) = job_group();
        assert!(matches!(
            g.counter(""),
            Err(MetricError::InvalidName { .. })
        ));
        assert!(matches!(
            g.add_group("  "),
            Err(MetricError::InvalidName { .. })
        ));
        assert!(g.add_key_value_group("k", "").is_err());
        assert!(registry.is_empty());
    }

    #[test]
    fn subgroups_are_reused_and_extend_the_scope() -> Result<(), MetricError> {
        let (_, g) = job_group();
        let cache = g.add_group("cache")?;
        cache.counter("hits")?.inc();
        assert_eq!(g.add_group("cache")?.counter("hits")?.count(), 1);
        assert_eq!(
            cache.metric_identifier("hits"),
            "h.jobmanager.job.cache.hits"
        );
        assert_eq!(cache.logical_scope(), "jobmanager.job.cache");
        assert_eq!(cache.scope_kind(), ScopeKind::JobManagerJob);
        Ok(())
    }

    #[test]
    fn closing_a_group_unregisters_it_and_its_subgroups() -> Result<(), MetricError> {
        let registry = MetricRegistry::new();
        let jm = registry.job_manager_group("h");
        jm.counter("kept")?;
        let job = jm.add_job("j", "job");
        job.counter("numRestarts")?;
        let sub = job.add_group("sub")?;
        sub.gauge_i64("deep", 1)?;
        assert_eq!(registry.len(), 3);

        job.close();
        job.close(); // idempotent
        assert!(job.is_closed() && sub.is_closed());
        let names: Vec<String> = registry
            .metrics()
            .iter()
            .map(|m| m.name().to_string())
            .collect();
        assert_eq!(names, ["kept"]);

        // Late registrations on a closed group work but are not reported.
        let late = job.counter("late")?;
        late.inc();
        assert_eq!(late.count(), 1);
        assert!(job.add_group("new")?.is_closed());
        assert_eq!(registry.len(), 1);

        // The parent forgot the closed child: asking again gives a fresh open group.
        let again = jm.add_job("j", "job");
        assert!(!again.is_closed());
        again.counter("numRestarts")?;
        assert_eq!(registry.len(), 2);
        Ok(())
    }

    #[test]
    fn concurrent_registration_of_one_name_yields_one_metric() {
        let (registry, g) = job_group();
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let g = g.clone();
                std::thread::spawn(move || g.counter("shared").map(|c| c.inc()))
            })
            .collect();
        for h in handles {
            assert!(matches!(h.join(), Ok(Ok(()))));
        }
        assert_eq!(registry.len(), 1);
        assert_eq!(g.counter("shared").map(|c| c.count()), Ok(8));
    }
}
