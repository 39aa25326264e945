//! The bookkeeping of the job attempts a TaskManager runs, as a pure state
//! machine (STYLE habit 4): what each heartbeat reports, how many slots are
//! free, which orders of the JobManager to follow. The processes themselves
//! are `processes`' business.
//!
//! Invariants:
//! - an attempt is *running* from its start until its end is seen; every
//!   heartbeat reports it (`running: true`) and it holds its slots;
//! - an ended attempt (exited, killed, or never started) is reported with
//!   `running: false` and its exit code in every heartbeat until one of them
//!   is taken (`200`), then never again: "reported once" means once
//!   *delivered*, so an end is not lost to a heartbeat that failed;
//! - a deployment of an attempt the ledger still holds (running or ended but
//!   not yet delivered) is a repeat and ignored; a cancel of an attempt that
//!   is not running is ignored.

use crate::protocol::{AttemptId, AttemptReport};

/// See the [module docs](self).
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    /// Running attempts with their slots, in the order they started.
    running: Vec<(AttemptId, u32)>,
    /// Ended attempts not yet delivered, with their exit codes.
    ended: Vec<(AttemptId, Option<i32>)>,
}

impl Ledger {
    /// Whether a deployment of `id` should be started (not a repeat).
    pub(crate) fn accepts(&self, id: &AttemptId) -> bool {
        !self.is_running(id) && !self.ended.iter().any(|(e, _)| e == id)
    }

    /// Whether `id` runs (and a cancel of it is to be carried out).
    pub(crate) fn is_running(&self, id: &AttemptId) -> bool {
        self.running.iter().any(|(r, _)| r == id)
    }

    /// `id` started, holding `slots`.
    pub(crate) fn started(&mut self, id: AttemptId, slots: u32) {
        if self.accepts(&id) {
            self.running.push((id, slots));
        }
    }

    /// `id` ended with `exit_code` (`None`: by a signal, or it never
    /// started). Ending an attempt that is not running records it too, so a
    /// deployment that could not start is reported.
    pub(crate) fn ended(&mut self, id: AttemptId, exit_code: Option<i32>) {
        self.running.retain(|(r, _)| *r != id);
        if !self.ended.iter().any(|(e, _)| *e == id) {
            self.ended.push((id, exit_code));
        }
    }

    /// The slots of `total` that no running attempt holds.
    pub(crate) fn free_slots(&self, total: u32) -> u32 {
        let held: u32 = self.running.iter().map(|(_, s)| *s).sum();
        total.saturating_sub(held)
    }

    /// What the next heartbeat reports: every running attempt, then every
    /// ended one not yet delivered.
    pub(crate) fn report(&self) -> Vec<AttemptReport> {
        let running = self.running.iter().map(|(id, _)| AttemptReport {
            id: id.clone(),
            running: true,
            exit_code: None,
        });
        let ended = self.ended.iter().map(|(id, code)| AttemptReport {
            id: id.clone(),
            running: false,
            exit_code: *code,
        });
        running.chain(ended).collect()
    }

    /// A heartbeat carrying `report` was taken: its ended attempts are not
    /// reported again.
    pub(crate) fn delivered(&mut self, report: &[AttemptReport]) {
        self.ended
            .retain(|(id, _)| !report.iter().any(|r| !r.running && r.id == *id));
    }

    /// Whether no attempt runs and no end waits to be delivered.
    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.running.is_empty() && self.ended.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(job: &str, attempt: u32) -> AttemptId {
        AttemptId {
            job_id: job.into(),
            attempt,
        }
    }

    /// `(job, attempt, running, exit code)` of each report.
    fn rows(ledger: &Ledger) -> Vec<(String, u32, bool, Option<i32>)> {
        ledger
            .report()
            .into_iter()
            .map(|r| (r.id.job_id, r.id.attempt, r.running, r.exit_code))
            .collect()
    }

    fn row(
        job: &str,
        attempt: u32,
        running: bool,
        code: Option<i32>,
    ) -> (String, u32, bool, Option<i32>) {
        (job.into(), attempt, running, code)
    }

    #[test]
    fn running_attempts_are_reported_every_heartbeat_and_ended_ones_once() {
        let mut ledger = Ledger::default();
        ledger.started(id("a", 1), 2);
        ledger.started(id("b", 1), 1);
        for _ in 0..3 {
            let report = ledger.report();
            assert_eq!(
                rows(&ledger),
                [row("a", 1, true, None), row("b", 1, true, None)]
            );
            ledger.delivered(&report);
        }
        assert_eq!(ledger.free_slots(4), 1);

        ledger.ended(id("a", 1), Some(3));
        let report = ledger.report();
        assert_eq!(
            rows(&ledger),
            [row("b", 1, true, None), row("a", 1, false, Some(3))]
        );
        assert_eq!(ledger.free_slots(4), 3, "an ended attempt holds no slots");
        ledger.delivered(&report);
        assert_eq!(rows(&ledger), [row("b", 1, true, None)], "reported once");

        ledger.ended(id("b", 1), None);
        ledger.delivered(&ledger.report());
        assert!(ledger.is_empty());
        assert_eq!(ledger.free_slots(4), 4);
    }

    #[test]
    fn an_end_is_reported_until_a_heartbeat_carrying_it_is_taken() {
        let mut ledger = Ledger::default();
        ledger.started(id("a", 1), 1);
        let before_the_end = ledger.report();
        ledger.ended(id("a", 1), Some(0));
        // A heartbeat sent before the end was seen says nothing about it.
        ledger.delivered(&before_the_end);
        assert_eq!(rows(&ledger), [row("a", 1, false, Some(0))]);
        // Heartbeats that fail are not delivered: the end stays.
        let _failed = ledger.report();
        assert_eq!(rows(&ledger), [row("a", 1, false, Some(0))]);
        ledger.delivered(&ledger.report());
        assert!(ledger.is_empty());
    }

    #[test]
    fn repeats_and_unknown_attempts_are_ignored() {
        let mut ledger = Ledger::default();
        ledger.started(id("a", 1), 1);
        assert!(!ledger.accepts(&id("a", 1)), "running");
        assert!(ledger.accepts(&id("a", 2)), "the next attempt");
        ledger.started(id("a", 1), 1);
        assert_eq!(ledger.free_slots(4), 3, "a repeat holds no more slots");

        ledger.ended(id("a", 1), None);
        ledger.ended(id("a", 1), Some(1));
        assert!(!ledger.accepts(&id("a", 1)), "ended, not yet delivered");
        assert!(!ledger.is_running(&id("a", 1)));
        assert_eq!(
            rows(&ledger),
            [row("a", 1, false, None)],
            "the first end counts"
        );

        // A deployment that never started is reported as ended.
        ledger.ended(id("c", 7), None);
        assert_eq!(rows(&ledger)[1], row("c", 7, false, None));
    }
}
