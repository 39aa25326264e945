//! One job spread over several processes (cluster mode, A1/A7).
//!
//! Every process runs the same job binary and builds the same graph; each
//! runs the subtasks of its slots (subtask `i` of every vertex lives in job
//! slot `i`, as with Flink's slot sharing). Process 0, the *leader*, runs the
//! job master (checkpoint coordination, restarts) for all of them; the others
//! are *task executors* driven by it over one control connection each
//! (length-framed JSON, see [`wire`]). Records go through a [`TcpTransport`]
//! per process and attempt: channels with both ends in a process stay in
//! memory, the others share one connection per pair of processes.
//!
//! Each task executor writes its tasks' checkpoint state itself, to the
//! checkpoint storage every process reaches, and reports the files; the
//! leader writes the checkpoint's metadata. Counters and busy times are
//! mirrored to the leader twice a second and before a task's exit report, so
//! the leader's status and results cover every subtask.
//!
//! A task failing anywhere restarts the attempt everywhere (by the job's
//! restart strategy) with a fresh transport; a task executor that goes away
//! fails the job in its leader, whose cluster then redeploys it elsewhere.

pub(crate) mod leader;
mod task_executor;
pub(crate) mod wire;

pub use task_executor::run_task_executor;

use crate::environment::ExecutableJob;
use runnel_network::{ChannelId, ChannelLocation, TcpTransport};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::time::Duration;

/// How long the leader waits for its task executors to connect, and a task
/// executor for the leader's answers during a deployment.
pub const RENDEZVOUS_TIMEOUT: Duration = Duration::from_secs(60);

/// Process 0 of a job spread over `processes` processes: it runs the job
/// master and the subtasks of `slots`, and takes the task executors'
/// connections on `control`.
#[derive(Debug)]
pub struct LeaderRole {
    /// Where the task executors connect (already announced to them).
    pub control: TcpListener,
    /// The host data connections listen on.
    pub host: IpAddr,
    /// How many processes the job runs in (this one included).
    pub processes: u32,
    /// The job slots whose subtasks run here.
    pub slots: Vec<u32>,
}

/// Process `process` (> 0) of a job spread over several processes.
#[derive(Debug, Clone)]
pub struct TaskExecutorRole {
    /// The leader's control address.
    pub leader: SocketAddr,
    /// The host data connections listen on.
    pub host: IpAddr,
    /// This process's index.
    pub process: u32,
    /// The job slots whose subtasks run here.
    pub slots: Vec<u32>,
}

/// Which process runs which job slots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Placement {
    /// This process.
    pub(crate) process: u32,
    /// The slots of each process, by process index.
    pub(crate) slots: Vec<Vec<u32>>,
}

impl Placement {
    /// Checks that the slots of all processes are exactly `0..n` for the
    /// job's highest parallelism `n`, each in one process.
    pub(crate) fn validate(&self, job: &ExecutableJob) -> Result<(), String> {
        let needed = job
            .plan
            .job_graph
            .vertices
            .iter()
            .map(|v| v.parallelism)
            .max()
            .unwrap_or(1);
        let mut seen = BTreeSet::new();
        for (p, slots) in self.slots.iter().enumerate() {
            for s in slots {
                if !seen.insert(*s) {
                    return Err(format!("slot {s} is assigned twice (again to process {p})"));
                }
            }
        }
        let expected: BTreeSet<u32> = (0..needed).collect();
        if seen != expected {
            return Err(format!(
                "the processes' slots {seen:?} are not the job's slots 0..{needed}"
            ));
        }
        Ok(())
    }

    /// The process running subtask `subtask` of any vertex.
    pub(crate) fn process_of(&self, subtask: u32) -> u32 {
        self.slots
            .iter()
            .position(|s| s.contains(&subtask))
            .map_or(0, |p| p as u32)
    }

    /// Whether subtask `subtask` (of any vertex) runs in this process.
    pub(crate) fn is_local(&self, subtask: u32) -> bool {
        self.process_of(subtask) == self.process
    }

    /// Every channel with an end in this process: the process of its other end.
    fn channels(&self, job: &ExecutableJob) -> Vec<(ChannelId, u32)> {
        let plan = &job.plan;
        let mut out = Vec::new();
        for edge in &plan.execution_graph.edges {
            for c in &edge.channels {
                let (producer, consumer) =
                    (self.process_of(c.producer), self.process_of(c.consumer));
                let other = if producer == self.process {
                    consumer
                } else if consumer == self.process {
                    producer
                } else {
                    continue;
                };
                let id = ChannelId {
                    job_edge: edge.job_edge as u32,
                    producer: c.producer,
                    consumer: c.consumer,
                };
                out.push((id, other));
            }
        }
        out
    }

    /// A transport for one attempt, listening on `host`: channels within this
    /// process are in memory; the remote ones get their peers' addresses with
    /// [`Placement::route`].
    pub(crate) fn bind_transport(
        &self,
        job: &ExecutableJob,
        host: IpAddr,
    ) -> std::io::Result<TcpTransport> {
        let buffers = crate::job_master::channel_capacities(job)
            .into_iter()
            .map(|(_, n)| n)
            .max()
            .unwrap_or(1);
        let local = self
            .channels(job)
            .into_iter()
            .filter(|(_, p)| *p == self.process)
            .map(|(id, _)| (id, ChannelLocation::Local));
        TcpTransport::bind(SocketAddr::new(host, 0), buffers, local)
    }

    /// Routes the remote channels of `transport` to the processes' data
    /// addresses `data` (by process index).
    pub(crate) fn route(
        &self,
        job: &ExecutableJob,
        transport: &TcpTransport,
        data: &[SocketAddr],
    ) -> Result<(), String> {
        for (id, process) in self.channels(job) {
            if process == self.process {
                continue;
            }
            let peer = data
                .get(process as usize)
                .ok_or_else(|| format!("no data address for process {process}"))?;
            transport.add_remote_channel(id, *peer);
        }
        Ok(())
    }
}

/// A fingerprint of the job's plan: every process must have built the same.
pub(crate) fn plan_fingerprint(job: &ExecutableJob) -> u64 {
    let text = format!(
        "{:?}|{:?}|{:?}",
        job.plan.stream_graph, job.plan.job_graph, job.plan.execution_graph
    );
    runnel_types::content_hash::fnv1a_64(text.as_bytes())
}

#[cfg(test)]
mod tests;
