//! The control connection between the leader and a task executor: frames of
//! `len: u32` (big-endian) followed by one JSON message. Control messages
//! are few (deployments, checkpoint triggers and reports, counters twice a
//! second), so a readable encoding costs nothing that matters.

use crate::checkpointing::TaskControl;
use crate::error::TaskError;
use crate::restoring::{DestinationRef, RestoreSource};
use crate::status::BufferUsage;
use runnel_checkpoint::TaskId;
use runnel_types::{CheckpointId, JobVertexId, NodeId};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::io::{self, Read, Write};
use std::net::SocketAddr;

/// The version of this protocol; both ends must speak the same.
pub(crate) const CONTROL_VERSION: u32 = 1;

/// The largest frame either end accepts.
const MAX_FRAME: usize = 64 << 20;

/// A task on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WireTask {
    pub(crate) vertex: JobVertexId,
    pub(crate) subtask: u32,
}

impl From<TaskId> for WireTask {
    fn from(t: TaskId) -> Self {
        WireTask {
            vertex: t.vertex,
            subtask: t.subtask,
        }
    }
}

impl From<WireTask> for TaskId {
    fn from(t: WireTask) -> Self {
        TaskId {
            vertex: t.vertex,
            subtask: t.subtask,
        }
    }
}

/// From the leader to a task executor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum ToExecutor {
    /// The answer to `Hello`: where every process's slots are.
    Welcome { slots: Vec<Vec<u32>> },
    /// Bind a data transport for `attempt` and answer `Bound`.
    Prepare { attempt: u32 },
    /// Start this process's subtasks of `attempt` from `restore`; `data` are
    /// the processes' data addresses, by process index.
    Deploy {
        attempt: u32,
        restore: RestoreSource,
        data: Vec<SocketAddr>,
    },
    /// Checkpoint `id` is written to `destination`.
    Checkpoint {
        id: CheckpointId,
        destination: DestinationRef,
    },
    /// Checkpoint `id` (at `destination`) is deleted: release its files.
    Discard {
        id: CheckpointId,
        destination: DestinationRef,
    },
    /// A control message for one task.
    Post {
        attempt: u32,
        task: WireTask,
        control: TaskControl,
    },
    /// Cancel every task of `attempt`.
    Cancel { attempt: u32 },
    /// The job is over: stop.
    Shutdown,
}

/// Why a remote task failed, as far as the leader needs to know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RemoteFailure {
    pub(crate) message: String,
    pub(crate) retryable: bool,
    pub(crate) consequence_of_cancellation: bool,
}

impl RemoteFailure {
    pub(crate) fn of(e: &TaskError) -> Self {
        RemoteFailure {
            message: e.to_string(),
            retryable: e.is_retryable(),
            consequence_of_cancellation: crate::task::is_consequence_of_cancellation(e),
        }
    }

    pub(crate) fn into_error(self, process: u32) -> TaskError {
        TaskError::Remote {
            process,
            message: self.message,
            retryable: self.retryable,
            consequence_of_cancellation: self.consequence_of_cancellation,
        }
    }
}

/// The counters of one operator instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct OperatorCount {
    pub(crate) node: NodeId,
    pub(crate) subtask: u32,
    pub(crate) records_in: u64,
    pub(crate) records_out: u64,
    pub(crate) late_records_dropped: u64,
    pub(crate) output_watermark: Option<i64>,
}

/// The busy accounting and buffer usage of one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct TaskTimes {
    pub(crate) task: WireTask,
    pub(crate) idle_nanos: u64,
    pub(crate) backpressured_nanos: u64,
    pub(crate) buffers: BufferUsage,
}

/// From a task executor to the leader.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum ToMaster {
    /// The first message: who this is and what it built.
    Hello {
        version: u32,
        process: u32,
        slots: Vec<u32>,
        plan: u64,
    },
    /// The data transport of `attempt` listens at `data`.
    Bound { attempt: u32, data: SocketAddr },
    /// A task declined checkpoint `id` (`reason: None`: subsumed).
    Declined {
        task: WireTask,
        attempt: u32,
        id: CheckpointId,
        reason: Option<String>,
    },
    /// A task finished its input (checkpoints go on without it).
    Finished { task: WireTask, attempt: u32 },
    /// A task's state of checkpoint `id` is written (its file and bytes).
    Written {
        task: WireTask,
        attempt: u32,
        id: CheckpointId,
        in_flight_bytes: u64,
        result: Result<(String, u64), String>,
    },
    /// A task ended (`failure: None`: it finished).
    Exited {
        task: WireTask,
        attempt: u32,
        failure: Option<RemoteFailure>,
    },
    /// The counters of the process's tasks.
    Counters {
        attempt: u32,
        operators: Vec<OperatorCount>,
        tasks: Vec<TaskTimes>,
    },
}

/// Writes one message as a frame.
pub(crate) fn write_frame<T: Serialize>(out: &mut impl Write, message: &T) -> io::Result<()> {
    let bytes = serde_json::to_vec(message).map_err(io::Error::other)?;
    let len = u32::try_from(bytes.len())
        .ok()
        .filter(|n| (*n as usize) <= MAX_FRAME)
        .ok_or_else(|| io::Error::other(format!("a control message of {} bytes", bytes.len())))?;
    out.write_all(&len.to_be_bytes())?;
    out.write_all(&bytes)?;
    out.flush()
}

/// Reads one frame; `Ok(None)` at a clean end of the stream.
pub(crate) fn read_frame<T: DeserializeOwned>(input: &mut impl Read) -> io::Result<Option<T>> {
    let mut len = [0u8; 4];
    match input.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a control frame of {len} bytes (at most {MAX_FRAME})"),
        ));
    }
    let mut bytes = vec![0u8; len];
    input.read_exact(&mut bytes)?;
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a malformed control message: {e}"),
        )
    })
}
