//! Connector errors: each names the file, line or address concerned.

use std::path::PathBuf;
use thiserror::Error;

/// A failure reading or writing external data. External (the file system, the
/// network) unless the path or address itself is wrong.
#[derive(Debug, Error)]
pub enum ConnectorError {
    /// A file or directory could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A line of a text file is not valid UTF-8.
    #[error("{}: {location}: not valid UTF-8", path.display())]
    InvalidUtf8 {
        /// The file.
        path: PathBuf,
        /// `line N`, or `byte offset N` for a split starting mid-file.
        location: String,
    },
    /// An input path that does not exist.
    #[error("input path {} does not exist", path.display())]
    MissingInput {
        /// The path.
        path: PathBuf,
    },
    /// A file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An output path exists and the write mode forbids overwriting it.
    #[error("output path {} already exists; use WriteMode::Overwrite to replace it", path.display())]
    OutputExists {
        /// The path.
        path: PathBuf,
    },
    /// A socket could not be connected or read.
    #[error("socket {address}: {source}")]
    Socket {
        /// `host:port`.
        address: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}
