//! [`Gauge`]: an instantaneous value, set by its owner or computed on read.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// The value a [`Gauge`] reports.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum GaugeValue {
    /// An integral value (a watermark, a queue length).
    Int(i64),
    /// A floating-point value (a ratio, a closure's result).
    Float(f64),
}

impl GaugeValue {
    /// The value as `f64` (large integers lose precision).
    pub fn as_f64(self) -> f64 {
        match self {
            GaugeValue::Int(v) => v as f64,
            GaugeValue::Float(v) => v,
        }
    }
}

impl fmt::Display for GaugeValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GaugeValue::Int(v) => write!(f, "{v}"),
            GaugeValue::Float(v) => write!(f, "{v}"),
        }
    }
}

type GaugeFn = dyn Fn() -> f64 + Send + Sync;

enum Source {
    Int(AtomicI64),
    /// An `f64` stored as its bits.
    Float(AtomicU64),
    Func(Box<GaugeFn>),
}

/// An instantaneous value, e.g. `currentInputWatermark`.
///
/// Either the owner sets it ([`Gauge::new_i64`], [`Gauge::new_f64`]; a set is one
/// relaxed atomic store) or it is computed by a closure each time it is read
/// ([`Gauge::from_fn`]; the closure runs on the reporter's thread and must be cheap).
/// Clones share the value.
///
/// ```
/// use runnel_metrics::{Gauge, GaugeValue};
/// let watermark = Gauge::new_i64(i64::MIN);
/// watermark.set_i64(1_000);
/// assert_eq!(watermark.value(), GaugeValue::Int(1_000));
/// let computed = Gauge::from_fn(|| 0.5);
/// assert_eq!(computed.value(), GaugeValue::Float(0.5));
/// ```
#[derive(Clone)]
pub struct Gauge {
    source: Arc<Source>,
}

impl Gauge {
    /// A settable integral gauge starting at `initial`.
    pub fn new_i64(initial: i64) -> Self {
        Self::with(Source::Int(AtomicI64::new(initial)))
    }

    /// A settable floating-point gauge starting at `initial`.
    pub fn new_f64(initial: f64) -> Self {
        Self::with(Source::Float(AtomicU64::new(initial.to_bits())))
    }

    /// A gauge whose value is `f()` at the time it is read.
    pub fn from_fn(f: impl Fn() -> f64 + Send + Sync + 'static) -> Self {
        Self::with(Source::Func(Box::new(f)))
    }

    fn with(source: Source) -> Self {
        Gauge {
            source: Arc::new(source),
        }
    }

    /// Sets the value. A floating-point gauge stores `v as f64`; a closure-backed
    /// gauge ignores the call (its value is whatever the closure returns).
    pub fn set_i64(&self, v: i64) {
        match &*self.source {
            Source::Int(a) => a.store(v, Ordering::Relaxed),
            Source::Float(a) => a.store((v as f64).to_bits(), Ordering::Relaxed),
            Source::Func(_) => {}
        }
    }

    /// Sets the value. An integral gauge stores `v as i64` (truncated toward zero,
    /// saturating); a closure-backed gauge ignores the call.
    pub fn set_f64(&self, v: f64) {
        match &*self.source {
            Source::Int(a) => a.store(v as i64, Ordering::Relaxed),
            Source::Float(a) => a.store(v.to_bits(), Ordering::Relaxed),
            Source::Func(_) => {}
        }
    }

    /// The current value (runs the closure of a closure-backed gauge).
    pub fn value(&self) -> GaugeValue {
        match &*self.source {
            Source::Int(a) => GaugeValue::Int(a.load(Ordering::Relaxed)),
            Source::Float(a) => GaugeValue::Float(f64::from_bits(a.load(Ordering::Relaxed))),
            Source::Func(f) => GaugeValue::Float(f()),
        }
    }

    /// Whether `self` and `other` are handles to the same gauge.
    pub fn same_as(&self, other: &Gauge) -> bool {
        Arc::ptr_eq(&self.source, &other.source)
    }
}

impl fmt::Debug for Gauge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &*self.source {
            Source::Int(_) => "int",
            Source::Float(_) => "float",
            Source::Func(_) => "fn",
        };
        f.debug_struct("Gauge")
            .field("kind", &kind)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn settable_gauges_report_the_last_value() {
        let i = Gauge::new_i64(0);
        i.set_i64(-7);
        assert_eq!(i.value(), GaugeValue::Int(-7));
        i.set_f64(2.9);
        assert_eq!(i.value(), GaugeValue::Int(2));

        let f = Gauge::new_f64(0.0);
        f.set_f64(0.25);
        assert_eq!(f.clone().value(), GaugeValue::Float(0.25));
        f.set_i64(3);
        assert_eq!(f.value(), GaugeValue::Float(3.0));
    }

    #[test]
    fn closure_gauge_is_computed_on_each_read_and_ignores_sets() {
        let reads = Arc::new(AtomicUsize::new(0));
        let r = reads.clone();
        let g = Gauge::from_fn(move || r.fetch_add(1, Ordering::Relaxed) as f64);
        g.set_i64(100);
        assert_eq!(g.value(), GaugeValue::Float(0.0));
        assert_eq!(g.value(), GaugeValue::Float(1.0));
        assert_eq!(reads.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn values_convert_and_display() {
        assert_eq!(GaugeValue::Int(3).as_f64(), 3.0);
        assert_eq!(GaugeValue::Float(1.5).to_string(), "1.5");
        assert_eq!(GaugeValue::Int(-2).to_string(), "-2");
    }
}
