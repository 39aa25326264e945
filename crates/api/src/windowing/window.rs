//! Windows: the finite buckets a window operator groups elements into.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::hash::Hash;

/// A window: a bucket of elements of one key, with the largest timestamp that
/// still belongs to it (when event time reaches it, the window is complete).
pub trait Window:
    Clone + Eq + Hash + fmt::Debug + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// The largest timestamp that belongs to the window.
    fn max_timestamp(&self) -> i64;

    /// For merging windows: whether this window contains `other`, as a merged
    /// window contains every window merged into it. The default is equality.
    fn covers(&self, other: &Self) -> bool {
        self == other
    }
}

/// The time interval `[start, end)`: `start` belongs to it, `end` does not, and its
/// max timestamp is `end - 1` (Flink's `TimeWindow`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TimeWindow {
    start: i64,
    end: i64,
}

impl TimeWindow {
    /// The window `[start, end)`.
    pub fn new(start: i64, end: i64) -> Self {
        TimeWindow { start, end }
    }

    /// The first timestamp in the window.
    pub fn start(&self) -> i64 {
        self.start
    }

    /// The first timestamp after the window (exclusive end).
    pub fn end(&self) -> i64 {
        self.end
    }

    /// Whether the windows overlap or touch (`[0, 5)` and `[5, 10)` do): such
    /// session windows merge.
    pub fn intersects(&self, other: &TimeWindow) -> bool {
        self.start <= other.end && self.end >= other.start
    }

    /// The smallest window covering both.
    pub fn cover(&self, other: &TimeWindow) -> TimeWindow {
        TimeWindow::new(self.start.min(other.start), self.end.max(other.end))
    }

    /// The start of the window of `size` that holds `timestamp`, with windows
    /// aligned to the epoch shifted by `offset` (Flink's
    /// `TimeWindow.getWindowStartWithOffset`; negative timestamps included).
    pub fn window_start_with_offset(timestamp: i64, offset: i64, size: i64) -> i64 {
        let remainder = (timestamp - offset) % size;
        if remainder < 0 {
            timestamp - (remainder + size)
        } else {
            timestamp - remainder
        }
    }

    /// Merges overlapping or touching windows (Flink's `TimeWindow.mergeWindows`):
    /// sorted by start, each run of windows that intersect the cover so far is one
    /// group; `merge(members, cover)` is called for each group of two or more
    /// distinct windows. `windows` is sorted and deduplicated in place (no
    /// allocation).
    pub fn merge_windows(
        windows: &mut Vec<TimeWindow>,
        mut merge: impl FnMut(&[TimeWindow], &TimeWindow),
    ) {
        windows.sort_unstable();
        windows.dedup();
        let mut i = 0;
        while i < windows.len() {
            let mut cover = windows[i];
            let mut j = i + 1;
            while j < windows.len() && cover.intersects(&windows[j]) {
                cover = cover.cover(&windows[j]);
                j += 1;
            }
            if j - i > 1 {
                merge(&windows[i..j], &cover);
            }
            i = j;
        }
    }
}

impl Window for TimeWindow {
    #[inline]
    fn max_timestamp(&self) -> i64 {
        self.end - 1
    }

    fn covers(&self, other: &Self) -> bool {
        self.start <= other.start && self.end >= other.end
    }
}

impl fmt::Display for TimeWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {})", self.start, self.end)
    }
}

/// The one window of [`GlobalWindows`](super::GlobalWindows): every element of a
/// key, forever. Its max timestamp is `i64::MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GlobalWindow;

impl Window for GlobalWindow {
    #[inline]
    fn max_timestamp(&self) -> i64 {
        i64::MAX
    }
}

impl fmt::Display for GlobalWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GlobalWindow")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_left_closed_right_open() {
        let w = TimeWindow::new(0, 10);
        assert_eq!(w.max_timestamp(), 9);
        assert_eq!(GlobalWindow.max_timestamp(), i64::MAX);
        assert_eq!(w.to_string(), "[0, 10)");
    }

    #[test]
    fn window_start_handles_offsets_and_negative_timestamps() {
        let start = TimeWindow::window_start_with_offset;
        assert_eq!(start(0, 0, 10), 0);
        assert_eq!(start(9, 0, 10), 0);
        assert_eq!(start(10, 0, 10), 10);
        assert_eq!(start(-1, 0, 10), -10);
        assert_eq!(start(-10, 0, 10), -10);
        assert_eq!(start(-11, 0, 10), -20);
        assert_eq!(start(7, 3, 10), 3);
        assert_eq!(start(2, 3, 10), -7);
        assert_eq!(start(12, -3, 10), 7);
    }

    #[test]
    fn touching_windows_merge_and_duplicates_do_not() {
        let w = TimeWindow::new;
        let mut merges = Vec::new();
        TimeWindow::merge_windows(
            &mut vec![w(10, 15), w(0, 5), w(5, 8), w(20, 25), w(20, 25), w(30, 35)],
            |members, cover| merges.push((members.to_vec(), *cover)),
        );
        assert_eq!(
            merges,
            [(vec![w(0, 5), w(5, 8)], w(0, 8))],
            "[0,5) and [5,8) touch; [20,25) twice is one window; [10,15) and [30,35) are alone"
        );
    }
}
