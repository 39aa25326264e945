//! What a task loop drives: the input side of a chain.

use crate::checkpointing::SnapshotRequest;
use crate::error::TaskError;
use runnel_types::CheckpointId;
use std::time::Duration;

/// What an input (or a source reader) has to say after one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputStatus {
    /// More input can be processed right away.
    MoreAvailable,
    /// Nothing now; the task is woken when input arrives.
    NothingAvailable,
    /// Nothing now; try again after this long (for polling sources).
    PollAfter(Duration),
    /// The input has ended for good.
    EndOfInput,
}

/// The input side of a task: a source reader, or the input gates of the chain's
/// head, feeding the chain.
pub trait StreamInputProcessor {
    /// Opens the chain (tail first).
    fn open(&mut self) -> Result<(), TaskError>;
    /// Processes one unit of input (a network buffer, a poll of a source).
    fn process_input(&mut self) -> Result<InputStatus, TaskError>;
    /// All input ended: finish the chain and end its outputs.
    fn end_input(&mut self) -> Result<(), TaskError>;
    /// Closes the chain (head first), on success and on failure.
    fn close(&mut self) -> Result<(), TaskError>;
    /// Sends partly filled network buffers.
    fn flush_buffers(&mut self) -> Result<(), TaskError>;
    /// Whether the chain's network outputs can take data without blocking.
    fn is_output_available(&self) -> bool;
    /// Processing time reached `now`: fire due processing-time timers in the chain.
    fn on_processing_time(&mut self, now: i64) -> Result<(), TaskError>;
    /// The job master asks for a checkpoint. A source task injects the barrier
    /// (and snapshots); a finished task snapshots its final state. Other tasks
    /// get barriers from their inputs and are not asked.
    fn trigger_checkpoint(&mut self, request: SnapshotRequest) -> Result<(), TaskError>;
    /// A checkpoint completed (`complete`) or was aborted: tell the chain.
    fn notify_checkpoint(&mut self, id: CheckpointId, complete: bool) -> Result<(), TaskError>;
}
