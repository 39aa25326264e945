//! The watermark valve of one input gate: per-channel watermarks and statuses
//! combined into the input's watermark and status (Flink's `StatusWatermarkValve`).

use runnel_types::{Watermark, WatermarkStatus};

#[derive(Debug, Clone, Copy)]
struct Channel {
    watermark: Watermark,
    idle: bool,
    /// Counted in the minimum: active, and caught up with the output watermark.
    aligned: bool,
}

/// What a valve emits after an input: a watermark, then a status, either optional.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ValveOutput {
    /// The input's new watermark, if it advanced.
    pub watermark: Option<Watermark>,
    /// The input's new status, if it changed.
    pub status: Option<WatermarkStatus>,
}

/// Combines the channels of one input.
#[derive(Debug, Clone)]
pub struct WatermarkValve {
    channels: Vec<Channel>,
    last_output: Watermark,
    idle: bool,
}

impl WatermarkValve {
    /// A valve over `channels` channels, all active at −∞.
    pub fn new(channels: usize) -> Self {
        WatermarkValve {
            channels: vec![
                Channel {
                    watermark: Watermark::MIN,
                    idle: false,
                    aligned: true
                };
                channels
            ],
            last_output: Watermark::MIN,
            idle: false,
        }
    }

    /// The last watermark the valve emitted.
    pub fn watermark(&self) -> Watermark {
        self.last_output
    }

    /// A channel delivered a watermark.
    pub fn input_watermark(&mut self, channel: usize, watermark: Watermark) -> ValveOutput {
        let mut out = ValveOutput::default();
        let last_output = self.last_output;
        let ch = &mut self.channels[channel];
        // Watermarks of idle channels (or of an idle valve) are ignored.
        if self.idle || ch.idle || watermark <= ch.watermark {
            return out;
        }
        ch.watermark = watermark;
        if !ch.aligned && watermark >= last_output {
            ch.aligned = true;
        }
        out.watermark = self.new_min_across_aligned();
        out
    }

    /// A channel delivered a watermark status.
    pub fn input_watermark_status(
        &mut self,
        channel: usize,
        status: WatermarkStatus,
    ) -> ValveOutput {
        let mut out = ValveOutput::default();
        let ch = &mut self.channels[channel];
        match status {
            WatermarkStatus::Idle if !ch.idle => {
                ch.idle = true;
                ch.aligned = false;
                let channel_watermark = ch.watermark;
                if self.channels.iter().all(|c| c.idle) {
                    let max = self
                        .channels
                        .iter()
                        .map(|c| c.watermark)
                        .max()
                        .unwrap_or(Watermark::MIN);
                    if max > self.last_output {
                        self.last_output = max;
                        out.watermark = Some(max);
                    }
                    self.idle = true;
                    out.status = Some(WatermarkStatus::Idle);
                } else if channel_watermark == self.last_output {
                    out.watermark = self.new_min_across_aligned();
                }
            }
            WatermarkStatus::Active if ch.idle => {
                ch.idle = false;
                if ch.watermark >= self.last_output {
                    ch.aligned = true;
                }
                if self.idle {
                    self.idle = false;
                    out.status = Some(WatermarkStatus::Active);
                }
            }
            _ => {}
        }
        out
    }

    fn new_min_across_aligned(&mut self) -> Option<Watermark> {
        let min = self
            .channels
            .iter()
            .filter(|c| c.aligned)
            .map(|c| c.watermark)
            .min()?;
        (min > self.last_output).then(|| {
            self.last_output = min;
            min
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use WatermarkStatus::{Active, Idle};

    fn wm(v: &mut WatermarkValve, ch: usize, w: i64) -> Option<i64> {
        v.input_watermark(ch, Watermark(w)).watermark.map(|w| w.0)
    }

    #[test]
    fn minimum_over_channels_only_forward() {
        let mut v = WatermarkValve::new(2);
        assert_eq!(wm(&mut v, 0, 10), None, "channel 1 still at -inf");
        assert_eq!(wm(&mut v, 1, 5), Some(5));
        assert_eq!(wm(&mut v, 1, 3), None, "watermarks never go back");
        assert_eq!(wm(&mut v, 1, 20), Some(10));
        assert_eq!(wm(&mut v, 0, i64::MAX), Some(20));
        assert_eq!(wm(&mut v, 1, i64::MAX), Some(i64::MAX));
    }

    #[test]
    fn an_idle_channel_stops_holding_back_the_minimum_and_rejoins() {
        let mut v = WatermarkValve::new(3);
        wm(&mut v, 0, 10);
        wm(&mut v, 1, 20);
        assert_eq!(
            v.watermark(),
            Watermark::MIN,
            "channel 2 holds everything back"
        );
        let out = v.input_watermark_status(2, Idle);
        assert_eq!(
            out,
            ValveOutput {
                watermark: Some(Watermark(10)),
                status: None
            }
        );
        assert_eq!(
            wm(&mut v, 2, 100),
            None,
            "watermarks of an idle channel are ignored"
        );
        // Rejoining below the output watermark: not aligned until it catches up.
        assert_eq!(v.input_watermark_status(2, Active), ValveOutput::default());
        assert_eq!(wm(&mut v, 2, 5), None, "behind the valve: not counted");
        assert_eq!(wm(&mut v, 0, 30), Some(20), "min of channels 0 and 1 only");
        assert_eq!(wm(&mut v, 2, 25), None, "caught up (>= 20): aligned again");
        assert_eq!(wm(&mut v, 1, 40), Some(25));
    }

    #[test]
    fn all_idle_flushes_the_maximum_and_goes_idle() {
        let mut v = WatermarkValve::new(2);
        wm(&mut v, 0, 10);
        wm(&mut v, 1, 30);
        assert_eq!(v.input_watermark_status(1, Idle).watermark, None);
        let out = v.input_watermark_status(0, Idle);
        assert_eq!(
            out,
            ValveOutput {
                watermark: Some(Watermark(30)),
                status: Some(Idle)
            }
        );
        assert_eq!(wm(&mut v, 0, 50), None, "an idle valve ignores watermarks");
        assert_eq!(v.input_watermark_status(0, Active).status, Some(Active));
        assert_eq!(wm(&mut v, 0, 50), Some(50));
    }
}
