//! [`TaskIoTime`]: how a task's time splits into busy, idle and back-pressured.
//!
//! The task loop reports each state change with the current time
//! ([`TaskIoTime::mark_idle`] before it blocks on input, `mark_backpressured`
//! before it blocks on an output buffer, `mark_busy` when it runs again). A mark
//! is an atomic swap and an atomic add: cheap enough for every transition, and
//! no lock. A reporter thread calls [`TaskIoTime::update`] every few seconds; it
//! samples the cumulative times, keeps the samples of the last window (60 s by
//! default) and derives Flink's `busyTimeMsPerSecond`, `idleTimeMsPerSecond`,
//! `backPressuredTimeMsPerSecond` and the back-pressure ratio from the oldest and
//! newest sample. Sampling reads the task's state without stopping it, so a
//! sample taken during a mark may miss the stretch just ended; the next sample
//! includes it (the values are cumulative, errors do not accumulate).
//!
//! All times are nanoseconds from the caller's clock (below 2⁶² ns, ~146 years);
//! nothing here reads a clock, so tests are deterministic.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::{BackPressureLevel, MetricError, MetricGroup, names};

/// The default window of [`TaskIoTime`].
pub const DEFAULT_IO_TIME_WINDOW: Duration = Duration::from_secs(60);

/// Samples kept at most; updating more often than `window / MAX_SAMPLES` shortens
/// the window.
const MAX_SAMPLES: usize = 1024;
const SINCE_MASK: u64 = (1 << 62) - 1;

/// What a task is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskState {
    /// Processing records, timers or checkpoints.
    Busy = 0,
    /// Waiting for input.
    Idle = 1,
    /// Waiting for an output buffer (downstream is slower).
    BackPressured = 2,
}

impl TaskState {
    fn from_bits(bits: u64) -> Self {
        match bits {
            1 => TaskState::Idle,
            2 => TaskState::BackPressured,
            _ => TaskState::Busy,
        }
    }
}

/// One task's busy / idle / back-pressured time accounting (SPEC I3).
///
/// ```
/// use runnel_metrics::{BackPressureLevel, TaskIoTime};
/// const MS: u64 = 1_000_000;
/// let io = TaskIoTime::new(0); // starts busy at t = 0
/// io.mark_backpressured(600 * MS);
/// io.mark_busy(1_000 * MS);
/// io.update(1_000 * MS);
/// assert_eq!(io.back_pressured_time_ms_per_second(), 400.0);
/// assert_eq!(io.busy_time_ms_per_second(), 600.0);
/// assert_eq!(io.back_pressure_level(), BackPressureLevel::Low);
/// ```
#[derive(Debug, Clone)]
pub struct TaskIoTime {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The current state (top two bits) and when it began (low 62 bits).
    current: AtomicU64,
    /// Nanoseconds spent in each state, up to the start of the current one.
    totals: [AtomicU64; 3],
    window_nanos: u64,
    samples: Mutex<VecDeque<Sample>>,
    /// Busy, idle and back-pressured ms per second, and the ratio, as `f64` bits.
    rates: [AtomicU64; 4],
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    at: u64,
    totals: [u64; 3],
}

const RATIO: usize = 3;

impl TaskIoTime {
    /// Accounting that starts, busy, at `now_nanos`, with the default 60 s window.
    pub fn new(now_nanos: u64) -> Self {
        Self::with_window(now_nanos, DEFAULT_IO_TIME_WINDOW)
    }

    /// Accounting that starts, busy, at `now_nanos`, over a window of `window`.
    pub fn with_window(now_nanos: u64, window: Duration) -> Self {
        let start = Sample {
            at: now_nanos,
            totals: [0; 3],
        };
        TaskIoTime {
            inner: Arc::new(Inner {
                current: AtomicU64::new(pack(TaskState::Busy, now_nanos)),
                totals: Default::default(),
                window_nanos: u64::try_from(window.as_nanos()).unwrap_or(u64::MAX),
                samples: Mutex::new(VecDeque::from([start])),
                rates: Default::default(),
            }),
        }
    }

    /// The task starts processing at `now_nanos`.
    pub fn mark_busy(&self, now_nanos: u64) {
        self.mark(TaskState::Busy, now_nanos);
    }

    /// The task starts waiting for input at `now_nanos`.
    pub fn mark_idle(&self, now_nanos: u64) {
        self.mark(TaskState::Idle, now_nanos);
    }

    /// The task starts waiting for an output buffer at `now_nanos`.
    pub fn mark_backpressured(&self, now_nanos: u64) {
        self.mark(TaskState::BackPressured, now_nanos);
    }

