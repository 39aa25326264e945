//! [`Meter`]: events and their rate per second over a sliding window.
//!
//! This is Flink's `MeterView`: a [`Counter`] plus a ring of the count sampled every
//! [`UPDATE_INTERVAL_MILLIS`]. The rate is `(newest sample - oldest sample) / span`,
//! so it covers the last `span` seconds and starts low while the window fills, as in
//! Flink. Marking an event is one atomic add; sampling happens only when the owner
//! of the clock calls [`Meter::update`] (normally [`crate::MetricRegistry::update_meters`]
//! from the metric ticker) with the current time, so tests drive time by hand.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::Counter;

/// How often a meter samples its counter, in milliseconds (Flink's 5 s).
pub const UPDATE_INTERVAL_MILLIS: u64 = 5_000;
/// The default window of a meter, in seconds (Flink's `MeterView` default).
pub const DEFAULT_TIME_SPAN_SECS: u64 = 60;

const UPDATE_INTERVAL_SECS: u64 = UPDATE_INTERVAL_MILLIS / 1_000;

/// Events and their rate per second, e.g. `numRecordsInPerSecond`.
///
/// ```
/// use runnel_metrics::Meter;
/// let m = Meter::new(); // 60 s window
/// m.mark_events(600);
/// m.update(0); // the first update starts the clock
/// m.update(5_000); // one 5 s interval later
/// assert_eq!(m.rate(), 10.0); // 600 events over the 60 s window
/// assert_eq!(m.count(), 600);
/// ```
#[derive(Debug, Clone)]
pub struct Meter {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    counter: Counter,
    time_span_secs: u64,
    /// The last computed rate, as `f64` bits, so reading it takes no lock.
    rate: AtomicU64,
    window: Mutex<Window>,
}

#[derive(Debug)]
struct Window {
    /// The counter sampled at the end of each interval; `len = span / 5 s + 1`.
    samples: Vec<i64>,
    /// Index of the newest sample.
    newest: usize,
    /// When the newest sample was due, once [`Meter::update`] has been called.
    last_update_millis: Option<u64>,
}

impl Default for Meter {
    fn default() -> Self {
        Self::new()
    }
}

impl Meter {
    /// A meter with its own counter and the default 60 s window.
    pub fn new() -> Self {
        Self::from_counter(Counter::new(), DEFAULT_TIME_SPAN_SECS)
    }

    /// A meter with its own counter and a window of `time_span_secs`.
    pub fn with_time_span(time_span_secs: u64) -> Self {
        Self::from_counter(Counter::new(), time_span_secs)
    }

    /// A meter reporting the rate of an existing counter (e.g. `numRecordsInPerSecond`
    /// over `numRecordsIn`). As in Flink the span is rounded down to a multiple of
    /// 5 s, and is at least 5 s.
    pub fn from_counter(counter: Counter, time_span_secs: u64) -> Self {
        let span =
            (time_span_secs - time_span_secs % UPDATE_INTERVAL_SECS).max(UPDATE_INTERVAL_SECS);
        let len = (span / UPDATE_INTERVAL_SECS) as usize + 1;
        let start = counter.count();
        Meter {
            inner: Arc::new(Inner {
                counter,
                time_span_secs: span,
                rate: AtomicU64::new(0f64.to_bits()),
                window: Mutex::new(Window {
                    samples: vec![start; len],
                    newest: 0,
                    last_update_millis: None,
                }),
            }),
        }
    }

    /// Whether `self` and `other` are handles to the same meter.
    pub fn same_as(&self, other: &Meter) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Records one event.
    pub fn mark_event(&self) {
        self.inner.counter.inc();
    }

    /// Records `n` events.
    pub fn mark_events(&self, n: i64) {
        self.inner.counter.inc_by(n);
    }

    /// The number of events so far.
    pub fn count(&self) -> i64 {
        self.inner.counter.count()
    }

    /// The underlying counter.
    pub fn counter(&self) -> &Counter {
        &self.inner.counter
    }

    /// The window the rate covers, in seconds.
    pub fn time_span_secs(&self) -> u64 {
        self.inner.time_span_secs
    }

    /// Events per second over the window, as of the last update.
    pub fn rate(&self) -> f64 {
        f64::from_bits(self.inner.rate.load(Ordering::Relaxed))
    }

    /// Samples the counter once, as if one 5 s interval has passed (Flink's
    /// `MeterView.update()`, for callers that tick on a fixed schedule).
    pub fn tick(&self) {
        let mut w = self.lock();
        self.advance(&mut w, 1);
    }

