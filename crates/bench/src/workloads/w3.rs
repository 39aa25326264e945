//! W3: event-time tumbling windows of 10 s keyed by auction; per (auction,
//! window) with a bid, `(auction, window_end, count, max_price)` when the window
//! fires. Incremental: one accumulator per (key, window).

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

/// `(auction, window_end, count, max_price)`.
pub type WindowResult = (u64, i64, u64, u64);

/// Counts bids and keeps the highest price.
#[derive(Clone, Copy)]
pub struct CountMax;

impl AggregateFunction<Bid, (u64, u64), (u64, u64)> for CountMax {
    #[inline]
    fn create_accumulator(&self) -> (u64, u64) {
        (0, 0)
    }
    #[inline]
    fn add(&self, bid: Bid, (count, max): (u64, u64)) -> (u64, u64) {
        (count + 1, max.max(bid.price))
    }
    fn get_result(&self, acc: &(u64, u64)) -> (u64, u64) {
        *acc
    }
    fn merge(&self, a: (u64, u64), b: (u64, u64)) -> (u64, u64) {
        (a.0 + b.0, a.1.max(b.1))
    }
}

/// Attaches the auction and the window end.
#[derive(Clone, Copy)]
pub struct AttachWindowEnd;

impl ProcessWindowFunction<u64, (u64, u64), WindowResult, TimeWindow> for AttachWindowEnd {
    #[inline]
    fn process(
        &mut self,
        auction: &u64,
        ctx: &mut ProcessWindowContext<'_, u64, TimeWindow>,
        counts: &[(u64, u64)],
        out: &mut Collector<'_, WindowResult>,
    ) -> Result<(), BoxError> {
        let (count, max) = counts[0];
        out.collect((*auction, ctx.window().end(), count, max));
        Ok(())
    }
}

/// `h(auction, window_end, count, max_price)`.
#[inline]
pub fn rec_hash(r: &WindowResult) -> u64 {
    h([r.0, r.1 as u64, r.2, r.3])
}

/// Runs W3 as a Runnel job, every operator at `parallelism`.
pub fn run(n: u64, parallelism: u32) -> anyhow::Result<Measurement> {
    run_with(n, parallelism, &RunOptions::default())
}

/// Runs W3 with checkpoints, a state backend and injected failures as
/// `options` say.
pub fn run_with(n: u64, parallelism: u32, options: &RunOptions) -> anyhow::Result<Measurement> {
    let env = StreamExecutionEnvironment::with_config(options.configuration(
        "Count and max price per auction and 10 s",
        n,
        parallelism,
    ));
    env.set_parallelism(parallelism);
    let timer = Arc::new(JobTimer::new());
    let totals = Arc::new(SharedTotals::default());
    env.from_source(BidSource::with_event_time(n, timer.clone()), "Bids")
        .key_by(|b: &Bid| b.auction)
        .window(TumblingEventTimeWindows::of(Duration::from_millis(
            SIZE_MS as u64,
        )))
        .aggregate_process(CountMax, AttachWindowEnd)
        .name("Count and max price per auction and 10 s")
        .add_two_phase_commit_sink(ChecksumSink::new(rec_hash, totals.clone(), timer.clone()))
        .name("Checksum");
    let result = env.execute("W3")?;
    Ok(Measurement {
        elapsed: timer.elapsed(),
        totals: totals.get(),
        recovery: Recovery::of(&result),
    })
}

/// The physical limit: one thread; windows by start, each a map from auction to
/// (count, max), emitted when the watermark (`max ts − 1001`, every 1024 bids
/// like the source) passes their end.
pub fn limit(n: u64) -> Measurement {
    let start = Instant::now();
    let mut totals = Totals::default();
    let mut windows: BTreeMap<i64, FxHashMap<u64, (u64, u64)>> = BTreeMap::new();
    let mut max_ts = i64::MIN;
    let mut emit = |windows: &mut BTreeMap<i64, FxHashMap<u64, (u64, u64)>>, watermark: i64| {
        while let Some(entry) = windows.first_entry() {
            let end = *entry.key() + SIZE_MS;
            if end - 1 > watermark {
                break;
            }
            for (auction, (count, max)) in entry.remove() {
                totals.add(rec_hash(&(auction, end, count, max)));
            }
        }
    };
    for i in 0..n {
        let bid = Bid::generate(i);
        max_ts = max_ts.max(bid.ts);
        let window_start = bid.ts - bid.ts.rem_euclid(SIZE_MS);
        let acc = windows
            .entry(window_start)
            .or_default()
            .entry(bid.auction)
            .or_insert((0, 0));
        acc.0 += 1;
        acc.1 = acc.1.max(bid.price);
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
        assert_eq!(Some(limit(1_000_000).totals), expected("W3", 1_000_000));
    }

    #[test]
    fn runnel_p1_matches_expected_at_1m() {
        assert_eq!(
            Some(run(1_000_000, 1).unwrap().totals),
            expected("W3", 1_000_000)
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
        assert_eq!(Some(m.totals), expected("W3", 1_000_000));
        assert!(m.recovery.restarts >= 1, "{:?}", m.recovery);
    }

    #[test]
    fn runnel_p2_matches_expected_at_1m() {
        assert_eq!(
            Some(run(1_000_000, 2).unwrap().totals),
            expected("W3", 1_000_000)
        );
    }
}
