//! `from_elements` / `from_collection` / `from_iter`: a bounded, non-parallel
//! source over values held in memory.

use crate::RECORDS_PER_POLL;
use runnel_runtime::source::{
    Boundedness, Source, SourceOutput, SourceReader, SourceReaderContext,
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
        })
    }
}

/// Reads an [`IteratorSource`].
pub struct IteratorReader<I> {
    iter: I,
}

impl<T: Data, I: Iterator<Item = T> + 'static> SourceReader<T> for IteratorReader<I> {
    fn poll_next(&mut self, output: &mut SourceOutput<'_, T>) -> Result<InputStatus, BoxError> {
        for _ in 0..RECORDS_PER_POLL {
            match self.iter.next() {
                Some(v) => output.collect(v),
                None => return Ok(InputStatus::EndOfInput),
            }
        }
        Ok(InputStatus::MoreAvailable)
    }
}
