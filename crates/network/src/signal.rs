//! How a task is woken and cancelled.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// Wakes a task's thread and carries its cancellation flag.
///
/// A task binds its thread once, then blocks only through [`TaskSignal::park_until`].
/// Anything that may unblock it calls [`TaskSignal::wake`]. Wake-ups are never lost:
/// a wake before the task parks makes the next park return at once (the semantics
/// of `Thread::unpark`). Spurious wake-ups happen; callers re-check their condition.
///
/// It also keeps the task's time accounting: how long it was parked waiting
/// for input ([`TaskSignal::park_until`]) and blocked on a full output
/// ([`TaskSignal::park_backpressured_until`]); the rest of its life it was
/// busy. Two clock reads per park, none per record.
#[derive(Debug, Default)]
pub struct TaskSignal {
    thread: OnceLock<Thread>,
    bound_at: OnceLock<Instant>,
    cancelled: AtomicBool,
    idle_nanos: AtomicU64,
    backpressured_nanos: AtomicU64,
}

impl TaskSignal {
    /// A signal not yet bound to a thread.
    pub fn new() -> Self {
        Self::default()
    }

    /// Binds the calling thread as the one to wake. Call once, from the task thread.
    pub fn bind_current_thread(&self) {
        let _ = self.thread.set(std::thread::current());
        let _ = self.bound_at.set(Instant::now());
    }

    /// When the task bound its thread (its accounting started).
    pub fn bound_at(&self) -> Option<Instant> {
        self.bound_at.get().copied()
    }

    /// Nanoseconds spent parked waiting for input, and blocked on output.
    pub fn blocked_nanos(&self) -> (u64, u64) {
        (
            self.idle_nanos.load(Ordering::Relaxed),
            self.backpressured_nanos.load(Ordering::Relaxed),
        )
    }

    /// Takes over the accounting of a task running in another process: its
    /// blocked times so far (the accounting starts at the first call).
    pub fn mirror_blocked_nanos(&self, idle: u64, backpressured: u64) {
        let _ = self.bound_at.set(Instant::now());
        self.idle_nanos.store(idle, Ordering::Relaxed);
        self.backpressured_nanos
            .store(backpressured, Ordering::Relaxed);
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

    /// Parks the calling thread until woken, cancelled or `deadline` (if any)
    /// passes, counting the time as idle (waiting for input).
    pub fn park_until(&self, deadline: Option<Instant>) {
        self.park_counting(deadline, &self.idle_nanos);
    }

    /// As [`TaskSignal::park_until`], counting the time as backpressured
    /// (waiting for room in an output).
    pub fn park_backpressured_until(&self, deadline: Option<Instant>) {
        self.park_counting(deadline, &self.backpressured_nanos);
    }

    fn park_counting(&self, deadline: Option<Instant>, counter: &AtomicU64) {
        if self.is_cancelled() {
            return;
        }
        let start = Instant::now();
        Self::park(deadline, start);
        counter.fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
    }

    fn park(deadline: Option<Instant>, now: Instant) {
        match deadline {
            Some(d) => {
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
