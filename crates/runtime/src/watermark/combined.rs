//! Combining the watermarks of a fixed set of inputs (two-input operators, the
//! splits of a source): Flink's `CombinedWatermarkStatus`.

use runnel_types::Watermark;

#[derive(Debug, Clone, Copy)]
struct Part {
    watermark: Watermark,
    idle: bool,
    /// A released input (a finished split) no longer counts at all.
    released: bool,
}

/// The combined watermark and idleness of several inputs.
#[derive(Debug, Clone)]
pub struct CombinedWatermark {
    parts: Vec<Part>,
    combined: Watermark,
    idle: bool,
}

impl CombinedWatermark {
    /// `inputs` inputs, all active at −∞.
    pub fn new(inputs: usize) -> Self {
        CombinedWatermark {
            parts: vec![
                Part {
                    watermark: Watermark::MIN,
                    idle: false,
                    released: false
                };
                inputs
            ],
            combined: Watermark::MIN,
            idle: false,
        }
    }

    /// Adds an input (a new split); returns its index.
    pub fn add_input(&mut self) -> usize {
        self.parts.push(Part {
            watermark: Watermark::MIN,
            idle: false,
            released: false,
        });
        self.parts.len() - 1
    }

    /// The combined watermark.
    pub fn combined(&self) -> Watermark {
        self.combined
    }

    /// Whether every input is idle.
    pub fn is_idle(&self) -> bool {
        self.idle
    }

    /// Input `i` reached `watermark` (which also marks it active). Returns whether
    /// the combined watermark advanced.
    pub fn update_watermark(&mut self, i: usize, watermark: Watermark) -> bool {
        let part = &mut self.parts[i];
        part.idle = false;
        part.watermark = part.watermark.max(watermark);
        self.recompute()
    }

    /// Input `i` became idle or active. Returns whether the combined watermark
    /// advanced (all inputs idle releases the largest watermark).
    pub fn update_idle(&mut self, i: usize, idle: bool) -> bool {
        self.parts[i].idle = idle;
        self.recompute()
    }

    /// Input `i` is gone (a finished split): it no longer holds anything back.
    /// Returns whether the combined watermark advanced.
    pub fn release_input(&mut self, i: usize) -> bool {
        self.parts[i].released = true;
        self.recompute()
    }

    fn recompute(&mut self) -> bool {
        let mut live = self.parts.iter().filter(|p| !p.released).peekable();
        if live.peek().is_none() {
            return false;
        }
        let max_all = self
            .parts
            .iter()
            .filter(|p| !p.released)
            .map(|p| p.watermark)
            .max()
            .unwrap_or(Watermark::MIN);
        let min_active = self
            .parts
            .iter()
            .filter(|p| !p.idle && !p.released)
            .map(|p| p.watermark)
            .min();
        self.idle = min_active.is_none();
        // Active inputs decide progress; when all are idle, flush the maximum.
        let candidate = min_active.unwrap_or(max_all);
        if candidate > self.combined {
            self.combined = candidate;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimum_of_active_inputs() {
        let mut c = CombinedWatermark::new(2);
        assert!(!c.update_watermark(0, Watermark(10)));
        assert!(c.update_watermark(1, Watermark(5)));
        assert_eq!(c.combined(), Watermark(5));
        assert!(
            c.update_idle(1, true),
            "the idle input no longer holds back the minimum"
        );
        assert_eq!(c.combined(), Watermark(10));
        assert!(!c.is_idle());
        assert!(
            !c.update_watermark(1, Watermark(7)),
            "rejoining below the combined watermark changes nothing"
        );
        assert_eq!(c.combined(), Watermark(10));
    }

    #[test]
    fn all_idle_flushes_the_maximum() {
        let mut c = CombinedWatermark::new(2);
        c.update_watermark(0, Watermark(3));
        c.update_watermark(1, Watermark(8));
        assert_eq!(c.combined(), Watermark(3));
        c.update_idle(1, true);
        assert_eq!(c.combined(), Watermark(3));
        assert!(c.update_idle(0, true));
        assert!(c.is_idle());
        assert_eq!(c.combined(), Watermark(8));
    }
}
