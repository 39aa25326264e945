//! Launching a job binary: checking what the CLI can check up front, and passing
//! the settings through environment variables (design A7).

use crate::args::JobOptions;
use anyhow::{Context, Result, bail};
use runnel_api::{ENV_EXECUTION_MODE, ENV_PARALLELISM};
use runnel_config::{Configuration, ENV_CONF_DIR, ENV_CONFIG_FILE};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

/// What the job binary's `execute` should do (the values of `RUNNEL_EXECUTION_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Run the job.
    Local,
    /// Print the plan as text and exit.
    Explain,
    /// Print the plan as JSON and exit.
    ExplainJson,
}

impl Mode {
    fn as_env_value(self) -> &'static str {
        match self {
            Mode::Local => "local",
            Mode::Explain => "explain",
            Mode::ExplainJson => "explain-json",
        }
    }
}

/// Checks the options and the configuration file, and builds the command that
/// launches the job binary with its environment variables set. Nothing runs yet.
pub(crate) fn command(options: &JobOptions, mode: Mode) -> Result<Command> {
    let config_file = check_config(options)?;
    let program = resolve_binary(options.job())?;
    let mut command = Command::new(program);
    command
        .args(options.args())
        .env(ENV_EXECUTION_MODE, mode.as_env_value());
    if let Some(p) = options.parallelism {
        command.env(ENV_PARALLELISM, p.to_string());
    }
    if let Some(file) = config_file {
        command.env(ENV_CONFIG_FILE, file);
    }
    Ok(command)
}

/// Loads the configuration file the job will read, so that its errors are
/// reported (with file:line) before anything runs. Returns the path to pass as
/// `RUNNEL_CONFIG` when `-c` was given (an inherited variable is left as it is).
fn check_config(options: &JobOptions) -> Result<Option<PathBuf>> {
    if let Some(file) = &options.config {
        Configuration::load_file(file)?;
        // The job may change directory; hand it a path that still works.
        let absolute = std::path::absolute(file)
            .with_context(|| format!("cannot resolve the path {}", file.display()))?;
        return Ok(Some(absolute));
    }
    if let Some(file) = Configuration::file_from_env() {
        Configuration::load_file(&file).with_context(|| {
            format!(
                "the configuration file named by {ENV_CONFIG_FILE} or {ENV_CONF_DIR} is invalid"
            )
        })?;
    }
    Ok(None)
}

/// The program to start for `job`: a path is checked to be an executable file; a
/// bare name is taken from the current directory if a file of that name is there,
/// else looked up on `PATH` when it is started.
fn resolve_binary(job: &Path) -> Result<PathBuf> {
    let bare_name = job.parent().is_none_or(|p| p.as_os_str().is_empty());
    if job.as_os_str().is_empty() {
        bail!("the job binary path is empty");
    }
    if bare_name && !job.exists() {
        return Ok(job.to_path_buf());
    }
    let metadata = match std::fs::metadata(job) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            bail!("job binary {} does not exist", job.display())
        }
        Err(e) => {
            return Err(e).with_context(|| format!("cannot access job binary {}", job.display()));
        }
    };
    if metadata.is_dir() {
        bail!(
            "job binary {} is a directory, not an executable",
            job.display()
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if metadata.permissions().mode() & 0o111 == 0 {
            bail!(
                "job binary {} is not executable (no execute permission; build it with cargo, or chmod +x)",
                job.display()
            );
        }
    }
    Ok(if bare_name {
        // `Command` searches PATH for bare names, not the current directory.
        Path::new(".").join(job)
    } else {
        job.to_path_buf()
    })
}

/// The error for a job binary that could not be started.
pub(crate) fn spawn_error(error: io::Error, job: &Path) -> anyhow::Error {
    if error.kind() == io::ErrorKind::NotFound {
        return anyhow::anyhow!(
            "job binary {} not found (not a file in the current directory, nor on PATH)",
            job.display()
        );
    }
    anyhow::Error::new(error).context(format!("cannot start job binary {}", job.display()))
}

