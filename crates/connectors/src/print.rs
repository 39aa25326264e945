//! `print()`: each record's `Debug` form on standard output (or error), prefixed
//! Flink's way: `N> ` with the 1-based subtask when the sink is parallel, an
//! optional `identifier> ` / `identifier:N> `, and nothing at parallelism 1.

use runnel_runtime::sink::{SinkContext, SinkFunction};
use runnel_runtime::{BoxError, RuntimeContext};
use std::fmt::Debug;
use std::io::Write;
use std::marker::PhantomData;

/// Prints records.
pub struct PrintSink<T> {
    identifier: String,
    to_stderr: bool,
    prefix: String,
    _records: PhantomData<fn(T)>,
}

impl<T> Clone for PrintSink<T> {
    fn clone(&self) -> Self {
        PrintSink {
            identifier: self.identifier.clone(),
            to_stderr: self.to_stderr,
            prefix: self.prefix.clone(),
            _records: PhantomData,
        }
    }
}

impl<T> PrintSink<T> {
    /// Prints to standard output (or error), with an optional identifier.
    pub fn new(identifier: &str, to_stderr: bool) -> Self {
        PrintSink {
            identifier: identifier.to_string(),
            to_stderr,
            prefix: String::new(),
            _records: PhantomData,
        }
    }

    /// The prefix Flink's `PrintSinkOutputWriter` uses for this subtask.
    pub fn prefix_for(identifier: &str, subtask_index: u32, parallelism: u32) -> String {
        let mut prefix = identifier.to_string();
        if parallelism > 1 {
            if !prefix.is_empty() {
                prefix.push(':');
            }
            prefix.push_str(&(subtask_index + 1).to_string());
        }
        if !prefix.is_empty() {
            prefix.push_str("> ");
        }
        prefix
    }
}

impl<T: Debug + Send + 'static> SinkFunction<T> for PrintSink<T> {
    fn open(&mut self, ctx: &RuntimeContext) -> Result<(), BoxError> {
        self.prefix = Self::prefix_for(&self.identifier, ctx.subtask_index(), ctx.parallelism());
        Ok(())
    }

    fn invoke(&mut self, value: T, _ctx: &SinkContext) -> Result<(), BoxError> {
        if self.to_stderr {
            writeln!(std::io::stderr().lock(), "{}{:?}", self.prefix, value)?;
        } else {
            writeln!(std::io::stdout().lock(), "{}{:?}", self.prefix, value)?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), BoxError> {
        if !self.to_stderr {
            std::io::stdout().flush()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_flink() {
        assert_eq!(PrintSink::<u8>::prefix_for("", 0, 1), "");
        assert_eq!(PrintSink::<u8>::prefix_for("", 0, 4), "1> ");
        assert_eq!(PrintSink::<u8>::prefix_for("", 3, 4), "4> ");
        assert_eq!(PrintSink::<u8>::prefix_for("res", 0, 1), "res> ");
        assert_eq!(PrintSink::<u8>::prefix_for("res", 1, 2), "res:2> ");
    }
}
