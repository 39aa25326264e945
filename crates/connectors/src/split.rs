//! Splitting a range of indices over parallel subtasks, and the index-range
//! splits the sequence and generator sources checkpoint.

use runnel_runtime::BoxError;
use runnel_runtime::source::SplitState;
use std::collections::VecDeque;

/// The contiguous share `[start, end)` of `0..total` owned by subtask `index` of
/// `parallelism` (Flink's `NumberSequenceSource` splitting).
pub(crate) fn contiguous_share(total: u64, index: u32, parallelism: u32) -> (u64, u64) {
    let (t, i, p) = (total as u128, index as u128, parallelism.max(1) as u128);
    ((t * i / p) as u64, (t * (i + 1) / p) as u64)
}

/// The index ranges `[next, end)` a reader still has to read, in order. Each
/// is a split of its own in checkpoints, so after a rescale a reader may hold
/// several.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct IndexRanges {
    ranges: VecDeque<(u64, u64)>,
}

impl IndexRanges {
    /// One range.
    pub(crate) fn new(start: u64, end: u64) -> Self {
        let mut ranges = VecDeque::new();
        if start < end {
            ranges.push_back((start, end));
        }
        IndexRanges { ranges }
    }

    /// The ranges of restored splits.
    pub(crate) fn restore(splits: &[SplitState]) -> Result<Self, BoxError> {
        let mut ranges: Vec<(u64, u64)> = splits
            .iter()
            .map(|s| s.decode::<(u64, u64)>())
            .collect::<Result<_, _>>()?;
        ranges.retain(|(s, e)| s < e);
        ranges.sort_unstable();
        Ok(IndexRanges {
            ranges: ranges.into(),
        })
    }

    /// The next at most `max` indices to read, taken off the ranges.
    pub(crate) fn take(&mut self, max: u64) -> Option<std::ops::Range<u64>> {
        let (start, end) = self.ranges.front_mut()?;
        let n = max.min(*end - *start);
        let taken = *start..*start + n;
        *start += n;
        if start == end {
            self.ranges.pop_front();
        }
        Some(taken)
    }

    /// Whether everything has been read.
    pub(crate) fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The unread ranges as splits.
    pub(crate) fn snapshot(&self) -> Result<Vec<SplitState>, BoxError> {
        self.ranges.iter().map(SplitState::encode).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_cover_everything_once() {
        for total in [0u64, 1, 7, 100, u64::MAX] {
            for p in 1..6 {
                let mut next = 0;
                for i in 0..p {
                    let (s, e) = contiguous_share(total, i, p);
                    assert_eq!(s, next);
                    next = e;
                }
                assert_eq!(next, total);
            }
        }
    }

    #[test]
    fn ranges_resume_where_the_snapshot_left_off() {
        let mut r = IndexRanges::new(10, 25);
        assert_eq!(r.take(10), Some(10..20));
        let splits = r.snapshot().unwrap();
        let mut back = IndexRanges::restore(&splits).unwrap();
        assert_eq!(back.take(100), Some(20..25));
        assert!(back.is_empty());
        assert_eq!(back.take(1), None);
        // Splits of several old readers, in any order, are read in index order.
        let mut many = IndexRanges::new(50, 52);
        many.ranges.push_front((5, 6));
        let mut back = IndexRanges::restore(&many.snapshot().unwrap()).unwrap();
        assert_eq!(back.take(10), Some(5..6));
        assert_eq!(back.take(10), Some(50..52));
    }
}