    /// The task enters `state` at `now_nanos`; the time since the previous mark is
    /// credited to the previous state (nothing, if the clock went backwards).
    pub fn mark(&self, state: TaskState, now_nanos: u64) {
        let previous = self
            .inner
            .current
            .swap(pack(state, now_nanos), Ordering::AcqRel);
        let (was, since) = unpack(previous);
        self.inner.totals[was as usize]
            .fetch_add(now_nanos.saturating_sub(since), Ordering::Relaxed);
    }

    /// The current state.
    pub fn state(&self) -> TaskState {
        unpack(self.inner.current.load(Ordering::Acquire)).0
    }

    /// Total nanoseconds spent in `state` from the start up to `now_nanos`.
    pub fn accumulated_nanos(&self, state: TaskState, now_nanos: u64) -> u64 {
        self.totals_at(now_nanos)[state as usize]
    }

    fn totals_at(&self, now_nanos: u64) -> [u64; 3] {
        let (state, since) = unpack(self.inner.current.load(Ordering::Acquire));
        let mut totals = [0; 3];
        for (t, a) in totals.iter_mut().zip(&self.inner.totals) {
            *t = a.load(Ordering::Relaxed);
        }
        totals[state as usize] += now_nanos.saturating_sub(since);
        totals
    }

    /// Samples the times at `now_nanos` and recomputes the per-second values over
    /// the window (from the newest sample at least one window old, or the start).
    pub fn update(&self, now_nanos: u64) {
        let newest = Sample {
            at: now_nanos,
            totals: self.totals_at(now_nanos),
        };
        let mut samples = self.inner.samples.lock().unwrap_or_else(|e| e.into_inner());
        if samples.back().is_some_and(|s| s.at > now_nanos) {
            return; // the clock went backwards
        }
        samples.push_back(newest);
        let horizon = now_nanos.saturating_sub(self.inner.window_nanos);
        while samples.len() > 2 && (samples[1].at <= horizon || samples.len() > MAX_SAMPLES) {
            samples.pop_front();
        }
        let Some(oldest) = samples.front().copied() else {
            return;
        };
        drop(samples);
        let elapsed = newest.at.saturating_sub(oldest.at);
        if elapsed == 0 {
            return;
        }
        for i in 0..3 {
            let spent = newest.totals[i]
                .saturating_sub(oldest.totals[i])
                .min(elapsed);
            let ms_per_second = spent as f64 * 1_000.0 / elapsed as f64;
            self.inner.rates[i].store(ms_per_second.to_bits(), Ordering::Relaxed);
            if i == TaskState::BackPressured as usize {
                let ratio = spent as f64 / elapsed as f64;
                self.inner.rates[RATIO].store(ratio.to_bits(), Ordering::Relaxed);
            }
        }
    }

    fn rate(&self, i: usize) -> f64 {
        f64::from_bits(self.inner.rates[i].load(Ordering::Relaxed))
    }

    /// Milliseconds per second spent busy over the window, as of the last update.
    pub fn busy_time_ms_per_second(&self) -> f64 {
        self.rate(TaskState::Busy as usize)
    }

    /// Milliseconds per second spent idle over the window, as of the last update.
    pub fn idle_time_ms_per_second(&self) -> f64 {
        self.rate(TaskState::Idle as usize)
    }

    /// Milliseconds per second spent back-pressured over the window, as of the
    /// last update.
    pub fn back_pressured_time_ms_per_second(&self) -> f64 {
        self.rate(TaskState::BackPressured as usize)
    }

    /// The share of the window spent back-pressured, in `[0, 1]`.
    pub fn back_pressure_ratio(&self) -> f64 {
        self.rate(RATIO)
    }

    /// The back-pressure ratio classified as Flink does.
    pub fn back_pressure_level(&self) -> BackPressureLevel {
        BackPressureLevel::from_ratio(self.back_pressure_ratio())
    }

    /// Registers `busyTimeMsPerSecond`, `idleTimeMsPerSecond` and
    /// `backPressuredTimeMsPerSecond` gauges (reading the last update) in `group`,
    /// normally the task's group.
    pub fn register(&self, group: &MetricGroup) -> Result<(), MetricError> {
        type Read = fn(&TaskIoTime) -> f64;
        let gauges: [(&str, Read); 3] = [
            (
                names::BUSY_TIME_MS_PER_SECOND,
                Self::busy_time_ms_per_second,
            ),
            (
                names::IDLE_TIME_MS_PER_SECOND,
                Self::idle_time_ms_per_second,
            ),
            (
                names::BACK_PRESSURED_TIME_MS_PER_SECOND,
                Self::back_pressured_time_ms_per_second,
            ),
        ];
        for (name, read) in gauges {
            let io = self.clone();
            group.gauge_fn(name, move || read(&io))?;
        }
        Ok(())
    }
}

fn pack(state: TaskState, since_nanos: u64) -> u64 {
    ((state as u64) << 62) | (since_nanos & SINCE_MASK)
}

