//! Continuous triggers: fire early, at intervals of event or processing time.

use super::{Trigger, TriggerContext, TriggerResult};
use crate::windowing::state::WindowReducingState;
use crate::windowing::window::Window;
use runnel_runtime::BoxError;
use runnel_state::{ReducingStateDescriptor, StateError};
use runnel_types::{EventTime, Key};
use std::time::Duration;

fn fire_time_descriptor() -> ReducingStateDescriptor<i64> {
    ReducingStateDescriptor::new("fire-time", |a: i64, b: i64| a.min(b))
}

fn interval_millis(interval: Duration) -> i64 {
    i64::try_from(interval.as_millis())
        .unwrap_or(i64::MAX)
        .max(1)
}

/// Fires at every `interval` of event time while the window is open, and at its
/// end (Flink's `ContinuousEventTimeTrigger`).
pub struct ContinuousEventTimeTrigger<W> {
    interval: i64,
    fire_time: Option<WindowReducingState<W, i64>>,
}

impl<W> Clone for ContinuousEventTimeTrigger<W> {
    fn clone(&self) -> Self {
        ContinuousEventTimeTrigger {
            interval: self.interval,
            fire_time: self.fire_time.clone(),
        }
    }
}

impl<W: Window> ContinuousEventTimeTrigger<W> {
    /// Fires every `interval` of event time (at least 1 ms).
    pub fn of(interval: Duration) -> Self {
        ContinuousEventTimeTrigger {
            interval: interval_millis(interval),
            fire_time: None,
        }
    }

    fn state<K: Key>(
        &mut self,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<WindowReducingState<W, i64>, StateError> {
        if let Some(s) = &self.fire_time {
            return Ok(s.clone());
        }
        let s = ctx.get_partitioned_reducing_state(&fire_time_descriptor())?;
        self.fire_time = Some(s.clone());
        Ok(s)
    }

    fn register_next<K: Key>(
        &self,
        time: i64,
        window: &W,
        state: &WindowReducingState<W, i64>,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<(), BoxError> {
        let next = time
            .saturating_add(self.interval)
            .min(window.max_timestamp());
        state.add(ctx, next)?;
        ctx.register_event_time_timer(next);
        Ok(())
    }
}

impl<T, W: Window> Trigger<T, W> for ContinuousEventTimeTrigger<W> {
    fn on_element<K: Key>(
        &mut self,
        _element: &T,
        timestamp: Option<EventTime>,
        window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<TriggerResult, BoxError> {
        if window.max_timestamp() <= ctx.current_watermark().0 {
            return Ok(TriggerResult::Fire);
        }
        ctx.register_event_time_timer(window.max_timestamp());
        let state = self.state(ctx)?;
        if state.get(ctx)?.is_none() {
            let ts = timestamp.map_or(i64::MIN, EventTime::millis);
            self.register_next(ts - ts % self.interval, window, &state, ctx)?;
        }
        Ok(TriggerResult::Continue)
    }

    fn on_event_time<K: Key>(
        &mut self,
        time: i64,
        window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<TriggerResult, BoxError> {
        if time == window.max_timestamp() {
            return Ok(TriggerResult::Fire);
        }
        let state = self.state(ctx)?;
        if state.get(ctx)? == Some(time) {
            state.clear(ctx)?;
            self.register_next(time, window, &state, ctx)?;
            return Ok(TriggerResult::Fire);
        }
        Ok(TriggerResult::Continue)
    }

    fn on_processing_time<K: Key>(
        &mut self,
        _time: i64,
        _window: &W,
        _ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<TriggerResult, BoxError> {
        Ok(TriggerResult::Continue)
    }

    fn can_merge(&self) -> bool {
        true
    }

    fn on_merge<K: Key>(
        &mut self,
        _window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<(), BoxError> {
        let state = self.state(ctx)?;
        ctx.merge_partitioned_state(&state)?;
        if let Some(next) = state.get(ctx)? {
            ctx.register_event_time_timer(next);
        }
        Ok(())
    }

    fn clear<K: Key>(
        &mut self,
        _window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<(), BoxError> {
        let state = self.state(ctx)?;
        if let Some(at) = state.get(ctx)? {
            ctx.delete_event_time_timer(at);
            state.clear(ctx)?;
        }
        Ok(())
    }
}

/// Fires at every `interval` of processing time after a window's first element
/// (Flink's `ContinuousProcessingTimeTrigger`).
pub struct ContinuousProcessingTimeTrigger<W> {
    interval: i64,
    fire_time: Option<WindowReducingState<W, i64>>,
}

impl<W> Clone for ContinuousProcessingTimeTrigger<W> {
    fn clone(&self) -> Self {
        ContinuousProcessingTimeTrigger {
            interval: self.interval,
            fire_time: self.fire_time.clone(),
        }
    }
}

impl<W: Window> ContinuousProcessingTimeTrigger<W> {
    /// Fires every `interval` of processing time (at least 1 ms).
    pub fn of(interval: Duration) -> Self {
        ContinuousProcessingTimeTrigger {
            interval: interval_millis(interval),
            fire_time: None,
        }
    }

    fn state<K: Key>(
        &mut self,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<WindowReducingState<W, i64>, StateError> {
        if let Some(s) = &self.fire_time {
            return Ok(s.clone());
        }
        let s = ctx.get_partitioned_reducing_state(&fire_time_descriptor())?;
        self.fire_time = Some(s.clone());
        Ok(s)
    }

    fn register_next<K: Key>(
        &self,
        time: i64,
        window: &W,
        state: &WindowReducingState<W, i64>,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<(), BoxError> {
        let next = time
            .saturating_add(self.interval)
            .min(window.max_timestamp());
        state.add(ctx, next)?;
        ctx.register_processing_time_timer(next);
        Ok(())
    }
}

impl<T, W: Window> Trigger<T, W> for ContinuousProcessingTimeTrigger<W> {
    fn on_element<K: Key>(
        &mut self,
        _element: &T,
        _timestamp: Option<EventTime>,
        window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<TriggerResult, BoxError> {
        let state = self.state(ctx)?;
        if state.get(ctx)?.is_none() {
            let now = ctx.current_processing_time();
            self.register_next(now - now % self.interval, window, &state, ctx)?;
        }
        Ok(TriggerResult::Continue)
    }

    fn on_event_time<K: Key>(
        &mut self,
        _time: i64,
        _window: &W,
        _ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<TriggerResult, BoxError> {
        Ok(TriggerResult::Continue)
    }

    fn on_processing_time<K: Key>(
        &mut self,
        time: i64,
        window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<TriggerResult, BoxError> {
        let state = self.state(ctx)?;
        if state.get(ctx)? == Some(time) {
            state.clear(ctx)?;
            self.register_next(time, window, &state, ctx)?;
            return Ok(TriggerResult::Fire);
        }
        Ok(TriggerResult::Continue)
    }

    fn can_merge(&self) -> bool {
        true
    }

    fn on_merge<K: Key>(
        &mut self,
        _window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<(), BoxError> {
        let state = self.state(ctx)?;
        ctx.merge_partitioned_state(&state)?;
        if let Some(next) = state.get(ctx)? {
            ctx.register_processing_time_timer(next);
        }
        Ok(())
    }

    fn clear<K: Key>(
        &mut self,
        _window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<(), BoxError> {
        let state = self.state(ctx)?;
        if let Some(at) = state.get(ctx)? {
            ctx.delete_processing_time_timer(at);
            state.clear(ctx)?;
        }
        Ok(())
    }
}
