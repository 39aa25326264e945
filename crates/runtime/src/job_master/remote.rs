//! The job master's side of a job spread over several processes: waiting
//! for the task executors, binding each attempt's data transport with them,
//! and taking their reports (see `crate::distributed`).

use super::{JobMaster, MasterEvent, channel_capacities};
use crate::checkpointing::TaskReport;
use crate::distributed::RENDEZVOUS_TIMEOUT;
use crate::distributed::leader::Followers;
use crate::distributed::wire::{ToExecutor, ToMaster};
use crate::error::{JobError, TaskError};
use crate::executor::JobExecutionResult;
use crate::restoring::RestoreSource;
use crate::snapshot_writer::{Destination, WriteDone};
use crate::status::SubtaskState;
use runnel_checkpoint::TaskId;
use runnel_network::{LocalTransport, Transport};
use runnel_types::CheckpointId;
use std::sync::Arc;
use std::time::Instant;

impl JobMaster {
    /// Cluster mode: waits for the task executors of the job.
    pub(super) fn connect_followers(&mut self) -> Result<(), JobError> {
        let Some(role) = self.leader.take() else {
            return Ok(());
        };
        let followers =
            Followers::accept(role, &self.job, self.outbox.clone()).map_err(|message| {
                JobError::Startup {
                    job: self.job_name.clone(),
                    message,
                }
            })?;
        self.followers = Some(followers);
        Ok(())
    }

