//! Count triggers: fire every `n` elements; purge on fire.

use super::{Trigger, TriggerContext, TriggerResult};
use crate::windowing::state::WindowReducingState;
use crate::windowing::window::Window;
use runnel_runtime::BoxError;
use runnel_state::{ReducingStateDescriptor, StateError};
use runnel_types::{EventTime, Key};

fn count_descriptor() -> ReducingStateDescriptor<u64> {
    ReducingStateDescriptor::new("count", |a: u64, b: u64| a + b)
}

/// Fires once a window has `max_count` elements, then counts again (Flink's
/// `CountTrigger`).
pub struct CountTrigger<W> {
    max_count: u64,
    count: Option<WindowReducingState<W, u64>>,
}

impl<W> Clone for CountTrigger<W> {
    fn clone(&self) -> Self {
        CountTrigger {
            max_count: self.max_count,
            count: self.count.clone(),
        }
    }
}

impl<W: Window> CountTrigger<W> {
    /// Fires every `max_count` elements.
    pub fn of(max_count: u64) -> Self {
        CountTrigger {
            max_count,
            count: None,
        }
    }

    fn state<K: Key>(
        &mut self,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<WindowReducingState<W, u64>, StateError> {
        if let Some(s) = &self.count {
            return Ok(s.clone());
        }
        let s = ctx.get_partitioned_reducing_state(&count_descriptor())?;
        self.count = Some(s.clone());
        Ok(s)
    }
}

impl<T, W: Window> Trigger<T, W> for CountTrigger<W> {
    fn on_element<K: Key>(
        &mut self,
        _element: &T,
        _timestamp: Option<EventTime>,
        _window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<TriggerResult, BoxError> {
        let count = self.state(ctx)?;
        count.add(ctx, 1)?;
        if count.get(ctx)?.unwrap_or(0) >= self.max_count {
            count.clear(ctx)?;
            return Ok(TriggerResult::Fire);
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
        let count = self.state(ctx)?;
        ctx.merge_partitioned_state(&count)?;
        Ok(())
    }

    fn clear<K: Key>(
        &mut self,
        _window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<(), BoxError> {
        let count = self.state(ctx)?;
        count.clear(ctx)?;
        Ok(())
    }
}

/// Turns every fire of the wrapped trigger into fire-and-purge (Flink's
/// `PurgingTrigger`).
#[derive(Debug, Clone)]
pub struct PurgingTrigger<Tr> {
    nested: Tr,
}

impl<Tr> PurgingTrigger<Tr> {
    /// Wraps `nested`.
    pub fn of(nested: Tr) -> Self {
        PurgingTrigger { nested }
    }
}

fn purging(result: TriggerResult) -> TriggerResult {
    if result.is_fire() {
        TriggerResult::FireAndPurge
    } else {
        result
    }
}

impl<T, W: Window, Tr: Trigger<T, W>> Trigger<T, W> for PurgingTrigger<Tr> {
    fn on_element<K: Key>(
        &mut self,
        element: &T,
        timestamp: Option<EventTime>,
        window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<TriggerResult, BoxError> {
        Ok(purging(
            self.nested.on_element(element, timestamp, window, ctx)?,
        ))
    }

    fn on_event_time<K: Key>(
        &mut self,
        time: i64,
        window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<TriggerResult, BoxError> {
        Ok(purging(self.nested.on_event_time(time, window, ctx)?))
    }

    fn on_processing_time<K: Key>(
        &mut self,
        time: i64,
        window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<TriggerResult, BoxError> {
        Ok(purging(self.nested.on_processing_time(time, window, ctx)?))
    }

    fn can_merge(&self) -> bool {
        self.nested.can_merge()
    }

    fn on_merge<K: Key>(
        &mut self,
        window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<(), BoxError> {
        self.nested.on_merge(window, ctx)
    }

    fn clear<K: Key>(
        &mut self,
        window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<(), BoxError> {
        self.nested.clear(window, ctx)
    }
}
