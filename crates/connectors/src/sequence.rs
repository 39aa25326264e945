//! `from_sequence(from, to)`: the numbers `from..=to`, split into contiguous
//! ranges over the parallel subtasks.

use crate::RECORDS_PER_POLL;
use crate::split::contiguous_share;
use runnel_runtime::source::{
    Boundedness, Source, SourceOutput, SourceReader, SourceReaderContext,
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
            next: self.from.wrapping_add(start),
            remaining: end - start,
        })
    }
}

/// Reads one subtask's range of a [`NumberSequenceSource`].
pub struct SequenceReader {
    next: u64,
    remaining: u64,
}

impl SourceReader<u64> for SequenceReader {
    fn poll_next(&mut self, output: &mut SourceOutput<'_, u64>) -> Result<InputStatus, BoxError> {
        let n = self.remaining.min(RECORDS_PER_POLL as u64);
        for _ in 0..n {
            output.collect(self.next);
            self.next = self.next.wrapping_add(1);
        }
        self.remaining -= n;
        Ok(if self.remaining == 0 {
            InputStatus::EndOfInput
        } else {
            InputStatus::MoreAvailable
        })
    }
}
