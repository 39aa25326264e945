//! Where checkpoint files are kept (D5 checkpoint storage).
//!
//! Paths are `/`-separated and relative to the storage's root. A write is
//! all-or-nothing: a reader never sees half a file (the file system storage
//! writes a temporary file and renames it), so a metadata file that exists names
//! a complete checkpoint.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use thiserror::Error;

/// A storage operation that failed.
#[derive(Debug, Error)]
#[error("{operation} {location}: {message}")]
pub struct StorageError {
    /// What was attempted (`write`, `read`, `delete`, `list`).
    pub operation: &'static str,
    /// The full location (path or URI).
    pub location: String,
    /// Why it failed.
    pub message: String,
}

/// Where and how to reach S3-compatible object storage (Flink's `s3.*` keys);
/// an unset field falls back to the standard `AWS_*` environment variables.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct S3Options {
    /// `s3.endpoint`: the service's URL (for MinIO and other S3-compatible
    /// stores); a plain `http://` endpoint is allowed.
    pub endpoint: Option<String>,
    /// `s3.access-key`.
    pub access_key: Option<String>,
    /// `s3.secret-key`.
    pub secret_key: Option<String>,
    /// `s3.region`.
    pub region: Option<String>,
    /// `s3.path.style.access`: `true` addresses the bucket in the path
    /// (`endpoint/bucket/key`), `false` in the host name (`bucket.endpoint`).
    pub path_style_access: Option<bool>,
}

impl std::fmt::Debug for S3Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Options")
            .field("endpoint", &self.endpoint)
            .field("access_key", &self.access_key)
            .field(
                "secret_key",
                &self.secret_key.as_ref().map(|_| "<redacted>"),
            )
            .field("region", &self.region)
            .field("path_style_access", &self.path_style_access)
            .finish()
    }
}

/// The storage of a checkpoint, savepoint or restore directory: an object
/// store for `s3://bucket/prefix` (with the `s3` feature), else a file system
/// directory.
pub fn storage_for(dir: &Path, s3: &S3Options) -> Result<Arc<dyn CheckpointStorage>, StorageError> {
    match dir.to_str() {
        Some(url) if is_s3_url(url) => s3_storage(url, s3),
        _ => Ok(Arc::new(FsStorage::new(dir))),
    }
}

fn is_s3_url(dir: &str) -> bool {
    dir.starts_with("s3://") || dir.starts_with("s3a://")
}

#[cfg(feature = "s3")]
fn s3_storage(url: &str, s3: &S3Options) -> Result<Arc<dyn CheckpointStorage>, StorageError> {
    Ok(Arc::new(crate::s3::S3Storage::new(url, s3)?))
}

#[cfg(not(feature = "s3"))]
fn s3_storage(url: &str, _: &S3Options) -> Result<Arc<dyn CheckpointStorage>, StorageError> {
    Err(StorageError {
        operation: "open",
        location: url.to_string(),
        message: "Runnel was built without the `s3` feature, so it cannot keep checkpoints \
                  on S3; rebuild it with `--features s3`"
            .to_string(),
    })
}

/// `file` under `dir` (`/`-separated storage paths; an empty `dir` is the root).
pub fn join_path(dir: &str, file: &str) -> String {
    if dir.is_empty() {
        file.to_string()
    } else {
        format!("{}/{file}", dir.trim_end_matches('/'))
    }
}

/// A place to keep checkpoint files.
pub trait CheckpointStorage: Send + Sync {
    /// Writes `bytes` to `path`, replacing any file there.
    fn write(&self, path: &str, bytes: &[u8]) -> Result<(), StorageError>;
    /// Reads the file at `path`.
    fn read(&self, path: &str) -> Result<Vec<u8>, StorageError>;
    /// Whether a file exists at `path`.
    fn exists(&self, path: &str) -> Result<bool, StorageError>;
    /// Deletes `dir` and everything under it; a missing directory is fine.
    fn delete_dir(&self, dir: &str) -> Result<(), StorageError>;
    /// Deletes the file at `path`; a missing file is fine.
    fn delete(&self, path: &str) -> Result<(), StorageError>;
    /// The names of the entries directly under `dir` (files and directories),
    /// sorted; empty for a missing directory.
    fn list(&self, dir: &str) -> Result<Vec<String>, StorageError>;
    /// The full location of `path`, for messages and for the user.
    fn location(&self, path: &str) -> String;
}

/// Files in the memory of this process (Flink's job manager checkpoint storage):
/// recovery works while the process lives; nothing survives it.
#[derive(Debug, Default, Clone)]
pub struct MemoryStorage {
    files: Arc<Mutex<BTreeMap<String, Arc<Vec<u8>>>>>,
}

impl MemoryStorage {
    /// An empty storage.
    pub fn new() -> Self {
        Self::default()
    }

