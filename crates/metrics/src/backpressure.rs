//! [`BackPressureLevel`]: Flink's classification of a back-pressure ratio.

use std::fmt;

/// How back-pressured a task is, from the share of time it spent waiting for
/// output buffers (Flink's thresholds): ratio ≤ 0.10 is `Ok`, ≤ 0.5 is `Low`,
/// above is `High`.
///
/// ```
/// use runnel_metrics::BackPressureLevel;
/// assert_eq!(BackPressureLevel::from_ratio(0.10), BackPressureLevel::Ok);
/// assert_eq!(BackPressureLevel::from_ratio(0.5), BackPressureLevel::Low);
/// assert_eq!(BackPressureLevel::from_ratio(0.51), BackPressureLevel::High);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackPressureLevel {
    /// At most 10 % of the time back-pressured.
    Ok,
    /// More than 10 % and at most 50 %.
    Low,
    /// More than 50 %.
    High,
}

impl BackPressureLevel {
    /// The highest ratio still classified `Ok`.
    pub const OK_THRESHOLD: f64 = 0.10;
    /// The highest ratio still classified `Low`.
    pub const LOW_THRESHOLD: f64 = 0.5;

    /// Classifies a ratio in `[0, 1]`. A ratio that is not a number (nothing
    /// measured yet) is `Ok`.
    pub fn from_ratio(ratio: f64) -> Self {
        if ratio.is_nan() || ratio <= Self::OK_THRESHOLD {
            BackPressureLevel::Ok
        } else if ratio <= Self::LOW_THRESHOLD {
            BackPressureLevel::Low
        } else {
            BackPressureLevel::High
        }
    }

    /// The name Flink's REST API uses: `ok`, `low` or `high`.
    pub fn as_str(self) -> &'static str {
        match self {
            BackPressureLevel::Ok => "ok",
            BackPressureLevel::Low => "low",
            BackPressureLevel::High => "high",
        }
    }
}

impl fmt::Display for BackPressureLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::BackPressureLevel::{self, High, Low, Ok};

    #[test]
    fn classification_edges_are_exactly_flinks() {
        let table = [
            (0.0, Ok),
            (0.1, Ok),
            (0.100_000_000_000_001, Low),
            (0.3, Low),
            (0.5, Low),
            (0.500_000_000_000_001, High),
            (1.0, High),
            (f64::NAN, Ok),
        ];
        for (ratio, level) in table {
            assert_eq!(BackPressureLevel::from_ratio(ratio), level, "ratio {ratio}");
        }
        assert_eq!(High.to_string(), "high");
        assert_eq!(serde_json::to_string(&Low).ok().as_deref(), Some("\"low\""));
    }
}
