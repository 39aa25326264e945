//! `from_sequence(from, to)`: the numbers `from..=to`, split into contiguous
//! ranges over the parallel subtasks. Checkpoints record how far each range got.

use crate::RECORDS_PER_POLL;
use crate::split::{IndexRanges, contiguous_share};
use runnel_runtime::source::{
    Boundedness, Source, SourceOutput, SourceReader, SourceReaderContext, SplitState,
};
use runnel_runtime::{BoxError, InputStatus};

/// A parallel source of consecutive numbers, both ends inclusive.
#[derive(Debug, Clone, Copy)]
pub struct NumberSequenceSource {
    from: u64,
    to: u64,
}

impl NumberSequenceSource {
    /// The numbers `from..=to` (empty if `to < from`).
    pub fn new(from: u64, to: u64) -> Self {
        NumberSequenceSource { from, to }
    }
}

impl Source<u64> for NumberSequenceSource {
    type Reader = SequenceReader;

    fn boundedness(&self) -> Boundedness {
        Boundedness::Bounded
    }

    fn create_reader(&self, ctx: &SourceReaderContext) -> Result<Self::Reader, BoxError> {
        let total = if self.to < self.from {
            0
        } else {
            self.to - self.from + 1
        };
        let rt = ctx.runtime();
        let (start, end) = contiguous_share(total, rt.subtask_index(), rt.parallelism());
        Ok(SequenceReader {
            from: self.from,
            ranges: IndexRanges::new(start, end),
        })
    }

    fn restore_reader(
        &self,
        _ctx: &SourceReaderContext,
        splits: Vec<SplitState>,
    ) -> Result<Self::Reader, BoxError> {
        Ok(SequenceReader {
            from: self.from,
            ranges: IndexRanges::restore(&splits)?,
        })
    }
}

/// Reads one subtask's ranges of a [`NumberSequenceSource`] (offsets from
/// `from`).
pub struct SequenceReader {
    from: u64,
    ranges: IndexRanges,
}

impl SourceReader<u64> for SequenceReader {
    fn poll_next(&mut self, output: &mut SourceOutput<'_, u64>) -> Result<InputStatus, BoxError> {
        if let Some(range) = self.ranges.take(RECORDS_PER_POLL as u64) {
            for i in range {
                output.collect(self.from.wrapping_add(i));
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
