//! This machine's resources, as a TaskManager reports them at registration.

use serde::Serialize;

/// CPU cores and physical memory (`-1`: unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Hardware {
    pub cpu_cores: i64,
    pub physical_memory: i64,
}

/// The cores available to this process and the machine's memory (from
/// `/proc/meminfo`, so `-1` outside Linux).
pub(crate) fn detect() -> Hardware {
    let cpu_cores = std::thread::available_parallelism().map_or(-1, |n| n.get() as i64);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    Hardware {
        cpu_cores,
        physical_memory: mem_total(&meminfo).unwrap_or(-1),
    }
}

/// `MemTotal` of a `/proc/meminfo` text, bytes.
fn mem_total(meminfo: &str) -> Option<i64> {
    let kib: i64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_mem_total_in_bytes() {
        let text = "MemTotal:       16318504 kB\nMemFree:         1234 kB\n";
        assert_eq!(mem_total(text), Some(16_318_504 * 1024));
        assert_eq!(mem_total("MemFree: 1 kB"), None);
        assert_eq!(mem_total("MemTotal: lots"), None);
        let here = detect();
        assert!(here.cpu_cores >= 1);
        assert!(here.physical_memory >= -1);
    }
}
