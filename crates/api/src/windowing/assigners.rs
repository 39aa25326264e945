//! Window assigners: which windows an element belongs to.
//!
//! Time windows are aligned to the epoch (shifted by an optional offset, which
//! may be negative, e.g. −8 h for days in UTC+8) and left-closed, right-open.
//! An element without a timestamp cannot go to an event-time window: that fails
//! the job with an error that points at `assign_timestamps_and_watermarks`.

use super::triggers::{EventTimeTrigger, GlobalWindowsTrigger, ProcessingTimeTrigger, Trigger};
use super::window::{GlobalWindow, TimeWindow, Window};
use runnel_runtime::BoxError;
use runnel_runtime::time::ProcessingTimeService;
use runnel_types::EventTime;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Receives a group of windows that merge, and the window they merge into.
pub type MergeCallback<'a, W> = dyn FnMut(&[W], &W) + 'a;

/// What an assigner can read besides the element: the processing time.
pub struct WindowAssignerContext<'a> {
    pub(crate) time: &'a ProcessingTimeService,
}

impl WindowAssignerContext<'_> {
    /// Current processing time (epoch ms).
    pub fn current_processing_time(&self) -> i64 {
        self.time.now()
    }
}

/// Assigns elements to windows (Flink's `WindowAssigner`).
pub trait WindowAssigner<T>: Clone + Send + Sync + 'static {
    /// The windows it creates.
    type W: Window;
    /// The trigger used unless `.trigger(..)` replaces it.
    type DefaultTrigger: Trigger<T, Self::W>;

    /// Appends the windows of `element` (with `timestamp`) to `windows`.
    fn assign_windows(
        &self,
        element: &T,
        timestamp: Option<EventTime>,
        ctx: &WindowAssignerContext<'_>,
        windows: &mut Vec<Self::W>,
    ) -> Result<(), BoxError>;

    /// The default trigger.
    fn default_trigger(&self) -> Self::DefaultTrigger;

    /// Whether windows are in event time (lateness and cleanup follow the
    /// watermark) rather than processing time.
    fn is_event_time(&self) -> bool;

    /// Whether windows merge (sessions).
    fn is_merging(&self) -> bool {
        false
    }

    /// For merging assigners: calls `merge(members, result)` for each group of
    /// windows that merge into `result`. `windows` may be reordered.
    fn merge_windows(&self, _windows: &mut Vec<Self::W>, _merge: &mut MergeCallback<'_, Self::W>) {}

    /// Checks the parameters; the message is reported when the job is built.
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }

    /// A short description for operator names, e.g. `TumblingEventTimeWindows(10000)`.
    fn describe(&self) -> String;
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn require_timestamp(timestamp: Option<EventTime>, assigner: &str) -> Result<i64, BoxError> {
    timestamp.map(EventTime::millis).ok_or_else(|| {
        format!(
            "{assigner}: a record has no timestamp; event-time windows need timestamps: \
             call assign_timestamps_and_watermarks(..) or use a source that sets them"
        )
        .into()
    })
}

fn check_offset(name: &str, size_name: &str, size: i64, offset: i64) -> Result<(), String> {
    if size <= 0 {
        return Err(format!(
            "{name}: the {size_name} must be positive, got {size} ms"
        ));
    }
    if offset.unsigned_abs() >= size.unsigned_abs() {
        return Err(format!(
            "{name} parameters must satisfy abs(offset) < {size_name}: offset {offset} ms, {size_name} {size} ms"
        ));
    }
    Ok(())
}

