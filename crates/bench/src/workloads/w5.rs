//! W5: event-time session windows of each bidder with a 5 s gap; per session
//! `(bidder, start, end, count, sum_price)`, `end` being the last bid's ts + gap.
//! State- and timer-heavy: about 215k sessions are open at a time.

use super::{Measurement, Recovery, RunOptions};
use crate::bid::{Bid, BidSource};
use crate::checksum::{ChecksumSink, SharedTotals, Totals, h};
use crate::timing::JobTimer;
use runnel::prelude::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The session gap.
pub const GAP_MS: i64 = 5_000;

/// `(bidder, start, end, count, sum_price)`.
pub type Session = (u64, i64, i64, u64, u64);

/// Counts bids and sums prices.
#[derive(Clone, Copy)]
pub struct CountSum;

impl AggregateFunction<Bid, (u64, u64), (u64, u64)> for CountSum {
    #[inline]
    fn create_accumulator(&self) -> (u64, u64) {
        (0, 0)
    }
    #[inline]
    fn add(&self, bid: Bid, (count, sum): (u64, u64)) -> (u64, u64) {
        (count + 1, sum.wrapping_add(bid.price))
    }
    fn get_result(&self, acc: &(u64, u64)) -> (u64, u64) {
        *acc
    }
    fn merge(&self, a: (u64, u64), b: (u64, u64)) -> (u64, u64) {
        (a.0 + b.0, a.1.wrapping_add(b.1))
    }
}

/// Attaches the bidder and the session's bounds.
#[derive(Clone, Copy)]
pub struct AttachSession;

impl ProcessWindowFunction<u64, (u64, u64), Session, TimeWindow> for AttachSession {
    #[inline]
    fn process(
        &mut self,
        bidder: &u64,
        ctx: &mut ProcessWindowContext<'_, u64, TimeWindow>,
        acc: &[(u64, u64)],
        out: &mut Collector<'_, Session>,
    ) -> Result<(), BoxError> {
        let w = ctx.window();
        out.collect((*bidder, w.start(), w.end(), acc[0].0, acc[0].1));
        Ok(())
    }
}

/// `h(bidder, start, end, count, sum_price)`.
#[inline]
pub fn rec_hash(s: &Session) -> u64 {
    h([s.0, s.1 as u64, s.2 as u64, s.3, s.4])
}

/// Runs W5 as a Runnel job, every operator at `parallelism`.
pub fn run(n: u64, parallelism: u32) -> anyhow::Result<Measurement> {
    run_with(n, parallelism, &RunOptions::default())
}

/// Runs W5 with checkpoints, a state backend and injected failures as
/// `options` say.
pub fn run_with(n: u64, parallelism: u32, options: &RunOptions) -> anyhow::Result<Measurement> {
    let env = StreamExecutionEnvironment::with_config(options.configuration(
        "Sessions per bidder",
        n,
        parallelism,
    ));
    env.set_parallelism(parallelism);
    let timer = Arc::new(JobTimer::new());
    let totals = Arc::new(SharedTotals::default());
    env.from_source(BidSource::with_event_time(n, timer.clone()), "Bids")
        .key_by(|b: &Bid| b.bidder)
        .window(EventTimeSessionWindows::with_gap(Duration::from_millis(
            GAP_MS as u64,
        )))
        .aggregate_process(CountSum, AttachSession)
        .name("Sessions per bidder")
        .add_two_phase_commit_sink(ChecksumSink::new(rec_hash, totals.clone(), timer.clone()))
        .name("Checksum");
    let result = env.execute("W5")?;
    Ok(Measurement {
        elapsed: timer.elapsed(),
        totals: totals.get(),
        recovery: Recovery::of(&result),
    })
}

/// The physical limit, as a batch: sort the bids by (bidder, ts), then cut each
/// bidder's run where consecutive timestamps differ by more than the gap.
pub fn limit(n: u64) -> Measurement {
    let start = Instant::now();
    let mut totals = Totals::default();
    let mut bids: Vec<(u64, i64, u64)> = (0..n)
        .map(|i| {
            let b = Bid::generate(i);
            (b.bidder, b.ts, b.price)
        })
        .collect();
    bids.sort_unstable();
    let mut i = 0;
    while i < bids.len() {
        let (bidder, first_ts, _) = bids[i];
        let (mut last_ts, mut count, mut sum) = (first_ts, 0u64, 0u64);
        while i < bids.len() && bids[i].0 == bidder && bids[i].1 - last_ts <= GAP_MS {
            last_ts = bids[i].1;
            count += 1;
            sum = sum.wrapping_add(bids[i].2);
            i += 1;
        }
        totals.add(rec_hash(&(bidder, first_ts, last_ts + GAP_MS, count, sum)));
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
        assert_eq!(Some(limit(1_000_000).totals), expected("W5", 1_000_000));
    }

    #[test]
    fn runnel_p1_matches_expected_at_1m() {
        assert_eq!(
            Some(run(1_000_000, 1).unwrap().totals),
            expected("W5", 1_000_000)
        );
    }

    #[test]
    fn runnel_p2_matches_expected_at_1m() {
        assert_eq!(
            Some(run(1_000_000, 2).unwrap().totals),
            expected("W5", 1_000_000)
        );
    }
}
