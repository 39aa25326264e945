//! Event time and watermarks, in epoch milliseconds.
//!
//! A [`Watermark`] `w` promises that no more records with timestamp `<= w` will
//! arrive (Flink's contract). Streams start at [`Watermark::MIN`] (−∞); a finished
//! bounded input advances to [`Watermark::MAX`] (+∞) so every event-time timer fires.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::num::NonZeroU64;

/// An event-time timestamp in milliseconds since the Unix epoch (may be negative).
///
/// Every `i64` except `i64::MIN` is a timestamp: like Flink, which reads
/// `Long.MIN_VALUE` as "no timestamp", Runnel reserves that value, and gains from it
/// that `Option<EventTime>` takes 8 bytes, not 16, in every record.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventTime(NonZeroU64);

const SIGN: u64 = 1 << 63;

impl EventTime {
    /// The smallest timestamp (`i64::MIN + 1`).
    pub const MIN: EventTime = EventTime::from_millis(i64::MIN + 1);
    /// The largest timestamp.
    pub const MAX: EventTime = EventTime::from_millis(i64::MAX);

    /// The timestamp `millis`; `i64::MIN` (reserved) becomes [`EventTime::MIN`].
    #[inline]
    pub const fn from_millis(millis: i64) -> EventTime {
        let millis = if millis == i64::MIN {
            i64::MIN + 1
        } else {
            millis
        };
        match NonZeroU64::new(millis as u64 ^ SIGN) {
            Some(v) => EventTime(v),
            None => panic!("unreachable: only i64::MIN maps to zero"),
        }
    }

    /// Milliseconds since the epoch.
    #[inline]
    pub const fn millis(self) -> i64 {
        (self.0.get() ^ SIGN) as i64
    }
}

impl PartialOrd for EventTime {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for EventTime {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.millis().cmp(&other.millis())
    }
}

impl fmt::Debug for EventTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventTime({})", self.millis())
    }
}

impl fmt::Display for EventTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.millis())
    }
}

impl Serialize for EventTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.millis())
    }
}

impl<'de> Deserialize<'de> for EventTime {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        i64::deserialize(d).map(EventTime::from_millis)
    }
}

/// A watermark: event time up to and including `millis` is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Watermark(pub i64);

impl Watermark {
    /// −∞: the watermark of a stream that has not made any progress yet.
    pub const MIN: Watermark = Watermark(i64::MIN);
    /// +∞: sent when a bounded input ends; fires every event-time timer.
    pub const MAX: Watermark = Watermark(i64::MAX);

    /// The watermark's timestamp in milliseconds.
    pub fn millis(self) -> i64 {
        self.0
    }

    /// Whether a record with timestamp `ts` is late with respect to this watermark
    /// (Flink: `timestamp <= currentWatermark`).
    pub fn is_late(self, ts: EventTime) -> bool {
        ts.millis() <= self.0
    }
}

impl fmt::Display for Watermark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            i64::MIN => f.write_str("-inf"),
            i64::MAX => f.write_str("+inf"),
            ms => write!(f, "{ms}"),
        }
    }
}

/// Whether a stream is currently producing watermarks (Flink's `WatermarkStatus`).
///
/// An idle input (a source partition with no data, marked idle by a watermark
/// strategy's idleness timeout) stops holding back the minimum watermark of the
/// operators downstream; it rejoins as soon as it is active again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WatermarkStatus {
    /// The stream advances its watermark.
    Active,
    /// The stream is idle: ignore it when combining watermarks.
    Idle,
}

impl WatermarkStatus {
    /// Whether the status is [`WatermarkStatus::Idle`].
    pub fn is_idle(self) -> bool {
        self == WatermarkStatus::Idle
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lateness_is_inclusive_of_the_watermark() {
        let wm = Watermark(1_000);
        assert!(wm.is_late(EventTime::from_millis(1_000)));
        assert!(wm.is_late(EventTime::from_millis(999)));
        assert!(!wm.is_late(EventTime::from_millis(1_001)));
        assert!(!Watermark::MIN.is_late(EventTime::MIN));
    }

    #[test]
    fn event_time_round_trips_and_orders_and_is_small() {
        for ms in [i64::MIN + 1, -5, 0, 1, 1_700_000_000_000, i64::MAX] {
            assert_eq!(EventTime::from_millis(ms).millis(), ms);
        }
        assert_eq!(EventTime::from_millis(i64::MIN), EventTime::MIN);
        assert!(EventTime::from_millis(-1) < EventTime::from_millis(0));
        assert!(EventTime::MIN < EventTime::MAX);
        assert_eq!(std::mem::size_of::<Option<EventTime>>(), 8);
    }

    #[test]
    fn infinities_display_readably() {
        assert_eq!(Watermark::MIN.to_string(), "-inf");
        assert_eq!(Watermark::MAX.to_string(), "+inf");
        assert_eq!(Watermark(42).to_string(), "42");
    }
}
