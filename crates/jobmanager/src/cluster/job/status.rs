//! A [`ClusterJob`]'s status as of now: the last report of its current
//! attempt, with the cluster job's own id, state changes and failures.

use super::{ClusterJob, Inner};
use runnel_runtime::status::{CheckpointHistory, CheckpointState, JobState, JobStatus};

impl ClusterJob {
    /// The job as of now (see [`JobHandle::status`](crate::JobHandle::status)).
    pub(super) fn current(&self, inner: &Inner) -> JobStatus {
        if let Some(status) = &inner.final_status {
            return status.clone();
        }
        let mut status = match (&inner.last_report, inner.reported) {
            (Some(report), true) => {
                let mut s = report.clone();
                if inner.cancel_requested && !s.state.is_terminal() {
                    s.state = JobState::Cancelling;
                }
                let own = inner.timestamps.iter().copied();
                let theirs = report.timestamps.iter().copied();
                s.timestamps = own
                    .chain(theirs.filter(|t| t.0 != JobState::Created))
                    .collect();
                let mut exceptions = inner.exceptions.clone();
                exceptions.extend(report.exceptions.iter().cloned());
                s.exceptions = exceptions;
                s
            }
            (report, _) => {
                let state = if inner.restarts == 0 {
                    JobState::Created
                } else {
                    JobState::Restarting
                };
                let base = report.as_ref();
                JobStatus {
                    job_id: String::new(),
                    name: String::new(),
                    state,
                    timestamps: inner.timestamps.clone(),
                    start_time: 0,
                    end_time: None,
                    restarts: 0,
                    vertices: base.map(|r| r.vertices.clone()).unwrap_or_default(),
                    edges: base.map(|r| r.edges.clone()).unwrap_or_default(),
                    exceptions: inner.exceptions.clone(),
                    checkpoints: base
                        .map_or_else(CheckpointHistory::default, |r| r.checkpoints.clone()),
                }
            }
        };
        status.job_id = self.id.clone();
        status.name = self.submission.name.clone();
        status.start_time = self.submitted_at;
        status.restarts = inner.restarts;
        status
    }
}

/// The location of the latest completed checkpoint (not savepoint) of `report`.
pub(super) fn latest_checkpoint(report: &JobStatus) -> Option<String> {
    report
        .checkpoints
        .history
        .iter()
        .filter(|c| !c.is_savepoint && c.state == CheckpointState::Completed)
        .max_by_key(|c| c.id)
        .and_then(|c| c.external_path.clone())
}
