//! A data generator (Flink's `DataGeneratorSource`): record *i* is `generator(i)`
//! for `i` in `0..count`, split into contiguous ranges over the subtasks,
//! optionally rate limited.

use crate::RECORDS_PER_POLL;
use crate::split::{IndexRanges, contiguous_share};
use runnel_runtime::source::{
    Boundedness, Source, SourceOutput, SourceReader, SourceReaderContext, SplitState,
};
use runnel_runtime::{BoxError, InputStatus};
use runnel_types::Data;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

/// Generates `count` records (unbounded with `u64::MAX`) from their index.
pub struct DataGeneratorSource<T, F> {
    count: u64,
    generator: F,
    records_per_second: Option<f64>,
    _records: PhantomData<fn() -> T>,
}

impl<T, F: Fn(u64) -> T> DataGeneratorSource<T, F> {
    /// `count` records, record `i` being `generator(i)`.
    pub fn new(count: u64, generator: F) -> Self {
        DataGeneratorSource {
            count,
            generator,
            records_per_second: None,
            _records: PhantomData,
        }
    }

    /// Limits the total rate over all subtasks.
    pub fn with_rate_limit(mut self, records_per_second: f64) -> Self {
        self.records_per_second = Some(records_per_second).filter(|r| *r > 0.0);
        self
    }
}

impl<T: Data, F: Fn(u64) -> T + Clone + Send + Sync + 'static> Source<T>
    for DataGeneratorSource<T, F>
{
    type Reader = GeneratorReader<T, F>;

    fn boundedness(&self) -> Boundedness {
        if self.count == u64::MAX {
            Boundedness::ContinuousUnbounded
        } else {
            Boundedness::Bounded
        }
    }

    fn create_reader(&self, ctx: &SourceReaderContext) -> Result<Self::Reader, BoxError> {
        let rt = ctx.runtime();
        let (next, end) = contiguous_share(self.count, rt.subtask_index(), rt.parallelism());
        Ok(self.reader(ctx, IndexRanges::new(next, end)))
    }

    fn restore_reader(
        &self,
        ctx: &SourceReaderContext,
        splits: Vec<SplitState>,
    ) -> Result<Self::Reader, BoxError> {
        Ok(self.reader(ctx, IndexRanges::restore(&splits)?))
    }
}

impl<T, F: Clone> DataGeneratorSource<T, F> {
    fn reader(&self, ctx: &SourceReaderContext, ranges: IndexRanges) -> GeneratorReader<T, F> {
        GeneratorReader {
            generator: self.generator.clone(),
            ranges,
            per_second: self
                .records_per_second
                .map(|r| r / ctx.runtime().parallelism() as f64),
            started: None,
            emitted: 0,
            _records: PhantomData,
        }
    }
}

/// Reads one subtask's range of a [`DataGeneratorSource`].
pub struct GeneratorReader<T, F> {
    generator: F,
    ranges: IndexRanges,
    per_second: Option<f64>,
    started: Option<Instant>,
    emitted: u64,
    _records: PhantomData<fn() -> T>,
}

impl<T: Data, F: Fn(u64) -> T + 'static> SourceReader<T> for GeneratorReader<T, F> {
    fn poll_next(&mut self, output: &mut SourceOutput<'_, T>) -> Result<InputStatus, BoxError> {
        let mut budget = RECORDS_PER_POLL as u64;
        if let Some(rate) = self.per_second {
            let started = *self.started.get_or_insert_with(Instant::now);
            let allowed = (started.elapsed().as_secs_f64() * rate) as u64 + 1;
            if allowed <= self.emitted {
                let wait = (self.emitted + 1) as f64 / rate - started.elapsed().as_secs_f64();
                return Ok(InputStatus::PollAfter(Duration::from_secs_f64(
                    wait.max(0.0005),
                )));
            }
            budget = budget.min(allowed - self.emitted);
        }
        if let Some(range) = self.ranges.take(budget) {
            self.emitted += range.end - range.start;
            for i in range {
                output.collect((self.generator)(i));
            }
        }
        Ok(if self.ranges.is_empty() {
            InputStatus::EndOfInput
        } else {
            InputStatus::MoreAvailable
        })
    }

    fn snapshot_state(&mut self) -> Result<Option<Vec<SplitState>>, BoxError> {
        self.ranges.snapshot().map(Some)
    }
}
