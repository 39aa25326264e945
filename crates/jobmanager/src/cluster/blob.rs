//! The blob store: submitted job binaries, addressed by the hex FNV-1a 128-bit
//! hash of their bytes (`GET /blobs/{hash}`), in memory or in a directory.
//!
//! Invariants: a key is exactly the 32 lower-case hex digits [`blob_key`]
//! returns for the stored bytes, so putting the same bytes twice stores them
//! once and a key never names a path outside the directory (anything else is
//! simply unknown). FNV-1a is not a cryptographic hash: the store dedupes
//! binaries, it does not authenticate them (the REST token does that).

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub use runnel_types::content_hash::{blob_key, fnv1a_128};

/// Whether `key` has the shape of a blob key.
fn is_key(key: &str) -> bool {
    key.len() == 32
        && key
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Where blobs are kept.
#[derive(Debug)]
pub enum BlobStore {
    /// In this process's memory (lost when it stops).
    Memory(Mutex<HashMap<String, Arc<Vec<u8>>>>),
    /// One file per blob, named by its key, in this directory.
    Directory(PathBuf),
}

impl Default for BlobStore {
    fn default() -> Self {
        BlobStore::Memory(Mutex::default())
    }
}

impl BlobStore {
    /// A store in `dir` (created if missing), or in memory when `None`.
    pub fn new(dir: Option<PathBuf>) -> BlobStore {
        dir.map_or_else(BlobStore::default, BlobStore::Directory)
    }

    /// Stores `bytes`; returns their key.
    pub fn put(&self, bytes: &[u8]) -> io::Result<String> {
        let key = blob_key(bytes);
        match self {
            BlobStore::Memory(blobs) => {
                let mut blobs = blobs.lock().unwrap_or_else(|e| e.into_inner());
                blobs
                    .entry(key.clone())
                    .or_insert_with(|| Arc::new(bytes.to_vec()));
            }
            BlobStore::Directory(dir) => {
                let path = dir.join(&key);
                if !path.exists() {
                    std::fs::create_dir_all(dir)?;
                    let partial = dir.join(format!(".{key}.{}", crate::ids::random_id()));
                    std::fs::write(&partial, bytes)?;
                    std::fs::rename(&partial, &path)?;
                }
            }
        }
        Ok(key)
    }

    /// The blob of `key`; `None` if unknown (or not a key).
    pub fn get(&self, key: &str) -> io::Result<Option<Vec<u8>>> {
        if !is_key(key) {
            return Ok(None);
        }
        match self {
            BlobStore::Memory(blobs) => {
                let blobs = blobs.lock().unwrap_or_else(|e| e.into_inner());
                Ok(blobs.get(key).map(|b| b.as_ref().clone()))
            }
            BlobStore::Directory(dir) => match std::fs::read(dir.join(key)) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(store: &BlobStore) {
        let key = store.put(b"\x7fELF binary").unwrap();
        assert_eq!(key, blob_key(b"\x7fELF binary"));
        assert_eq!(store.put(b"\x7fELF binary").unwrap(), key, "stored once");
        assert_eq!(store.get(&key).unwrap().unwrap(), b"\x7fELF binary");
        assert_eq!(store.get(&"0".repeat(32)).unwrap(), None);
        assert_eq!(store.get("../../etc/passwd").unwrap(), None);
        assert_eq!(store.get(&key.to_uppercase()).unwrap(), None);
    }

    #[test]
    fn blobs_round_trip_in_memory_and_in_a_directory() {
        round_trip(&BlobStore::default());
        let dir = std::env::temp_dir().join(format!("runnel-blobs-{}", crate::ids::random_id()));
        round_trip(&BlobStore::new(Some(dir.clone())));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
