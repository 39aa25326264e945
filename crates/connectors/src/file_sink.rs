//! `write_as_text`: each record's `Display` form as a line of a text file.
//!
//! At parallelism 1 the path is the file; above 1 it is a directory holding one
//! file per subtask, named `1`, `2`, … (as Flink's `writeAsText`). Without
//! [`WriteMode::Overwrite`] an existing path is an error. Output is buffered and
//! flushed at end of input. (The exactly-once, rolling file sink is separate.)

use crate::error::ConnectorError;
use runnel_runtime::sink::{SinkContext, SinkFunction};
use runnel_runtime::{BoxError, RuntimeContext};
use std::fmt::Display;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::marker::PhantomData;
use std::path::PathBuf;

/// Whether an existing output may be replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriteMode {
    /// Fail if the output exists.
    #[default]
    NoOverwrite,
    /// Replace the output.
    Overwrite,
}

/// Writes records as lines of text.
pub struct TextFileSink<T> {
    path: PathBuf,
    mode: WriteMode,
    file: Option<(PathBuf, BufWriter<File>)>,
    _records: PhantomData<fn(T)>,
}

impl<T> Clone for TextFileSink<T> {
    fn clone(&self) -> Self {
        TextFileSink {
            path: self.path.clone(),
            mode: self.mode,
            file: None,
            _records: PhantomData,
        }
    }
}

impl<T> TextFileSink<T> {
    /// Writes to `path` in `mode`.
    pub fn new(path: impl Into<PathBuf>, mode: WriteMode) -> Self {
        TextFileSink {
            path: path.into(),
            mode,
            file: None,
            _records: PhantomData,
        }
    }
}

impl<T: Display + Send + 'static> SinkFunction<T> for TextFileSink<T> {
    fn open(&mut self, ctx: &RuntimeContext) -> Result<(), BoxError> {
        let target = if ctx.parallelism() == 1 {
            self.path.clone()
        } else {
            self.path.join((ctx.subtask_index() + 1).to_string())
        };
        let write_err = |path: &PathBuf, source| ConnectorError::Write {
            path: path.clone(),
            source,
        };
        if ctx.parallelism() > 1 {
            if self.path.is_file() {
                if self.mode == WriteMode::NoOverwrite {
                    return Err(ConnectorError::OutputExists {
                        path: self.path.clone(),
                    }
                    .into());
                }
                // Another subtask may have replaced it with the directory already.
                let _ = std::fs::remove_file(&self.path);
            }
            std::fs::create_dir_all(&self.path).map_err(|e| write_err(&self.path, e))?;
        }
        if target.exists() {
            if self.mode == WriteMode::NoOverwrite {
                return Err(ConnectorError::OutputExists { path: target }.into());
            }
            if target.is_dir() {
                std::fs::remove_dir_all(&target).map_err(|e| write_err(&target, e))?;
            }
        }
        let file = File::create(&target).map_err(|e| write_err(&target, e))?;
        self.file = Some((target, BufWriter::new(file)));
        Ok(())
    }

    fn invoke(&mut self, value: T, _ctx: &SinkContext) -> Result<(), BoxError> {
        if let Some((path, w)) = self.file.as_mut() {
            writeln!(w, "{value}").map_err(|source| ConnectorError::Write {
                path: path.clone(),
                source,
            })?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), BoxError> {
        if let Some((path, w)) = self.file.as_mut() {
            w.flush().map_err(|source| ConnectorError::Write {
                path: path.clone(),
                source,
            })?;
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), BoxError> {
        if let Some((path, mut w)) = self.file.take() {
            w.flush()
                .map_err(|source| ConnectorError::Write { path, source })?;
        }
        Ok(())
    }
}
