//! W2: keyed running aggregation (key_by + reduce).
//!
//! Every bid becomes `(auction, price, 1, price)`; keyed by auction, a rolling
//! reduce keeps `(auction, last price, cnt, sum)` and emits every update, so the
//! output has N records. The checksum is invariant to the order within a key:
//! `rec_hash = h(auction, cnt) + sum + price * cnt` (wrapping).

use super::{Measurement, Recovery, RunOptions};
use crate::bid::{Bid, BidSource};
use crate::checksum::{ChecksumSink, SharedTotals, Totals, h};
use crate::timing::JobTimer;
use runnel::prelude::*;
use runnel::types::FxHashMap;
use std::sync::Arc;
use std::time::Instant;

/// A running aggregate: `(auction, price, cnt, sum)`, `price` being the last bid's.
pub type Update = (u64, u64, u64, u64);

/// The map: a bid as a one-bid aggregate `(auction, price, 1, price)`.
#[inline(always)]
pub fn to_update(bid: Bid) -> Update {
    (bid.auction, bid.price, 1, bid.price)
}

/// The key: the auction.
#[inline(always)]
pub fn auction(u: &Update) -> u64 {
    u.0
}

/// The reduce: `(acc.auction, in.price, acc.cnt + in.cnt, acc.sum + in.sum)`.
#[inline(always)]
pub fn combine(acc: Update, input: Update) -> Update {
    (
        acc.0,
        input.1,
        acc.2.wrapping_add(input.2),
        acc.3.wrapping_add(input.3),
    )
}

/// `h(auction, cnt) + sum + price * cnt`, wrapping.
#[inline(always)]
pub fn rec_hash(u: &Update) -> u64 {
    let (auction, price, cnt, sum) = *u;
    h([auction, cnt])
        .wrapping_add(sum)
        .wrapping_add(price.wrapping_mul(cnt))
}

/// Runs W2 as a Runnel job, every operator at `parallelism`.
pub fn run(n: u64, parallelism: u32) -> anyhow::Result<Measurement> {
    run_with(n, parallelism, &RunOptions::default())
}

/// Runs W2 with checkpoints, a state backend and injected failures as
/// `options` say.
pub fn run_with(n: u64, parallelism: u32, options: &RunOptions) -> anyhow::Result<Measurement> {
    let env = StreamExecutionEnvironment::with_config(options.configuration(
        "Running count and sum per auction",
        n,
        parallelism,
    ));
    env.set_parallelism(parallelism);
    let timer = Arc::new(JobTimer::new());
    let totals = Arc::new(SharedTotals::default());
    env.from_source(BidSource::new(n, timer.clone()), "Bids")
        .map(to_update)
        .name("To (auction, price, 1, price)")
        .key_by(auction)
        .reduce(combine)
        .name("Running count and sum per auction")
        .add_two_phase_commit_sink(ChecksumSink::new(rec_hash, totals.clone(), timer.clone()))
        .name("Checksum");
    let result = env.execute("W2")?;
    Ok(Measurement {
        elapsed: timer.elapsed(),
        totals: totals.get(),
        recovery: Recovery::of(&result),
    })
}

/// The physical limit: one thread, one loop, one hash map.
pub fn limit(n: u64) -> Measurement {
    let start = Instant::now();
    let mut totals = Totals::default();
    let mut state: FxHashMap<u64, (u64, u64)> = FxHashMap::default();
    for i in 0..n {
        let bid = Bid::generate(i);
        let (cnt, sum) = state.entry(bid.auction).or_insert((0, 0));
        *cnt += 1;
        *sum = sum.wrapping_add(bid.price);
        totals.add(rec_hash(&(bid.auction, bid.price, *cnt, *sum)));
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
    fn limit_matches_expected_at_1m() {
        assert_eq!(Some(limit(1_000_000).totals), expected("W2", 1_000_000));
    }

    #[test]
    fn runnel_p1_matches_expected_at_1m() {
        assert_eq!(
            Some(run(1_000_000, 1).unwrap().totals),
            expected("W2", 1_000_000)
        );
    }

    #[test]
    fn runnel_p2_matches_expected_at_1m() {
        assert_eq!(
            Some(run(1_000_000, 2).unwrap().totals),
            expected("W2", 1_000_000)
        );
    }

    #[test]
    fn runnel_p3_matches_limit_at_odd_n() {
        let n = 100_003;
        assert_eq!(run(n, 3).unwrap().totals, limit(n).totals);
    }
}
