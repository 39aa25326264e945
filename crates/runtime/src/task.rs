//! The task: one thread running one subtask of a chain.
//!
//! The loop is single-threaded and handles one thing at a time: control (the
//! cancellation flag and the mailbox: checkpoint triggers and notifications),
//! processing-time callbacks, the periodic flush of partly filled network
//! buffers (buffer timeout), and one unit of input (a network buffer or a source
//! poll). It blocks only on its [`TaskSignal`], which every producer of work
//! wakes. A task whose outputs are backpressured does not read more input until
//! they drain.
//!
//! In a job with checkpoints, a task that processed all its input does not close
//! at once: it reports that it finished and keeps answering its mailbox (its
//! final snapshot, notifications that let sinks commit) until the job master
//! says the job is over.

use crate::checkpointing::{SnapshotRequest, TaskCheckpointer, TaskControl, TaskMailbox};
use crate::error::TaskError;
use crate::processor::{InputStatus, StreamInputProcessor};
use crate::time::ProcessingTimeService;
use runnel_network::{NetworkError, TaskSignal};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A deployed subtask.
pub struct StreamTask {
    signal: Arc<TaskSignal>,
    processor: Box<dyn StreamInputProcessor>,
    flush_interval: Option<Duration>,
    time: ProcessingTimeService,
    mailbox: Arc<TaskMailbox>,
    checkpointer: TaskCheckpointer,
}

impl StreamTask {
    /// A task driving `processor`; `flush_interval` is the buffer timeout when it is
    /// positive (zero and "disabled" need no periodic flush).
    pub fn new(
        signal: Arc<TaskSignal>,
        processor: Box<dyn StreamInputProcessor>,
        flush_interval: Option<Duration>,
        time: ProcessingTimeService,
        mailbox: Arc<TaskMailbox>,
        checkpointer: TaskCheckpointer,
    ) -> Self {
        StreamTask {
            signal,
            processor,
            flush_interval: flush_interval.filter(|d| !d.is_zero()),
            time,
            mailbox,
            checkpointer,
        }
    }

    /// Handles the control messages in the mailbox. `finished`: the task's
    /// input has ended (barriers are not forwarded any more). Returns whether the
    /// task must stop: a finished task told to terminate, or a running task told
    /// to stop.
    fn handle_mail(&mut self, finished: bool) -> Result<bool, TaskError> {
        for message in self.mailbox.take_all() {
            match message {
                TaskControl::Trigger(barrier) => {
                    self.processor.trigger_checkpoint(SnapshotRequest {
                        barrier,
                        forward_barrier: !finished,
                    })?;
                }
                TaskControl::Complete(id) => self.processor.notify_checkpoint(id, true)?,
                TaskControl::Abort(id) => self.processor.notify_checkpoint(id, false)?,
                TaskControl::Terminate if finished => return Ok(true),
                TaskControl::Stop => return Ok(true),
                TaskControl::Terminate => {}
            }
        }
        Ok(false)
    }

    /// When to wake up at the latest: the next buffer flush or the next
    /// processing-time callback, whichever comes first.
    fn wake_deadline(&self, next_flush: Option<Instant>) -> Option<Instant> {
        let next_callback = self.time.next_callback();
        let callback = (next_callback != i64::MAX).then(|| {
            let wait = next_callback.saturating_sub(self.time.now()).max(0) as u64;
            Instant::now() + Duration::from_millis(wait)
        });
        match (next_flush, callback) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs the task to completion: open, process until the input ends, finish, and
    /// close (always). Returns the first error.
    pub fn run(&mut self) -> Result<(), TaskError> {
        let result = self.run_until_end();
        let closed = self.processor.close();
        let result = result.and(closed);
        match result {
            Err(e) if self.signal.is_cancelled() && is_consequence_of_cancellation(&e) => {
                Err(TaskError::Cancelled)
            }
            other => other,
        }
    }

    fn run_until_end(&mut self) -> Result<(), TaskError> {
        self.processor.open()?;
        let mut next_flush = self.flush_interval.map(|d| Instant::now() + d);
        loop {
            if self.signal.is_cancelled() {
                return Err(TaskError::Cancelled);
            }
            if self.mailbox.has_mail() && self.handle_mail(false)? {
                // Stopped (stop-with-savepoint): close without ending the input.
                return Ok(());
            }
            let now = self.time.now();
            if self.time.take_due(now) {
                self.processor.on_processing_time(now)?;
            }
            if let (Some(at), Some(interval)) = (next_flush, self.flush_interval) {
                let now = Instant::now();
                if now >= at {
                    self.processor.flush_buffers()?;
                    next_flush = Some(now + interval);
                }
            }
            if !self.processor.is_output_available() {
                self.signal
                    .park_backpressured_until(self.wake_deadline(next_flush));
                continue;
            }
            match self.processor.process_input()? {
                InputStatus::MoreAvailable => {}
                InputStatus::NothingAvailable => {
                    self.signal.park_until(self.wake_deadline(next_flush))
                }
                InputStatus::PollAfter(delay) => {
                    let at = Instant::now() + delay;
                    let deadline = self.wake_deadline(next_flush).map_or(at, |d| d.min(at));
                    self.signal.park_until(Some(deadline));
                }
                InputStatus::EndOfInput => break,
            }
        }
        self.processor.end_input()?;
        if !self.checkpointer.is_enabled() {
            return Ok(());
        }
        // Wait for the job's final checkpoint (sinks commit on its notification).
        self.checkpointer.finished()?;
        loop {
            if self.signal.is_cancelled() {
                return Err(TaskError::Cancelled);
            }
            if self.mailbox.has_mail() && self.handle_mail(true)? {
                return Ok(());
            }
            self.signal.park_until(None);
        }
    }
}

/// Errors that only say the task was interrupted by cancellation.
pub(crate) fn is_consequence_of_cancellation(e: &TaskError) -> bool {
    matches!(
        e,
        TaskError::Cancelled
            | TaskError::Network {
                source: NetworkError::Cancelled(_) | NetworkError::ReceiverClosed(_),
                ..
            }
            | TaskError::Remote {
                consequence_of_cancellation: true,
                ..
            }
    )
}