    fn files(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<Vec<u8>>>> {
        self.files.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn under(dir: &str) -> String {
    if dir.is_empty() || dir.ends_with('/') {
        dir.to_string()
    } else {
        format!("{dir}/")
    }
}

impl CheckpointStorage for MemoryStorage {
    fn write(&self, path: &str, bytes: &[u8]) -> Result<(), StorageError> {
        self.files()
            .insert(path.to_string(), Arc::new(bytes.to_vec()));
        Ok(())
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, StorageError> {
        self.files()
            .get(path)
            .map(|b| b.as_ref().clone())
            .ok_or_else(|| StorageError {
                operation: "read",
                location: self.location(path),
                message: "no such file".to_string(),
            })
    }

    fn exists(&self, path: &str) -> Result<bool, StorageError> {
        Ok(self.files().contains_key(path))
    }

    fn delete_dir(&self, dir: &str) -> Result<(), StorageError> {
        let prefix = under(dir);
        self.files().retain(|k, _| !k.starts_with(&prefix));
        Ok(())
    }

    fn delete(&self, path: &str) -> Result<(), StorageError> {
        self.files().remove(path);
        Ok(())
    }

    fn list(&self, dir: &str) -> Result<Vec<String>, StorageError> {
        let prefix = under(dir);
        let mut names: Vec<String> = self
            .files()
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix))
            .map(|rest| rest.split('/').next().unwrap_or(rest).to_string())
            .collect();
        names.dedup();
        Ok(names)
    }

    fn location(&self, path: &str) -> String {
        format!("memory:/{path}")
    }
}

/// Files in a directory of a (local or shared) file system.
#[derive(Debug, Clone)]
pub struct FsStorage {
    root: PathBuf,
}

impl FsStorage {
    /// A storage under `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FsStorage { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, path: &str) -> PathBuf {
        if path.is_empty() {
            self.root.clone()
        } else {
            self.root.join(path)
        }
    }

    fn error(&self, operation: &'static str, path: &str, e: std::io::Error) -> StorageError {
        StorageError {
            operation,
            location: self.location(path),
            message: e.to_string(),
        }
    }
}

impl CheckpointStorage for FsStorage {
    fn write(&self, path: &str, bytes: &[u8]) -> Result<(), StorageError> {
        let target = self.path(path);
        let fail = |e| self.error("write", path, e);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(fail)?;
        }
        let tmp = target.with_extension(format!(
            "{}inprogress",
            target
                .extension()
                .map(|e| format!("{}.", e.to_string_lossy()))
                .unwrap_or_default()
        ));
        let mut file = fs::File::create(&tmp).map_err(fail)?;
        file.write_all(bytes).map_err(fail)?;
        file.sync_data().map_err(fail)?;
        drop(file);
        fs::rename(&tmp, &target).map_err(fail)
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, StorageError> {
        fs::read(self.path(path)).map_err(|e| self.error("read", path, e))
    }

    fn exists(&self, path: &str) -> Result<bool, StorageError> {
        self.path(path)
            .try_exists()
            .map_err(|e| self.error("stat", path, e))
    }

    fn delete_dir(&self, dir: &str) -> Result<(), StorageError> {
        match fs::remove_dir_all(self.path(dir)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(self.error("delete", dir, e)),
            _ => Ok(()),
        }
    }

    fn delete(&self, path: &str) -> Result<(), StorageError> {
        let file = self.path(path);
        match fs::remove_file(&file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(self.error("delete", path, e))
            }
            _ => {
                // Its directory goes with its last file (fails while not empty).
                if let Some(dir) = file.parent() {
                    let _ = fs::remove_dir(dir);
                }
                Ok(())
            }
        }
    }

    fn list(&self, dir: &str) -> Result<Vec<String>, StorageError> {
        let entries = match fs::read_dir(self.path(dir)) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.error("list", dir, e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| self.error("list", dir, e))?;
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    fn location(&self, path: &str) -> String {
        self.path(path).display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exercise(s: &dyn CheckpointStorage) {
        s.write("job/chk-1/a", b"one").unwrap();
        s.write("job/chk-1/b", b"two").unwrap();
        s.write("job/chk-2/a", b"three").unwrap();
        assert_eq!(s.read("job/chk-1/b").unwrap(), b"two");
        assert!(s.exists("job/chk-2/a").unwrap());
        assert!(!s.exists("job/chk-3/a").unwrap());
        assert_eq!(s.list("job").unwrap(), ["chk-1", "chk-2"]);
        assert_eq!(s.list("job/chk-1").unwrap(), ["a", "b"]);
        s.delete_dir("job/chk-1").unwrap();
        assert_eq!(s.list("job").unwrap(), ["chk-2"]);
        s.delete_dir("job/chk-9").unwrap();
        assert!(s.list("nothing").unwrap().is_empty());
        let err = s.read("job/chk-1/a").unwrap_err();
        assert!(err.to_string().contains("chk-1/a"), "{err}");
    }

    #[test]
    fn a_plain_directory_is_a_file_system_storage() {
        let s = storage_for(Path::new("/tmp/ckpt"), &S3Options::default()).unwrap();
        assert_eq!(s.location("a/b"), "/tmp/ckpt/a/b");
    }

    #[cfg(not(feature = "s3"))]
    #[test]
    fn an_s3_directory_needs_the_s3_feature() {
        let Err(err) = storage_for(Path::new("s3://bucket/ckpt"), &S3Options::default()) else {
            panic!("an s3:// directory opened without the s3 feature");
        };
        let text = err.to_string();
        assert!(text.contains("s3://bucket/ckpt"), "{text}");
        assert!(text.contains("built without the `s3` feature"), "{text}");
    }

    #[test]
    fn the_secret_key_is_not_printed() {
        let options = S3Options {
            secret_key: Some("hunter2".to_string()),
            ..S3Options::default()
        };
        assert!(!format!("{options:?}").contains("hunter2"));
    }

    #[test]
    fn memory_storage() {
        exercise(&MemoryStorage::new());
    }

    #[test]
    fn file_system_storage() {
        let dir = std::env::temp_dir().join(format!("runnel-fs-storage-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        exercise(&FsStorage::new(&dir));
        assert!(
            !fs::read_dir(dir.join("job/chk-2")).unwrap().any(|e| e
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains("inprogress")),
            "no temporary file is left behind"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
