//! The idempotent-sink helper (H4): exactly-once *effect* from replays.
//!
//! After a restore, a replayable source sends again the records since the
//! checkpoint, so a sink sees some records twice. If every record is written
//! as an upsert under a key that depends only on the record (a window's key and
//! end, an order id), the second write of a record overwrites the first with
//! the same value, and once the job has caught up the external system holds
//! exactly the results of a failure-free run. Readers may see a result being
//! rewritten (with the same value) meanwhile; nothing is ever duplicated.
//!
//! [`IdempotentSink`] wraps an [`UpsertWriter`] (the client of a key-value
//! store, a database table with a primary key, …) and a key extractor into a
//! [`SinkFunction`]; it flushes the writer at every checkpoint, so what a
//! completed checkpoint covers is durable.

use crate::context::RuntimeContext;
use crate::error::BoxError;
use crate::function_state::FunctionSnapshotContext;
use crate::sink::{SinkContext, SinkFunction};
use std::marker::PhantomData;

/// Writes values by key, replacing any value already under the key.
pub trait UpsertWriter<K, V>: Send + 'static {
    /// Called once before the first record.
    fn open(&mut self, _ctx: &RuntimeContext) -> Result<(), BoxError> {
        Ok(())
    }

    /// Stores `value` under `key`, replacing what is there.
    fn upsert(&mut self, key: K, value: V) -> Result<(), BoxError>;

    /// Makes every upsert so far durable (called at each checkpoint and at the
    /// end of input).
    fn flush(&mut self) -> Result<(), BoxError> {
        Ok(())
    }

    /// Releases resources; called once, also after a failure.
    fn close(&mut self) -> Result<(), BoxError> {
        Ok(())
    }
}

/// A sink writing each record as an upsert under a key derived from it.
pub struct IdempotentSink<T, K, F, W> {
    key_of: F,
    writer: W,
    _types: PhantomData<fn(T) -> K>,
}

impl<T, K, F: Clone, W: Clone> Clone for IdempotentSink<T, K, F, W> {
    fn clone(&self) -> Self {
        IdempotentSink {
            key_of: self.key_of.clone(),
            writer: self.writer.clone(),
            _types: PhantomData,
        }
    }
}

impl<T, K, F, W> IdempotentSink<T, K, F, W>
where
    F: Fn(&T) -> K + Send + 'static,
    W: UpsertWriter<K, T>,
{
    /// Writes every record through `writer` under `key_of(record)`. The key
    /// must identify the result, not the attempt: the same record must always
    /// get the same key.
    pub fn new(key_of: F, writer: W) -> Self {
        IdempotentSink {
            key_of,
            writer,
            _types: PhantomData,
        }
    }
}

impl<T, K, F, W> SinkFunction<T> for IdempotentSink<T, K, F, W>
where
    T: 'static,
    K: 'static,
    F: Fn(&T) -> K + Send + 'static,
    W: UpsertWriter<K, T>,
{
    fn open(&mut self, ctx: &RuntimeContext) -> Result<(), BoxError> {
        self.writer.open(ctx)
    }

    #[inline]
    fn invoke(&mut self, value: T, _ctx: &SinkContext) -> Result<(), BoxError> {
        let key = (self.key_of)(&value);
        self.writer.upsert(key, value)
    }

    fn snapshot_state(&mut self, _ctx: &mut FunctionSnapshotContext<'_>) -> Result<(), BoxError> {
        self.writer.flush()
    }

    fn finish(&mut self) -> Result<(), BoxError> {
        self.writer.flush()
    }

    fn close(&mut self) -> Result<(), BoxError> {
        self.writer.close()
    }
}
