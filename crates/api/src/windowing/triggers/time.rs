//! The time triggers: event time, processing time, and the global window's.

use super::{Trigger, TriggerContext, TriggerResult};
use crate::windowing::window::{GlobalWindow, Window};
use runnel_runtime::BoxError;
use runnel_types::{EventTime, Key};

/// Fires when the watermark passes the window's end (Flink's `EventTimeTrigger`,
/// the default of event-time windows).
#[derive(Debug, Clone, Copy, Default)]
pub struct EventTimeTrigger;

impl EventTimeTrigger {
    /// The trigger.
    pub fn create() -> Self {
        EventTimeTrigger
    }
}

impl<T, W: Window> Trigger<T, W> for EventTimeTrigger {
    #[inline]
    fn on_element<K: Key>(
        &mut self,
        _element: &T,
        _timestamp: Option<EventTime>,
        window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<TriggerResult, BoxError> {
        if window.max_timestamp() <= ctx.current_watermark().0 {
            // The watermark is past the window (allowed lateness): fire now.
            return Ok(TriggerResult::Fire);
        }
        ctx.register_event_time_timer(window.max_timestamp());
        Ok(TriggerResult::Continue)
    }

    fn on_event_time<K: Key>(
        &mut self,
        time: i64,
        window: &W,
        _ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<TriggerResult, BoxError> {
        Ok(if time == window.max_timestamp() {
            TriggerResult::Fire
        } else {
            TriggerResult::Continue
        })
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
        window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<(), BoxError> {
        if window.max_timestamp() > ctx.current_watermark().0 {
            ctx.register_event_time_timer(window.max_timestamp());
        }
        Ok(())
    }

    fn clear<K: Key>(
        &mut self,
        window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<(), BoxError> {
        ctx.delete_event_time_timer(window.max_timestamp());
        Ok(())
    }

    fn on_element_is_event_time_trigger(&self) -> bool {
        true
    }
}

/// Fires when processing time reaches the window's end (Flink's
/// `ProcessingTimeTrigger`, the default of processing-time windows).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessingTimeTrigger;

impl ProcessingTimeTrigger {
    /// The trigger.
    pub fn create() -> Self {
        ProcessingTimeTrigger
    }
}

impl<T, W: Window> Trigger<T, W> for ProcessingTimeTrigger {
    fn on_element<K: Key>(
        &mut self,
        _element: &T,
        _timestamp: Option<EventTime>,
        window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<TriggerResult, BoxError> {
        ctx.register_processing_time_timer(window.max_timestamp());
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
        Ok(TriggerResult::Fire)
    }

    fn can_merge(&self) -> bool {
        true
    }

    fn on_merge<K: Key>(
        &mut self,
        window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<(), BoxError> {
        if window.max_timestamp() > ctx.current_processing_time() {
            ctx.register_processing_time_timer(window.max_timestamp());
        }
        Ok(())
    }

    fn clear<K: Key>(
        &mut self,
        window: &W,
        ctx: &mut TriggerContext<'_, K, W>,
    ) -> Result<(), BoxError> {
        ctx.delete_processing_time_timer(window.max_timestamp());
        Ok(())
    }
}

/// The default trigger of [`GlobalWindows`](crate::windowing::GlobalWindows): never fires
/// ([`GlobalWindows::create`](crate::windowing::GlobalWindows::create)), or fires once at the
/// end of the input
/// ([`GlobalWindows::create_with_end_of_stream_trigger`](crate::windowing::GlobalWindows::create_with_end_of_stream_trigger)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GlobalWindowsTrigger {
    /// Never fires: set another trigger (Flink's `NeverTrigger`).
    Never,
    /// Fires when the input ends (Flink's `EndOfStreamTrigger`).
    EndOfStream,
}

impl<T> Trigger<T, GlobalWindow> for GlobalWindowsTrigger {
    fn on_element<K: Key>(
        &mut self,
        _element: &T,
        _timestamp: Option<EventTime>,
        window: &GlobalWindow,
        ctx: &mut TriggerContext<'_, K, GlobalWindow>,
    ) -> Result<TriggerResult, BoxError> {
        if *self == GlobalWindowsTrigger::EndOfStream {
            ctx.register_event_time_timer(window.max_timestamp());
        }
        Ok(TriggerResult::Continue)
    }

    fn on_event_time<K: Key>(
        &mut self,
        time: i64,
        window: &GlobalWindow,
        _ctx: &mut TriggerContext<'_, K, GlobalWindow>,
    ) -> Result<TriggerResult, BoxError> {
        Ok(
            if *self == GlobalWindowsTrigger::EndOfStream && time == window.max_timestamp() {
                TriggerResult::Fire
            } else {
                TriggerResult::Continue
            },
        )
    }

    fn on_processing_time<K: Key>(
        &mut self,
        _time: i64,
        _window: &GlobalWindow,
        _ctx: &mut TriggerContext<'_, K, GlobalWindow>,
    ) -> Result<TriggerResult, BoxError> {
        Ok(TriggerResult::Continue)
    }

    fn clear<K: Key>(
        &mut self,
        _window: &GlobalWindow,
        _ctx: &mut TriggerContext<'_, K, GlobalWindow>,
    ) -> Result<(), BoxError> {
        Ok(())
    }
}
