//! `from_elements` / `from_collection` / `from_iter`: a bounded, non-parallel
//! source over values held in memory. Checkpoints record how many values were
//! emitted; a restored reader skips them.

use crate::RECORDS_PER_POLL;
use runnel_runtime::source::{
    Boundedness, Source, SourceOutput, SourceReader, SourceReaderContext, SplitState,
};
use runnel_runtime::{BoxError, InputStatus};
use runnel_types::Data;
use std::sync::Arc;

/// Emits the elements of a collection, in order.
pub struct CollectionSource<T> {
    items: Arc<Vec<T>>,
}

impl<T> CollectionSource<T> {
    /// A source over `items`.
    pub fn new(items: Vec<T>) -> Self {
        CollectionSource {
            items: Arc::new(items),
        }
    }
}

impl<T: Data + Sync> Source<T> for CollectionSource<T> {
    type Reader = CollectionReader<T>;

    fn boundedness(&self) -> Boundedness {
        Boundedness::Bounded
    }

    fn create_reader(&self, _ctx: &SourceReaderContext) -> Result<Self::Reader, BoxError> {
        Ok(CollectionReader {
            items: self.items.clone(),
            next: 0,
        })
    }

    fn restore_reader(
        &self,
        _ctx: &SourceReaderContext,
        splits: Vec<SplitState>,
    ) -> Result<Self::Reader, BoxError> {
        Ok(CollectionReader {
            items: self.items.clone(),
            next: restored_position(&splits, self.items.len() as u64)? as usize,
        })
    }
}

/// The position in a restored single split; none left means everything was read.
fn restored_position(splits: &[SplitState], everything: u64) -> Result<u64, BoxError> {
    match splits {
        [] => Ok(everything),
        [one] => one.decode::<u64>(),
        more => Err(format!(
            "a non-parallel source was restored with {} splits; it has one",
            more.len()
        )
        .into()),
    }
}

/// Reads a [`CollectionSource`].
pub struct CollectionReader<T> {
    items: Arc<Vec<T>>,
    next: usize,
}

impl<T: Data + Sync> SourceReader<T> for CollectionReader<T> {
    fn poll_next(&mut self, output: &mut SourceOutput<'_, T>) -> Result<InputStatus, BoxError> {
        let end = (self.next + RECORDS_PER_POLL).min(self.items.len());
        for item in &self.items[self.next..end] {
            output.collect(item.clone());
        }
        self.next = end;
        Ok(if self.next == self.items.len() {
            InputStatus::EndOfInput
        } else {
            InputStatus::MoreAvailable
        })
    }

    fn snapshot_state(&mut self) -> Result<Option<Vec<SplitState>>, BoxError> {
        if self.next == self.items.len() {
            return Ok(Some(Vec::new()));
        }
        Ok(Some(vec![SplitState::encode(&(self.next as u64))?]))
    }
}

/// Emits the items of an iterator (cloned for each run of the job).
pub struct IteratorSource<I> {
    iter: I,
}

impl<I> IteratorSource<I> {
    /// A source over `iter`.
    pub fn new(iter: I) -> Self {
        IteratorSource { iter }
    }
}

impl<T: Data, I> Source<T> for IteratorSource<I>
where
    I: Iterator<Item = T> + Clone + Send + Sync + 'static,
{
    type Reader = IteratorReader<I>;

    fn boundedness(&self) -> Boundedness {
        Boundedness::Bounded
    }

    fn create_reader(&self, _ctx: &SourceReaderContext) -> Result<Self::Reader, BoxError> {
        Ok(IteratorReader {
            iter: self.iter.clone(),
            emitted: 0,
            done: false,
        })
    }

    fn restore_reader(
        &self,
        _ctx: &SourceReaderContext,
        splits: Vec<SplitState>,
    ) -> Result<Self::Reader, BoxError> {
        if splits.is_empty() {
            return Ok(IteratorReader {
                iter: self.iter.clone(),
                emitted: 0,
                done: true,
            });
        }
        let emitted = restored_position(&splits, 0)?;
        let mut iter = self.iter.clone();
        for _ in 0..emitted {
            iter.next();
        }
        Ok(IteratorReader {
            iter,
            emitted,
            done: false,
        })
    }
}

/// Reads an [`IteratorSource`].
pub struct IteratorReader<I> {
    iter: I,
    emitted: u64,
    done: bool,
}

impl<T: Data, I: Iterator<Item = T> + 'static> SourceReader<T> for IteratorReader<I> {
    fn poll_next(&mut self, output: &mut SourceOutput<'_, T>) -> Result<InputStatus, BoxError> {
        if self.done {
            return Ok(InputStatus::EndOfInput);
        }
        for _ in 0..RECORDS_PER_POLL {
            match self.iter.next() {
                Some(v) => {
                    self.emitted += 1;
                    output.collect(v)
                }
                None => {
                    self.done = true;
                    return Ok(InputStatus::EndOfInput);
                }
            }
        }
        Ok(InputStatus::MoreAvailable)
    }

    fn snapshot_state(&mut self) -> Result<Option<Vec<SplitState>>, BoxError> {
        if self.done {
            return Ok(Some(Vec::new()));
        }
        Ok(Some(vec![SplitState::encode(&self.emitted)?]))
    }
}
