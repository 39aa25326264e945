//! End-to-end tests of the `runnel` command line, launching the example job
//! `examples/cli_probe_job.rs` as a child process.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Environment variables of the CLI contract, removed so the tests' own
/// environment cannot leak into the job.
const RUNNEL_VARS: [&str; 7] = [
    "RUNNEL_PARALLELISM",
    "RUNNEL_CONFIG",
    "RUNNEL_CONF_DIR",
    "RUNNEL_EXECUTION_MODE",
    "RUNNEL_SAVEPOINT_PATH",
    "RUNNEL_ALLOW_NON_RESTORED_STATE",
    "RUNNEL_JOBS_DIR",
];

/// The CLI binary, with a clean environment.
fn runnel() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_runnel"));
    for var in RUNNEL_VARS {
        command.env_remove(var);
    }
    command
}

/// The probe job binary, built by `cargo test` next to the CLI.
fn probe() -> PathBuf {
    let cli = Path::new(env!("CARGO_BIN_EXE_runnel"));
    let dir = cli.parent().expect("the CLI binary has a directory");
    let probe = dir
        .join("examples")
        .join(format!("cli_probe_job{}", std::env::consts::EXE_SUFFIX));
    assert!(
        probe.is_file(),
        "the example job {} is missing: run `cargo test --workspace` (which builds the examples) \
         or `cargo build --example cli_probe_job` first",
        probe.display()
    );
    probe
}

