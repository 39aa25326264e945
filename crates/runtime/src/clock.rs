//! Processing time, injected.
//!
//! Every read of processing time in a job goes through a [`Clock`], so tests can
//! drive time by hand with [`ManualClock`] and get deterministic results.

use runnel_network::TaskSignal;
use std::fmt::Debug;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// A source of processing time, in epoch milliseconds.
pub trait Clock: Send + Sync + Debug {
    /// The current processing time.
    fn now_millis(&self) -> i64;

    /// Registers a task to wake when time moves by other means than its passing
    /// (a manual clock being advanced). The system clock ignores this.
    fn register(&self, _task: &Arc<TaskSignal>) {}
}

/// The machine's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place that reads the wall clock
    fn now_millis(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to; wakes registered tasks when it does.
#[derive(Debug, Default)]
pub struct ManualClock {
    now: AtomicI64,
    tasks: Mutex<Vec<Weak<TaskSignal>>>,
}

impl ManualClock {
    /// A manual clock showing `start_millis`.
    pub fn new(start_millis: i64) -> Self {
        ManualClock {
            now: AtomicI64::new(start_millis),
            tasks: Mutex::new(Vec::new()),
        }
    }

    /// Sets the time (it may not go backwards; earlier values are ignored).
    pub fn set(&self, millis: i64) {
        self.now.fetch_max(millis, Ordering::AcqRel);
        self.wake_all();
    }

    /// Moves the time forward by `millis`.
    pub fn advance(&self, millis: i64) {
        self.now.fetch_add(millis.max(0), Ordering::AcqRel);
        self.wake_all();
    }

    fn wake_all(&self) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        tasks.retain(|t| match t.upgrade() {
            Some(t) => {
                t.wake();
                true
            }
            None => false,
        });
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> i64 {
        self.now.load(Ordering::Acquire)
    }

    fn register(&self, task: &Arc<TaskSignal>) {
        self.tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::downgrade(task));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_forward() {
        let c = ManualClock::new(1_000);
        c.advance(500);
        assert_eq!(c.now_millis(), 1_500);
        c.set(1_200);
        assert_eq!(c.now_millis(), 1_500);
        c.set(2_000);
        assert_eq!(c.now_millis(), 2_000);
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(SystemClock.now_millis() > 1_577_836_800_000);
    }
}
