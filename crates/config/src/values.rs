//! Parsers for the value syntaxes of the config file (Flink's duration and memory
//! size formats).

use std::time::Duration;

/// When a partly filled network buffer is flushed (the seeds' buffer timeout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufferTimeout {
    /// Flush at least this often; `Duration::ZERO` flushes after every record.
    Interval(Duration),
    /// Flush only when a buffer is full, at end of input and on checkpoints
    /// (Flink's `-1`).
    Disabled,
}

impl BufferTimeout {
    /// From Flink's millisecond convention: `-1` disables, `0` flushes every record,
    /// a positive value is the interval. Other negative values are invalid.
    pub fn from_millis(ms: i64) -> Option<BufferTimeout> {
        match ms {
            -1 => Some(BufferTimeout::Disabled),
            ms if ms >= 0 => Some(BufferTimeout::Interval(Duration::from_millis(ms as u64))),
            _ => None,
        }
    }
}

pub(crate) fn parse_positive(v: &str) -> Option<u32> {
    v.trim().parse::<u32>().ok().filter(|n| *n > 0)
}

pub(crate) fn parse_non_negative(v: &str) -> Option<u32> {
    v.trim().parse::<u32>().ok()
}

pub(crate) fn parse_float(v: &str) -> Option<f64> {
    v.trim().parse::<f64>().ok().filter(|f| f.is_finite())
}

pub(crate) fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

fn split_number(v: &str) -> Option<(u64, String)> {
    let v = v.trim();
    let digits = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    if digits == 0 {
        return None;
    }
    let n = v[..digits].parse::<u64>().ok()?;
    Some((n, v[digits..].trim().to_ascii_lowercase()))
}

/// Parses a duration: `<n> <unit>` with unit ms, s, min, h, d (and their long
/// forms); a bare number is milliseconds.
pub fn parse_duration(v: &str) -> Option<Duration> {
    let (n, unit) = split_number(v)?;
    let ms_per = match unit.as_str() {
        "" | "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 1,
        "s" | "sec" | "secs" | "second" | "seconds" => 1_000,
        "m" | "min" | "mins" | "minute" | "minutes" => 60_000,
        "h" | "hour" | "hours" => 3_600_000,
        "d" | "day" | "days" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(ms_per).map(Duration::from_millis)
}

/// Parses a memory size: `<n> <unit>` with unit b, kb, mb, gb (or k, m, g, and
/// the `kib` forms, all powers of 1024 as in Flink); a bare number is bytes.
pub fn parse_memory_size(v: &str) -> Option<usize> {
    let (n, unit) = split_number(v)?;
    let mult: u64 = match unit.as_str() {
        "" | "b" | "bytes" => 1,
        "k" | "kb" | "kib" | "kibibytes" => 1 << 10,
        "m" | "mb" | "mib" | "mebibytes" => 1 << 20,
        "g" | "gb" | "gib" | "gibibytes" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult).and_then(|b| usize::try_from(b).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("100"), Some(Duration::from_millis(100)));
        assert_eq!(parse_duration("100 ms"), Some(Duration::from_millis(100)));
        assert_eq!(parse_duration("5s"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("2 min"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_duration("-1"), None);
        assert_eq!(parse_duration("ten"), None);
        assert_eq!(parse_duration("10 fortnights"), None);
    }

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_memory_size("32kb"), Some(32 * 1024));
        assert_eq!(parse_memory_size("1 mb"), Some(1 << 20));
        assert_eq!(parse_memory_size("4096"), Some(4096));
        assert_eq!(parse_memory_size("lots"), None);
    }

    #[test]
    fn buffer_timeout_millis_convention() {
        assert_eq!(
            BufferTimeout::from_millis(-1),
            Some(BufferTimeout::Disabled)
        );
        assert_eq!(
            BufferTimeout::from_millis(0),
            Some(BufferTimeout::Interval(Duration::ZERO))
        );
        assert_eq!(
            BufferTimeout::from_millis(100),
            Some(BufferTimeout::Interval(Duration::from_millis(100)))
        );
        assert_eq!(BufferTimeout::from_millis(-2), None);
    }
}
