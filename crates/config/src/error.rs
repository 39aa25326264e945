//! Configuration errors: each names where the problem is and what was expected.

use std::path::PathBuf;
use thiserror::Error;

/// A configuration file that cannot be used. The user's fault; fix the file.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read configuration file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid YAML or not a mapping of keys to values.
    #[error("{origin}:{line}: {message}")]
    Syntax {
        /// The file (or other origin) of the text.
        origin: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A key Runnel does not know.
    #[error("{origin}:{line}: unknown configuration key `{key}`{}", suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
    UnknownKey {
        /// The file.
        origin: String,
        /// 1-based line.
        line: usize,
        /// The key as written (flattened with dots).
        key: String,
        /// The closest known key, if one is close.
        suggestion: Option<String>,
    },
    /// A known key with a value of the wrong type or out of range.
    #[error("{origin}:{line}: `{key}` expects {expected}, got `{value}`")]
    InvalidValue {
        /// The file.
        origin: String,
        /// 1-based line.
        line: usize,
        /// The key.
        key: String,
        /// The value as written.
        value: String,
        /// What the key accepts.
        expected: String,
    },
    /// A key that another key requires is missing.
    #[error("{origin}: `{key}` must be set when {because}")]
    MissingKey {
        /// The file.
        origin: String,
        /// The missing key.
        key: String,
        /// Why it is needed.
        because: String,
    },
}
