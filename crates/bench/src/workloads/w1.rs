//! W1: stateless map + filter (Nexmark q1 + q2 flavour).
//!
//! For every bid, `price_eur = floor(price * 908 / 1000)`; emit `(auction, bidder,
//! price_eur, channel, ts)` iff `channel == 0 || price_eur > 50_000`.
//! `rec_hash = h(auction, bidder, price_eur, channel, ts)`.

use super::{Measurement, Recovery, RunOptions};
use crate::bid::{Bid, BidSource};
use crate::checksum::{ChecksumSink, SharedTotals, Totals, h};
use crate::timing::JobTimer;
use runnel::prelude::*;
use std::sync::Arc;
use std::time::Instant;

/// The map: converts the price to euros (the output keeps the bid's layout, with
/// `price` holding `price_eur`).
#[inline(always)]
pub fn to_eur(bid: Bid) -> Bid {
    Bid {
        price: bid.price * 908 / 1000,
        ..bid
    }
}

/// The filter: channel 0, or a price above 50,000 euros.
#[inline(always)]
pub fn keep(bid: &Bid) -> bool {
    bid.channel == 0 || bid.price > 50_000
}

/// `h(auction, bidder, price_eur, channel, ts)`.
#[inline(always)]
pub fn rec_hash(bid: &Bid) -> u64 {
    h([
        bid.auction,
        bid.bidder,
        bid.price,
        bid.channel,
        bid.ts as u64,
    ])
}

/// Runs W1 as a Runnel job, every operator at `parallelism`.
pub fn run(n: u64, parallelism: u32) -> anyhow::Result<Measurement> {
    run_with(n, parallelism, &RunOptions::default())
}

/// Runs W1 with checkpoints, a state backend and injected failures as
/// `options` say.
pub fn run_with(n: u64, parallelism: u32, options: &RunOptions) -> anyhow::Result<Measurement> {
    let env =
        StreamExecutionEnvironment::with_config(options.configuration("To EUR", n, parallelism));
    env.set_parallelism(parallelism);
    let timer = Arc::new(JobTimer::new());
    let totals = Arc::new(SharedTotals::default());
    env.from_source(BidSource::new(n, timer.clone()), "Bids")
        .map(to_eur)
        .name("To EUR")
        .filter(keep)
        .name("Channel 0 or > 50k EUR")
        .add_two_phase_commit_sink(ChecksumSink::new(rec_hash, totals.clone(), timer.clone()))
        .name("Checksum");
    let result = env.execute("W1")?;
    Ok(Measurement {
        elapsed: timer.elapsed(),
        totals: totals.get(),
        recovery: Recovery::of(&result),
    })
}

/// The physical limit: one thread, one loop, no framework.
pub fn limit(n: u64) -> Measurement {
    let start = Instant::now();
    let mut totals = Totals::default();
    for i in 0..n {
        let bid = to_eur(Bid::generate(i));
        if keep(&bid) {
            totals.add(rec_hash(&bid));
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
    fn limit_matches_expected_at_1m() {
        assert_eq!(Some(limit(1_000_000).totals), expected("W1", 1_000_000));
    }

    #[test]
    fn runnel_p1_matches_expected_at_1m() {
        assert_eq!(
            Some(run(1_000_000, 1).unwrap().totals),
            expected("W1", 1_000_000)
        );
    }

    #[test]
    fn runnel_p2_matches_expected_at_1m() {
        assert_eq!(
            Some(run(1_000_000, 2).unwrap().totals),
            expected("W1", 1_000_000)
        );
    }

    #[test]
    fn runnel_p3_matches_limit_at_odd_n() {
        let n = 100_003;
        let m = run(n, 3).unwrap();
        assert_eq!(m.totals, limit(n).totals);
        assert!(m.elapsed > std::time::Duration::ZERO);
    }
}
