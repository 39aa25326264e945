//! Text files as a source of lines (`read_text_file`, `read_file`).
//!
//! The input path is a file or a directory (read recursively, hidden files
//! skipped, in path order). In bounded mode the files are cut into byte-range
//! splits spread over the subtasks, so one large file is read in parallel: a split
//! owns every line that *starts* inside it. In continuous mode every subtask lists
//! the directory at the monitoring interval and reads the new files that hash to it;
//! the source never ends. Files should appear atomically (write elsewhere, then
//! move), as with Flink's file source.
//!
//! Checkpoints record every split not finished yet with the byte offset and line
//! number its next line starts at, and (continuous mode) the files already
//! taken, so a restored reader continues at the next line.

use crate::RECORDS_PER_POLL;
use crate::error::ConnectorError;
use runnel_runtime::source::{
    Boundedness, Source, SourceOutput, SourceReader, SourceReaderContext, SplitState,
};
use runnel_runtime::{BoxError, InputStatus};
use serde::{Deserialize, Serialize};
use std::collections::{HashSet, VecDeque};
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Whether a file source reads what is there and ends, or keeps watching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileProcessingMode {
    /// Read the current contents once and end.
    ProcessOnce,
    /// Keep listing the path for new files every `interval`; never end.
    ProcessContinuously(Duration),
}

/// Smallest byte range worth giving a subtask of its own.
const MIN_SPLIT_BYTES: u64 = 1 << 20;

/// Lines of the text files under a path.
#[derive(Debug, Clone)]
pub struct TextFileSource {
    path: PathBuf,
    mode: FileProcessingMode,
}

impl TextFileSource {
    /// Reads `path` once.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        TextFileSource {
            path: path.into(),
            mode: FileProcessingMode::ProcessOnce,
        }
    }

    /// Reads `path` in `mode`.
    pub fn with_mode(path: impl Into<PathBuf>, mode: FileProcessingMode) -> Self {
        TextFileSource {
            path: path.into(),
            mode,
        }
    }
}

/// One byte range of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct FileSplit {
    path: PathBuf,
    start: u64,
    end: u64,
    /// Where reading resumes after a restore: the offset `start` begins a line
    /// (numbered `line`, when known), so nothing is skipped.
    resume_line: Option<Option<u64>>,
}

/// A split as a checkpoint stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum FileSplitState {
    /// Bytes still to read.
    Range(FileSplit),
    /// A file continuous mode has already taken.
    Seen(PathBuf),
}

