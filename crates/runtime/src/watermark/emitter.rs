//! Emitting generated watermarks into an operator's output: only advances are
//! forwarded, and the idle/active status changes are announced (Flink's
//! `WatermarkEmitter` of `TimestampsAndWatermarksOperator`).

use crate::output::Output;
use crate::watermark::generator::WatermarkOutput;
use runnel_types::{Data, Watermark, WatermarkStatus};

/// The watermark and status a stream has announced so far.
#[derive(Debug, Clone, Copy)]
pub struct EmitterState {
    current: Watermark,
    idle: bool,
}

impl Default for EmitterState {
    fn default() -> Self {
        EmitterState {
            current: Watermark::MIN,
            idle: false,
        }
    }
}

impl EmitterState {
    /// The last watermark emitted.
    pub fn current(&self) -> Watermark {
        self.current
    }

    /// Whether the stream is announced idle.
    pub fn is_idle(&self) -> bool {
        self.idle
    }
}

/// A [`WatermarkOutput`] writing into an operator's [`Output`].
pub struct OutputEmitter<'a, T> {
    pub(crate) state: &'a mut EmitterState,
    pub(crate) out: &'a mut Output<T>,
}

impl<T: Data> WatermarkOutput for OutputEmitter<'_, T> {
    fn emit_watermark(&mut self, watermark: Watermark) {
        if watermark <= self.state.current {
            return;
        }
        self.state.current = watermark;
        self.mark_active();
        self.out.emit_watermark(watermark);
    }

    fn mark_idle(&mut self) {
        if !self.state.idle {
            self.state.idle = true;
            self.out.emit_watermark_status(WatermarkStatus::Idle);
        }
    }

    fn mark_active(&mut self) {
        if self.state.idle {
            self.state.idle = false;
            self.out.emit_watermark_status(WatermarkStatus::Active);
        }
    }
}

/// One request of a generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Request {
    Watermark(Watermark),
    Idle,
    Active,
}

/// What generators asked for while a record was being processed, in order;
/// applied after the record is emitted, so a watermark never overtakes the record
/// that caused it. Holds a few requests inline (no allocation); if more arrive,
/// consecutive watermarks are merged (only the largest matters).
#[derive(Debug, Default, Clone, Copy)]
pub struct Pending {
    requests: [Option<Request>; 4],
    len: usize,
}

impl Pending {
    fn push(&mut self, r: Request) {
        if let (Request::Watermark(w), Some(Some(Request::Watermark(last)))) =
            (r, self.len.checked_sub(1).map(|i| self.requests[i]))
        {
            self.requests[self.len - 1] = Some(Request::Watermark(last.max(w)));
            return;
        }
        if self.len == self.requests.len() {
            // Full: drop the oldest request; a later watermark or status supersedes it.
            self.requests.rotate_left(1);
            self.len -= 1;
        }
        self.requests[self.len] = Some(r);
        self.len += 1;
    }

    /// Whether nothing was asked for.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Replays the requests, in order, into `output`.
    pub fn apply(self, output: &mut dyn WatermarkOutput) {
        for r in self.requests[..self.len].iter().flatten() {
            match r {
                Request::Watermark(w) => output.emit_watermark(*w),
                Request::Idle => output.mark_idle(),
                Request::Active => output.mark_active(),
            }
        }
    }
}

impl WatermarkOutput for Pending {
    fn emit_watermark(&mut self, watermark: Watermark) {
        self.push(Request::Watermark(watermark));
    }
    fn mark_idle(&mut self) {
        self.push(Request::Idle);
    }
    fn mark_active(&mut self) {
        self.push(Request::Active);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Log(Vec<String>);
    impl WatermarkOutput for Log {
        fn emit_watermark(&mut self, w: Watermark) {
            self.0.push(format!("wm {w}"));
        }
        fn mark_idle(&mut self) {
            self.0.push("idle".into());
        }
        fn mark_active(&mut self) {
            self.0.push("active".into());
        }
    }

    #[test]
    fn pending_keeps_order_and_merges_consecutive_watermarks() {
        let mut p = Pending::default();
        p.emit_watermark(Watermark(1));
        p.emit_watermark(Watermark(5));
        p.mark_idle();
        p.emit_watermark(Watermark(9));
        let mut log = Log::default();
        p.apply(&mut log);
        assert_eq!(log.0, ["wm 5", "idle", "wm 9"]);
    }
}
