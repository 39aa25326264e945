//! Runnel's metric system (SPEC M3, I3), after Flink's.
//!
//! Operators and the runtime record what they do in cheap, thread-safe handles —
//! [`Counter`], [`Gauge`], [`Meter`], [`Histogram`] — registered by name in
//! scoped [`MetricGroup`]s (TaskManager → job → task → operator, or JobManager →
//! job) that carry the variables identifying them (`<job_id>`, `<subtask_index>`,
//! …). A process keeps one [`MetricRegistry`]; reporters read it: Prometheus text
//! ([`render_prometheus`]) and the REST API's JSON ([`snapshot`]). [`TaskIoTime`]
//! accounts a task's busy, idle and back-pressured time, from which the task's
//! [`BackPressureLevel`] is derived.
//!
//! Two rules keep metrics off the hot path's critical cost: updating a metric is
//! a relaxed atomic operation, never a lock or an allocation; and nothing here
//! reads a clock — time-based views ([`Meter::update`], [`TaskIoTime::update`])
//! are given the time by whoever ticks them, so tests drive time by hand.
//!
//! This crate depends on no other Runnel crate; the runtime and the REST layer
//! depend on it.

mod backpressure;
mod counter;
mod error;
mod gauge;
mod group;
mod histogram;
mod io_time;
mod meter;
mod metric;
pub mod names;
mod prometheus;
mod registry;
mod scope;
mod scoped;
mod snapshot;

pub use backpressure::BackPressureLevel;
pub use counter::Counter;
pub use error::MetricError;
pub use gauge::{Gauge, GaugeValue};
pub use group::MetricGroup;
pub use histogram::{
    DEFAULT_HISTOGRAM_SIZE, Histogram, HistogramStatistics, HistogramSummary, QUANTILES,
};
pub use io_time::{DEFAULT_IO_TIME_WINDOW, TaskIoTime, TaskState};
pub use meter::{DEFAULT_TIME_SPAN_SECS, Meter, UPDATE_INTERVAL_MILLIS};
pub use metric::{Metric, MetricKind};
pub use prometheus::render_prometheus;
pub use registry::{MetricRegistry, RegisteredMetric};
pub use scope::{ScopeKind, variables};
pub use scoped::{
    JobManagerGroup, JobManagerJobGroup, OperatorGroup, TaskGroup, TaskManagerGroup,
    TaskManagerJobGroup,
};
pub use snapshot::{MetricFilter, MetricReading, MetricValue, snapshot};
