//! Windows (F1–F6): assigners, triggers, evictors, window functions and
//! per-window state, with Flink's semantics.
//!
//! `keyed.window(assigner)` gives a [`WindowedStream`](crate::WindowedStream);
//! its `reduce` / `aggregate` / `process` / `apply` add a window operator. Time
//! windows are `[start, end)` with max timestamp `end − 1`, aligned to the epoch;
//! an event-time window fires when the watermark reaches `end − 1`, and is kept
//! until `end − 1 + allowed_lateness`.

mod assigners;
mod evictors;
mod functions;
mod state;
mod triggers;
mod window;

pub use assigners::{
    DynamicEventTimeSessionWindows, DynamicProcessingTimeSessionWindows, EventTimeSessionWindows,
    GlobalWindows, MergeCallback, ProcessingTimeSessionWindows, SlidingEventTimeWindows,
    SlidingProcessingTimeWindows, TumblingEventTimeWindows, TumblingProcessingTimeWindows,
    WindowAssigner, WindowAssignerContext,
};
pub use evictors::{
    CountEvictor, DeltaEvictor, Evictor, EvictorContext, TimeEvictor, TimestampedValue,
};
pub use functions::{ProcessWindowContext, ProcessWindowFunction, WindowFunction};
pub use state::{
    MergeableWindowState, WindowAggregatingState, WindowListState, WindowReducingState,
    WindowStateAccess, WindowValueState,
};
pub use triggers::{
    ContinuousEventTimeTrigger, ContinuousProcessingTimeTrigger, CountTrigger, EventTimeTrigger,
    GlobalWindowsTrigger, ProcessingTimeTrigger, PurgingTrigger, Trigger, TriggerContext,
    TriggerResult,
};
pub use window::{GlobalWindow, TimeWindow, Window};
