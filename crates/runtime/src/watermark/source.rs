//! Watermarks generated inside a source, one generator per split (Flink's
//! `WatermarkOutputMultiplexer`). A source reading several splits (files,
//! partitions) keeps a watermark per split; the source's watermark is the minimum
//! over its active splits, so a split that is behind holds the others back and a
//! split that is idle does not.

use crate::watermark::combined::CombinedWatermark;
use crate::watermark::emitter::Pending;
use crate::watermark::generator::{IdlenessTimer, WatermarkGenerator, WatermarkOutput};
use crate::watermark::operator::periodic;
use crate::watermark::strategy::{TimestampAssigner, WatermarkStrategyFor};
use runnel_types::{StreamRecord, Watermark};
use std::collections::HashMap;

/// Timestamp assignment and watermark generation for the splits of one source
/// reader. Object-safe: a source output holds it as `dyn`.
pub trait SourceWatermarks<T> {
    /// The index of split `id`, creating its generator on first use.
    fn split(&mut self, id: &str) -> usize;
    /// The split `id` is finished: it stops holding the watermark back.
    fn release_split(&mut self, id: &str, pending: &mut Pending);
    /// Assigns the record's timestamp and feeds split `split`'s generator;
    /// combined watermark changes are added to `pending`, to be applied after the
    /// record is emitted.
    fn on_record(&mut self, split: usize, record: &mut StreamRecord<T>, pending: &mut Pending);
    /// A periodic emission of every split's generator at processing time `now`.
    fn on_periodic(&mut self, now: i64, pending: &mut Pending);
}

struct Split<G, A> {
    generator: G,
    assigner: A,
    idleness: Option<IdlenessTimer>,
    idle_now: bool,
}

/// [`SourceWatermarks`] for a strategy.
pub struct SplitWatermarks<T, S: WatermarkStrategyFor<T>> {
    strategy: S,
    clock: std::sync::Arc<dyn crate::clock::Clock>,
    splits: Vec<Split<S::Generator, S::Assigner>>,
    ids: HashMap<String, usize>,
    combined: CombinedWatermark,
    _records: std::marker::PhantomData<fn(T)>,
}

impl<T, S: WatermarkStrategyFor<T>> SplitWatermarks<T, S> {
    /// Watermarking with `strategy`; assigners get the job's clock.
    pub fn new(strategy: S, clock: std::sync::Arc<dyn crate::clock::Clock>) -> Self {
        SplitWatermarks {
            strategy,
            clock,
            splits: Vec::new(),
            ids: HashMap::new(),
            combined: CombinedWatermark::new(0),
            _records: std::marker::PhantomData,
        }
    }
}

/// A split's generator output: updates the combination and records what the
/// source as a whole must emit.
struct SplitOutput<'a> {
    index: usize,
    combined: &'a mut CombinedWatermark,
    pending: &'a mut Pending,
}

impl SplitOutput<'_> {
    fn after_update(&mut self, advanced: bool) {
        if advanced {
            self.pending.emit_watermark(self.combined.combined());
        } else if self.combined.is_idle() {
            self.pending.mark_idle();
        }
    }
}

impl WatermarkOutput for SplitOutput<'_> {
    fn emit_watermark(&mut self, watermark: Watermark) {
        let advanced = self.combined.update_watermark(self.index, watermark);
        self.after_update(advanced);
    }
    fn mark_idle(&mut self) {
        let advanced = self.combined.update_idle(self.index, true);
        self.after_update(advanced);
    }
    fn mark_active(&mut self) {
        let advanced = self.combined.update_idle(self.index, false);
        self.after_update(advanced);
    }
}

