//! The Dispatcher's cluster operations: submission, blobs, heartbeats with
//! deployments, and what an attempt's processes post and ask.

use super::{AttemptState, ClusterJob, Command, Orders, Submission};
use crate::ids::random_id;
use crate::resource_manager::{Heartbeat, HeartbeatError, TaskManagerId};
use crate::{Dispatcher, JobManagerError};
use runnel_runtime::status::JobStatus;
use std::net::SocketAddr;
use std::sync::Arc;

impl Dispatcher {
    /// Submits a job `binary` (`POST /jobs`): stores it in the blob store,
    /// registers a [`ClusterJob`] (listed at once as `CREATED`) and schedules
    /// it. Returns the new job's id.
    pub fn submit(&self, submission: Submission, binary: &[u8]) -> Result<String, JobManagerError> {
        if binary.is_empty() {
            return Err(JobManagerError::bad_request(
                "the body (the job binary) is empty",
            ));
        }
        let blob = self
            .cluster
            .blobs
            .put(binary)
            .map_err(JobManagerError::BlobStore)?;
        let id = random_id();
        log::info!(
            "dispatcher: job {id} ({}) submitted, {} bytes, needs {} slots",
            submission.name,
            binary.len(),
            submission.slots
        );
        let job = Arc::new(ClusterJob::new(
            id.clone(),
            blob,
            submission,
            self.config(),
            self.clock(),
        ));
        self.register(job.clone())?;
        self.resources(|_, _| self.cluster.add(job));
        Ok(id)
    }

    /// The blob of `key` (`GET /blobs/{hash}`).
    pub fn blob(&self, key: &str) -> Result<Vec<u8>, JobManagerError> {
        self.cluster
            .blobs
            .get(key)
            .map_err(JobManagerError::BlobStore)?
            .ok_or_else(|| JobManagerError::BlobNotFound {
                key: key.to_string(),
            })
    }

    /// Takes a heartbeat of TaskManager `id` with the attempts it reports and
    /// answers what it must deploy and kill.
    pub fn cluster_heartbeat(
        &self,
        id: &str,
        heartbeat: Heartbeat,
        attempts: &[AttemptState],
    ) -> Result<Orders, HeartbeatError> {
        let result = self.resources(|rm, now| {
            rm.heartbeat(id, heartbeat, now)?;
            let tm = TaskManagerId::new(id)
                .map_err(|_| HeartbeatError::UnknownTaskManager { id: id.to_string() })?;
            let stray = self.cluster.attempts(&tm, attempts, now);
            self.cluster.settle(rm, now);
            Ok(self.cluster.orders(&tm, stray))
        });
        if let Err(e) = &result {
            log::debug!("resource manager: heartbeat refused: {e}");
        }
        result
    }

    /// Takes a status report of `attempt` of cluster job `job_id`; answers the
    /// commands queued for it.
    pub fn report_attempt(
        &self,
        job_id: &str,
        attempt: u32,
        status: JobStatus,
    ) -> Result<Vec<Command>, JobManagerError> {
        let job = self.cluster_job(job_id, attempt)?;
        let commands = job.report(attempt, status)?;
        self.resources(|_, _| ());
        Ok(commands)
    }

    /// Completes savepoint request `request_id` of `attempt` of `job_id`.
    pub fn complete_savepoint(
        &self,
        job_id: &str,
        attempt: u32,
        request_id: &str,
        result: Result<String, String>,
    ) -> Result<(), JobManagerError> {
        self.cluster_job(job_id, attempt)?
            .savepoint_result(attempt, request_id, result)
    }

    /// Process 0 of `attempt` of `job_id` listens for its peers on `control`.
    pub fn set_attempt_leader(
        &self,
        job_id: &str,
        attempt: u32,
        control: SocketAddr,
    ) -> Result<(), JobManagerError> {
        self.cluster_job(job_id, attempt)?
            .set_leader(attempt, control)
    }

    /// Where process 0 of `attempt` of `job_id` listens;
    /// [`LeaderUnknown`](JobManagerError::LeaderUnknown) until it said.
    pub fn attempt_leader(
        &self,
        job_id: &str,
        attempt: u32,
    ) -> Result<SocketAddr, JobManagerError> {
        self.cluster_job(job_id, attempt)?.leader(attempt)
    }

    /// The live cluster job `job_id`; an ended one is gone, an unknown one not found.
    fn cluster_job(&self, job_id: &str, attempt: u32) -> Result<Arc<ClusterJob>, JobManagerError> {
        if let Some(job) = self.cluster.get(job_id) {
            return Ok(job);
        }
        if self.job_ids().iter().any(|id| id == job_id) {
            Err(JobManagerError::AttemptGone {
                job_id: job_id.to_string(),
                attempt,
                reason: "the job has ended".to_string(),
            })
        } else {
            Err(JobManagerError::JobNotFound {
                job_id: job_id.to_string(),
            })
        }
    }
}
