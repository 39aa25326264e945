//! [`Histogram`]: the distribution of the last N values.
//!
//! Flink's `DescriptiveStatisticsHistogram`: a bounded reservoir holding the most
//! recent `window_size` values, from which count, min, max, mean, standard deviation
//! and quantiles are computed when a reporter asks. Recording a value is two relaxed
//! atomic operations (reserve a slot, store into it) and never allocates or locks;
//! the sort happens on the reader's side, in [`Histogram::statistics`].

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// The reservoir size used by [`crate::MetricGroup::histogram`].
pub const DEFAULT_HISTOGRAM_SIZE: usize = 1024;

/// The quantiles reporters export, as in Flink: p50, p75, p95, p98, p99, p999.
pub const QUANTILES: [f64; 6] = [0.5, 0.75, 0.95, 0.98, 0.99, 0.999];

/// Marks a slot nothing has been written to yet; `i64::MIN` itself is recorded as
/// `i64::MIN + 1` so that it never collides.
const EMPTY: i64 = i64::MIN;

/// The distribution of recent values, e.g. a latency in milliseconds.
///
/// ```
/// let latency = runnel_metrics::Histogram::new(3);
/// for v in [5, 1, 9, 4] {
///     latency.update(v);
/// }
/// let stats = latency.statistics();
/// assert_eq!(stats.count(), 4); // every value ever recorded
/// assert_eq!(stats.values(), &[1, 4, 9]); // the last 3, sorted
/// assert_eq!(stats.quantile(0.5), 4.0);
/// ```
#[derive(Debug, Clone)]
pub struct Histogram {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    slots: Box<[AtomicI64]>,
    /// Values recorded so far; value `i` lives in slot `i % slots.len()`.
    seen: AtomicU64,
}

impl Histogram {
    /// A histogram over the last `window_size` values (at least one).
    pub fn new(window_size: usize) -> Self {
        let slots = (0..window_size.max(1))
            .map(|_| AtomicI64::new(EMPTY))
            .collect();
        Histogram {
            inner: Arc::new(Inner {
                slots,
                seen: AtomicU64::new(0),
            }),
        }
    }

    /// Records a value, evicting the oldest once the reservoir is full.
    pub fn update(&self, value: i64) {
        let i = self.inner.seen.fetch_add(1, Ordering::Relaxed);
        let slot = (i % self.inner.slots.len() as u64) as usize;
        self.inner.slots[slot].store(value.max(EMPTY + 1), Ordering::Relaxed);
    }

    /// How many values were ever recorded.
    pub fn count(&self) -> u64 {
        self.inner.seen.load(Ordering::Relaxed)
    }

    /// How many recent values the reservoir keeps.
    pub fn window_size(&self) -> usize {
        self.inner.slots.len()
    }

    /// The statistics of the values now in the reservoir. A value recorded
    /// concurrently may or may not be included.
    pub fn statistics(&self) -> HistogramStatistics {
        let count = self.count();
        let mut values: Vec<i64> = self
            .inner
            .slots
            .iter()
            .map(|s| s.load(Ordering::Relaxed))
            .filter(|&v| v != EMPTY)
            .collect();
        values.sort_unstable();
        HistogramStatistics { count, values }
    }

    /// Whether `self` and `other` are handles to the same histogram.
    pub fn same_as(&self, other: &Histogram) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

/// A point-in-time view of a [`Histogram`]'s reservoir.
///
/// Statistics of an empty reservoir are all `0`.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramStatistics {
    count: u64,
    values: Vec<i64>,
}

impl HistogramStatistics {
    /// How many values were ever recorded (not only those in the reservoir).
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The values in the reservoir, ascending.
    pub fn values(&self) -> &[i64] {
        &self.values
    }

    /// The smallest value in the reservoir.
    pub fn min(&self) -> i64 {
        self.values.first().copied().unwrap_or(0)
    }

    /// The largest value in the reservoir.
    pub fn max(&self) -> i64 {
        self.values.last().copied().unwrap_or(0)
    }

    /// The arithmetic mean of the reservoir.
    pub fn mean(&self) -> f64 {
        if self.values.is_empty() {
            return 0.0;
        }
        self.values.iter().map(|&v| v as f64).sum::<f64>() / self.values.len() as f64
    }

    /// The sample standard deviation (divides by `n - 1`, as Commons Math, and so
    /// Flink, does); `0` for fewer than two values.
    pub fn std_dev(&self) -> f64 {
        let n = self.values.len();
        if n < 2 {
            return 0.0;
        }
        let mean = self.mean();
        let squares: f64 = self.values.iter().map(|&v| (v as f64 - mean).powi(2)).sum();
        (squares / (n - 1) as f64).sqrt()
    }

