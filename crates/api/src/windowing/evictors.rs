//! Evictors: remove elements from a window before and/or after its function runs.
//!
//! A window with an evictor keeps every element (with its timestamp) instead of an
//! incremental accumulator, since the evictor must see them all. Elements are in
//! arrival order. The built-in evictors are Flink's: [`CountEvictor`] keeps the
//! last `n`, [`TimeEvictor`] keeps those within a span of the newest timestamp,
//! [`DeltaEvictor`] drops those too far from the newest element.

use super::window::Window;
use runnel_types::{EventTime, Watermark};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// An element with its timestamp, as an evictor sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimestampedValue<T> {
    /// The element.
    pub value: T,
    /// Its timestamp, if it had one.
    pub timestamp: Option<EventTime>,
}

/// What an evictor can read: the time.
#[derive(Debug, Clone, Copy)]
pub struct EvictorContext {
    pub(crate) watermark: Watermark,
    pub(crate) processing_time: i64,
}

impl EvictorContext {
    /// The operator's current watermark.
    pub fn current_watermark(&self) -> Watermark {
        self.watermark
    }

    /// Current processing time (epoch ms).
    pub fn current_processing_time(&self) -> i64 {
        self.processing_time
    }
}

/// Removes elements from a window's contents (Flink's `Evictor`).
pub trait Evictor<T, W: Window>: Clone + Send + 'static {
    /// Called before the window function, with the window's elements in arrival order.
    fn evict_before(
        &mut self,
        elements: &mut Vec<TimestampedValue<T>>,
        window: &W,
        ctx: &EvictorContext,
    );
    /// Called after the window function.
    fn evict_after(
        &mut self,
        elements: &mut Vec<TimestampedValue<T>>,
        window: &W,
        ctx: &EvictorContext,
    );
}

/// Keeps the last `max_count` elements (Flink's `CountEvictor`).
#[derive(Debug, Clone, Copy)]
pub struct CountEvictor {
    max_count: usize,
    after: bool,
}

impl CountEvictor {
    /// Keeps `max_count` elements, evicting before the window function.
    pub fn of(max_count: usize) -> Self {
        CountEvictor {
            max_count,
            after: false,
        }
    }

    /// Evicts after the window function instead.
    pub fn evict_after_function(mut self) -> Self {
        self.after = true;
        self
    }

    fn evict<T>(&self, elements: &mut Vec<TimestampedValue<T>>) {
        if elements.len() > self.max_count {
            let excess = elements.len() - self.max_count;
            elements.drain(..excess);
        }
    }
}

impl<T, W: Window> Evictor<T, W> for CountEvictor {
    fn evict_before(
        &mut self,
        elements: &mut Vec<TimestampedValue<T>>,
        _window: &W,
        _ctx: &EvictorContext,
    ) {
        if !self.after {
            self.evict(elements);
        }
    }

    fn evict_after(
        &mut self,
        elements: &mut Vec<TimestampedValue<T>>,
        _window: &W,
        _ctx: &EvictorContext,
    ) {
        if self.after {
            self.evict(elements);
        }
    }
}

/// Keeps the elements whose timestamp is within `window_size` of the newest one:
/// those at or before `max − window_size` go (Flink's `TimeEvictor`). Does nothing
/// when the elements have no timestamps.
#[derive(Debug, Clone, Copy)]
pub struct TimeEvictor {
    window_size: i64,
    after: bool,
}

impl TimeEvictor {
    /// Keeps `window_size` of time, evicting before the window function.
    pub fn of(window_size: Duration) -> Self {
        TimeEvictor {
            window_size: i64::try_from(window_size.as_millis()).unwrap_or(i64::MAX),
            after: false,
        }
    }

    /// Evicts after the window function instead.
    pub fn evict_after_function(mut self) -> Self {
        self.after = true;
        self
    }

    fn evict<T>(&self, elements: &mut Vec<TimestampedValue<T>>) {
        if elements.first().is_none_or(|e| e.timestamp.is_none()) {
            return;
        }
        let newest = elements
            .iter()
            .filter_map(|e| e.timestamp.map(EventTime::millis))
            .max()
            .unwrap_or(i64::MIN);
        let cutoff = newest.saturating_sub(self.window_size);
        elements.retain(|e| e.timestamp.map_or(i64::MIN, EventTime::millis) > cutoff);
    }
}

