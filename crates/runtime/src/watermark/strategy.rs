//! Watermark strategies: a timestamp assigner, a watermark generator and an
//! optional idleness timeout, as in Flink's `WatermarkStrategy`.
//!
//! ```
//! use runnel_runtime::watermark::WatermarkStrategy;
//! use std::time::Duration;
//!
//! struct Click { ts: i64 }
//! let strategy = WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_secs(5))
//!     .with_timestamp_assigner(|click: &Click, _previous| click.ts)
//!     .with_idleness(Duration::from_secs(60));
//! # let _ = strategy;
//! ```

use crate::clock::Clock;
use crate::watermark::generator::{BoundedOutOfOrderness, NoWatermarks, WatermarkGenerator};
use runnel_types::EventTime;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

/// Extracts an event-time timestamp from a record.
pub trait TimestampAssigner<T>: Clone + Send + 'static {
    /// Called once per parallel instance with the job's processing-time clock.
    fn open(&mut self, _clock: &Arc<dyn Clock>) {}
    /// The record's event time. `record_timestamp` is the timestamp it already
    /// carries, if any.
    fn extract_timestamp(&mut self, element: &T, record_timestamp: Option<EventTime>) -> EventTime;
}

/// Keeps the timestamp the record already has (Flink's `RecordTimestampAssigner`);
/// a record without one gets `EventTime::MIN`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecordTimestamp;

impl<T> TimestampAssigner<T> for RecordTimestamp {
    #[inline]
    fn extract_timestamp(
        &mut self,
        _element: &T,
        record_timestamp: Option<EventTime>,
    ) -> EventTime {
        record_timestamp.unwrap_or(EventTime::MIN)
    }
}

/// A closure `FnMut(&T, Option<EventTime>) -> i64` (milliseconds) as an assigner.
pub struct FnAssigner<F, T> {
    f: F,
    _records: PhantomData<fn(&T)>,
}

impl<F: Clone, T> Clone for FnAssigner<F, T> {
    fn clone(&self) -> Self {
        FnAssigner {
            f: self.f.clone(),
            _records: PhantomData,
        }
    }
}

impl<F, T> std::fmt::Debug for FnAssigner<F, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FnAssigner")
    }
}

impl<T: 'static, F> TimestampAssigner<T> for FnAssigner<F, T>
where
    F: FnMut(&T, Option<EventTime>) -> i64 + Clone + Send + 'static,
{
    #[inline]
    fn extract_timestamp(&mut self, element: &T, record_timestamp: Option<EventTime>) -> EventTime {
        EventTime::from_millis((self.f)(element, record_timestamp))
    }
}

/// Ingestion time: the processing time at which the record reached the assigner.
#[derive(Debug, Clone, Default)]
pub struct IngestionTime {
    clock: Option<Arc<dyn Clock>>,
}

impl<T> TimestampAssigner<T> for IngestionTime {
    fn open(&mut self, clock: &Arc<dyn Clock>) {
        self.clock = Some(clock.clone());
    }

    #[inline]
    fn extract_timestamp(
        &mut self,
        _element: &T,
        _record_timestamp: Option<EventTime>,
    ) -> EventTime {
        EventTime::from_millis(self.clock.as_ref().map_or(0, |c| c.now_millis()))
    }
}

/// How a stream gets timestamps and watermarks.
#[derive(Debug, Clone)]
pub struct WatermarkStrategy<G, A = RecordTimestamp> {
    pub(crate) generator: G,
    pub(crate) assigner: A,
    pub(crate) idle_timeout: Option<Duration>,
}

impl WatermarkStrategy<BoundedOutOfOrderness> {
    /// Watermarks trailing the largest timestamp by `max_out_of_orderness`:
    /// `max − bound − 1`.
    pub fn for_bounded_out_of_orderness(max_out_of_orderness: Duration) -> Self {
        let bound = i64::try_from(max_out_of_orderness.as_millis()).unwrap_or(i64::MAX);
        WatermarkStrategy {
            generator: BoundedOutOfOrderness::new(bound),
            assigner: RecordTimestamp,
            idle_timeout: None,
        }
    }

    /// For timestamps that never decrease: the watermark is `max − 1`.
    pub fn for_monotonous_timestamps() -> Self {
        WatermarkStrategy {
            generator: BoundedOutOfOrderness::new(0),
            assigner: RecordTimestamp,
            idle_timeout: None,
        }
    }
}

impl WatermarkStrategy<BoundedOutOfOrderness, IngestionTime> {
    /// Ingestion time: each record's timestamp is the processing time it was
    /// assigned at; watermarks follow it (`max − 1`).
    pub fn ingestion_time() -> Self {
        WatermarkStrategy {
            generator: BoundedOutOfOrderness::new(0),
            assigner: IngestionTime::default(),
            idle_timeout: None,
        }
    }
}

impl WatermarkStrategy<NoWatermarks> {
    /// Timestamps but no watermarks.
    pub fn no_watermarks() -> Self {
        WatermarkStrategy {
            generator: NoWatermarks,
            assigner: RecordTimestamp,
            idle_timeout: None,
        }
    }
}

impl<G> WatermarkStrategy<G> {
    /// A custom generator (periodic, punctuated or both).
    pub fn for_generator(generator: G) -> Self {
        WatermarkStrategy {
            generator,
            assigner: RecordTimestamp,
            idle_timeout: None,
        }
    }
}

impl<G, A> WatermarkStrategy<G, A> {
    /// Takes timestamps from the records with a closure returning epoch
    /// milliseconds; it also gets the timestamp the record carries, if any.
    pub fn with_timestamp_assigner<T, F>(self, f: F) -> WatermarkStrategy<G, FnAssigner<F, T>>
    where
        F: FnMut(&T, Option<EventTime>) -> i64 + Clone + Send + 'static,
    {
        WatermarkStrategy {
            generator: self.generator,
            assigner: FnAssigner {
                f,
                _records: PhantomData,
            },
            idle_timeout: self.idle_timeout,
        }
    }

    /// Uses a [`TimestampAssigner`] implementation.
    pub fn with_assigner<B>(self, assigner: B) -> WatermarkStrategy<G, B> {
        WatermarkStrategy {
            generator: self.generator,
            assigner,
            idle_timeout: self.idle_timeout,
        }
    }

    /// Marks the stream idle after `timeout` of processing time without events,
    /// so it stops holding back downstream watermarks; it becomes active again
    /// with its next watermark.
    pub fn with_idleness(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }

    /// The generator.
    pub fn generator(&self) -> &G {
        &self.generator
    }

    /// The idleness timeout, if any.
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.idle_timeout
    }
}

/// A strategy for records of type `T`, as the operators use it.
pub trait WatermarkStrategyFor<T>: Clone + Send + 'static {
    /// The generator type.
    type Generator: WatermarkGenerator<T>;
    /// The assigner type.
    type Assigner: TimestampAssigner<T>;
    /// A fresh generator and assigner for one parallel instance (or split), and
    /// the idleness timeout in milliseconds.
    fn instantiate(&self) -> (Self::Generator, Self::Assigner, Option<i64>);
}

impl<T, G: WatermarkGenerator<T>, A: TimestampAssigner<T>> WatermarkStrategyFor<T>
    for WatermarkStrategy<G, A>
{
    type Generator = G;
    type Assigner = A;
    fn instantiate(&self) -> (G, A, Option<i64>) {
        let idle = self
            .idle_timeout
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        (self.generator.clone(), self.assigner.clone(), idle)
    }
}