/// What a finished command did.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn output(mut command: Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("the runnel binary starts");
    Run {
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// `runnel <args...>`.
fn cli(args: &[&str]) -> Run {
    let mut command = runnel();
    command.args(args);
    output(command)
}

/// `runnel <command> <options...> <probe> <job args...>`.
fn cli_probe(command: &str, options: &[&str], job_args: &[&str]) -> Run {
    let mut c = runnel();
    c.arg(command).args(options).arg(probe()).args(job_args);
    output(c)
}

/// A file under the temp directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, contents: &str) -> TempFile {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("runnel-cli-test-{}-{n}-{name}", std::process::id()));
        std::fs::write(&path, contents).expect("write temp file");
        TempFile(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("temp paths are UTF-8")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn parallelism_seen(run: &Run) -> u32 {
    let text = format!("{}{}", run.stdout, run.stderr);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("PARALLELISM "))
        .unwrap_or_else(|| panic!("the job printed no PARALLELISM line:\n{text}"));
    line.trim().parse().expect("PARALLELISM is a number")
}

fn printed_records(stdout: &str) -> usize {
    stdout.lines().filter(|l| l.starts_with("probe")).count()
}

#[test]
fn run_passes_the_parallelism_to_the_job() {
    let run = cli_probe("run", &["-p", "3"], &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(parallelism_seen(&run), 3);
    // Six words, each printed once by the reduce.
    assert_eq!(printed_records(&run.stdout), 6, "{}", run.stdout);

    let run = cli_probe("run", &["--parallelism", "2"], &[]);
    assert_eq!(parallelism_seen(&run), 2);
}

#[test]
fn without_p_or_config_the_parallelism_is_1() {
    let run = cli_probe("run", &[], &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(parallelism_seen(&run), 1);
}

#[test]
fn the_config_file_parallelism_is_used_without_p() {
    let config = TempFile::new("p2.yaml", "parallelism.default: 2\n");
    let run = cli_probe("run", &["-c", config.path()], &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(parallelism_seen(&run), 2);
}

#[test]
fn p_overrides_the_config_file() {
    let config = TempFile::new("p2.yaml", "parallelism:\n  default: 2\n");
    let run = cli_probe("run", &["-c", config.path(), "-p", "4"], &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(parallelism_seen(&run), 4);
}

#[test]
fn an_inherited_conf_dir_is_used_and_checked() {
    let dir = std::env::temp_dir().join(format!("runnel-cli-test-{}-confdir", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("config.yaml");

    std::fs::write(&file, "parallelism.default: 5\n").unwrap();
    let mut command = runnel();
    command.env("RUNNEL_CONF_DIR", &dir).arg("run").arg(probe());
    let good = output(command);

    std::fs::write(&file, "parallelism.default: five\n").unwrap();
    let mut command = runnel();
    command.env("RUNNEL_CONF_DIR", &dir).arg("run").arg(probe());
    let bad = output(command);
    let _ = std::fs::remove_dir_all(&dir);

    assert_eq!(good.code, Some(0), "{}", good.stderr);
    assert_eq!(parallelism_seen(&good), 5);
    assert_eq!(bad.code, Some(1));
    assert!(
        bad.stdout.is_empty(),
        "the job must not run: {}",
        bad.stdout
    );
    assert!(bad.stderr.contains("RUNNEL_CONF_DIR"), "{}", bad.stderr);
    assert!(
        bad.stderr.contains(&format!("{}:1", file.display())),
        "{}",
        bad.stderr
    );
}

#[test]
fn explain_prints_the_three_graphs_without_running_the_job() {
    let run = cli_probe("explain", &["-p", "3"], &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    for graph in ["StreamGraph", "JobGraph", "ExecutionGraph"] {
        assert!(run.stdout.contains(graph), "no {graph} in:\n{}", run.stdout);
    }
    assert!(run.stdout.contains("p=3"), "{}", run.stdout);
    assert_eq!(
        printed_records(&run.stdout),
        0,
        "the job ran:\n{}",
        run.stdout
    );
    // What the job printed before the plan goes to standard error.
    assert_eq!(parallelism_seen(&run), 3);
    assert!(run.stdout.starts_with("== StreamGraph"), "{}", run.stdout);
}

#[test]
fn explain_json_and_info_print_the_plan_as_json() {
    for (command, options) in [
        ("explain", &["--json", "-p", "2"][..]),
        ("info", &["-p", "2"]),
    ] {
        let run = cli_probe(command, options, &[]);
        assert_eq!(run.code, Some(0), "{command}: {}", run.stderr);
        let plan: serde_json::Value = serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("{command}: not JSON ({e}):\n{}", run.stdout));
        for key in ["stream_graph", "job_graph", "execution_graph"] {
            assert!(plan.get(key).is_some(), "{command}: no {key}");
        }
        assert_eq!(plan["stream_graph"]["job_name"], "cli probe");
        assert_eq!(printed_records(&run.stderr), 0, "{command}: the job ran");
        assert_eq!(parallelism_seen(&run), 2);
    }
}

#[test]
fn an_invalid_parallelism_is_a_usage_error() {
    for bad in ["0", "abc", "-1", "1.5"] {
        let run = cli_probe("run", &["-p", bad], &[]);
        assert_eq!(run.code, Some(2), "-p {bad}: {}", run.stderr);
        assert!(
            run.stderr.contains("--parallelism") && run.stderr.contains(bad),
            "-p {bad}: {}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "-p {bad}: the job ran");
    }
    let run = cli_probe("explain", &["-p", "0"], &[]);
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("positive integer"), "{}", run.stderr);
}

#[test]
fn an_unknown_config_key_is_reported_with_file_and_line() {
    let config = TempFile::new(
        "unknown.yaml",
        "# settings\nparallelism.default: 2\nparalelism.max: 3\n",
    );
    let location = format!("{}:3", config.path());
    for command in ["run", "explain", "info"] {
        let run = cli_probe(command, &["-c", config.path()], &[]);
        assert_eq!(run.code, Some(1), "{command}: {}", run.stderr);
        assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
        assert!(run.stderr.contains(&location), "{command}: {}", run.stderr);
        assert!(run.stderr.contains("paralelism.max"), "{}", run.stderr);
        assert!(run.stdout.is_empty(), "{command}: the job ran");
    }
    let run = cli(&["config", "--check", config.path()]);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains(&location), "{}", run.stderr);
    assert!(
        run.stderr.contains("unknown configuration key"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_ill_typed_config_value_is_reported_with_file_and_line() {
    let config = TempFile::new("ill-typed.yaml", "parallelism.default: many\n");
    let run = cli_probe("run", &["-c", config.path()], &[]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    for part in [
        &format!("{}:1", config.path()),
        "parallelism.default",
        "many",
        "positive integer",
    ] {
        assert!(run.stderr.contains(part), "no {part:?} in {}", run.stderr);
    }
    assert!(run.stdout.is_empty(), "the job ran");

    let run = cli(&["config", "--check", config.path()]);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("parallelism.default"), "{}", run.stderr);
}

#[test]
fn a_missing_config_file_is_named() {
    let run = cli_probe("run", &["-c", "/nonexistent/runnel/config.yaml"], &[]);
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr.contains("/nonexistent/runnel/config.yaml"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_missing_job_binary_is_a_clear_error() {
    for command in ["run", "explain", "info"] {
        let run = cli(&[command, "/nonexistent/runnel/job", "arg"]);
        assert_eq!(run.code, Some(1), "{command}");
        assert!(
            run.stderr
                .contains("error: job binary /nonexistent/runnel/job does not exist"),
            "{command}: {}",
            run.stderr
        );
    }
    let run = cli(&["run", "runnel-no-such-job-binary"]);
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr.contains("runnel-no-such-job-binary not found"),
        "{}",
        run.stderr
    );
}

#[cfg(unix)]
#[test]
fn a_job_binary_without_execute_permission_is_a_clear_error() {
    let file = TempFile::new("not-executable", "#!/bin/sh\nexit 0\n");
    let run = cli(&["run", file.path()]);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains(file.path()), "{}", run.stderr);
    assert!(run.stderr.contains("not executable"), "{}", run.stderr);
}

#[test]
fn the_job_exit_code_is_propagated() {
    for code in [0, 3, 42] {
        let run = cli_probe("run", &[], &["--exit-code", &code.to_string()]);
        assert_eq!(run.code, Some(code), "{}", run.stderr);
        // Arguments after the job binary went to the job, not to runnel.
        assert_eq!(printed_records(&run.stdout), 6);
    }
    let run = cli_probe("run", &[], &["--bogus"]);
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr.contains("unknown argument --bogus"),
        "{}",
        run.stderr
    );
}

#[cfg(unix)]
#[test]
fn a_job_killed_by_a_signal_exits_with_128_plus_the_signal() {
    let run = cli_probe("run", &[], &["--abort"]);
    assert_eq!(run.code, Some(128 + 6), "{}", run.stderr);
    assert!(run.stderr.contains("killed by signal 6"), "{}", run.stderr);
}

#[test]
fn explain_fails_when_the_job_prints_no_plan_or_fails() {
    let run = cli_probe("explain", &[], &["--no-execute"]);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("printed no plan"), "{}", run.stderr);
    assert!(
        run.stderr.contains("get_execution_environment"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "{}", run.stdout);

    let run = cli_probe("info", &[], &["--no-execute", "--exit-code", "5"]);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("exited with code 5"), "{}", run.stderr);
}

#[test]
fn config_lists_every_key_and_checks_files() {
    let run = cli(&["config"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    for option in runnel::config::OPTIONS {
        assert!(run.stdout.contains(option.key), "{} not listed", option.key);
        assert!(run.stdout.contains(option.description));
    }
    let config = TempFile::new(
        "good.yaml",
        "parallelism.default: 4\nexecution.buffer-timeout.interval: 5 ms\n",
    );
    let run = cli(&["config", "--check", config.path()]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.stdout, "ok\n");
}

#[test]
fn version_help_and_usage_errors() {
    let run = cli(&["--version"]);
    assert_eq!(run.code, Some(0));
    assert_eq!(
        run.stdout.trim(),
        format!("runnel {}", env!("CARGO_PKG_VERSION"))
    );

    let run = cli(&["run", "--help"]);
    assert_eq!(run.code, Some(0));
    for text in [
        "--parallelism",
        "--config",
        "JOB_BINARY",
        "RUNNEL_PARALLELISM",
    ] {
        assert!(run.stdout.contains(text), "no {text} in run --help");
    }

    for args in [
        &[][..],
        &["frobnicate"],
        &["run"],
        &["run", "--paralelism", "2", "job"],
    ] {
        let run = cli(args);
        assert_eq!(run.code, Some(2), "{args:?}: {}", run.stderr);
    }
}

/// The checkpointing example job, built by `cargo test` next to the CLI.
fn checkpointing_example() -> PathBuf {
    let cli = Path::new(env!("CARGO_BIN_EXE_runnel"));
    let example = cli
        .parent()
        .expect("the CLI binary has a directory")
        .join("examples")
        .join(format!("checkpointing{}", std::env::consts::EXE_SUFFIX));
    assert!(
        example.is_file(),
        "{} is missing: build the examples",
        example.display()
    );
    example
}

/// The sum of `count=` over the committed part files in `dir`.
fn committed_orders(dir: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        for line in std::fs::read_to_string(entry.path()).unwrap().lines() {
            let count = line
                .split_whitespace()
                .find_map(|f| f.strip_prefix("count="))
                .expect("a count field");
            total += count.parse::<u64>().unwrap();
        }
    }
    total
}

#[test]
fn a_running_job_is_savepointed_stopped_and_resumed_through_the_cli() {
    let base = std::env::temp_dir().join(format!("runnel-cli-savepoint-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let (jobs, out, savepoints) = (base.join("jobs"), base.join("out"), base.join("sp"));
    let with_jobs = |mut c: Command| {
        c.env("RUNNEL_JOBS_DIR", &jobs);
        c
    };
    let orders = "300000";
    let mut job = with_jobs(runnel())
        .args(["run"])
        .arg(checkpointing_example())
        .args([
            "--orders",
            orders,
            "--rate",
            "40000",
            "--fail-after",
            "0",
            "--out",
        ])
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("runnel run starts");

    let mut id = None;
    for _ in 0..400 {
        let mut list = with_jobs(runnel());
        list.arg("list");
        let listed = output(list);
        if let Some(line) = listed
            .stdout
            .lines()
            .find(|l| l.contains("Checkpointed orders"))
        {
            id = line.split_whitespace().next().map(str::to_string);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    let id = id.expect("the job appears in `runnel list`");
    // Let a checkpoint commit some output first.
    for _ in 0..400 {
        if std::fs::read_dir(&out).is_ok_and(|d| {
            d.flatten()
                .any(|e| !e.file_name().to_string_lossy().starts_with('.'))
        }) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }

    let mut savepoint = with_jobs(runnel());
    savepoint.args(["savepoint", &id]).arg(&savepoints);
    let taken = output(savepoint);
    assert_eq!(taken.code, Some(0), "{}", taken.stderr);
    let path = taken
        .stdout
        .trim()
        .strip_prefix("Savepoint completed. Path: ")
        .expect("the path is printed")
        .to_string();
    assert!(Path::new(&path).join("_metadata").is_file(), "{path}");

    let mut stop = with_jobs(runnel());
    stop.args(["stop", "--savepoint-path"])
        .arg(&savepoints)
        .arg(&id);
    let stopped = output(stop);
    assert_eq!(stopped.code, Some(0), "{}", stopped.stderr);
    let final_savepoint = stopped
        .stdout
        .trim()
        .strip_prefix("Savepoint completed. Path: ")
        .expect("the path is printed")
        .to_string();
    assert_eq!(
        job.wait().unwrap().code(),
        Some(0),
        "the stopped job exits cleanly"
    );
    let before = committed_orders(&out);
    assert!(before > 0 && before < 300_000, "stopped midway: {before}");

    let mut resume = with_jobs(runnel());
    resume
        .args(["run", "-s", &final_savepoint])
        .arg(checkpointing_example())
        .args(["--orders", orders, "--fail-after", "0", "--out"])
        .arg(&out);
    let resumed = output(resume);
    assert_eq!(resumed.code, Some(0), "{}", resumed.stderr);
    assert_eq!(
        committed_orders(&out),
        300_000,
        "every order once, over both runs"
    );

    let mut gone = with_jobs(runnel());
    gone.args(["cancel", &id]);
    let gone = output(gone);
    assert_eq!(gone.code, Some(1));
    assert!(gone.stderr.contains("no running job"), "{}", gone.stderr);
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn list_savepoint_and_cancel_talk_to_a_jobmanager_with_dash_m() {
    use runnel::prelude::*;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let savepoints = std::env::temp_dir().join(format!("runnel-cli-rest-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&savepoints);
    let env = StreamExecutionEnvironment::with_config(Configuration::default());
    env.enable_web_ui(port);
    env.from_sequence(1, u64::MAX)
        .map(|x: u64| {
            std::thread::sleep(std::time::Duration::from_millis(1));
            (x % 3, x)
        })
        .key_by(|e: &(u64, u64)| e.0)
        .sum(|(_, v)| v)
        .add_sink(|_: (u64, u64)| {});
    let client = env.execute_async("cli over rest").unwrap();
    let jm = format!("127.0.0.1:{port}");
    let id = client.job_id().to_string();

    let listed = cli(&["list", "--jobmanager", &jm]);
    assert_eq!(listed.code, Some(0), "{}", listed.stderr);
    assert!(
        listed
            .stdout
            .contains(&format!("{id}  RUNNING  cli over rest")),
        "{}",
        listed.stdout
    );

    let taken = cli(&["savepoint", "-m", &jm, &id, savepoints.to_str().unwrap()]);
    assert_eq!(taken.code, Some(0), "{}", taken.stderr);
    let path = taken
        .stdout
        .trim()
        .strip_prefix("Savepoint completed. Path: ")
        .unwrap_or_else(|| panic!("{}", taken.stdout));
    assert!(Path::new(path).join("_metadata").is_file(), "{path}");

    let unknown = cli(&["cancel", "-m", &jm, "0123456789abcdef0123456789abcdef"]);
    assert_eq!(unknown.code, Some(1));
    assert!(unknown.stderr.contains("404"), "{}", unknown.stderr);

    let cancelled = cli(&["cancel", "-m", &jm, &id]);
    assert_eq!(cancelled.code, Some(0), "{}", cancelled.stderr);
    assert!(client.wait().is_err(), "cancelled");

    let unreachable = cli(&["list", "-m", "127.0.0.1:1"]);
    assert_eq!(unreachable.code, Some(1));
    assert!(
        unreachable
            .stderr
            .contains("cannot reach the JobManager at 127.0.0.1:1"),
        "{}",
        unreachable.stderr
    );
    let _ = std::fs::remove_dir_all(&savepoints);
}
