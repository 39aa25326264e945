//! Results of a bench job whose subtasks run in several processes (a cluster
//! run spread over TaskManagers): sources, sinks and committed transactions
//! leave small files in one directory on the shared file system, and the
//! job master's process sums them. Off the per-record path: one file per
//! source subtask start, per sink commit.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

static SPOOL: OnceLock<PathBuf> = OnceLock::new();

/// Makes every timer and checksum of this process spool to `dir`.
pub fn set(dir: PathBuf) -> std::io::Result<()> {
    std::fs::create_dir_all(&dir)?;
    let _ = SPOOL.set(dir);
    Ok(())
}

pub(crate) fn dir() -> Option<&'static Path> {
    SPOOL.get().map(PathBuf::as_path)
}

/// Wall-clock nanoseconds (comparable between processes of one machine).
// The bench measures elapsed wall time across processes, not a job's
// processing time, so it reads the system clock itself.
#[allow(clippy::disallowed_methods)]
pub(crate) fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// Writes `text` to the spool file `name` (atomically: a reader never sees
/// half a file).
pub(crate) fn write(dir: &Path, name: &str, text: &str) {
    let tmp = dir.join(format!(".{name}.{}", std::process::id()));
    let written = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, dir.join(name)));
    if let Err(e) = written {
        eprintln!("bench: cannot write {}: {e}", dir.join(name).display());
    }
}

/// The contents of the spool files whose names start with `prefix`.
pub(crate) fn read(dir: &Path, prefix: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .collect()
}
