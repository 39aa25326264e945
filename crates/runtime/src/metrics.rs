//! Per-operator counters, updated once per batch and readable while a job runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// A monotonically increasing count shared between a task and observers.
#[derive(Debug, Clone, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    /// Adds `n`.
    #[inline]
    pub fn inc_by(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// The current count.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Takes over the count of an operator running in another process.
    pub(crate) fn mirror(&self, n: u64) {
        self.0.store(n, Ordering::Relaxed);
    }
}

/// The last watermark an operator emitted (Flink's `currentOutputWatermark`),
/// shared between its task and observers; `None` before the first.
#[derive(Debug, Clone)]
pub struct WatermarkGauge(Arc<AtomicI64>);

impl Default for WatermarkGauge {
    fn default() -> Self {
        WatermarkGauge(Arc::new(AtomicI64::new(i64::MIN)))
    }
}

impl WatermarkGauge {
    /// Records an emitted watermark (ms).
    #[inline]
    pub fn set(&self, millis: i64) {
        self.0.store(millis, Ordering::Relaxed);
    }

    /// The last watermark emitted, if any.
    pub fn get(&self) -> Option<i64> {
        Some(self.0.load(Ordering::Relaxed)).filter(|w| *w != i64::MIN)
    }
}

/// The built-in counters of one operator instance (Flink's `numRecordsIn` /
/// `numRecordsOut`).
#[derive(Debug, Clone, Default)]
pub struct OperatorCounters {
    /// Records the operator received.
    pub records_in: Counter,
    /// Records the operator emitted (main and side outputs).
    pub records_out: Counter,
    /// Late records an event-time operator dropped (Flink's
    /// `numLateRecordsDropped`).
    pub late_records_dropped: Counter,
    /// The last watermark it emitted.
    pub output_watermark: WatermarkGauge,
}