    /// The transport of a new attempt: in memory, or (cluster mode) TCP
    /// between this process and the task executors, which then deploy their
    /// tasks of the attempt from `source`.
    pub(super) fn bind_transport(
        &mut self,
        source: RestoreSource,
    ) -> Result<Arc<dyn Transport>, JobError> {
        let Some(followers) = &self.followers else {
            return Ok(Arc::new(LocalTransport::new(channel_capacities(&self.job))));
        };
        let startup = |message: String| JobError::Startup {
            job: self.job_name.clone(),
            message,
        };
        let transport = followers
            .placement
            .bind_transport(&self.job, followers.host)
            .map_err(|e| startup(format!("cannot bind the data transport: {e}")))?;
        let attempt = self.attempt;
        followers.broadcast(&ToExecutor::Prepare { attempt });
        let mut data = vec![None; followers.placement.slots.len()];
        data[0] = Some(transport.local_addr());
        let deadline = Instant::now() + RENDEZVOUS_TIMEOUT;
        while data.iter().any(Option::is_none) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.inbox.recv_timeout(left) {
                Ok(MasterEvent::Executor {
                    process,
                    message:
                        ToMaster::Bound {
                            attempt: a,
                            data: addr,
                        },
                }) if a == attempt => {
                    if let Some(slot) = data.get_mut(process as usize) {
                        *slot = Some(addr);
                    }
                }
                Ok(MasterEvent::ExecutorLost { process, reason }) => {
                    return Err(startup(format!(
                        "process {process} of the job is gone: {reason}"
                    )));
                }
                Ok(MasterEvent::Executor {
                    process,
                    message:
                        ToMaster::Exited {
                            attempt: a,
                            failure: Some(f),
                            ..
                        },
                }) if a == attempt && !f.consequence_of_cancellation => {
                    return Err(startup(format!("process {process}: {}", f.message)));
                }
                Ok(other) => self.deferred.push_back(other),
                Err(_) => {
                    let missing: Vec<usize> =
                        (0..data.len()).filter(|p| data[*p].is_none()).collect();
                    return Err(startup(format!(
                        "the job's processes {missing:?} did not bind their data transport within {RENDEZVOUS_TIMEOUT:?}"
                    )));
                }
            }
        }
        let data: Vec<_> = data.into_iter().flatten().collect();
        followers
            .placement
            .route(&self.job, &transport, &data)
            .map_err(startup)?;
        followers.broadcast(&ToExecutor::Deploy {
            attempt,
            restore: source,
            data,
        });
        Ok(Arc::new(transport))
    }

    /// Tells the task executors that checkpoint `id` goes away, so that they
    /// release the files they wrote for it.
    pub(super) fn discard_remote(&self, id: CheckpointId, destination: &Destination) {
        if let Some(f) = &self.followers {
            f.broadcast(&ToExecutor::Discard {
                id,
                destination: destination.to_ref(),
            });
        }
    }

    /// A message of the task executor `process`.
    #[allow(clippy::type_complexity)]
    pub(super) fn on_executor_message(
        &mut self,
        process: u32,
        message: ToMaster,
    ) -> Result<Option<Result<JobExecutionResult, JobError>>, JobError> {
        match message {
            ToMaster::Hello { .. } | ToMaster::Bound { .. } => Ok(None),
            ToMaster::Declined {
                task,
                attempt,
                id,
                reason,
            } => {
                let reason = match reason {
                    None => runnel_checkpoint::DeclineReason::Subsumed,
                    Some(m) => runnel_checkpoint::DeclineReason::Failed(m),
                };
                self.task_report(task.into(), attempt, TaskReport::Decline { id, reason })
            }
            ToMaster::Finished { task, attempt } => {
                self.task_report(task.into(), attempt, TaskReport::Finished)
            }
            ToMaster::Written {
                task,
                attempt,
                id,
                in_flight_bytes,
                result,
            } => {
                if attempt == self.attempt && self.checkpoints.coordinator.is_pending(id) {
                    *self.checkpoints.in_flight.entry(id).or_default() += in_flight_bytes;
                }
                self.handle(MasterEvent::Written(WriteDone::TaskState {
                    id,
                    task: task.into(),
                    attempt,
                    result,
                }))
            }
            ToMaster::Exited {
                task,
                attempt,
                failure,
            } => self.handle(MasterEvent::Exited {
                task: task.into(),
                attempt,
                result: failure.map_or(Ok(()), |f| Err(f.into_error(process))),
            }),
            ToMaster::Counters {
                attempt,
                operators,
                tasks,
            } => {
                if attempt != self.attempt {
                    return Ok(None);
                }
                let counters = self
                    .counters
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone();
                for o in operators {
                    if let Some(c) = counters.get(&(o.node, o.subtask)) {
                        c.records_in.mirror(o.records_in);
                        c.records_out.mirror(o.records_out);
                        c.late_records_dropped.mirror(o.late_records_dropped);
                        if let Some(w) = o.output_watermark {
                            c.output_watermark.set(w);
                        }
                    }
                }
                for t in tasks {
                    let id = TaskId::from(t.task);
                    if let Some(d) = self.tasks.iter().find(|d| d.id == id && d.remote.is_some()) {
                        d.signal
                            .mirror_blocked_nanos(t.idle_nanos, t.backpressured_nanos);
                        self.status.mirror_buffers(id.vertex, id.subtask, t.buffers);
                    }
                }
                Ok(None)
            }
        }
    }

    /// The connection to task executor `process` broke: its tasks are gone
    /// and the job fails (the cluster redeploys it elsewhere).
    #[allow(clippy::type_complexity)]
    pub(super) fn executor_lost(
        &mut self,
        process: u32,
        reason: String,
    ) -> Result<Option<Result<JobExecutionResult, JobError>>, JobError> {
        if self.followers.is_none() {
            return Ok(None);
        }
        let slots = self
            .followers
            .as_ref()
            .map(|f| f.placement.slots[process as usize].clone())
            .unwrap_or_default();
        for t in self.tasks.iter_mut().filter(|t| t.remote == Some(process)) {
            if !t.exited {
                t.exited = true;
                self.status
                    .subtask_ended(t.id.vertex, t.id.subtask, SubtaskState::Failed);
            }
        }
        self.fail(TaskError::Remote {
            process,
            message: format!("the process running the job's slots {slots:?} is gone: {reason}"),
            retryable: false,
            consequence_of_cancellation: false,
        });
        self.check_ending()
    }
}
