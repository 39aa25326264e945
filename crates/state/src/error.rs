//! The one error type of the crate.
//!
//! Handles return `Result` on every access, but on the heap backend an access can
//! only fail through misuse (no current key, a handle from another store); a
//! disk-backed store will add I/O failures under [`StateError::Backend`]. Snapshot
//! and restore fail on undecodable bytes or on a state restored under another kind.

use runnel_types::{CodecError, KeyGroup, KeyGroupRange};
use thiserror::Error;

/// Why a state operation failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StateError {
    /// Keyed state was accessed while the store had no current key. The operator
    /// sets the key before each record and timer; keyed state cannot be used from
    /// `open`, `close` or a non-keyed stream.
    #[error(
        "keyed state `{state}` was accessed without a current key: keyed state is only \
         available while a record or timer of a keyed stream is processed"
    )]
    NoCurrentKey {
        /// The state being accessed.
        state: String,
    },
    /// The key set as current belongs to a key group this store does not hold: the
    /// record was routed to the wrong subtask (a partitioning bug, or a key whose
    /// hash changed between the routing and the processing side).
    #[error(
        "a key of key group {key_group} reached the subtask holding key groups {range}: \
         the key was routed to the wrong subtask"
    )]
    KeyOutOfRange {
        /// The key's group.
        key_group: KeyGroup,
        /// The store's key groups.
        range: KeyGroupRange,
    },
    /// A key group passed to snapshot or restore is not in the store's range.
    #[error("key group {key_group} is not held by this store (key groups {range})")]
    KeyGroupNotInRange {
        /// The requested key group.
        key_group: KeyGroup,
        /// The store's key groups.
        range: KeyGroupRange,
    },
    /// A state name was registered again with another kind, other types or another
    /// TTL configuration.
    #[error("state `{name}` is registered as {registered}, not {requested}")]
    Incompatible {
        /// The state's name.
        name: String,
        /// What the name is registered as.
        registered: String,
        /// What the new registration asked for.
        requested: String,
    },
    /// Restored state of one kind met a registration (or registered state) of
    /// another kind under the same name.
    #[error("state `{name}` was restored as {restored}, not as {requested}")]
    RestoredIncompatible {
        /// The state's name.
        name: String,
        /// What the snapshot holds, e.g. `value state`.
        restored: String,
        /// What the registration asked for.
        requested: String,
    },
    /// The state does not support what its descriptor asks for (such as a TTL on
    /// operator state).
    #[error("state `{state}`: {what}")]
    Unsupported {
        /// The state.
        state: String,
        /// What is not supported.
        what: String,
    },
    /// A handle was used with a store that did not issue it.
    #[error(
        "state handle #{index} ({handle}) was not issued by this store: handles must be \
         used with the store (context) they were obtained from"
    )]
    ForeignHandle {
        /// The handle's index.
        index: usize,
        /// What the handle was used as, e.g. `value state of u64`.
        handle: String,
    },
    /// An entry of a state could not be encoded or decoded during a snapshot or a
    /// restore (corrupt bytes, or a type that changed since the snapshot).
    #[error("state `{state}`: {source}")]
    Codec {
        /// The state.
        state: String,
        /// The codec's error.
        #[source]
        source: CodecError,
    },
    /// Snapshot bytes are not in the expected format.
    #[error("corrupt state snapshot: {message}")]
    CorruptSnapshot {
        /// What is wrong.
        message: String,
    },
    /// The state backend failed (a bug in the backend for the heap backend).
    #[error("state `{state}`: backend failure: {message}")]
    Backend {
        /// The state, when known.
        state: String,
        /// What went wrong.
        message: String,
    },
}

impl StateError {
    /// A [`StateError::Codec`] for `state`.
    pub(crate) fn codec(state: &str, source: CodecError) -> Self {
        StateError::Codec {
            state: state.to_string(),
            source,
        }
    }

    /// A [`StateError::CorruptSnapshot`].
    pub(crate) fn corrupt(message: impl Into<String>) -> Self {
        StateError::CorruptSnapshot {
            message: message.into(),
        }
    }
}
