//! W7: interval join of two streams from one source.
//!
//! The event-time bid source splits into a left stream (`channel` 0 or 1) and a
//! right stream (`channel` 2 or 3), both keyed by `bidder` and interval-joined
//! with `between(-1000, 1000)`: every pair of one bidder with
//! `l.ts - 1000 <= r.ts <= l.ts + 1000` becomes `(bidder, l.ts, r.ts, l.price,
//! r.price)`, `rec_hash = h(bidder, l_ts, r_ts, l_price, r_price)`. Both sides
//! wait in keyed state until the watermark passes `ts + 1000`. No bid is late
//! (WORKLOADS.md §1.3), so the output equals the batch join of all bids, which is
//! what the limit loop computes by sorting.

use super::{Measurement, Recovery, RunOptions};
use crate::bid::{Bid, BidSource};
use crate::checksum::{ChecksumSink, SharedTotals, Totals, h};
use crate::timing::JobTimer;
use runnel::prelude::*;
use std::sync::Arc;
use std::time::Instant;

/// The join's bounds on `r.ts - l.ts`, in ms (both inclusive).
pub const LOWER_MS: i64 = -1000;
/// See [`LOWER_MS`].
pub const UPPER_MS: i64 = 1000;

/// A joined pair: `(bidder, l.ts, r.ts, l.price, r.price)`.
pub type Pair = (u64, i64, i64, u64, u64);

/// Bids of the left stream: channel 0 or 1.
#[inline(always)]
pub fn is_left(bid: &Bid) -> bool {
    bid.channel < 2
}

/// Bids of the right stream: channel 2 or 3.
#[inline(always)]
pub fn is_right(bid: &Bid) -> bool {
    bid.channel >= 2
}

/// The key of both streams: the bidder.
#[inline(always)]
pub fn bidder(bid: &Bid) -> u64 {
    bid.bidder
}

/// The join function: one record per pair.
#[inline(always)]
pub fn pair(l: Bid, r: Bid) -> Pair {
    (l.bidder, l.ts, r.ts, l.price, r.price)
}

/// `h(bidder, l_ts, r_ts, l_price, r_price)`.
#[inline(always)]
pub fn rec_hash(p: &Pair) -> u64 {
    let &(bidder, l_ts, r_ts, l_price, r_price) = p;
    h([bidder, l_ts as u64, r_ts as u64, l_price, r_price])
}

/// Runs W7 as a Runnel job, every operator at `parallelism`.
pub fn run(n: u64, parallelism: u32) -> anyhow::Result<Measurement> {
    run_with(n, parallelism, &RunOptions::default())
}

/// Runs W7 with checkpoints, a state backend and injected failures as
/// `options` say.
pub fn run_with(n: u64, parallelism: u32, options: &RunOptions) -> anyhow::Result<Measurement> {
    let env = StreamExecutionEnvironment::with_config(options.configuration(
        "Interval join per bidder, ±1 s",
        n,
        parallelism,
    ));
    env.set_parallelism(parallelism);
    let timer = Arc::new(JobTimer::new());
    let totals = Arc::new(SharedTotals::default());
    let bids = env.from_source(BidSource::with_event_time(n, timer.clone()), "Bids");
    let left = bids.filter(is_left).name("Left: channel 0 or 1");
    let right = bids.filter(is_right).name("Right: channel 2 or 3");
    left.key_by(bidder)
        .interval_join(&right.key_by(bidder))
        .between(LOWER_MS, UPPER_MS)
        .join(pair)
        .name("Interval join per bidder, ±1 s")
        .add_two_phase_commit_sink(ChecksumSink::new(rec_hash, totals.clone(), timer.clone()))
        .name("Checksum");
    let result = env.execute("W7")?;
    Ok(Measurement {
        elapsed: timer.elapsed(),
        totals: totals.get(),
        recovery: Recovery::of(&result),
    })
}

/// The physical limit, as a batch join: sort both sides by (bidder, ts), then for
/// each left bid scan the right bids of its bidder within the interval.
pub fn limit(n: u64) -> Measurement {
    let start = Instant::now();
    let mut totals = Totals::default();
    // (bidder, ts, price)
    let (mut left, mut right) = (Vec::new(), Vec::new());
    for i in 0..n {
        let bid = Bid::generate(i);
        let side = if is_left(&bid) { &mut left } else { &mut right };
        side.push((bid.bidder, bid.ts, bid.price));
    }
    left.sort_unstable();
    right.sort_unstable();
    let mut first = 0;
    for &(bidder, l_ts, l_price) in &left {
        let low = (bidder, l_ts + LOWER_MS);
        while first < right.len() && (right[first].0, right[first].1) < low {
            first += 1;
        }
        for &(r_bidder, r_ts, r_price) in &right[first..] {
            if r_bidder != bidder || r_ts > l_ts + UPPER_MS {
                break;
            }
            totals.add(rec_hash(&(bidder, l_ts, r_ts, l_price, r_price)));
        }
    }
    Measurement {
        elapsed: start.elapsed(),
        totals,
        recovery: Recovery::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum::expected;

    #[test]
    fn is_selected_as_w7_or_limit_w7() {
        use crate::workloads::{Engine, Selection, Workload};
        let s: Selection = "w7".parse().unwrap();
        assert_eq!((s.engine, s.workload), (Engine::Runnel, Workload::W7));
        let s: Selection = "limit-W7".parse().unwrap();
        assert_eq!((s.engine, s.workload), (Engine::Limit, Workload::W7));
        assert_eq!(Workload::W7.default_n(), 2_000_000);
    }

    #[test]
    fn limit_matches_expected_at_1m() {
        assert_eq!(Some(limit(1_000_000).totals), expected("W7", 1_000_000));
    }

    #[test]
    fn runnel_p1_matches_expected_at_1m() {
        assert_eq!(
            Some(run(1_000_000, 1).unwrap().totals),
            expected("W7", 1_000_000)
        );
    }

    #[test]
    fn injected_failures_with_checkpoints_still_match_expected_at_1m() {
        let options = RunOptions {
            checkpoint_interval: Some(std::time::Duration::from_millis(20)),
            inject_failures: 2,
            seed: 5,
            ..RunOptions::default()
        };
        let m = run_with(1_000_000, 2, &options).unwrap();
        assert_eq!(Some(m.totals), expected("W7", 1_000_000));
        assert!(m.recovery.restarts >= 1, "{:?}", m.recovery);
    }

    #[test]
    fn runnel_p2_matches_expected_at_1m() {
        assert_eq!(
            Some(run(1_000_000, 2).unwrap().totals),
            expected("W7", 1_000_000)
        );
    }

    #[test]
    fn runnel_p3_matches_limit_at_odd_n() {
        let n = 100_003;
        assert_eq!(run(n, 3).unwrap().totals, limit(n).totals);
    }
}
