//! The `RESULT` line of WORKLOADS.md §2, the check against §5, and peak RSS.

use crate::checksum::{Totals, expected};
use crate::workloads::{Measurement, Selection};
use std::fmt::Write;

/// How a run's result compares with WORKLOADS.md §5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Records and checksum are the expected ones.
    Passed,
    /// §5 lists no result for this N.
    UnknownN,
    /// Records or checksum differ from the expected ones.
    Failed {
        /// What §5 lists.
        expected: Totals,
    },
}

/// Compares `totals` with the expected result of `workload` at `n`.
pub fn check(workload: &str, n: u64, totals: Totals) -> Check {
    match expected(workload, n) {
        None => Check::UnknownN,
        Some(e) if e == totals => Check::Passed,
        Some(e) => Check::Failed { expected: e },
    }
}

/// The process's peak resident set size in MiB (`VmHWM` of `/proc/self/status`),
/// if the platform reports it.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// The `RESULT` line of one run (without a trailing newline).
pub fn result_line(
    selection: Selection,
    parallelism: u32,
    n: u64,
    m: &Measurement,
    check: Check,
    peak_rss_mb: Option<f64>,
) -> String {
    let secs = m.elapsed.as_secs_f64();
    let eps = if secs > 0.0 {
        (n as f64 / secs).round() as u64
    } else {
        0
    };
    let mut line = format!(
        "RESULT engine={} workload={} p={} n={} elapsed_s={:.3} eps={} records={} checksum={:016x}",
        selection.engine.name(),
        selection.workload.name(),
        parallelism,
        n,
        secs,
        eps,
        m.totals.records,
        m.totals.checksum,
    );
    if check == Check::UnknownN {
        line.push_str(" check=unknown-n");
    }
    if let Some(mb) = peak_rss_mb {
        let _ = write!(line, " peak_rss_mb={mb:.1}");
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workloads::{Engine, Workload};
    use std::time::Duration;

    #[test]
    fn formats_the_result_line() {
        let m = Measurement {
            elapsed: Duration::from_millis(1234),
            totals: Totals {
                records: 58_702_241,
                checksum: 0xa2b4c706cc3c5bf5,
            },
            recovery: Default::default(),
        };
        let sel = Selection {
            engine: Engine::Runnel,
            workload: Workload::W1,
        };
        let c = check("W1", 100_000_000, m.totals);
        assert_eq!(c, Check::Passed);
        assert_eq!(
            result_line(sel, 1, 100_000_000, &m, c, None),
            "RESULT engine=runnel workload=W1 p=1 n=100000000 elapsed_s=1.234 eps=81037277 \
             records=58702241 checksum=a2b4c706cc3c5bf5"
        );
        let c = check("W1", 5, m.totals);
        assert_eq!(c, Check::UnknownN);
        assert!(
            result_line(sel, 2, 5, &m, c, Some(3.0)).ends_with(" check=unknown-n peak_rss_mb=3.0")
        );
        assert!(matches!(
            check("W1", 1_000_000, m.totals),
            Check::Failed { .. }
        ));
    }

    #[test]
    fn reads_peak_rss() {
        if cfg!(target_os = "linux") {
            assert!(peak_rss_mb().is_some_and(|mb| mb > 0.0));
        }
    }
}