fn list_files(root: &Path) -> Result<Vec<(PathBuf, u64)>, ConnectorError> {
    let meta = std::fs::metadata(root).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            ConnectorError::MissingInput {
                path: root.to_path_buf(),
            }
        } else {
            ConnectorError::Read {
                path: root.to_path_buf(),
                source,
            }
        }
    })?;
    if meta.is_file() {
        return Ok(vec![(root.to_path_buf(), meta.len())]);
    }
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|source| ConnectorError::Read {
            path: dir.clone(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| ConnectorError::Read {
                path: dir.clone(),
                source,
            })?;
            let name = entry.file_name();
            if name.to_string_lossy().starts_with(['.', '_']) {
                continue;
            }
            let path = entry.path();
            let meta = std::fs::metadata(&path).map_err(|source| ConnectorError::Read {
                path: path.clone(),
                source,
            })?;
            if meta.is_dir() {
                dirs.push(path);
            } else if meta.is_file() {
                out.push((path, meta.len()));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Cuts files into splits of roughly `total / parallelism` bytes (at least 1 MiB)
/// and deals them to subtasks round robin.
fn splits_for(files: &[(PathBuf, u64)], index: u32, parallelism: u32) -> Vec<FileSplit> {
    let total: u64 = files.iter().map(|(_, len)| *len).sum();
    let target = (total / parallelism.max(1) as u64).max(MIN_SPLIT_BYTES);
    let mut all = Vec::new();
    for (path, len) in files {
        if *len == 0 {
            all.push(FileSplit {
                path: path.clone(),
                start: 0,
                end: 0,
                resume_line: None,
            });
            continue;
        }
        let mut start = 0;
        while start < *len {
            let end = (start + target).min(*len);
            all.push(FileSplit {
                path: path.clone(),
                start,
                end,
                resume_line: None,
            });
            start = end;
        }
    }
    all.into_iter()
        .enumerate()
        .filter(|(i, _)| *i as u32 % parallelism.max(1) == index)
        .map(|(_, s)| s)
        .collect()
}

fn path_owner(path: &Path, parallelism: u32) -> u32 {
    (runnel_types::key_hash(&path.to_string_lossy()) as u32) % parallelism.max(1)
}

impl Source<String> for TextFileSource {
    type Reader = TextFileReader;

    fn boundedness(&self) -> Boundedness {
        match self.mode {
            FileProcessingMode::ProcessOnce => Boundedness::Bounded,
            FileProcessingMode::ProcessContinuously(_) => Boundedness::ContinuousUnbounded,
        }
    }

    fn create_reader(&self, ctx: &SourceReaderContext) -> Result<Self::Reader, BoxError> {
        let rt = ctx.runtime();
        let (index, parallelism) = (rt.subtask_index(), rt.parallelism());
        let pending = match self.mode {
            FileProcessingMode::ProcessOnce => {
                splits_for(&list_files(&self.path)?, index, parallelism).into()
            }
            FileProcessingMode::ProcessContinuously(_) => VecDeque::new(),
        };
        Ok(TextFileReader {
            root: self.path.clone(),
            mode: self.mode,
            index,
            parallelism,
            pending,
            current: None,
            seen: HashSet::new(),
            line: String::new(),
            raw: Vec::new(),
        })
    }

    fn restore_reader(
        &self,
        ctx: &SourceReaderContext,
        splits: Vec<SplitState>,
    ) -> Result<Self::Reader, BoxError> {
        let rt = ctx.runtime();
        let mut pending = Vec::new();
        let mut seen = HashSet::new();
        for split in &splits {
            match split.decode::<FileSplitState>()? {
                FileSplitState::Range(r) => pending.push(r),
                FileSplitState::Seen(path) => {
                    seen.insert(path);
                }
            }
        }
        pending.sort_by(|a, b| (&a.path, a.start).cmp(&(&b.path, b.start)));
        Ok(TextFileReader {
            root: self.path.clone(),
            mode: self.mode,
            index: rt.subtask_index(),
            parallelism: rt.parallelism(),
            pending: pending.into(),
            current: None,
            seen,
            line: String::new(),
            raw: Vec::new(),
        })
    }
}

struct OpenSplit {
    split: FileSplit,
    reader: BufReader<File>,
    /// Byte offset of the next line's start.
    offset: u64,
    /// 1-based number of the next line, when the split starts at the file start.
    line_number: Option<u64>,
}

/// Reads one subtask's splits of a [`TextFileSource`].
pub struct TextFileReader {
    root: PathBuf,
    mode: FileProcessingMode,
    index: u32,
    parallelism: u32,
    pending: VecDeque<FileSplit>,
    current: Option<OpenSplit>,
    seen: HashSet<PathBuf>,
    line: String,
    raw: Vec<u8>,
}

impl TextFileReader {
    fn open(split: FileSplit) -> Result<OpenSplit, ConnectorError> {
        let read_err = |source| ConnectorError::Read {
            path: split.path.clone(),
            source,
        };
        let file = File::open(&split.path).map_err(read_err)?;
        let mut reader = BufReader::with_capacity(64 * 1024, file);
        let mut offset = split.start;
        if let Some(line_number) = split.resume_line {
            reader
                .seek(SeekFrom::Start(split.start))
                .map_err(read_err)?;
            return Ok(OpenSplit {
                split,
                reader,
                offset,
                line_number,
            });
        }
        if split.start > 0 {
            // The line straddling the split start belongs to the previous split.
            reader
                .seek(SeekFrom::Start(split.start - 1))
                .map_err(read_err)?;
            let mut skipped = Vec::new();
            offset =
                split.start - 1 + reader.read_until(b'\n', &mut skipped).map_err(read_err)? as u64;
        }
        let line_number = (split.start == 0).then_some(1);
        Ok(OpenSplit {
            split,
            reader,
            offset,
            line_number,
        })
    }

    /// Lists the watched path and queues files not seen before that belong to this subtask.
    fn discover(&mut self) -> Result<(), ConnectorError> {
        for (path, len) in list_files(&self.root)? {
            if path_owner(&path, self.parallelism) == self.index && self.seen.insert(path.clone()) {
                self.pending.push_back(FileSplit {
                    path,
                    start: 0,
                    end: len,
                    resume_line: None,
                });
            }
        }
        Ok(())
    }
}

impl SourceReader<String> for TextFileReader {
    fn poll_next(
        &mut self,
        output: &mut SourceOutput<'_, String>,
    ) -> Result<InputStatus, BoxError> {
        let mut emitted = 0;
        while emitted < RECORDS_PER_POLL {
            let Some(open) = self.current.as_mut() else {
                match self.pending.pop_front() {
                    Some(split) => {
                        self.current = Some(Self::open(split)?);
                        continue;
                    }
                    None => match self.mode {
                        FileProcessingMode::ProcessOnce => return Ok(InputStatus::EndOfInput),
                        FileProcessingMode::ProcessContinuously(interval) => {
                            self.discover()?;
                            if self.pending.is_empty() {
                                return Ok(if emitted > 0 {
                                    InputStatus::MoreAvailable
                                } else {
                                    InputStatus::PollAfter(interval)
                                });
                            }
                            continue;
                        }
                    },
                }
            };
            // Continuous mode reads whole files, whatever their size now.
            let bounded_end =
                matches!(self.mode, FileProcessingMode::ProcessOnce).then_some(open.split.end);
            if bounded_end.is_some_and(|end| open.offset >= end) {
                self.current = None;
                continue;
            }
            self.raw.clear();
            let n = open
                .reader
                .read_until(b'\n', &mut self.raw)
                .map_err(|source| ConnectorError::Read {
                    path: open.split.path.clone(),
                    source,
                })?;
            if n == 0 {
                self.current = None;
                continue;
            }
            let line_start = open.offset;
            open.offset += n as u64;
            let mut bytes = &self.raw[..];
            if bytes.ends_with(b"\n") {
                bytes = &bytes[..bytes.len() - 1];
            }
            if bytes.ends_with(b"\r") {
                bytes = &bytes[..bytes.len() - 1];
            }
            let location = match open.line_number {
                Some(l) => format!("line {l}"),
                None => format!("byte offset {line_start}"),
            };
            if let Some(l) = open.line_number.as_mut() {
                *l += 1;
            }
            self.line.clear();
            match std::str::from_utf8(bytes) {
                Ok(s) => self.line.push_str(s),
                Err(_) => {
                    return Err(ConnectorError::InvalidUtf8 {
                        path: open.split.path.clone(),
                        location,
                    }
                    .into());
                }
            }
            output.collect(std::mem::take(&mut self.line));
            emitted += 1;
        }
        Ok(InputStatus::MoreAvailable)
    }

    fn snapshot_state(&mut self) -> Result<Option<Vec<SplitState>>, BoxError> {
        let mut splits = Vec::new();
        if let Some(open) = &self.current {
            splits.push(SplitState::encode(&FileSplitState::Range(FileSplit {
                path: open.split.path.clone(),
                start: open.offset,
                end: open.split.end,
                resume_line: Some(open.line_number),
            }))?);
        }
        for split in &self.pending {
            splits.push(SplitState::encode(&FileSplitState::Range(split.clone()))?);
        }
        for path in &self.seen {
            splits.push(SplitState::encode(&FileSplitState::Seen(path.clone()))?);
        }
        Ok(Some(splits))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_spread_large_files_and_cover_every_byte() {
        let files = vec![
            (PathBuf::from("a"), 5 * MIN_SPLIT_BYTES),
            (PathBuf::from("b"), 10),
        ];
        let mut all: Vec<FileSplit> = (0..2).flat_map(|i| splits_for(&files, i, 2)).collect();
        all.sort_by(|x, y| (&x.path, x.start).cmp(&(&y.path, y.start)));
        let a: Vec<_> = all.iter().filter(|s| s.path == Path::new("a")).collect();
        assert!(a.len() >= 2);
        assert_eq!(a[0].start, 0);
        for w in a.windows(2) {
            assert_eq!(w[0].end, w[1].start);
        }
        assert_eq!(a.last().map(|s| s.end), Some(5 * MIN_SPLIT_BYTES));
        assert!(all.iter().any(|s| s.path == Path::new("b") && s.end == 10));
    }

    #[test]
    fn missing_input_is_named() {
        let err = list_files(Path::new("/no/such/runnel/input")).unwrap_err();
        assert!(err.to_string().contains("/no/such/runnel/input"), "{err}");
    }
}
