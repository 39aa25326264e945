//! The deterministic bid generator of WORKLOADS.md §1, and a parallel [`Source`]
//! of bids (§1.3: subtask `k` of `P` emits the indices `k, k+P, k+2P, ...`).

use crate::timing::JobTimer;
use runnel::prelude::{
    BoxError, EventTime, InputStatus, Source, SourceOutput, SourceReader, SourceReaderContext,
    SplitState, Watermark,
};
use runnel::runtime::source::Boundedness;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The splitmix64 increment (the golden ratio in 64-bit fixed point).
pub const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// Event time of bid 0 before its delay, in ms (2023-11-14T22:13:20Z).
pub const T0: i64 = 1_700_000_000_000;

/// The splitmix64 finaliser.
#[inline(always)]
pub fn mix64(z: u64) -> u64 {
    let z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The `n`-th output (0-based) of splitmix64 seeded with 0.
#[inline(always)]
pub fn sm(n: u64) -> u64 {
    mix64(n.wrapping_add(1).wrapping_mul(GAMMA))
}

/// One bid: about 40 bytes of payload, no strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Bid {
    /// Auction id: 25 % in the hot range `0..100`, the rest uniform over `0..10_000`.
    pub auction: u64,
    /// Bidder id, `0..250_000`.
    pub bidder: u64,
    /// Price, `1..=100_000`.
    pub price: u64,
    /// Channel, `0..=3`.
    pub channel: u64,
    /// Event time in ms: `T0 + i/100 - delay`, delay `0..=999`.
    pub ts: i64,
}

impl Bid {
    /// Bid `i`: a pure function of `i` (WORKLOADS.md §1.2).
    #[inline(always)]
    pub fn generate(i: u64) -> Bid {
        let s = i.wrapping_mul(8);
        let delay = sm(s) % 1000;
        let ts = T0 + (i / 100) as i64 - delay as i64;
        let u = sm(s + 1);
        let auction = (u >> 8) % if (u & 0xFF) < 64 { 100 } else { 10_000 };
        Bid {
            auction,
            bidder: sm(s + 2) % 250_000,
            price: 1 + sm(s + 3) % 100_000,
            channel: sm(s + 4) % 4,
            ts,
        }
    }
}

/// How many bids a reader emits per `poll_next` call.
pub const BIDS_PER_POLL: u64 = 1024;

/// The out-of-orderness bound of the watermarks (WORKLOADS.md §1.3).
pub const WATERMARK_BOUND_MS: i64 = 1000;

/// A bounded parallel source of bids `0..n`, interleaved over its subtasks.
///
/// Every reader marks the job's start on the shared [`JobTimer`] when it is first
/// polled (the earliest one wins).
#[derive(Clone)]
pub struct BidSource {
    n: u64,
    timer: Arc<JobTimer>,
    event_time: bool,
}

impl BidSource {
    /// Bids `0..n`, starting `timer` at the first poll.
    pub fn new(n: u64, timer: Arc<JobTimer>) -> Self {
        BidSource {
            n,
            timer,
            event_time: false,
        }
    }

    /// The same bids stamped with their `ts`, each subtask emitting the
    /// watermark `maxTs - 1000 - 1` (WORKLOADS.md §1.3) after every poll.
    pub fn with_event_time(n: u64, timer: Arc<JobTimer>) -> Self {
        BidSource {
            n,
            timer,
            event_time: true,
        }
    }
}

impl Source<Bid> for BidSource {
    type Reader = BidReader;

    fn boundedness(&self) -> Boundedness {
        Boundedness::Bounded
    }

    fn create_reader(&self, ctx: &SourceReaderContext) -> Result<BidReader, BoxError> {
        let rt = ctx.runtime();
        let mut reader = BidReader::new(
            self.n,
            u64::from(rt.subtask_index()),
            u64::from(rt.parallelism()),
            self.timer.clone(),
        );
        reader.event_time = self.event_time;
        Ok(reader)
    }

    fn restore_reader(
        &self,
        _ctx: &SourceReaderContext,
        splits: Vec<SplitState>,
    ) -> Result<BidReader, BoxError> {
        let (next, step) = match splits.as_slice() {
            [] => (self.n, 1),
            [one] => one.decode::<(u64, u64)>()?,
            more => {
                return Err(format!(
                    "the bid source restores one split per subtask (the same parallelism), got {}",
                    more.len()
                )
                .into());
            }
        };
        let mut reader = BidReader::new(self.n, 0, 1, self.timer.clone());
        reader.next = next;
        reader.step = step;
        reader.event_time = self.event_time;
        Ok(reader)
    }
}

/// One subtask's share of a [`BidSource`]: indices `k, k+P, k+2P, ... < n`.
pub struct BidReader {
    next: u64,
    step: u64,
    n: u64,
    started: bool,
    timer: Arc<JobTimer>,
    event_time: bool,
    max_ts: i64,
}

impl BidReader {
    /// The reader of subtask `k` of `p` over bids `0..n`.
    pub fn new(n: u64, k: u64, p: u64, timer: Arc<JobTimer>) -> Self {
        assert!(p > 0 && k < p, "subtask {k} of {p}");
        BidReader {
            next: k,
            step: p,
            n,
            started: false,
            timer,
            event_time: false,
            max_ts: i64::MIN,
        }
    }

