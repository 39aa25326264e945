//! Data exchange between subtasks (I1).
//!
//! A *channel* connects one producer subtask to one consumer subtask on one job edge
//! and carries [`ChannelMessage`]s in order: buffers of serialized stream elements
//! (records and watermarks) and events (end of partition, checkpoint barriers). The
//! [`Transport`] trait hides where the other end lives: [`LocalTransport`] connects
//! subtasks in one process through bounded queues; a TCP transport (cluster mode)
//! implements the same trait. Channels are bounded in buffers, so a slow consumer
//! blocks its producer (backpressure) and memory stays bounded.
//!
//! Tasks block on [`TaskSignal`]: every event that can unblock a task (data arrived,
//! space freed, cancellation) wakes it through its signal.

mod error;
mod local;
mod signal;
mod tcp;
mod transport;

pub use error::NetworkError;
pub use local::LocalTransport;
pub use signal::TaskSignal;
pub use tcp::{ChannelLocation, PROTOCOL_VERSION, TcpTransport};
pub use transport::{
    ChannelId, ChannelMessage, ChannelUsage, InputChannel, OutputChannel, Transport,
};
