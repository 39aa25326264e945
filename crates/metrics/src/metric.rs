//! [`Metric`]: any registered metric, and [`MetricKind`]: its type.

use std::fmt;

use crate::{Counter, Gauge, Histogram, Meter};

/// The type of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricKind {
    /// A [`Counter`].
    Counter,
    /// A [`Gauge`].
    Gauge,
    /// A [`Meter`].
    Meter,
    /// A [`Histogram`].
    Histogram,
}

impl fmt::Display for MetricKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Meter => "meter",
            MetricKind::Histogram => "histogram",
        })
    }
}

/// A handle to any registered metric.
#[derive(Debug, Clone)]
pub enum Metric {
    /// A counter.
    Counter(Counter),
    /// A gauge.
    Gauge(Gauge),
    /// A meter.
    Meter(Meter),
    /// A histogram.
    Histogram(Histogram),
}

impl Metric {
    /// The metric's type.
    pub fn kind(&self) -> MetricKind {
        match self {
            Metric::Counter(_) => MetricKind::Counter,
            Metric::Gauge(_) => MetricKind::Gauge,
            Metric::Meter(_) => MetricKind::Meter,
            Metric::Histogram(_) => MetricKind::Histogram,
        }
    }
}