macro_rules! tumbling {
    ($(#[$doc:meta])* $name:ident, $event_time:expr, $trigger:ty, $trigger_value:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name {
            size: i64,
            offset: i64,
        }

        impl $name {
            /// Windows of `size`, aligned to the epoch.
            pub fn of(size: Duration) -> Self {
                $name { size: millis(size), offset: 0 }
            }

            /// Shifts the windows by `offset` (`abs(offset) < size`).
            pub fn with_offset(self, offset: Duration) -> Self {
                self.with_offset_millis(millis(offset))
            }

            /// Shifts the windows by `offset` milliseconds, which may be negative.
            pub fn with_offset_millis(mut self, offset: i64) -> Self {
                self.offset = offset;
                self
            }

            /// The window size in milliseconds.
            pub fn size_millis(&self) -> i64 {
                self.size
            }

            #[inline]
            fn window_at(&self, ts: i64) -> TimeWindow {
                // `abs(offset) < size` was validated when the job was built.
                let start = TimeWindow::window_start_with_offset(ts, self.offset, self.size);
                TimeWindow::new(start, start + self.size)
            }
        }

        impl<T> WindowAssigner<T> for $name {
            type W = TimeWindow;
            type DefaultTrigger = $trigger;

            #[inline]
            fn assign_windows(
                &self,
                _element: &T,
                timestamp: Option<EventTime>,
                ctx: &WindowAssignerContext<'_>,
                windows: &mut Vec<TimeWindow>,
            ) -> Result<(), BoxError> {
                let ts = if $event_time {
                    require_timestamp(timestamp, stringify!($name))?
                } else {
                    ctx.current_processing_time()
                };
                windows.push(self.window_at(ts));
                Ok(())
            }

            fn default_trigger(&self) -> $trigger {
                $trigger_value
            }

            fn is_event_time(&self) -> bool {
                $event_time
            }

            fn validate(&self) -> Result<(), String> {
                check_offset(stringify!($name), "size", self.size, self.offset)
            }

            fn describe(&self) -> String {
                format!("{}({}, {})", stringify!($name), self.size, self.offset)
            }
        }
    };
}

tumbling!(
    /// Tumbling windows in event time: every `size`, aligned to the epoch plus
    /// `offset` (Flink's `TumblingEventTimeWindows`).
    TumblingEventTimeWindows,
    true,
    EventTimeTrigger,
    EventTimeTrigger
);

tumbling!(
    /// Tumbling windows in processing time (Flink's `TumblingProcessingTimeWindows`).
    TumblingProcessingTimeWindows,
    false,
    ProcessingTimeTrigger,
    ProcessingTimeTrigger
);

macro_rules! sliding {
    ($(#[$doc:meta])* $name:ident, $event_time:expr, $trigger:ty, $trigger_value:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name {
            size: i64,
            slide: i64,
            offset: i64,
        }

        impl $name {
            /// Windows of `size` starting every `slide`.
            pub fn of(size: Duration, slide: Duration) -> Self {
                $name { size: millis(size), slide: millis(slide), offset: 0 }
            }

            /// Shifts the windows by `offset` (`abs(offset) < slide`).
            pub fn with_offset(self, offset: Duration) -> Self {
                self.with_offset_millis(millis(offset))
            }

            /// Shifts the windows by `offset` milliseconds, which may be negative.
            pub fn with_offset_millis(mut self, offset: i64) -> Self {
                self.offset = offset;
                self
            }
        }

        impl<T> WindowAssigner<T> for $name {
            type W = TimeWindow;
            type DefaultTrigger = $trigger;

            #[inline]
            fn assign_windows(
                &self,
                _element: &T,
                timestamp: Option<EventTime>,
                ctx: &WindowAssignerContext<'_>,
                windows: &mut Vec<TimeWindow>,
            ) -> Result<(), BoxError> {
                let ts = if $event_time {
                    require_timestamp(timestamp, stringify!($name))?
                } else {
                    ctx.current_processing_time()
                };
                let last_start = TimeWindow::window_start_with_offset(ts, self.offset, self.slide);
                let mut start = last_start;
                while start > ts - self.size {
                    windows.push(TimeWindow::new(start, start + self.size));
                    start -= self.slide;
                }
                Ok(())
            }

            fn default_trigger(&self) -> $trigger {
                $trigger_value
            }

            fn is_event_time(&self) -> bool {
                $event_time
            }

            fn validate(&self) -> Result<(), String> {
                if self.size <= 0 {
                    return Err(format!(
                        "{} parameters must satisfy abs(offset) < slide and size > 0: size {} ms",
                        stringify!($name),
                        self.size
                    ));
                }
                check_offset(stringify!($name), "slide", self.slide, self.offset)
            }

            fn describe(&self) -> String {
                format!("{}({}, {}, {})", stringify!($name), self.size, self.slide, self.offset)
            }
        }
    };
}