    /// Brings the window up to `now_millis`: samples the counter once per whole
    /// 5 s interval since the last update. The first call only starts the clock.
    /// Events since the last update are attributed to the newest interval; a clock
    /// that goes backwards is ignored.
    pub fn update(&self, now_millis: u64) {
        let mut w = self.lock();
        let Some(last) = w.last_update_millis else {
            w.last_update_millis = Some(now_millis);
            return;
        };
        let intervals = now_millis.saturating_sub(last) / UPDATE_INTERVAL_MILLIS;
        if intervals == 0 {
            return;
        }
        w.last_update_millis = Some(last + intervals * UPDATE_INTERVAL_MILLIS);
        self.advance(&mut w, intervals);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Window> {
        self.inner.window.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn advance(&self, w: &mut Window, intervals: u64) {
        let len = w.samples.len();
        let steps = intervals.min(len as u64) as usize;
        let previous = w.samples[w.newest];
        for _ in 1..steps {
            w.newest = (w.newest + 1) % len;
            w.samples[w.newest] = previous;
        }
        w.newest = (w.newest + 1) % len;
        w.samples[w.newest] = self.inner.counter.count();
        let oldest = w.samples[(w.newest + 1) % len];
        let rate = (w.samples[w.newest] - oldest) as f64 / self.inner.time_span_secs as f64;
        self.inner.rate.store(rate.to_bits(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_is_events_over_the_full_span_even_while_filling() {
        let m = Meter::new();
        m.mark_events(100);
        assert_eq!(m.rate(), 0.0, "no rate before the first sample");
        m.tick();
        assert_eq!(m.rate(), 100.0 / 60.0);
        assert_eq!(m.count(), 100);
    }

    #[test]
    fn steady_stream_converges_to_its_rate_and_decays_to_zero() {
        let m = Meter::with_time_span(60);
        for _ in 0..12 {
            m.mark_events(50); // 10 events per second
            m.tick();
        }
        assert_eq!(m.rate(), 10.0);
        m.mark_events(50);
        m.tick();
        assert_eq!(m.rate(), 10.0, "window slides: oldest interval drops out");
        for _ in 0..11 {
            m.tick();
        }
        assert_eq!(
            m.rate(),
            50.0 / 60.0,
            "only the last burst is left in the window"
        );
        m.tick();
        assert_eq!(m.rate(), 0.0);
    }

    #[test]
    fn update_advances_one_sample_per_whole_interval() {
        let m = Meter::with_time_span(10); // 2 intervals
        m.update(1_000); // starts the clock
        m.mark_events(30);
        m.update(5_999);
        assert_eq!(m.rate(), 0.0, "less than one interval elapsed");
        m.update(6_000);
        assert_eq!(m.rate(), 3.0);
        m.mark_events(20);
        m.update(16_500); // two intervals (11 s and 16 s); phase kept at 1 s
        assert_eq!(m.rate(), 2.0, "the 20 new events, over 10 s");
        m.update(20_999);
        assert_eq!(m.rate(), 2.0);
        m.update(21_000);
        assert_eq!(
            m.rate(),
            2.0,
            "the events were attributed to the 11..16 s interval"
        );
        m.update(26_000);
        assert_eq!(m.rate(), 0.0);
        m.update(3_000);
        assert_eq!(m.rate(), 0.0, "a clock going backwards is ignored");
    }

    #[test]
    fn long_gap_keeps_the_events_since_the_last_update() {
        let m = Meter::with_time_span(10);
        m.update(0);
        m.mark_events(40);
        m.update(600_000);
        assert_eq!(m.rate(), 4.0);
    }

    #[test]
    fn meter_view_over_an_existing_counter() {
        let c = Counter::new();
        c.inc_by(7); // before the meter exists: not part of any rate
        let m = Meter::from_counter(c.clone(), 5);
        c.inc_by(25);
        m.tick();
        assert_eq!(m.rate(), 5.0);
        assert_eq!(m.count(), 32);
        assert!(m.counter().same_as(&c));
    }

    #[test]
    fn span_is_rounded_down_to_whole_intervals() {
        assert_eq!(Meter::with_time_span(0).time_span_secs(), 5);
        assert_eq!(Meter::with_time_span(7).time_span_secs(), 5);
        assert_eq!(Meter::with_time_span(64).time_span_secs(), 60);
    }
}
