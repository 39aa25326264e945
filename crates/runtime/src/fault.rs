//! Fault injection: a link that fails its task after a number of records
//! (`execution.fault-injection.*`), to test recovery without editing the job.

use crate::error::{OperatorInstance, TaskError};

/// Fails after `remaining` more records.
#[derive(Debug, Clone)]
pub(crate) struct InjectedFault {
    remaining: u64,
    after: u64,
    at: OperatorInstance,
    attempt: u32,
}

impl InjectedFault {
    /// A fault `after` records into the instance `at` in attempt `attempt`.
    pub(crate) fn new(after: u64, at: OperatorInstance, attempt: u32) -> Self {
        InjectedFault {
            remaining: after,
            after,
            at,
            attempt,
        }
    }

    /// `n` more records arrived; fails once the count is reached.
    #[inline]
    pub(crate) fn count(&mut self, n: u64) -> Result<(), TaskError> {
        if n < self.remaining {
            self.remaining -= n;
            return Ok(());
        }
        self.remaining = 0;
        Err(TaskError::InjectedFailure {
            at: self.at.clone(),
            records: self.after,
            attempt: self.attempt,
        })
    }
}