sliding!(
    /// Sliding windows in event time: windows of `size` every `slide`; an element
    /// belongs to every window that contains it (Flink's `SlidingEventTimeWindows`).
    SlidingEventTimeWindows,
    true,
    EventTimeTrigger,
    EventTimeTrigger
);

sliding!(
    /// Sliding windows in processing time (Flink's `SlidingProcessingTimeWindows`).
    SlidingProcessingTimeWindows,
    false,
    ProcessingTimeTrigger,
    ProcessingTimeTrigger
);

/// Session windows in event time: an element opens `[ts, ts + gap)`, and windows
/// that overlap or touch merge (Flink's `EventTimeSessionWindows`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventTimeSessionWindows {
    gap: i64,
}

impl EventTimeSessionWindows {
    /// Sessions closed by `gap` without elements.
    pub fn with_gap(gap: Duration) -> Self {
        EventTimeSessionWindows { gap: millis(gap) }
    }

    /// Sessions whose gap each element chooses (Flink's
    /// `DynamicEventTimeSessionWindows`); a zero gap fails the job.
    pub fn with_dynamic_gap<T, F>(gap: F) -> DynamicEventTimeSessionWindows<T>
    where
        F: Fn(&T) -> Duration + Send + Sync + 'static,
    {
        DynamicEventTimeSessionWindows { gap: Arc::new(gap) }
    }
}

/// Session windows in processing time (Flink's `ProcessingTimeSessionWindows`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessingTimeSessionWindows {
    gap: i64,
}

impl ProcessingTimeSessionWindows {
    /// Sessions closed by `gap` of processing time without elements.
    pub fn with_gap(gap: Duration) -> Self {
        ProcessingTimeSessionWindows { gap: millis(gap) }
    }

    /// Sessions whose gap each element chooses.
    pub fn with_dynamic_gap<T, F>(gap: F) -> DynamicProcessingTimeSessionWindows<T>
    where
        F: Fn(&T) -> Duration + Send + Sync + 'static,
    {
        DynamicProcessingTimeSessionWindows { gap: Arc::new(gap) }
    }
}

type GapExtractor<T> = Arc<dyn Fn(&T) -> Duration + Send + Sync>;

/// Event-time sessions with a gap per element.
pub struct DynamicEventTimeSessionWindows<T> {
    gap: GapExtractor<T>,
}

/// Processing-time sessions with a gap per element.
pub struct DynamicProcessingTimeSessionWindows<T> {
    gap: GapExtractor<T>,
}

fn dynamic_gap<T>(gap: &GapExtractor<T>, element: &T) -> Result<i64, BoxError> {
    let gap = millis(gap(element));
    if gap <= 0 {
        return Err("Dynamic session time gap must satisfy 0 < gap".into());
    }
    Ok(gap)
}

fn session_merge(windows: &mut Vec<TimeWindow>, merge: &mut MergeCallback<'_, TimeWindow>) {
    TimeWindow::merge_windows(windows, merge);
}

macro_rules! session_common {
    ($event_time:expr, $trigger:ty, $trigger_value:expr) => {
        type W = TimeWindow;
        type DefaultTrigger = $trigger;

        fn default_trigger(&self) -> $trigger {
            $trigger_value
        }

        fn is_event_time(&self) -> bool {
            $event_time
        }

        fn is_merging(&self) -> bool {
            true
        }

        fn merge_windows(
            &self,
            windows: &mut Vec<TimeWindow>,
            merge: &mut MergeCallback<'_, TimeWindow>,
        ) {
            session_merge(windows, merge)
        }
    };
}

impl<T> WindowAssigner<T> for EventTimeSessionWindows {
    session_common!(true, EventTimeTrigger, EventTimeTrigger);

    fn assign_windows(
        &self,
        _element: &T,
        timestamp: Option<EventTime>,
        _ctx: &WindowAssignerContext<'_>,
        windows: &mut Vec<TimeWindow>,
    ) -> Result<(), BoxError> {
        let ts = require_timestamp(timestamp, "EventTimeSessionWindows")?;
        windows.push(TimeWindow::new(ts, ts + self.gap));
        Ok(())
    }