    /// The next index this reader emits (`>= n` once done).
    pub fn next_index(&self) -> u64 {
        self.next
    }
}

impl SourceReader<Bid> for BidReader {
    #[inline]
    fn poll_next(&mut self, output: &mut SourceOutput<'_, Bid>) -> Result<InputStatus, BoxError> {
        if !self.started {
            self.started = true;
            self.timer.mark_start();
        }
        let (step, n) = (self.step, self.n);
        let mut i = self.next;
        let mut left = BIDS_PER_POLL;
        if self.event_time {
            let mut max_ts = self.max_ts;
            while i < n && left > 0 {
                let bid = Bid::generate(i);
                max_ts = max_ts.max(bid.ts);
                output.collect_with_timestamp(bid, EventTime::from_millis(bid.ts));
                i += step;
                left -= 1;
            }
            if max_ts > self.max_ts {
                self.max_ts = max_ts;
                output.emit_watermark(Watermark(max_ts - WATERMARK_BOUND_MS - 1));
            }
        } else {
            while i < n && left > 0 {
                output.collect(Bid::generate(i));
                i += step;
                left -= 1;
            }
        }
        self.next = i;
        Ok(if i >= n {
            InputStatus::EndOfInput
        } else {
            InputStatus::MoreAvailable
        })
    }

    fn snapshot_state(&mut self) -> Result<Option<Vec<SplitState>>, BoxError> {
        if self.next >= self.n {
            return Ok(Some(Vec::new()));
        }
        Ok(Some(vec![SplitState::encode(&(self.next, self.step))?]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum::h;
    use runnel::prelude::{RuntimeContext, SinkContext, SinkFunction, StreamExecutionEnvironment};
    use std::sync::Mutex;

    /// Checks that its subtask sees exactly the bids `k, k+P, ... < n`, in order.
    #[derive(Clone)]
    struct OrderCheck {
        n: u64,
        next: u64,
        step: u64,
        done: Arc<Mutex<Vec<(u64, u64)>>>,
    }

    impl SinkFunction<Bid> for OrderCheck {
        fn open(&mut self, ctx: &RuntimeContext) -> Result<(), BoxError> {
            self.next = u64::from(ctx.subtask_index());
            self.step = u64::from(ctx.parallelism());
            Ok(())
        }

        fn invoke(&mut self, bid: Bid, _ctx: &SinkContext) -> Result<(), BoxError> {
            assert_eq!(bid, Bid::generate(self.next), "bid {}", self.next);
            self.next += self.step;
            Ok(())
        }

        fn finish(&mut self) -> Result<(), BoxError> {
            assert!(
                self.next >= self.n,
                "stopped at {} of {}",
                self.next,
                self.n
            );
            self.done.lock().unwrap().push((self.step, self.next));
            Ok(())
        }
    }

    #[test]
    fn subtasks_interleave_indices_in_order() {
        for p in [1u32, 3] {
            let n = 5_000;
            let timer = Arc::new(JobTimer::new());
            let done = Arc::new(Mutex::new(Vec::new()));
            let env = StreamExecutionEnvironment::local();
            env.set_parallelism(p);
            env.from_source(BidSource::new(n, timer.clone()), "Bids")
                .add_sink(OrderCheck {
                    n,
                    next: 0,
                    step: 1,
                    done: done.clone(),
                });
            env.execute("order").unwrap();
            assert_eq!(done.lock().unwrap().len(), p as usize);
        }
    }

    #[test]
    fn primitives() {
        assert_eq!(mix64(1), 0x5692161d100b05e5);
        assert_eq!(sm(0), 0xe220a8397b1dcdaf);
        assert_eq!(sm(1), 0x6e789e6aa1b965f4);
    }

    #[test]
    fn test_vectors() {
        #[rustfmt::skip]
        let rows: [(u64, u64, u64, u64, u64, i64, u64); 8] = [
            (0, 1701, 45679, 42445, 3, 1699999999465, 0x82be0542a0fd4738),
            (1, 704, 190201, 4727, 3, 1699999999701, 0xd001e91a9fa679ad),
            (2, 1503, 117092, 61485, 3, 1699999999075, 0x0303b535c380c86f),
            (3, 6831, 203680, 46993, 2, 1699999999759, 0xb92edecc9df1752b),
            (4, 33, 132167, 28516, 3, 1699999999336, 0x1802cf89e3b768ca),
            (99, 7216, 85540, 44333, 0, 1699999999872, 0x7b79fe7b42506e82),
            (100, 603, 216069, 723, 3, 1699999999970, 0x7d2c843975921701),
            (1000000, 4904, 97816, 56101, 2, 1700000009652, 0x4c3d7f45af7afa05),
        ];
        for (i, auction, bidder, price, channel, ts, hash) in rows {
            let b = Bid::generate(i);
            assert_eq!(
                b,
                Bid {
                    auction,
                    bidder,
                    price,
                    channel,
                    ts
                },
                "bid {i}"
            );
            assert_eq!(
                h([b.auction, b.bidder, b.price, b.channel, b.ts as u64]),
                hash,
                "h(bid {i})"
            );
        }
    }
}
