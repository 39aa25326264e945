//! Controlling a running job from another process (`runnel savepoint`, `runnel
//! stop`, `runnel cancel`, `runnel list`) through a directory: a job registers
//! itself under `<jobs dir>/<job id>/`, and requests and responses are files.
//!
//! Files are written under a temporary name and renamed, so a reader never sees
//! half of one. The job polls its `requests/` directory; each `<nonce>.req`
//! gets a `responses/<nonce>.res`. The registration is removed when the job
//! ends; a registration whose process is gone is stale and ignored.
//!
//! ```text
//! <jobs dir>/<job id>/info                 name=<job name>\npid=<pid>\n
//! <jobs dir>/<job id>/requests/<n>.req     savepoint\n<dir>  |  stop\n<dir>  |  cancel
//! <jobs dir>/<job id>/responses/<n>.res    ok\n<location>    |  error\n<message>
//! ```

use crate::executor::JobControl;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often a job looks for requests.
const POLL: Duration = Duration::from_millis(50);

/// A request to a running job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlRequest {
    /// Take a savepoint into the directory (or the configured default).
    Savepoint(Option<PathBuf>),
    /// Stop with a savepoint into the directory (or the configured default).
    Stop(Option<PathBuf>),
    /// Cancel the job.
    Cancel,
}

impl ControlRequest {
    fn encode(&self) -> String {
        let dir = |d: &Option<PathBuf>| {
            d.as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        };
        match self {
            ControlRequest::Savepoint(d) => format!("savepoint\n{}", dir(d)),
            ControlRequest::Stop(d) => format!("stop\n{}", dir(d)),
            ControlRequest::Cancel => "cancel".to_string(),
        }
    }

    fn decode(text: &str) -> Option<Self> {
        let mut lines = text.lines();
        let kind = lines.next()?.trim();
        let dir = lines
            .next()
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(PathBuf::from);
        match kind {
            "savepoint" => Some(ControlRequest::Savepoint(dir)),
            "stop" => Some(ControlRequest::Stop(dir)),
            "cancel" => Some(ControlRequest::Cancel),
            _ => None,
        }
    }
}

/// A running job as its registration describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredJob {
    /// The job id.
    pub id: String,
    /// The job's name.
    pub name: String,
    /// The process running it.
    pub pid: u32,
}

/// The jobs directory: `RUNNEL_JOBS_DIR`, else `runnel-jobs` in the temporary
/// directory.
pub fn jobs_dir() -> PathBuf {
    std::env::var_os("RUNNEL_JOBS_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("runnel-jobs"))
}

fn write_atomically(path: &Path, text: &str) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, text)?;
    fs::rename(tmp, path)
}

/// Whether process `pid` is alive (Linux: `/proc/<pid>` exists).
fn alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists() || !Path::new("/proc").exists()
}

/// The jobs registered under `dir` whose process is alive.
pub fn list_jobs(dir: &Path) -> io::Result<Vec<RegisteredJob>> {
    let mut jobs = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(jobs),
        Err(e) => return Err(e),
    };
    for entry in entries.flatten() {
        let Ok(info) = fs::read_to_string(entry.path().join("info")) else {
            continue;
        };
        let field = |name: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(&format!("{name}=")))
                .map(str::to_string)
        };
        let (Some(name), Some(pid)) = (field("name"), field("pid").and_then(|p| p.parse().ok()))
        else {
            continue;
        };
        if alive(pid) {
            jobs.push(RegisteredJob {
                id: entry.file_name().to_string_lossy().into_owned(),
                name,
                pid,
            });
        }
    }
    jobs.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(jobs)
}