    fn validate(&self) -> Result<(), String> {
        if self.gap <= 0 {
            return Err(format!(
                "EventTimeSessionWindows parameters must satisfy 0 < size: gap {} ms",
                self.gap
            ));
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("EventTimeSessionWindows({})", self.gap)
    }
}

impl<T> WindowAssigner<T> for ProcessingTimeSessionWindows {
    session_common!(false, ProcessingTimeTrigger, ProcessingTimeTrigger);

    fn assign_windows(
        &self,
        _element: &T,
        _timestamp: Option<EventTime>,
        ctx: &WindowAssignerContext<'_>,
        windows: &mut Vec<TimeWindow>,
    ) -> Result<(), BoxError> {
        let now = ctx.current_processing_time();
        windows.push(TimeWindow::new(now, now + self.gap));
        Ok(())
    }

    fn validate(&self) -> Result<(), String> {
        if self.gap <= 0 {
            return Err(format!(
                "ProcessingTimeSessionWindows parameters must satisfy 0 < size: gap {} ms",
                self.gap
            ));
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("ProcessingTimeSessionWindows({})", self.gap)
    }
}

impl<T> Clone for DynamicEventTimeSessionWindows<T> {
    fn clone(&self) -> Self {
        DynamicEventTimeSessionWindows {
            gap: self.gap.clone(),
        }
    }
}

impl<T> Clone for DynamicProcessingTimeSessionWindows<T> {
    fn clone(&self) -> Self {
        DynamicProcessingTimeSessionWindows {
            gap: self.gap.clone(),
        }
    }
}

impl<T> fmt::Debug for DynamicEventTimeSessionWindows<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DynamicEventTimeSessionWindows")
    }
}

impl<T> fmt::Debug for DynamicProcessingTimeSessionWindows<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DynamicProcessingTimeSessionWindows")
    }
}

impl<T: 'static> WindowAssigner<T> for DynamicEventTimeSessionWindows<T> {
    session_common!(true, EventTimeTrigger, EventTimeTrigger);

    fn assign_windows(
        &self,
        element: &T,
        timestamp: Option<EventTime>,
        _ctx: &WindowAssignerContext<'_>,
        windows: &mut Vec<TimeWindow>,
    ) -> Result<(), BoxError> {
        let ts = require_timestamp(timestamp, "DynamicEventTimeSessionWindows")?;
        let gap = dynamic_gap(&self.gap, element)?;
        windows.push(TimeWindow::new(ts, ts + gap));
        Ok(())
    }

    fn describe(&self) -> String {
        "DynamicEventTimeSessionWindows".to_string()
    }
}

impl<T: 'static> WindowAssigner<T> for DynamicProcessingTimeSessionWindows<T> {
    session_common!(false, ProcessingTimeTrigger, ProcessingTimeTrigger);

    fn assign_windows(
        &self,
        element: &T,
        _timestamp: Option<EventTime>,
        ctx: &WindowAssignerContext<'_>,
        windows: &mut Vec<TimeWindow>,
    ) -> Result<(), BoxError> {
        let now = ctx.current_processing_time();
        let gap = dynamic_gap(&self.gap, element)?;
        windows.push(TimeWindow::new(now, now + gap));
        Ok(())
    }

    fn describe(&self) -> String {
        "DynamicProcessingTimeSessionWindows".to_string()
    }
}

/// One window per key holding everything (Flink's `GlobalWindows`). It never
/// fires by itself: set a trigger (count windows do), or use
/// [`GlobalWindows::create_with_end_of_stream_trigger`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GlobalWindows {
    trigger: GlobalWindowsTrigger,
}

impl GlobalWindows {
    /// Global windows whose default trigger never fires.
    pub fn create() -> Self {
        GlobalWindows {
            trigger: GlobalWindowsTrigger::Never,
        }
    }

    /// Global windows that fire once, when the input ends.
    pub fn create_with_end_of_stream_trigger() -> Self {
        GlobalWindows {
            trigger: GlobalWindowsTrigger::EndOfStream,
        }
    }
}

