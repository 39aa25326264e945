//! [`Counter`]: a signed count that can go up and down.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// A count of events, e.g. `numRecordsIn`.
///
/// Like Flink's `SimpleCounter` it can be decremented (e.g. a number of pending
/// requests). Updates are a single relaxed atomic add; clones share the count.
///
/// ```
/// let records_in = runnel_metrics::Counter::new();
/// records_in.inc();
/// records_in.inc_by(2);
/// records_in.dec();
/// assert_eq!(records_in.count(), 2);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Counter {
    count: Arc<AtomicI64>,
}

impl Counter {
    /// A new counter at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one.
    pub fn inc(&self) {
        self.inc_by(1);
    }

    /// Adds `n` (which may be negative).
    pub fn inc_by(&self, n: i64) {
        self.count.fetch_add(n, Ordering::Relaxed);
    }

    /// Subtracts one.
    pub fn dec(&self) {
        self.dec_by(1);
    }

    /// Subtracts `n`.
    pub fn dec_by(&self, n: i64) {
        self.count.fetch_sub(n, Ordering::Relaxed);
    }

    /// The current count.
    pub fn count(&self) -> i64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Whether `self` and `other` are handles to the same count.
    pub fn same_as(&self, other: &Counter) -> bool {
        Arc::ptr_eq(&self.count, &other.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_up_and_down() {
        let c = Counter::new();
        c.inc();
        c.inc_by(10);
        c.dec();
        c.dec_by(3);
        assert_eq!(c.count(), 7);
    }

    #[test]
    fn clones_share_the_count_across_threads() {
        let c = Counter::new();
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let c = c.clone();
                std::thread::spawn(move || (0..1000).for_each(|_| c.inc()))
            })
            .collect();
        for h in handles {
            h.join().expect("counting thread panicked");
        }
        assert_eq!(c.count(), 4000);
        assert!(c.same_as(&c.clone()));
        assert!(!c.same_as(&Counter::new()));
    }
}
