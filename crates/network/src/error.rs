//! Data exchange errors.

use crate::ChannelId;
use thiserror::Error;

/// A failure to move data between subtasks.
#[derive(Debug, Error)]
pub enum NetworkError {
    /// The task was cancelled while waiting on a channel. Not a failure of its own.
    #[error("cancelled while waiting on channel {0}")]
    Cancelled(ChannelId),
    /// The consuming subtask is gone; nothing can be delivered on this channel.
    #[error("the consumer of channel {0} has gone away")]
    ReceiverClosed(ChannelId),
    /// No such channel exists in this job (a deployment bug, ours).
    #[error("unknown channel {0}")]
    UnknownChannel(ChannelId),
    /// The channel was already opened by another task (a deployment bug, ours).
    #[error("channel {0} is already open")]
    AlreadyOpen(ChannelId),
    /// The connection to the process at the other end failed (TCP transport).
    #[error("channel {channel}: the connection to {peer} failed: {reason}")]
    Link {
        /// The channel.
        channel: ChannelId,
        /// The other process's address.
        peer: String,
        /// What happened.
        reason: String,
    },
}