impl<T, W: Window> Evictor<T, W> for TimeEvictor {
    fn evict_before(
        &mut self,
        elements: &mut Vec<TimestampedValue<T>>,
        _window: &W,
        _ctx: &EvictorContext,
    ) {
        if !self.after {
            self.evict(elements);
        }
    }

    fn evict_after(
        &mut self,
        elements: &mut Vec<TimestampedValue<T>>,
        _window: &W,
        _ctx: &EvictorContext,
    ) {
        if self.after {
            self.evict(elements);
        }
    }
}

/// The distance between two elements.
type DeltaFunction<T> = Arc<dyn Fn(&T, &T) -> f64 + Send + Sync>;

/// Evicts the elements whose delta to the newest element is at least `threshold`
/// (Flink's `DeltaEvictor`).
pub struct DeltaEvictor<T> {
    threshold: f64,
    delta: DeltaFunction<T>,
    after: bool,
}

impl<T> Clone for DeltaEvictor<T> {
    fn clone(&self) -> Self {
        DeltaEvictor {
            threshold: self.threshold,
            delta: self.delta.clone(),
            after: self.after,
        }
    }
}

impl<T> DeltaEvictor<T> {
    /// Evicts, before the window function, elements `e` with
    /// `delta(e, newest) >= threshold`.
    pub fn of(threshold: f64, delta: impl Fn(&T, &T) -> f64 + Send + Sync + 'static) -> Self {
        DeltaEvictor {
            threshold,
            delta: Arc::new(delta),
            after: false,
        }
    }

    /// Evicts after the window function instead.
    pub fn evict_after_function(mut self) -> Self {
        self.after = true;
        self
    }

    fn evict(&self, elements: &mut Vec<TimestampedValue<T>>)
    where
        T: Clone,
    {
        let Some(last) = elements.last().map(|e| e.value.clone()) else {
            return;
        };
        elements.retain(|e| (self.delta)(&e.value, &last) < self.threshold);
    }
}

impl<T: Clone + Send + 'static, W: Window> Evictor<T, W> for DeltaEvictor<T> {
    fn evict_before(
        &mut self,
        elements: &mut Vec<TimestampedValue<T>>,
        _window: &W,
        _ctx: &EvictorContext,
    ) {
        if !self.after {
            self.evict(elements);
        }
    }

    fn evict_after(
        &mut self,
        elements: &mut Vec<TimestampedValue<T>>,
        _window: &W,
        _ctx: &EvictorContext,
    ) {
        if self.after {
            self.evict(elements);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::windowing::GlobalWindow;

    fn elements(ts: &[i64]) -> Vec<TimestampedValue<i64>> {
        ts.iter()
            .map(|&t| TimestampedValue {
                value: t,
                timestamp: Some(EventTime::from_millis(t)),
            })
            .collect()
    }

    fn values(e: &[TimestampedValue<i64>]) -> Vec<i64> {
        e.iter().map(|e| e.value).collect()
    }

    const CTX: EvictorContext = EvictorContext {
        watermark: Watermark::MIN,
        processing_time: 0,
    };

    #[test]
    fn count_evictor_keeps_the_last_n() {
        let mut e = elements(&[1, 2, 3, 4, 5]);
        let mut ev = CountEvictor::of(3);
        Evictor::<i64, GlobalWindow>::evict_after(&mut ev, &mut e, &GlobalWindow, &CTX);
        assert_eq!(values(&e), [1, 2, 3, 4, 5], "configured to evict before");
        Evictor::<i64, GlobalWindow>::evict_before(&mut ev, &mut e, &GlobalWindow, &CTX);
        assert_eq!(values(&e), [3, 4, 5]);
    }

    #[test]
    fn time_evictor_keeps_a_span_of_the_newest_timestamp() {
        let mut e = elements(&[10, 3, 7, 5]);
        let mut ev = TimeEvictor::of(Duration::from_millis(5)).evict_after_function();
        Evictor::<i64, GlobalWindow>::evict_after(&mut ev, &mut e, &GlobalWindow, &CTX);
        assert_eq!(values(&e), [10, 7], "cutoff 5 is evicted too");
    }

    #[test]
    fn delta_evictor_drops_elements_far_from_the_newest() {
        let mut e = elements(&[1, 8, 4, 9, 10]);
        let mut ev = DeltaEvictor::of(3.0, |a: &i64, b: &i64| (a - b).abs() as f64);
        Evictor::<i64, GlobalWindow>::evict_before(&mut ev, &mut e, &GlobalWindow, &CTX);
        assert_eq!(values(&e), [8, 9, 10]);
    }
}
