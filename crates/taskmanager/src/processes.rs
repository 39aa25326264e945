//! [`Processes`]: the job binaries a TaskManager runs, in its working
//! directory (`docs/design/cluster-jobs.md`, *Deployment*).
//!
//! The working directory holds:
//! - `blob-<hash>`: a job binary, fetched once per hash and made executable
//!   (written to `blob-<hash>.part` first, so a half-written binary is never
//!   taken for a cached one);
//! - `<jobId>-<attempt>.yaml`: an attempt's configuration file, if it has one;
//! - `<jobId>-<attempt>.log`: the attempt's stdout and stderr, appended.
//!
//! Invariants: every child started is in the table until its exit is seen
//! ([`poll`](Processes::poll)) or it is killed ([`kill`](Processes::kill));
//! dropping [`Processes`] kills and waits for every child still there, then
//! removes the working directory if it made it.

use crate::environment::{command, environment};
use crate::protocol::{AttemptId, Deployment, FetchError};
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use thiserror::Error;

/// `ETXTBSY`: a binary just written is still open for writing in a process
/// another thread forked (until that process execs); retried.
const TEXT_FILE_BUSY: i32 = 26;
const SPAWN_TRIES: u32 = 20;

/// Why an attempt could not start. Whose fault: the JobManager's for
/// [`Fetch`](Self::Fetch) and [`Invalid`](Self::Invalid), the machine's (or
/// the binary's) for [`Io`](Self::Io).
#[derive(Debug, Error)]
pub(crate) enum LaunchError {
    /// The job binary could not be fetched.
    #[error("cannot fetch blob {hash}: {source}")]
    Fetch { hash: String, source: FetchError },
    /// A job id or blob hash that cannot name a file.
    #[error("{what} {value:?} must be 1 to 128 ASCII letters, digits, '_' or '-'")]
    Invalid { what: &'static str, value: String },
    /// A file could not be written or the binary not started.
    #[error("cannot {what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

/// See the [module docs](self).
#[derive(Debug)]
pub(crate) struct Processes {
    workdir: PathBuf,
    /// Whether `workdir` was made here (and is removed on drop).
    owned: bool,
    jobmanager: SocketAddr,
    bearer_token: Option<String>,
    /// The IP this TaskManager registered with; children listen on it.
    host: IpAddr,
    children: HashMap<AttemptId, Child>,
}

impl Processes {
    /// Runs binaries in `workdir` (made if missing), or in a fresh directory
    /// under the system's temporary directory (removed on drop) named after
    /// `id`. Children are told the JobManager's address and token, and the
    /// `host` (IP) this TaskManager registered with.
    pub(crate) fn new(
        workdir: Option<&Path>,
        id: &str,
        jobmanager: SocketAddr,
        bearer_token: Option<String>,
        host: IpAddr,
    ) -> io::Result<Processes> {
        let (workdir, owned) = match workdir {
            Some(dir) => {
                fs::create_dir_all(dir)?;
                (dir.to_path_buf(), false)
            }
            None => {
                let dir = std::env::temp_dir().join(format!(
                    "runnel-taskmanager-{id}-{}",
                    crate::config::random_id()
                ));
                fs::create_dir_all(&dir)?;
                (dir, true)
            }
        };
        Ok(Processes {
            workdir,
            owned,
            jobmanager,
            bearer_token,
            host,
            children: HashMap::new(),
        })
    }

    /// The working directory.
    pub(crate) fn workdir(&self) -> &Path {
        &self.workdir
    }

    /// Starts the attempt `deployment` describes, fetching its binary with
    /// `fetch` unless it is cached.
    pub(crate) fn launch(
        &mut self,
        deployment: &Deployment,
        fetch: impl FnOnce(&str) -> Result<Vec<u8>, FetchError>,
    ) -> Result<(), LaunchError> {
        let id = &deployment.id;
        check_name("job id", &id.job_id)?;
        check_name("blob hash", &deployment.blob)?;
        let binary = self.binary(&deployment.blob, fetch)?;
        let config = match &deployment.config {
            Some(text) => {
                let path = self.workdir.join(format!("{id}.yaml"));
                fs::write(&path, text).map_err(io_error("write", &path))?;
                Some(path)
            }
            None => None,
        };
        let log = self.workdir.join(format!("{id}.log"));
        let stdout = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(io_error("open", &log))?;
        let stderr = stdout.try_clone().map_err(io_error("open", &log))?;
        let mut command = command(
            &binary,
            deployment,
            environment(
                deployment,
                config.as_deref(),
                self.jobmanager,
                self.bearer_token.as_deref(),
                self.host,
            ),
        );
        command
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .current_dir(&self.workdir);
        let child = spawn(&mut command).map_err(io_error("start", &binary))?;
        log::info!(
            "started process {} of {} (slots {}) of attempt {} of job {} ({:?}) as pid {}; \
             output in {}",
            deployment.process,
            deployment.processes,
            deployment.slot_list(),
            id.attempt,
            id.job_id,
            deployment.name,
            child.id(),
            log.display()
        );
        self.children.insert(id.clone(), child);
        Ok(())
    }

    /// The path of the executable blob `hash`, fetched if not cached.
    fn binary(
        &self,
        hash: &str,
        fetch: impl FnOnce(&str) -> Result<Vec<u8>, FetchError>,
    ) -> Result<PathBuf, LaunchError> {
        let path = self.workdir.join(format!("blob-{hash}"));
        if path.is_file() {
            return Ok(path);
        }
        let bytes = fetch(hash).map_err(|source| LaunchError::Fetch {
            hash: hash.to_string(),
            source,
        })?;
        let part = self.workdir.join(format!("blob-{hash}.part"));
        let write = || -> io::Result<()> {
            let mut file = File::create(&part)?;
            file.write_all(&bytes)?;
            file.set_permissions(fs::Permissions::from_mode(0o755))?;
            file.sync_all()
        };
        write().map_err(io_error("write", &part))?;
        fs::rename(&part, &path).map_err(io_error("rename", &part))?;
        Ok(path)
    }

    /// The attempts whose processes exited since the last call, with their
    /// exit codes (`None`: ended by a signal).
    pub(crate) fn poll(&mut self) -> Vec<(AttemptId, Option<i32>)> {
        let mut exited = Vec::new();
        self.children.retain(|id, child| match child.try_wait() {
            Ok(None) => true,
            Ok(Some(status)) => {
                log::info!("attempt {id} exited: {status}");
                exited.push((id.clone(), status.code()));
                false
            }
            Err(e) => {
                log::warn!("cannot watch attempt {id}, taking it as ended: {e}");
                let _ = child.kill();
                exited.push((id.clone(), None));
                false
            }
        });
        exited
    }

    /// Kills the process of `id` and waits for it: its exit code (`None`
    /// when the kill ended it), or `None` if it is not here.
    pub(crate) fn kill(&mut self, id: &AttemptId) -> Option<Option<i32>> {
        let mut child = self.children.remove(id)?;
        let _ = child.kill();
        let code = child.wait().ok().and_then(|s| s.code());
        log::info!("killed attempt {id}");
        Some(code)
    }

    /// Kills every process and waits for them.
    pub(crate) fn kill_all(&mut self) {
        let ids: Vec<AttemptId> = self.children.keys().cloned().collect();
        for id in ids {
            self.kill(&id);
        }
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        self.kill_all();
        if self.owned
            && let Err(e) = fs::remove_dir_all(&self.workdir)
        {
            log::warn!("cannot remove {}: {e}", self.workdir.display());
        }
    }
}

/// Spawns `command`, retrying while its binary is busy (see
/// [`TEXT_FILE_BUSY`]).
fn spawn(command: &mut Command) -> io::Result<Child> {
    let mut tries = 0;
    loop {
        match command.spawn() {
            Err(e) if e.raw_os_error() == Some(TEXT_FILE_BUSY) && tries < SPAWN_TRIES => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(10 * u64::from(tries)));
            }
            other => return other,
        }
    }
}

