//! How a task is woken and cancelled.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// Wakes a task's thread and carries its cancellation flag.
///
/// A task binds its thread once, then blocks only through [`TaskSignal::park_until`].
/// Anything that may unblock it calls [`TaskSignal::wake`]. Wake-ups are never lost:
/// a wake before the task parks makes the next park return at once (the semantics
/// of `Thread::unpark`). Spurious wake-ups happen; callers re-check their condition.
#[derive(Debug, Default)]
pub struct TaskSignal {
    thread: OnceLock<Thread>,
    cancelled: AtomicBool,
}

impl TaskSignal {
    /// A signal not yet bound to a thread.
    pub fn new() -> Self {
        Self::default()
    }

    /// Binds the calling thread as the one to wake. Call once, from the task thread.
    pub fn bind_current_thread(&self) {
        let _ = self.thread.set(std::thread::current());
    }

    /// Wakes the task if it is parked (or makes its next park return at once).
    #[inline]
    pub fn wake(&self) {
        if let Some(t) = self.thread.get() {
            t.unpark();
        }
    }

    /// Requests cancellation and wakes the task.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Release);
        self.wake();
    }

    /// Whether cancellation was requested.
    #[inline]
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }

    /// Parks the calling thread until woken, cancelled or `deadline` (if any) passes.
    pub fn park_until(&self, deadline: Option<Instant>) {
        if self.is_cancelled() {
            return;
        }
        match deadline {
            Some(d) => {
                let now = Instant::now();
                if d > now {
                    std::thread::park_timeout(d - now);
                }
            }
            // Guard against a wake-up that never comes because of a bug elsewhere:
            // re-check conditions at least once a second.
            None => std::thread::park_timeout(Duration::from_secs(1)),
        }
    }
}
