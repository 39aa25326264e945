//! Watermark generators: how a stream's watermark follows its timestamps
//! (Flink's `WatermarkGenerator`).

use runnel_types::{EventTime, Watermark};

/// Where a generator emits.
pub trait WatermarkOutput {
    /// Emits a watermark (ignored unless it advances the current one).
    fn emit_watermark(&mut self, watermark: Watermark);
    /// Marks the stream idle: downstream operators stop waiting for it.
    fn mark_idle(&mut self);
    /// Marks the stream active again.
    fn mark_active(&mut self);
}

/// Generates watermarks from the events of a stream. `on_event` is called for
/// every record (punctuated generators emit there); `on_periodic_emit` every
/// auto-watermark interval (`pipeline.auto-watermark-interval`, 200 ms by default;
/// periodic generators emit there). One instance runs per parallel subtask (and per
/// source split).
pub trait WatermarkGenerator<T>: Clone + Send + 'static {
    /// Called for each event with its timestamp.
    fn on_event(&mut self, event: &T, timestamp: EventTime, output: &mut dyn WatermarkOutput);
    /// Called periodically.
    fn on_periodic_emit(&mut self, output: &mut dyn WatermarkOutput);
}

/// Watermarks that trail the largest timestamp seen by a fixed bound:
/// `max timestamp − bound − 1` (Flink's `BoundedOutOfOrdernessWatermarks`).
/// With a zero bound these are Flink's monotonous (ascending) watermarks.
#[derive(Debug, Clone, Copy)]
pub struct BoundedOutOfOrderness {
    bound_ms: i64,
    max_timestamp: i64,
}

impl BoundedOutOfOrderness {
    /// Tolerates events up to `bound_ms` later than the largest timestamp seen.
    pub fn new(bound_ms: i64) -> Self {
        let bound_ms = bound_ms.max(0);
        // Start so that the first periodic watermark is Long.MIN_VALUE, as in Flink.
        BoundedOutOfOrderness {
            bound_ms,
            max_timestamp: i64::MIN.saturating_add(bound_ms).saturating_add(1),
        }
    }
}

impl<T> WatermarkGenerator<T> for BoundedOutOfOrderness {
    #[inline]
    fn on_event(&mut self, _event: &T, timestamp: EventTime, _output: &mut dyn WatermarkOutput) {
        self.max_timestamp = self.max_timestamp.max(timestamp.millis());
    }

    fn on_periodic_emit(&mut self, output: &mut dyn WatermarkOutput) {
        output.emit_watermark(Watermark(self.max_timestamp - self.bound_ms - 1));
    }
}

/// Never emits a watermark (Flink's `NoWatermarksGenerator`): event-time timers
/// fire only at the end of a bounded input.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoWatermarks;

impl<T> WatermarkGenerator<T> for NoWatermarks {
    fn on_event(&mut self, _event: &T, _timestamp: EventTime, _output: &mut dyn WatermarkOutput) {}
    fn on_periodic_emit(&mut self, _output: &mut dyn WatermarkOutput) {}
}

/// Decides when a stream without events has become idle (Flink's `IdlenessTimer`):
/// after `timeout_ms` of processing time without any event, measured from the
/// first periodic check that saw no activity.
#[derive(Debug, Clone, Copy)]
pub struct IdlenessTimer {
    timeout_ms: i64,
    counter: u64,
    last_counter: u64,
    inactive_since: Option<i64>,
}

impl IdlenessTimer {
    /// Idle after `timeout_ms` without events.
    pub fn new(timeout_ms: i64) -> Self {
        IdlenessTimer {
            timeout_ms,
            counter: 0,
            last_counter: 0,
            inactive_since: None,
        }
    }

    /// An event arrived.
    #[inline]
    pub fn activity(&mut self) {
        self.counter = self.counter.wrapping_add(1);
    }

    /// Whether the stream is idle at processing time `now`.
    pub fn check_if_idle(&mut self, now: i64) -> bool {
        if self.counter != self.last_counter {
            self.last_counter = self.counter;
            self.inactive_since = None;
            false
        } else {
            match self.inactive_since {
                None => {
                    self.inactive_since = Some(now);
                    false
                }
                Some(since) => now - since > self.timeout_ms,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Recorder(Vec<String>);

    impl WatermarkOutput for Recorder {
        fn emit_watermark(&mut self, w: Watermark) {
            self.0.push(format!("wm {w}"));
        }
        fn mark_idle(&mut self) {
            self.0.push("idle".into());
        }
        fn mark_active(&mut self) {
            self.0.push("active".into());
        }
    }

    #[test]
    fn bounded_out_of_orderness_trails_the_maximum_by_bound_plus_one() {
        let mut g = BoundedOutOfOrderness::new(1000);
        let mut out = Recorder::default();
        WatermarkGenerator::<()>::on_periodic_emit(&mut g, &mut out);
        assert_eq!(
            out.0,
            ["wm -inf"],
            "before any event the watermark is Long.MIN_VALUE"
        );
        for ts in [5000, 7000, 6000] {
            g.on_event(&(), EventTime::from_millis(ts), &mut out);
        }
        WatermarkGenerator::<()>::on_periodic_emit(&mut g, &mut out);
        assert_eq!(out.0[1], "wm 5999", "max 7000 - bound 1000 - 1");
    }

    #[test]
    fn monotonous_is_a_zero_bound() {
        let mut g = BoundedOutOfOrderness::new(0);
        let mut out = Recorder::default();
        g.on_event(&(), EventTime::from_millis(42), &mut out);
        WatermarkGenerator::<()>::on_periodic_emit(&mut g, &mut out);
        assert_eq!(out.0, ["wm 41"]);
    }

    #[test]
    fn idleness_needs_a_full_timeout_without_events() {
        let mut t = IdlenessTimer::new(100);
        assert!(
            !t.check_if_idle(0),
            "first check starts the inactivity clock"
        );
        assert!(!t.check_if_idle(100), "exactly the timeout is not yet idle");
        assert!(t.check_if_idle(101));
        t.activity();
        assert!(!t.check_if_idle(150), "activity resets");
        assert!(!t.check_if_idle(200), "inactivity is measured from here");
        assert!(!t.check_if_idle(300));
        assert!(t.check_if_idle(301));
    }
}