fn check_name(what: &'static str, value: &str) -> Result<(), LaunchError> {
    let valid = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    if value.is_empty() || value.len() > 128 || !value.bytes().all(valid) {
        return Err(LaunchError::Invalid {
            what,
            value: value.to_string(),
        });
    }
    Ok(())
}

fn io_error(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> LaunchError {
    let path = path.to_path_buf();
    move |source| LaunchError::Io { what, path, source }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::environment::tests::deployment;
    use std::net::Ipv4Addr;
    use std::time::Instant;

    fn processes() -> Processes {
        let jm = "127.0.0.1:6123".parse().unwrap();
        Processes::new(None, "unit", jm, None, Ipv4Addr::LOCALHOST.into()).unwrap()
    }

    fn script(text: &str) -> impl FnOnce(&str) -> Result<Vec<u8>, FetchError> {
        let bytes = format!("#!/bin/sh\n{text}\n").into_bytes();
        move |_| Ok(bytes)
    }

    fn exits_within(p: &mut Processes, timeout: Duration) -> Vec<(AttemptId, Option<i32>)> {
        let deadline = Instant::now() + timeout;
        loop {
            let exited = p.poll();
            if !exited.is_empty() || Instant::now() > deadline {
                return exited;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn a_binary_runs_is_cached_and_its_exit_is_seen_once() {
        let mut p = processes();
        let out = p.workdir().join("out");
        let d = deployment("j1", 1, "aa", &[out.to_str().unwrap()]);
        p.launch(&d, script(r#"echo "$@" > "$1"; exit 3"#)).unwrap();
        assert_eq!(
            exits_within(&mut p, Duration::from_secs(10)),
            [(d.id.clone(), Some(3))]
        );
        assert!(p.poll().is_empty());
        assert_eq!(
            fs::read_to_string(&out).unwrap().trim(),
            out.to_str().unwrap()
        );
        // The same blob again: not fetched.
        let again = deployment("j1", 2, "aa", &[out.to_str().unwrap()]);
        p.launch(&again, |_| panic!("fetched twice")).unwrap();
        assert_eq!(
            exits_within(&mut p, Duration::from_secs(10)),
            [(again.id, Some(3))]
        );
    }

    #[test]
    fn killed_processes_end_without_a_code_and_the_workdir_goes_on_drop() {
        let mut p = processes();
        let d = deployment("j1", 1, "bb", &[]);
        p.launch(&d, script("exec sleep 60")).unwrap();
        assert_eq!(p.kill(&d.id), Some(None));
        assert_eq!(p.kill(&d.id), None, "killed once");
        assert!(p.poll().is_empty());
        let workdir = p.workdir().to_path_buf();
        assert!(workdir.join("j1-1.log").is_file());
        drop(p);
        assert!(!workdir.exists());
    }

    #[test]
    fn deployments_that_cannot_start_say_why() {
        let mut p = processes();
        let missing = |_: &str| {
            Err(FetchError::Status {
                status: 404,
                message: "no such blob".into(),
            })
        };
        let err = p
            .launch(&deployment("j1", 1, "cc", &[]), missing)
            .unwrap_err();
        assert!(err.to_string().contains("no such blob"), "{err}");
        let err = p
            .launch(&deployment("../x", 1, "cc", &[]), script("true"))
            .unwrap_err();
        assert!(err.to_string().contains("job id"), "{err}");
        let not_executable = |_: &str| Ok(b"\x00\x01 not a program".to_vec());
        let err = p
            .launch(&deployment("j1", 1, "dd", &[]), not_executable)
            .unwrap_err();
        assert!(err.to_string().contains("cannot start"), "{err}");
    }
}
