//! The transport abstraction: how a task obtains the ends of its channels.

use crate::{NetworkError, TaskSignal};
use runnel_types::CheckpointBarrier;
use std::fmt;
use std::sync::Arc;

/// Identifies a channel: job edge, producer subtask, consumer subtask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelId {
    /// Index of the job edge in the JobGraph.
    pub job_edge: u32,
    /// Producer subtask index.
    pub producer: u32,
    /// Consumer subtask index.
    pub consumer: u32,
}

impl fmt::Display for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "edge {} [{} -> {}]",
            self.job_edge, self.producer, self.consumer
        )
    }
}

/// What travels on a channel, in order.
#[derive(Debug, PartialEq)]
pub enum ChannelMessage {
    /// A buffer of serialized stream elements.
    Buffer(Vec<u8>),
    /// A checkpoint barrier: everything before it on this channel belongs to the
    /// checkpoint.
    Barrier(CheckpointBarrier),
    /// The producer has sent everything; nothing follows on this channel.
    EndOfPartition,
}

/// The sending end of a channel, owned by the producer task.
pub trait OutputChannel: Send {
    /// An empty buffer with at least `capacity` bytes reserved, recycled from the
    /// consumer when possible so steady-state sending does not allocate.
    fn take_buffer(&mut self, capacity: usize) -> Vec<u8>;

    /// Whether [`OutputChannel::send`] would return without blocking.
    fn is_available(&self) -> bool;

    /// Sends a message. Blocks while the channel is full (backpressure); returns
    /// [`NetworkError::Cancelled`] if the producer task is cancelled meanwhile.
    fn send(&mut self, message: ChannelMessage) -> Result<(), NetworkError>;

    /// Puts `message` ahead of everything queued (an unaligned checkpoint's
    /// barrier overtaking the buffers in flight) without waiting for space,
    /// and returns copies of the buffers it overtook, oldest first.
    fn send_priority(&mut self, message: ChannelMessage) -> Result<Vec<Vec<u8>>, NetworkError>;
}

/// The receiving end of a channel, owned by the consumer task.
pub trait InputChannel: Send {
    /// The next message, or `None` if none is available now. The consumer's
    /// [`TaskSignal`] is woken when one arrives.
    fn try_recv(&mut self) -> Result<Option<ChannelMessage>, NetworkError>;

    /// Returns a consumed buffer to the producer for reuse.
    fn recycle(&mut self, buffer: Vec<u8>);
}

/// Creates channel ends for tasks. One transport serves a whole job in a process.
pub trait Transport: Send + Sync {
    /// Opens the sending end of `id` for the producer task woken by `producer`.
    fn open_output(
        &self,
        id: ChannelId,
        producer: Arc<TaskSignal>,
    ) -> Result<Box<dyn OutputChannel>, NetworkError>;

    /// Opens the receiving end of `id` for the consumer task woken by `consumer`.
    fn open_input(
        &self,
        id: ChannelId,
        consumer: Arc<TaskSignal>,
    ) -> Result<Box<dyn InputChannel>, NetworkError>;

    /// How full the channels with an end in this process are, for buffer
    /// usage metrics (read by a sampler, not by tasks).
    fn buffer_usage(&self) -> Vec<ChannelUsage> {
        Vec::new()
    }
}

/// The fill of one channel's ends in this process: buffers in use and the
/// channel's capacity, at the receiving end (queued for the consumer) and at
/// the sending end (sent and not yet consumed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelUsage {
    /// The channel.
    pub id: ChannelId,
    /// `(in use, capacity)` of the receiving end, if it is in this process.
    pub input: Option<(usize, usize)>,
    /// `(in use, capacity)` of the sending end, if it is in this process.
    pub output: Option<(usize, usize)>,
}