impl<T> WindowAssigner<T> for GlobalWindows {
    type W = GlobalWindow;
    type DefaultTrigger = GlobalWindowsTrigger;

    #[inline]
    fn assign_windows(
        &self,
        _element: &T,
        _timestamp: Option<EventTime>,
        _ctx: &WindowAssignerContext<'_>,
        windows: &mut Vec<GlobalWindow>,
    ) -> Result<(), BoxError> {
        windows.push(GlobalWindow);
        Ok(())
    }

    fn default_trigger(&self) -> GlobalWindowsTrigger {
        self.trigger
    }

    fn is_event_time(&self) -> bool {
        false
    }

    fn describe(&self) -> String {
        "GlobalWindows".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runnel_runtime::clock::ManualClock;

    fn assign<A: WindowAssigner<()>>(a: &A, ts: i64) -> Vec<A::W> {
        let time = ProcessingTimeService::new(Arc::new(ManualClock::new(ts)));
        let ctx = WindowAssignerContext { time: &time };
        let mut out = Vec::new();
        a.assign_windows(&(), Some(EventTime::from_millis(ts)), &ctx, &mut out)
            .unwrap();
        out
    }

    #[test]
    fn tumbling_windows_are_aligned_with_offsets() {
        let w = TimeWindow::new;
        let a = TumblingEventTimeWindows::of(Duration::from_millis(10));
        assert_eq!(assign(&a, 0), [w(0, 10)]);
        assert_eq!(assign(&a, 9), [w(0, 10)]);
        assert_eq!(assign(&a, 10), [w(10, 20)]);
        assert_eq!(assign(&a, -1), [w(-10, 0)]);
        let shifted = a.with_offset_millis(-3);
        assert_eq!(assign(&shifted, 0), [w(-3, 7)]);
        assert_eq!(assign(&shifted, 7), [w(7, 17)]);
        assert_eq!(
            assign(
                &TumblingProcessingTimeWindows::of(Duration::from_millis(10)),
                25
            ),
            [w(20, 30)]
        );
        assert!(WindowAssigner::<()>::validate(&a.with_offset_millis(10)).is_err());
        assert!(
            WindowAssigner::<()>::validate(&TumblingEventTimeWindows::of(Duration::ZERO)).is_err()
        );
    }

    #[test]
    fn sliding_windows_hold_an_element_in_every_window_that_contains_it() {
        let w = TimeWindow::new;
        let a = SlidingEventTimeWindows::of(Duration::from_millis(10), Duration::from_millis(5));
        assert_eq!(assign(&a, 7), [w(5, 15), w(0, 10)]);
        assert_eq!(assign(&a, 5), [w(5, 15), w(0, 10)]);
        assert_eq!(assign(&a, 4), [w(0, 10), w(-5, 5)]);
        let odd = SlidingEventTimeWindows::of(Duration::from_millis(10), Duration::from_millis(3));
        assert_eq!(assign(&odd, 10), [w(9, 19), w(6, 16), w(3, 13)]);
        assert!(WindowAssigner::<()>::validate(&a.with_offset_millis(5)).is_err());
    }

    #[test]
    fn sessions_open_a_gap_long_window_and_merge_touching_ones() {
        let a = EventTimeSessionWindows::with_gap(Duration::from_millis(5));
        assert_eq!(assign(&a, 3), [TimeWindow::new(3, 8)]);
        assert!(WindowAssigner::<()>::is_merging(&a));
        assert!(
            WindowAssigner::<()>::validate(&EventTimeSessionWindows::with_gap(Duration::ZERO))
                .is_err()
        );
    }

    #[test]
    fn missing_timestamps_are_a_clear_error() {
        let a = TumblingEventTimeWindows::of(Duration::from_millis(10));
        let time = ProcessingTimeService::new(Arc::new(ManualClock::new(0)));
        let ctx = WindowAssignerContext { time: &time };
        let err =
            WindowAssigner::<()>::assign_windows(&a, &(), None, &ctx, &mut Vec::new()).unwrap_err();
        assert!(
            err.to_string().contains("assign_timestamps_and_watermarks"),
            "{err}"
        );
    }
}
