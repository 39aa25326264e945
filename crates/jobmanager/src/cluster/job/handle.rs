//! [`ClusterJob`] as a [`JobHandle`]: its status, cancel, and savepoints
//! through commands to its current attempt.

use super::{ClusterJob, Phase};
use crate::cluster::Command;
use crate::handle::JobHandle;
use crate::ids::random_id;
use runnel_runtime::JobError;
use runnel_runtime::status::{JobState, JobStatus};
use std::path::PathBuf;
use std::time::Instant;

impl JobHandle for ClusterJob {
    fn job_id(&self) -> &str {
        &self.id
    }

    fn status(&self) -> JobStatus {
        self.current(&self.lock())
    }

    fn cancel(&self) {
        let now = self.clock.now_millis();
        let mut inner = self.lock();
        if inner.phase == Phase::Ended {
            return;
        }
        if !inner.leader_deployed() {
            // Nothing reports yet: over at once (deployed peers are killed).
            self.end(&mut inner, JobState::Canceled, now);
        } else if !inner.cancel_requested {
            // Process 0 cancels the job everywhere, reports CANCELED and
            // exits; whatever still runs after the grace period is killed.
            inner.cancel_requested = true;
            inner.kill_processes(0, super::after(now, self.cancel_timeout));
            inner.commands.push(Command::Cancel);
        }
        drop(inner);
        self.changed.notify_all();
    }

    fn trigger_savepoint(&self, dir: Option<PathBuf>, stop: bool) -> Result<String, JobError> {
        let failed = |message: String| JobError::Savepoint {
            job: self.submission.name.clone(),
            message,
        };
        let request_id = random_id();
        let mut inner = self.lock();
        if !inner.leader_deployed() || inner.cancel_requested {
            let state = self.current(&inner).state;
            return Err(failed(format!(
                "the job is not running (state {})",
                crate::view::job_state_name(state)
            )));
        }
        inner.commands.push(Command::Savepoint {
            request_id: request_id.clone(),
            target_directory: dir.map(|d| d.to_string_lossy().into_owned()),
            stop,
        });
        inner.savepoints.insert(request_id.clone(), None);
        let deadline = Instant::now() + self.savepoint_timeout;
        loop {
            if let Some(Some(_)) = inner.savepoints.get(&request_id) {
                let result = inner.savepoints.remove(&request_id).flatten();
                return match result {
                    Some(Ok(location)) => Ok(location),
                    Some(Err(e)) => Err(failed(e)),
                    None => Err(failed("the request was lost".into())),
                };
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                inner.savepoints.remove(&request_id);
                return Err(failed(format!(
                    "no result within {} s",
                    self.savepoint_timeout.as_secs()
                )));
            }
            inner = self
                .changed
                .wait_timeout(inner, left)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }
}