impl<T: 'static, S: WatermarkStrategyFor<T>> SourceWatermarks<T> for SplitWatermarks<T, S> {
    fn split(&mut self, id: &str) -> usize {
        if let Some(i) = self.ids.get(id) {
            return *i;
        }
        let (generator, mut assigner, idle_timeout) = self.strategy.instantiate();
        assigner.open(&self.clock);
        let index = self.combined.add_input();
        debug_assert_eq!(index, self.splits.len());
        self.splits.push(Split {
            generator,
            assigner,
            idleness: idle_timeout.map(IdlenessTimer::new),
            idle_now: false,
        });
        self.ids.insert(id.to_string(), index);
        index
    }

    fn release_split(&mut self, id: &str, pending: &mut Pending) {
        if let Some(i) = self.ids.remove(id) {
            let advanced = self.combined.release_input(i);
            SplitOutput {
                index: i,
                combined: &mut self.combined,
                pending,
            }
            .after_update(advanced);
        }
    }

    #[inline]
    fn on_record(&mut self, split: usize, record: &mut StreamRecord<T>, pending: &mut Pending) {
        let s = &mut self.splits[split];
        let timestamp = s
            .assigner
            .extract_timestamp(&record.value, record.timestamp);
        record.timestamp = Some(timestamp);
        if let Some(idleness) = &mut s.idleness {
            idleness.activity();
            s.idle_now = false;
        }
        let mut output = SplitOutput {
            index: split,
            combined: &mut self.combined,
            pending,
        };
        s.generator.on_event(&record.value, timestamp, &mut output);
    }

    fn on_periodic(&mut self, now: i64, pending: &mut Pending) {
        for (index, s) in self.splits.iter_mut().enumerate() {
            if self.ids.values().all(|i| *i != index) {
                continue; // released
            }
            let mut output = SplitOutput {
                index,
                combined: &mut self.combined,
                pending,
            };
            periodic(
                &mut s.generator,
                &mut s.idleness,
                &mut s.idle_now,
                now,
                &mut output,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::watermark::strategy::WatermarkStrategy;
    use runnel_types::EventTime;
    use std::sync::Arc;
    use std::time::Duration;

    #[derive(Default)]
    struct Seen(Vec<String>);
    impl WatermarkOutput for Seen {
        fn emit_watermark(&mut self, w: Watermark) {
            self.0.push(format!("wm {w}"));
        }
        fn mark_idle(&mut self) {
            self.0.push("idle".into());
        }
        fn mark_active(&mut self) {
            self.0.push("active".into());
        }
    }

    fn record(ts: i64) -> StreamRecord<i64> {
        StreamRecord::new(ts)
    }

    #[test]
    fn the_slowest_split_holds_the_source_watermark_back() {
        let strategy = WatermarkStrategy::for_bounded_out_of_orderness(Duration::ZERO)
            .with_timestamp_assigner(|v: &i64, _| *v);
        let mut w = SplitWatermarks::new(strategy, Arc::new(ManualClock::new(0)));
        let (a, b) = (w.split("a"), w.split("b"));
        let mut pending = Pending::default();
        let mut r = record(100);
        w.on_record(a, &mut r, &mut pending);
        assert_eq!(
            r.timestamp,
            Some(EventTime::from_millis(100)),
            "the assigner ran"
        );
        w.on_record(b, &mut record(40), &mut pending);
        w.on_periodic(0, &mut pending);
        let mut seen = Seen::default();
        pending.apply(&mut seen);
        assert_eq!(seen.0, ["wm 39"], "min(99, 39)");
        let mut pending = Pending::default();
        w.release_split("b", &mut pending);
        let mut seen = Seen::default();
        pending.apply(&mut seen);
        assert_eq!(seen.0, ["wm 99"], "a released split no longer holds back");
    }

    #[test]
    fn idle_splits_do_not_hold_back_and_all_idle_marks_the_source_idle() {
        let strategy = WatermarkStrategy::for_bounded_out_of_orderness(Duration::ZERO)
            .with_timestamp_assigner(|v: &i64, _| *v)
            .with_idleness(Duration::from_millis(10));
        let mut w = SplitWatermarks::new(strategy, Arc::new(ManualClock::new(0)));
        let (a, b) = (w.split("a"), w.split("b"));
        let mut pending = Pending::default();
        w.on_record(a, &mut record(500), &mut pending);
        w.on_record(b, &mut record(100), &mut pending);
        w.on_periodic(0, &mut pending);
        // Only split a keeps receiving records.
        for now in [5, 20, 40] {
            w.on_record(a, &mut record(600 + now), &mut pending);
            w.on_periodic(now, &mut pending);
        }
        let mut seen = Seen::default();
        pending.apply(&mut seen);
        assert_eq!(
            seen.0,
            ["wm 639"],
            "split b went idle; the source follows split a"
        );
        let mut pending = Pending::default();
        for now in [60, 80] {
            w.on_periodic(now, &mut pending);
        }
        let mut seen = Seen::default();
        pending.apply(&mut seen);
        assert_eq!(seen.0, ["idle"]);
    }
}