    /// The `q`-quantile (`0 < q ≤ 1`), estimated as Flink does (Commons Math's
    /// default `Percentile`): position `q·(n+1)` in the sorted values, interpolated
    /// linearly between neighbours and clamped to the smallest and largest value.
    pub fn quantile(&self, q: f64) -> f64 {
        let v = &self.values;
        let n = v.len();
        match n {
            0 => return 0.0,
            1 => return v[0] as f64,
            _ => {}
        }
        let pos = q * (n + 1) as f64;
        if pos < 1.0 {
            return v[0] as f64;
        }
        if pos >= n as f64 {
            return v[n - 1] as f64;
        }
        let below = pos.floor();
        let (lower, upper) = (v[below as usize - 1] as f64, v[below as usize] as f64);
        lower + (pos - below) * (upper - lower)
    }

    /// The summary reporters export.
    pub fn summary(&self) -> HistogramSummary {
        HistogramSummary {
            count: self.count,
            min: self.min(),
            max: self.max(),
            mean: self.mean(),
            stddev: self.std_dev(),
            p50: self.quantile(0.5),
            p75: self.quantile(0.75),
            p95: self.quantile(0.95),
            p98: self.quantile(0.98),
            p99: self.quantile(0.99),
            p999: self.quantile(0.999),
        }
    }
}

/// The exported statistics of a histogram (field names as in Flink's REST API).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct HistogramSummary {
    /// How many values were ever recorded.
    pub count: u64,
    /// The smallest value in the reservoir.
    pub min: i64,
    /// The largest value in the reservoir.
    pub max: i64,
    /// The mean of the reservoir.
    pub mean: f64,
    /// The sample standard deviation of the reservoir.
    pub stddev: f64,
    /// The median.
    pub p50: f64,
    /// The 75th percentile.
    pub p75: f64,
    /// The 95th percentile.
    pub p95: f64,
    /// The 98th percentile.
    pub p98: f64,
    /// The 99th percentile.
    pub p99: f64,
    /// The 99.9th percentile.
    pub p999: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(size: usize, values: impl IntoIterator<Item = i64>) -> HistogramStatistics {
        let h = Histogram::new(size);
        values.into_iter().for_each(|v| h.update(v));
        h.statistics()
    }

    fn assert_close(actual: f64, expected: f64) {
        assert!((actual - expected).abs() < 1e-9, "{actual} != {expected}");
    }

    #[test]
    fn statistics_of_one_to_ten() {
        let s = filled(100, [7, 3, 10, 1, 5, 2, 9, 4, 8, 6]).summary();
        assert_eq!((s.count, s.min, s.max), (10, 1, 10));
        assert_close(s.mean, 5.5);
        assert_close(s.stddev, (82.5f64 / 9.0).sqrt());
        assert_close(s.p50, 5.5);
        assert_close(s.p75, 8.25);
        assert_close(s.p95, 10.0);
        assert_close(s.p999, 10.0);
    }

    #[test]
    fn quantiles_of_one_to_hundred() {
        let s = filled(100, 1..=100);
        let table = [
            (0.001, 1.0),
            (0.5, 50.5),
            (0.75, 75.75),
            (0.95, 95.95),
            (0.98, 98.98),
            (0.99, 99.99),
            (0.999, 100.0),
        ];
        for (q, expected) in table {
            assert_close(s.quantile(q), expected);
        }
    }

    #[test]
    fn reservoir_keeps_only_the_last_values() {
        let s = filled(5, 1..=12);
        assert_eq!(s.count(), 12);
        assert_eq!(s.values(), &[8, 9, 10, 11, 12]);
        assert_eq!((s.min(), s.max()), (8, 12));
        assert_close(s.mean(), 10.0);
    }

    #[test]
    fn empty_and_single_value_reservoirs() {
        let empty = filled(4, []);
        assert_eq!(empty.summary().count, 0);
        assert_eq!((empty.min(), empty.max(), empty.mean()), (0, 0, 0.0));
        assert_eq!(empty.quantile(0.5), 0.0);

        let one = filled(4, [-3]);
        assert_eq!(one.quantile(0.99), -3.0);
        assert_eq!(one.std_dev(), 0.0);
        assert_eq!(Histogram::new(0).window_size(), 1);
    }

    #[test]
    fn extreme_values_are_kept() {
        let s = filled(4, [i64::MIN, i64::MAX]);
        assert_eq!(s.values(), &[i64::MIN + 1, i64::MAX]);
    }
}
