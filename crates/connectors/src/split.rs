//! Splitting a range of indices over parallel subtasks.

/// The contiguous share `[start, end)` of `0..total` owned by subtask `index` of
/// `parallelism` (Flink's `NumberSequenceSource` splitting).
pub(crate) fn contiguous_share(total: u64, index: u32, parallelism: u32) -> (u64, u64) {
    let (t, i, p) = (total as u128, index as u128, parallelism.max(1) as u128);
    ((t * i / p) as u64, (t * (i + 1) / p) as u64)
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
}