/// Makes the CLI survive Ctrl-C while it waits for the job. The job is in the same
/// process group, so the terminal delivers the interrupt to it too; it cancels
/// itself and exits, and the CLI then exits with its code.
///
/// A no-op handler, not an ignored signal: an ignored disposition would be
/// inherited by the job across `exec`, a handler is reset to the default.
pub(crate) fn survive_interrupts() {
    // Fails only if a handler is already installed, which is just as good.
    let _ = ctrlc::set_handler(|| {});
}

/// The exit code that reports `status` the way a shell does: the job's code, or
/// 128 + N when it was killed by signal N.
pub(crate) fn exit_code(status: ExitStatus) -> u8 {
    if let Some(code) = status.code() {
        return u8::try_from(code).unwrap_or(1);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return u8::try_from(128 + signal).unwrap_or(255);
        }
    }
    1
}

/// `status` in words: "exited with code 3", "was killed by signal 9".
pub(crate) fn describe(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exited with code {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("was killed by signal {signal}");
        }
    }
    format!("ended with {status}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(job: &str) -> JobOptions {
        JobOptions {
            parallelism: None,
            config: None,
            command_line: vec![job.into()],
        }
    }

    fn temp_path(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("runnel-cli-{}-{name}", std::process::id()))
    }

    #[test]
    fn missing_and_unusable_binaries_are_named() {
        let err = resolve_binary(Path::new("/nonexistent/runnel/job")).unwrap_err();
        assert!(
            err.to_string()
                .contains("/nonexistent/runnel/job does not exist"),
            "{err}"
        );
        let err = resolve_binary(&std::env::temp_dir()).unwrap_err();
        assert!(err.to_string().contains("is a directory"), "{err}");
        assert!(resolve_binary(Path::new("")).is_err());
        // A bare name that is no file here is left for PATH lookup.
        assert_eq!(
            resolve_binary(Path::new("runnel-no-such-job")).unwrap(),
            PathBuf::from("runnel-no-such-job")
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_file_without_execute_permission_is_rejected() {
        let file = temp_path("not-executable");
        std::fs::write(&file, "#!/bin/sh\n").unwrap();
        let err = resolve_binary(&file).unwrap_err();
        std::fs::remove_file(&file).unwrap();
        assert!(err.to_string().contains("is not executable"), "{err}");
    }

    #[test]
    fn the_config_file_is_checked_before_launching() {
        let file = temp_path("bad.yaml");
        std::fs::write(&file, "parallelism.default: 2\nparalelism.max: 3\n").unwrap();
        let mut opts = options("/bin/true");
        opts.config = Some(file.clone());
        let err = command(&opts, Mode::Local).unwrap_err();
        std::fs::remove_file(&file).unwrap();
        let msg = format!("{err:#}");
        assert!(msg.contains(&format!("{}:2", file.display())), "{msg}");
    }

    #[test]
    fn settings_become_environment_variables() {
        let file = temp_path("good.yaml");
        std::fs::write(&file, "parallelism.default: 2\n").unwrap();
        let mut opts = options("/nonexistent/runnel/job");
        opts.config = Some(file.clone());
        opts.parallelism = Some(3);
        // The binary is checked after the configuration.
        assert!(command(&opts, Mode::Explain).is_err());
        opts.command_line = vec![std::env::current_exe().unwrap().into()];
        let cmd = command(&opts, Mode::ExplainJson).unwrap();
        std::fs::remove_file(&file).unwrap();
        let envs: Vec<(String, String)> = cmd
            .get_envs()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.unwrap().to_string_lossy().into_owned(),
                )
            })
            .collect();
        assert!(
            envs.contains(&(ENV_PARALLELISM.into(), "3".into())),
            "{envs:?}"
        );
        assert!(envs.contains(&(ENV_EXECUTION_MODE.into(), "explain-json".into())));
        assert!(envs.contains(&(ENV_CONFIG_FILE.into(), file.display().to_string())));
    }

    #[cfg(unix)]
    #[test]
    fn exit_codes_are_reported_like_a_shell() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(exit_code(ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(exit_code(ExitStatus::from_raw(9)), 137);
        assert_eq!(describe(ExitStatus::from_raw(3 << 8)), "exited with code 3");
        assert_eq!(describe(ExitStatus::from_raw(9)), "was killed by signal 9");
    }
}
