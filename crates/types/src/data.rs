//! The bounds a type needs to flow through a Runnel job.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::hash::Hash;

/// A record type: any owned Rust value that can be cloned (for fan-out), sent to
/// another thread and serialized (to cross a task or process boundary, or to be
/// stored in state). It must be `Sync` too: a checkpoint shares heap state with
/// the thread that serializes it (copy-on-write). Implemented automatically; derive `Serialize`, `Deserialize`
/// and `Clone` on your types.
pub trait Data: Clone + Send + Sync + Serialize + DeserializeOwned + 'static {}

impl<T> Data for T where T: Clone + Send + Sync + Serialize + DeserializeOwned + 'static {}

/// A key type for `key_by`: [`Data`] that can also be hashed and compared.
///
/// Keys are assigned to key groups by a hash of their serialized form
/// ([`crate::key_hash`]), which is stable across processes and builds.
pub trait Key: Data + Hash + Eq {}

impl<T> Key for T where T: Data + Hash + Eq {}
