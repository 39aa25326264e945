//! Processing-time callbacks for the operators of one task.
//!
//! Operators never start threads or sleep: an operator that needs to act at a
//! processing time (a processing-time timer, periodic watermark emission) asks its
//! task's [`ProcessingTimeService`] to be called at that time. The task loop keeps
//! the earliest requested time; when the clock reaches it, it calls
//! `on_processing_time` on every operator of the chain, between records, and each
//! operator fires what is due and asks again for its next time. This keeps timers
//! on the task thread, so `on_timer` never runs concurrently with a record.

use crate::clock::Clock;
use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;

/// The processing-time service of one task (shared by its operators).
#[derive(Debug, Clone)]
pub struct ProcessingTimeService {
    clock: Arc<dyn Clock>,
    next: Rc<Cell<i64>>,
}

impl ProcessingTimeService {
    /// A service reading `clock`, with nothing requested.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        ProcessingTimeService {
            clock,
            next: Rc::new(Cell::new(i64::MAX)),
        }
    }

    /// Current processing time in epoch milliseconds.
    #[inline]
    pub fn now(&self) -> i64 {
        self.clock.now_millis()
    }

    /// The clock behind the service.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Asks for a call to `on_processing_time` once processing time reaches `at`.
    /// Calls may come earlier (other operators' times) or for times already
    /// passed (immediately, between records).
    #[inline]
    pub fn request_callback_at(&self, at: i64) {
        if at < self.next.get() {
            self.next.set(at);
        }
    }

    /// The earliest requested time (`i64::MAX` when none).
    pub fn next_callback(&self) -> i64 {
        self.next.get()
    }

    /// If the earliest requested time has come, forgets it (operators ask again
    /// for their next one when called) and returns true.
    pub(crate) fn take_due(&self, now: i64) -> bool {
        if now >= self.next.get() {
            self.next.set(i64::MAX);
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn keeps_the_earliest_request_until_due() {
        let clock = Arc::new(ManualClock::new(100));
        let s = ProcessingTimeService::new(clock.clone());
        assert_eq!(s.next_callback(), i64::MAX);
        s.request_callback_at(500);
        s.request_callback_at(300);
        s.request_callback_at(400);
        assert_eq!(s.next_callback(), 300);
        assert!(!s.take_due(s.now()));
        clock.set(300);
        assert!(s.take_due(s.now()));
        assert_eq!(
            s.next_callback(),
            i64::MAX,
            "operators re-request after being called"
        );
    }
}
