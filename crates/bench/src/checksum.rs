//! The result checksum of WORKLOADS.md §3, the expected results of §5, and a
//! parallel checksum sink.

use crate::bid::{GAMMA, mix64};
use crate::spool;
use crate::timing::JobTimer;
use runnel::prelude::{BoxError, SinkContext, TwoPhaseCommitSink};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The record hash `h(f1, ..., fm)`: `x = GAMMA; x = mix64(x ^ f)` for each field.
#[inline(always)]
pub fn h<const M: usize>(fields: [u64; M]) -> u64 {
    let mut x = GAMMA;
    for f in fields {
        x = mix64(x ^ f);
    }
    x
}

/// A run's result: the number of output records and the sum of their hashes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Output records.
    pub records: u64,
    /// Σ `rec_hash` over the output records, mod 2^64.
    pub checksum: u64,
}

impl Totals {
    /// Counts one record with hash `hash`.
    #[inline(always)]
    pub fn add(&mut self, hash: u64) {
        self.records += 1;
        self.checksum = self.checksum.wrapping_add(hash);
    }

    /// Adds another partial result.
    pub fn merge(&mut self, other: Totals) {
        self.records += other.records;
        self.checksum = self.checksum.wrapping_add(other.checksum);
    }
}

/// The expected result of `workload` (`W1`, `W2`, ...) at `n` bids, if §5 lists it.
pub fn expected(workload: &str, n: u64) -> Option<Totals> {
    let (records, checksum) = match (workload, n) {
        ("W1", 100_000_000) => (58_702_241, 0xa2b4c706cc3c5bf5),
        ("W1", 1_000_000) => (587_019, 0x5b2e29b6e520d97d),
        ("W2", 10_000_000) => (10_000_000, 0x1d5deb070fc4bc4e),
        ("W2", 1_000_000) => (1_000_000, 0x8782fbe508313275),
        ("W3", 10_000_000) => (109_790, 0x508c50daf9fe3c94),
        ("W3", 5_000_000) => (59_790, 0xdc00b8d5add30303),
        ("W3", 1_000_000) => (19_790, 0x1033cd32394c4ab8),
        ("W4", 5_000_000) => (30, 0xe66cd704efd7c470),
        ("W4", 1_000_000) => (10, 0x9fe41e8fbcf9be6c),
        ("W5", 2_000_000) => (419_759, 0x5f3d39875db15aac),
        ("W5", 1_000_000) => (284_329, 0x855e25a62fe3ab1e),
        ("W7", 2_000_000) => (387_701, 0xabf8702505c983ed),
        ("W7", 1_000_000) => (188_316, 0x431098d7ee00bbec),
        _ => return None,
    };
    Some(Totals { records, checksum })
}

/// What the subtasks of a [`ChecksumSink`] add their partial results into.
#[derive(Debug, Default)]
pub struct SharedTotals(Mutex<(Totals, HashSet<u64>)>);

impl SharedTotals {
    /// Adds a partial result.
    pub fn merge(&self, part: Totals) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .merge(part);
    }

    /// Adds the partial result of transaction `id`, unless it was added before
    /// (a commit repeated after a restore).
    pub fn merge_once(&self, id: u64, part: Totals) {
        let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if guard.1.insert(id) {
            guard.0.merge(part);
        }
        // A repeated commit rewrites the same file.
        if let Some(dir) = spool::dir() {
            let text = format!("{} {}", part.records, part.checksum);
            spool::write(dir, &format!("txn-{id:016x}"), &text);
        }
    }

    /// The sum of the partial results added so far; with a spool, those of
    /// every process of the job.
    pub fn get(&self) -> Totals {
        if let Some(dir) = spool::dir() {
            let mut totals = Totals::default();
            for text in spool::read(dir, "txn-") {
                let mut fields = text.split_whitespace().map(str::parse::<u64>);
                if let (Some(Ok(records)), Some(Ok(checksum))) = (fields.next(), fields.next()) {
                    totals.merge(Totals { records, checksum });
                }
            }
            return totals;
        }
        self.0.lock().unwrap_or_else(|e| e.into_inner()).0
    }
}

/// A transactional sink that counts records and sums `rec_hash(record)` per
/// transaction and adds a transaction's totals to a [`SharedTotals`] when it
/// commits: on checkpoint completion with checkpoints (so the RESULT line proves
/// exactly-once across failures), at end of input without. Each commit marks the
/// job's end on the [`JobTimer`]. Nothing is shared on the per-record path.
pub struct ChecksumSink<F> {
    rec_hash: F,
    totals: Arc<SharedTotals>,
    timer: Arc<JobTimer>,
}

impl<F: Clone> Clone for ChecksumSink<F> {
    fn clone(&self) -> Self {
        ChecksumSink {
            rec_hash: self.rec_hash.clone(),
            totals: self.totals.clone(),
            timer: self.timer.clone(),
        }
    }
}

impl<F> ChecksumSink<F> {
    /// A sink hashing records with `rec_hash`.
    pub fn new(rec_hash: F, totals: Arc<SharedTotals>, timer: Arc<JobTimer>) -> Self {
        ChecksumSink {
            rec_hash,
            totals,
            timer,
        }
    }
}

/// A transaction of a [`ChecksumSink`]: the totals of its records, and an id
/// that makes its commit idempotent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PartialTotals {
    id: u64,
    records: u64,
    checksum: u64,
}

/// A transaction id unique among the processes of a job (the process id in
/// the high bits).
fn next_transaction_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    (u64::from(std::process::id()) << 32) | NEXT.fetch_add(1, Ordering::Relaxed)
}

impl<T, F: Fn(&T) -> u64 + Send + 'static> TwoPhaseCommitSink<T> for ChecksumSink<F> {
    type Transaction = PartialTotals;

    fn begin_transaction(&mut self) -> Result<PartialTotals, BoxError> {
        Ok(PartialTotals {
            id: next_transaction_id(),
            ..PartialTotals::default()
        })
    }

    #[inline]
    fn invoke(
        &mut self,
        txn: &mut PartialTotals,
        value: T,
        _ctx: &SinkContext,
    ) -> Result<(), BoxError> {
        txn.records += 1;
        txn.checksum = txn.checksum.wrapping_add((self.rec_hash)(&value));
        Ok(())
    }

    fn pre_commit(&mut self, _txn: &mut PartialTotals) -> Result<(), BoxError> {
        Ok(())
    }

    fn commit(&mut self, txn: PartialTotals) -> Result<(), BoxError> {
        self.totals.merge_once(
            txn.id,
            Totals {
                records: txn.records,
                checksum: txn.checksum,
            },
        );
        self.timer.mark_end();
        Ok(())
    }

    fn abort(&mut self, _txn: PartialTotals) -> Result<(), BoxError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h_of_nothing_is_gamma() {
        assert_eq!(h([]), GAMMA);
        assert_eq!(h([1]), mix64(GAMMA ^ 1));
    }

    #[test]
    fn totals_wrap() {
        let mut t = Totals::default();
        t.add(u64::MAX);
        t.add(2);
        assert_eq!(
            t,
            Totals {
                records: 2,
                checksum: 1
            }
        );
    }
}