/// Sends `request` to the job `id` registered under `dir` and waits up to
/// `timeout` for its answer: the savepoint's location (or empty for a cancel).
pub fn send_request(
    dir: &Path,
    id: &str,
    request: &ControlRequest,
    timeout: Duration,
) -> Result<String, String> {
    let job = dir.join(id);
    if !job.join("info").is_file() {
        return Err(format!("no running job `{id}` in {}", dir.display()));
    }
    let nonce = format!(
        "{}-{}",
        std::process::id(),
        crate::job_master::random_hex(8)
    );
    let requests = job.join("requests");
    fs::create_dir_all(&requests).map_err(|e| e.to_string())?;
    write_atomically(&requests.join(format!("{nonce}.req")), &request.encode())
        .map_err(|e| format!("cannot send the request: {e}"))?;
    let response = job.join("responses").join(format!("{nonce}.res"));
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Ok(text) = fs::read_to_string(&response) {
            let _ = fs::remove_file(&response);
            let mut lines = text.splitn(2, '\n');
            let status = lines.next().unwrap_or_default();
            let body = lines.next().unwrap_or_default().to_string();
            return if status == "ok" { Ok(body) } else { Err(body) };
        }
        if std::time::Instant::now() >= deadline {
            return Err(format!("job `{id}` did not answer within {timeout:?}"));
        }
        if !job.join("info").is_file() {
            return Err(format!("job `{id}` ended before it answered"));
        }
        std::thread::sleep(POLL);
    }
}

/// A job's registration and the thread answering its requests; dropping it
/// removes the registration.
pub struct ControlEndpoint {
    dir: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ControlEndpoint {
    /// Registers job `id` under `jobs_dir` and answers requests with `control`.
    pub fn start(jobs_dir: &Path, id: &str, name: &str, control: JobControl) -> io::Result<Self> {
        let dir = jobs_dir.join(id);
        fs::create_dir_all(dir.join("requests"))?;
        fs::create_dir_all(dir.join("responses"))?;
        write_atomically(
            &dir.join("info"),
            &format!("name={name}\npid={}\n", std::process::id()),
        )?;
        let stop = Arc::new(AtomicBool::new(false));
        let (thread_dir, thread_stop) = (dir.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name(format!("{name} [control]"))
            .spawn(move || serve(&thread_dir, &thread_stop, &control))?;
        Ok(ControlEndpoint {
            dir,
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for ControlEndpoint {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn serve(dir: &Path, stop: &AtomicBool, control: &JobControl) {
    while !stop.load(Ordering::Acquire) {
        let mut requests: Vec<PathBuf> = fs::read_dir(dir.join("requests"))
            .map(|e| {
                e.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "req"))
                    .collect()
            })
            .unwrap_or_default();
        requests.sort();
        for path in requests {
            let text = fs::read_to_string(&path).unwrap_or_default();
            let _ = fs::remove_file(&path);
            let answer = match ControlRequest::decode(&text) {
                Some(ControlRequest::Savepoint(d)) => {
                    control.trigger_savepoint(d).map_err(|e| e.to_string())
                }
                Some(ControlRequest::Stop(d)) => {
                    control.stop_with_savepoint(d).map_err(|e| e.to_string())
                }
                Some(ControlRequest::Cancel) => {
                    control.cancel();
                    Ok(String::new())
                }
                None => Err(format!("unknown request `{}`", text.trim())),
            };
            let body = match answer {
                Ok(location) => format!("ok\n{location}"),
                Err(message) => format!("error\n{message}"),
            };
            if let Some(stem) = path.file_stem() {
                let response = dir
                    .join("responses")
                    .join(format!("{}.res", stem.to_string_lossy()));
                let _ = write_atomically(&response, &body);
            }
        }
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        for r in [
            ControlRequest::Savepoint(Some(PathBuf::from("/tmp/sp"))),
            ControlRequest::Savepoint(None),
            ControlRequest::Stop(Some(PathBuf::from("/x"))),
            ControlRequest::Cancel,
        ] {
            assert_eq!(ControlRequest::decode(&r.encode()), Some(r));
        }
        assert_eq!(ControlRequest::decode("reboot"), None);
    }

    #[test]
    fn a_request_to_a_job_that_is_not_there_is_a_clear_error() {
        let dir = std::env::temp_dir().join(format!("runnel-control-{}", std::process::id()));
        let err = send_request(
            &dir,
            "nope",
            &ControlRequest::Cancel,
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert!(err.contains("no running job `nope`"), "{err}");
        assert!(list_jobs(&dir).unwrap().is_empty());
    }
}
