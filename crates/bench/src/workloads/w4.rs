//! W4: sliding windows of 10 s every 2 s, hot items (Nexmark q5-like). Stage 1
//! counts bids per (auction, window); stage 2 keeps, per window, the auction with
//! the most bids (the smallest auction id on ties) and emits
//! `(window_end, auction, count)`.

use super::{Measurement, Recovery, RunOptions};
use crate::bid::{Bid, BidSource, WATERMARK_BOUND_MS};
use crate::checksum::{ChecksumSink, SharedTotals, Totals, h};
use crate::timing::JobTimer;
use runnel::prelude::*;
use runnel::types::FxHashMap;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The window size.
pub const SIZE_MS: i64 = 10_000;
/// The slide.
pub const SLIDE_MS: i64 = 2_000;

/// `(auction, window_end, count)` of stage 1.
pub type AuctionCount = (u64, i64, u64);

/// Counts bids.
#[derive(Clone, Copy)]
pub struct Count;

impl AggregateFunction<Bid, u64, u64> for Count {
    #[inline]
    fn create_accumulator(&self) -> u64 {
        0
    }
    #[inline]
    fn add(&self, _bid: Bid, count: u64) -> u64 {
        count + 1
    }
    fn get_result(&self, count: &u64) -> u64 {
        *count
    }
    fn merge(&self, a: u64, b: u64) -> u64 {
        a + b
    }
}

/// Attaches the auction and the window end to a count.
#[derive(Clone, Copy)]
pub struct AttachWindowEnd;

impl ProcessWindowFunction<u64, u64, AuctionCount, TimeWindow> for AttachWindowEnd {
    #[inline]
    fn process(
        &mut self,
        auction: &u64,
        ctx: &mut ProcessWindowContext<'_, u64, TimeWindow>,
        counts: &[u64],
        out: &mut Collector<'_, AuctionCount>,
    ) -> Result<(), BoxError> {
        out.collect((*auction, ctx.window().end(), counts[0]));
        Ok(())
    }
}

/// The hotter of two auctions: more bids, then the smaller id.
#[inline]
pub fn hotter(a: AuctionCount, b: AuctionCount) -> AuctionCount {
    if b.2 > a.2 || (b.2 == a.2 && b.0 < a.0) {
        b
    } else {
        a
    }
}

/// `h(window_end, auction, count)`.
#[inline]
pub fn rec_hash(r: &AuctionCount) -> u64 {
    h([r.1 as u64, r.0, r.2])
}

/// Runs W4 as a Runnel job, every operator at `parallelism`.
pub fn run(n: u64, parallelism: u32) -> anyhow::Result<Measurement> {
    run_with(n, parallelism, &RunOptions::default())
}

/// Runs W4 with checkpoints, a state backend and injected failures as
/// `options` say.
pub fn run_with(n: u64, parallelism: u32, options: &RunOptions) -> anyhow::Result<Measurement> {
    let env = StreamExecutionEnvironment::with_config(options.configuration(
        "Bids per auction and window",
        n,
        parallelism,
    ));
    env.set_parallelism(parallelism);
    let timer = Arc::new(JobTimer::new());
    let totals = Arc::new(SharedTotals::default());
    env.from_source(BidSource::with_event_time(n, timer.clone()), "Bids")
        .key_by(|b: &Bid| b.auction)
        .window(SlidingEventTimeWindows::of(
            Duration::from_millis(SIZE_MS as u64),
            Duration::from_millis(SLIDE_MS as u64),
        ))
        .aggregate_process(Count, AttachWindowEnd)
        .name("Bids per auction and window")
        .key_by(|c: &AuctionCount| c.1)
        .window(TumblingEventTimeWindows::of(Duration::from_millis(
            SLIDE_MS as u64,
        )))
        .reduce(hotter)
        .name("Hottest auction per window")
        .add_two_phase_commit_sink(ChecksumSink::new(rec_hash, totals.clone(), timer.clone()))
        .name("Checksum");
    let result = env.execute("W4")?;
    Ok(Measurement {
        elapsed: timer.elapsed(),
        totals: totals.get(),
        recovery: Recovery::of(&result),
    })
}

/// The physical limit: one thread; window start → auction → count, each window's
/// hottest auction emitted when the watermark passes its end.
pub fn limit(n: u64) -> Measurement {
    let start = Instant::now();
    let mut totals = Totals::default();
    let mut windows: BTreeMap<i64, FxHashMap<u64, u64>> = BTreeMap::new();
    let mut max_ts = i64::MIN;
    let mut emit = |windows: &mut BTreeMap<i64, FxHashMap<u64, u64>>, watermark: i64| {
        while let Some(entry) = windows.first_entry() {
            let end = *entry.key() + SIZE_MS;
            if end - 1 > watermark {
                break;
            }
            let best = entry
                .remove()
                .into_iter()
                .map(|(auction, count)| (auction, end, count))
                .reduce(hotter);
            if let Some(best) = best {
                totals.add(rec_hash(&best));
            }
        }
    };
    for i in 0..n {
        let bid = Bid::generate(i);
        max_ts = max_ts.max(bid.ts);
        let last = bid.ts - bid.ts.rem_euclid(SLIDE_MS);
        let mut s = last;
        while s > bid.ts - SIZE_MS {
            *windows
                .entry(s)
                .or_default()
                .entry(bid.auction)
                .or_insert(0) += 1;
            s -= SLIDE_MS;
        }
        if i % 1024 == 1023 {
            emit(&mut windows, max_ts - WATERMARK_BOUND_MS - 1);
        }
    }
    emit(&mut windows, i64::MAX);
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
        assert_eq!(Some(limit(1_000_000).totals), expected("W4", 1_000_000));
    }

    #[test]
    fn runnel_p1_matches_expected_at_1m() {
        assert_eq!(
            Some(run(1_000_000, 1).unwrap().totals),
            expected("W4", 1_000_000)
        );
    }

    #[test]
    fn runnel_p2_matches_expected_at_1m() {
        assert_eq!(
            Some(run(1_000_000, 2).unwrap().totals),
            expected("W4", 1_000_000)
        );
    }
}