fn unpack(bits: u64) -> (TaskState, u64) {
    (TaskState::from_bits(bits >> 62), bits & SINCE_MASK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MetricRegistry;
    use crate::{GaugeValue, Metric};

    const MS: u64 = 1_000_000;
    const SEC: u64 = 1_000 * MS;

    /// Runs a schedule of (state, from ms) marks from t = 0 and updates at `end_ms`.
    fn measured(schedule: &[(TaskState, u64)], end_ms: u64) -> TaskIoTime {
        let io = TaskIoTime::new(0);
        for &(state, at_ms) in schedule {
            io.mark(state, at_ms * MS);
        }
        io.update(end_ms * MS);
        io
    }

    #[test]
    fn splits_time_between_states() {
        use TaskState::*;
        let io = measured(
            &[(Idle, 200), (Busy, 500), (BackPressured, 700), (Busy, 900)],
            1_000,
        );
        assert_eq!(io.busy_time_ms_per_second(), 500.0);
        assert_eq!(io.idle_time_ms_per_second(), 300.0);
        assert_eq!(io.back_pressured_time_ms_per_second(), 200.0);
        assert_eq!(io.back_pressure_ratio(), 0.2);
        assert_eq!(io.state(), Busy);
        assert_eq!(io.accumulated_nanos(Busy, 2 * SEC), 1_500 * MS);
    }

    #[test]
    fn back_pressure_level_edges_from_measured_time() {
        use TaskState::*;
        let table = [
            (100, BackPressureLevel::Ok),
            (101, BackPressureLevel::Low),
            (500, BackPressureLevel::Low),
            (501, BackPressureLevel::High),
        ];
        for (bp_ms, level) in table {
            let io = measured(&[(BackPressured, 0), (Busy, bp_ms)], 1_000);
            assert_eq!(io.back_pressure_level(), level, "{bp_ms} ms back-pressured");
        }
        let io = measured(&[(BackPressured, 0), (Busy, 100)], 1_000);
        assert_eq!(io.back_pressure_ratio(), 0.10, "exactly the boundary");
        let io = measured(&[(BackPressured, 0), (Busy, 500)], 1_000);
        assert_eq!(io.back_pressure_ratio(), 0.5, "exactly the boundary");
    }

    #[test]
    fn the_window_forgets_old_back_pressure() {
        let io = TaskIoTime::with_window(0, Duration::from_secs(10));
        io.mark_backpressured(0);
        io.update(5 * SEC);
        assert_eq!(io.back_pressure_level(), BackPressureLevel::High);
        io.mark_busy(10 * SEC);
        io.update(10 * SEC);
        io.update(15 * SEC); // window is (5 s, 15 s]: half back-pressured
        assert_eq!(io.back_pressure_ratio(), 0.5);
        io.update(20 * SEC); // window is (10 s, 20 s]: all busy
        assert_eq!(io.back_pressure_ratio(), 0.0);
        assert_eq!(io.busy_time_ms_per_second(), 1_000.0);
        assert_eq!(io.back_pressure_level(), BackPressureLevel::Ok);
    }

    #[test]
    fn current_state_counts_up_to_the_update() {
        let io = TaskIoTime::new(10 * SEC);
        io.mark_idle(10 * SEC);
        io.update(12 * SEC); // idle for the whole 2 s, no mark at the end
        assert_eq!(io.idle_time_ms_per_second(), 1_000.0);
        assert_eq!(io.busy_time_ms_per_second(), 0.0);
        io.update(11 * SEC); // backwards: ignored
        assert_eq!(io.idle_time_ms_per_second(), 1_000.0);
    }

    #[test]
    fn nothing_measured_yet_reads_zero_and_ok() {
        let io = TaskIoTime::new(0);
        io.update(0);
        assert_eq!(io.busy_time_ms_per_second(), 0.0);
        assert_eq!(io.back_pressure_level(), BackPressureLevel::Ok);
    }

    #[test]
    fn registers_flinks_gauges() -> Result<(), MetricError> {
        let registry = MetricRegistry::new();
        let task = registry
            .task_manager_group("h", "tm")
            .add_job("j", "job")
            .add_task("v", "Map", 0, 0);
        let io = TaskIoTime::new(0);
        io.register(&task)?;
        io.mark_backpressured(0);
        io.update(SEC);
        let bp = registry
            .metrics()
            .into_iter()
            .find(|m| m.name() == names::BACK_PRESSURED_TIME_MS_PER_SECOND);
        match bp.as_ref().map(|m| m.metric()) {
            Some(Metric::Gauge(g)) => assert_eq!(g.value(), GaugeValue::Float(1_000.0)),
            other => panic!("expected a gauge, got {other:?}"),
        }
        assert_eq!(registry.len(), 3);
        Ok(())
    }
}
