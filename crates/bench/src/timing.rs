//! In-job time (WORKLOADS.md §2): from the first bid generated at the earliest
//! source subtask to the moment the last sink subtask has seen end of input.

use crate::spool;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The start and end instants of a job, shared by its sources and sinks.
///
/// Sources call [`JobTimer::mark_start`] once per subtask (the first call wins);
/// sinks call [`JobTimer::mark_end`] once per subtask (the latest call wins). Neither
/// is on the per-record path.
#[derive(Debug, Default)]
pub struct JobTimer {
    start: OnceLock<Instant>,
    end: Mutex<Option<Instant>>,
}

impl JobTimer {
    /// A timer with neither instant set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks the start, unless an earlier call has.
    pub fn mark_start(&self) {
        let mut first = false;
        self.start.get_or_init(|| {
            first = true;
            Instant::now()
        });
        if first && let Some(dir) = spool::dir() {
            let name = format!("start-{}", std::process::id());
            spool::write(dir, &name, &spool::now_nanos().to_string());
        }
    }

    /// Marks an end; the job's end is the latest one marked.
    pub fn mark_end(&self) {
        let now = Instant::now();
        let mut end = self.end.lock().unwrap_or_else(|e| e.into_inner());
        *end = Some(end.map_or(now, |e| e.max(now)));
        if let Some(dir) = spool::dir() {
            let name = format!("end-{}", std::process::id());
            spool::write(dir, &name, &spool::now_nanos().to_string());
        }
    }

    /// The time between the start and the latest end (zero if either is
    /// missing); with a spool, over every process of the job.
    pub fn elapsed(&self) -> Duration {
        if let Some(dir) = spool::dir() {
            let times = |prefix| {
                spool::read(dir, prefix)
                    .iter()
                    .filter_map(|t| t.trim().parse::<u128>().ok())
                    .collect::<Vec<_>>()
            };
            let (starts, ends) = (times("start-"), times("end-"));
            return match (starts.iter().min(), ends.iter().max()) {
                (Some(s), Some(e)) if e > s => Duration::from_nanos((e - s) as u64),
                _ => Duration::ZERO,
            };
        }
        let end = *self.end.lock().unwrap_or_else(|e| e.into_inner());
        match (self.start.get(), end) {
            (Some(s), Some(e)) => e.saturating_duration_since(*s),
            _ => Duration::ZERO,
        }
    }
}
