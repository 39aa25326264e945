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
