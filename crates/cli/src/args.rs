//! The command-line grammar (clap derive): one [`Command`] variant per command.

use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

const ABOUT: &str = "Runnel: run, explain and configure stream processing jobs";

const LONG_ABOUT: &str = "\
Runnel: run, explain and configure stream processing jobs.

A Runnel job is a Rust binary that links Runnel, creates its environment with
StreamExecutionEnvironment::get_execution_environment() and calls execute(). This
command launches that binary as a child process and passes settings to it through
environment variables; it never loads job code itself.";

const JOB_HELP: &str = "\
Environment passed to the job binary:
  RUNNEL_PARALLELISM=N      from -p N (unset without -p: an inherited value is kept)
  RUNNEL_CONFIG=FILE        from -c FILE (without -c, an inherited RUNNEL_CONFIG or
                            RUNNEL_CONF_DIR/config.yaml is checked and kept)
  RUNNEL_EXECUTION_MODE     local (run), explain, or explain-json (explain --json, info)

Parallelism precedence, highest first: an operator's set_parallelism, the job's
env.set_parallelism, -p, parallelism.default in the configuration file, 1.

Arguments after JOB_BINARY are passed to the job unchanged, including ones that
start with '-'.";

/// `runnel [COMMAND]`.
#[derive(Debug, Parser)]
#[command(
    name = "runnel",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    arg_required_else_help = true,
    propagate_version = true
)]
pub(crate) struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run a job binary locally and exit with its exit code
    #[command(
        after_help = "Example: runnel run -p 4 target/release/examples/word_count",
        after_long_help = format!(
            "{JOB_HELP}\n\nExit code: the job's; 128+N if it is killed by signal N.\n\n\
             Example: runnel run -p 4 -c conf/config.yaml target/release/examples/word_count"
        )
    )]
    Run(RunArgs),
    /// Print a job's StreamGraph, JobGraph and ExecutionGraph without running it
    #[command(
        after_help = "Example: runnel explain -p 4 target/release/examples/word_count",
        after_long_help = format!(
            "{JOB_HELP}\n\nThe plan is printed on standard output; anything else the job \
             prints before it goes to standard error.\n\n\
             Example: runnel explain --json -p 4 target/release/examples/word_count"
        )
    )]
    Explain(ExplainArgs),
    /// Print a job's plan as JSON without running it (same as `explain --json`)
    #[command(
        after_help = "Example: runnel info target/release/examples/word_count",
        after_long_help = format!("{JOB_HELP}\n\nExample: runnel info -p 4 target/release/examples/word_count")
    )]
    Info(JobOptions),
    /// List the configuration keys, or check a configuration file
    #[command(after_help = "Examples:\n  runnel config\n  runnel config --check conf/config.yaml")]
    Config(ConfigArgs),
    /// List the jobs running on this machine (started with `runnel run`), or a JobManager's
    List(ListArgs),
    /// Take a savepoint of a running job; prints its path
    #[command(
        after_help = "Example: runnel savepoint 3f2a9c0d1e4b5a6f7081928374655647 /tmp/savepoints"
    )]
    Savepoint(SavepointArgs),
    /// Stop a running job with a savepoint (stop-with-savepoint); prints its path
    #[command(
        after_help = "Example: runnel stop --savepoint-path /tmp/savepoints 3f2a9c0d1e4b5a6f7081928374655647"
    )]
    Stop(StopArgs),
    /// Cancel a running job
    Cancel(JobIdArg),
    /// Run a JobManager: the REST API and web UI, and the RPC endpoint TaskManagers join
    #[command(after_help = "Example: runnel jobmanager --port 8081 --rpc-port 6123")]
    Jobmanager(JobManagerProcessArgs),
    /// Run a TaskManager that registers its slots with a JobManager
    #[command(after_help = "Example: runnel taskmanager --jobmanager 127.0.0.1:6123 --slots 4")]
    Taskmanager(TaskManagerProcessArgs),
}

/// `runnel jobmanager`.
#[derive(Debug, Args)]
pub(crate) struct JobManagerProcessArgs {
    /// YAML configuration file (rest.*, jobmanager.rpc.*, heartbeat.*)
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The REST port (overrides rest.port; 0 picks a free one)
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// The address the REST API listens on (overrides rest.bind-address; default loopback)
    #[arg(long, value_name = "ADDRESS")]
    pub address: Option<String>,
    /// The RPC port TaskManagers join on (overrides jobmanager.rpc.port; 0 picks a free one)
    #[arg(long, value_name = "PORT")]
    pub rpc_port: Option<u16>,
    /// The address the RPC endpoint listens on (overrides jobmanager.rpc.address; default
    /// loopback)
    #[arg(long, value_name = "ADDRESS")]
    pub rpc_address: Option<String>,
}

/// `runnel taskmanager`.
#[derive(Debug, Args)]
pub(crate) struct TaskManagerProcessArgs {
    /// The JobManager's RPC address (default jobmanager.rpc.address:jobmanager.rpc.port,
    /// 127.0.0.1:6123)
    #[arg(short = 'm', long = "jobmanager", value_name = "HOST:PORT")]
    pub jobmanager: Option<String>,
    /// Task slots to offer (overrides taskmanager.numberOfTaskSlots)
    #[arg(short, long, value_name = "N", value_parser = parse_parallelism)]
    pub slots: Option<u32>,
    /// YAML configuration file (taskmanager.numberOfTaskSlots, jobmanager.rpc.*,
    /// rest.bearer-token)
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The JobManager's bearer token (rest.bearer-token)
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// Where to cache job binaries and write attempt logs
    /// (process.taskmanager.working-dir; default: a temporary directory)
    #[arg(long, value_name = "DIR")]
    pub working_dir: Option<PathBuf>,
}

/// `runnel run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Start from this savepoint (or retained checkpoint) directory
    #[arg(short = 's', long = "from-savepoint", value_name = "PATH")]
    pub from_savepoint: Option<PathBuf>,
    /// With -s: drop state of operators the job no longer has instead of failing
    #[arg(long, requires = "from_savepoint")]
    pub allow_non_restored_state: bool,
    /// Submit the job to the JobManager at HOST:PORT (a standalone cluster)
    /// instead of running it here
    #[arg(short = 'm', long = "jobmanager", value_name = "HOST:PORT")]
    pub jobmanager: Option<String>,
    /// With --jobmanager: return once the job is submitted
    #[arg(short = 'd', long, requires = "jobmanager")]
    pub detached: bool,
    /// With --jobmanager: the REST API's bearer token (rest.bearer-token)
    #[arg(long, value_name = "TOKEN", requires = "jobmanager")]
    pub token: Option<String>,
    /// The job and its settings.
    #[command(flatten)]
    pub job: JobOptions,
}

/// Where a job is controlled: this machine's jobs directory, or a JobManager.
#[derive(Debug, Args, Default)]
pub(crate) struct JobManagerArgs {
    /// Talk to the JobManager's REST API at HOST:PORT instead of the jobs started
    /// on this machine
    #[arg(short = 'm', long = "jobmanager", value_name = "HOST:PORT")]
    pub jobmanager: Option<String>,
    /// With --jobmanager: the REST API's bearer token (rest.bearer-token)
    #[arg(long, value_name = "TOKEN", requires = "jobmanager")]
    pub token: Option<String>,
}

/// `runnel list`.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Where the jobs are.
    #[command(flatten)]
    pub target: JobManagerArgs,
}

/// `runnel savepoint`.
#[derive(Debug, Args)]
pub(crate) struct SavepointArgs {
    /// The job's id (see `runnel list`)
    pub job_id: String,
    /// Where to write it (default: execution.checkpointing.savepoint-dir of the job)
    pub target_directory: Option<PathBuf>,
    /// Where the job is.
    #[command(flatten)]
    pub target: JobManagerArgs,
}

/// `runnel stop`.
#[derive(Debug, Args)]
pub(crate) struct StopArgs {
    /// Where to write the savepoint (default: execution.checkpointing.savepoint-dir)
    #[arg(short = 'p', long = "savepoint-path", value_name = "DIR")]
    pub savepoint_path: Option<PathBuf>,
    /// The job's id (see `runnel list`)
    pub job_id: String,
    /// Where the job is.
    #[command(flatten)]
    pub target: JobManagerArgs,
}

/// A job id argument.
#[derive(Debug, Args)]
pub(crate) struct JobIdArg {
    /// The job's id (see `runnel list`)
    pub job_id: String,
    /// Where the job is.
    #[command(flatten)]
    pub target: JobManagerArgs,
}

/// What every command that launches a job binary accepts.
#[derive(Debug, Args)]
pub(crate) struct JobOptions {
    /// Default parallelism of the job's operators (a positive integer)
    #[arg(
        short,
        long,
        value_name = "N",
        value_parser = parse_parallelism,
        allow_negative_numbers = true
    )]
    pub parallelism: Option<u32>,
    /// YAML configuration file (checked before the job starts)
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The job binary (a path, or a name looked up on PATH), then its arguments
    ///
    /// Everything from JOB_BINARY on belongs to the job, even if it starts with `-`.
    #[arg(
        value_names = ["JOB_BINARY", "JOB_ARGS"],
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command_line: Vec<OsString>,
}

impl JobOptions {
    /// The job binary.
    pub fn job(&self) -> &Path {
        Path::new(&self.command_line[0])
    }

    /// The arguments for the job binary.
    pub fn args(&self) -> &[OsString] {
        &self.command_line[1..]
    }

    /// Rejects a misspelt option given before the job binary (which the grammar
    /// would otherwise take for the job binary's name) as a usage error.
    fn check(&self) -> Result<(), clap::Error> {
        let job = self.job();
        if job.to_string_lossy().starts_with('-') && !job.exists() {
            return Err(clap::Error::raw(
                clap::error::ErrorKind::UnknownArgument,
                format!(
                    "unexpected argument '{}': no such option, and no job binary of that name\n\nFor more information, try '--help'.\n",
                    job.display()
                ),
            ));
        }
        Ok(())
    }
}

impl Cli {
    /// Parses the command line (the first argument is the program name).
    pub fn parse_args<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let cli = Cli::try_parse_from(args)?;
        match &cli.command {
            Command::Run(args) => args.job.check()?,
            Command::Info(job) => job.check()?,
            Command::Explain(args) => args.job.check()?,
            Command::Config(_)
            | Command::List(_)
            | Command::Savepoint(_)
            | Command::Stop(_)
            | Command::Cancel(_)
            | Command::Jobmanager(_)
            | Command::Taskmanager(_) => {}
        }
        Ok(cli)
    }
}

/// `runnel explain`.
#[derive(Debug, Args)]
pub(crate) struct ExplainArgs {
    /// Print the plan as JSON instead of text
    #[arg(long)]
    pub json: bool,
    /// The job and its settings.
    #[command(flatten)]
    pub job: JobOptions,
}

/// `runnel config`.
#[derive(Debug, Args)]
pub(crate) struct ConfigArgs {
    /// Check FILE and print `ok`, or the first problem with its file:line
    #[arg(long, value_name = "FILE")]
    pub check: Option<PathBuf>,
}

/// Parses `-p`: an integer from 1 to `u32::MAX`.
fn parse_parallelism(value: &str) -> Result<u32, String> {
    match value.trim().parse::<i128>() {
        Ok(p) if p < 1 => Err("the parallelism must be a positive integer (1 or more)".into()),
        Ok(p) => {
            u32::try_from(p).map_err(|_| format!("the parallelism must be at most {}", u32::MAX))
        }
        Err(_) => Err("expected a positive integer".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::parse_args(std::iter::once("runnel").chain(args.iter().copied()))
    }

    fn job(cli: Cli) -> JobOptions {
        match cli.command {
            Command::Run(args) => args.job,
            Command::Info(job) => job,
            Command::Explain(e) => e.job,
            _ => panic!("not a job command"),
        }
    }

    #[test]
    fn the_grammar_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parallelism_must_be_a_positive_integer() {
        assert_eq!(parse_parallelism("4"), Ok(4));
        assert_eq!(parse_parallelism(" 12 "), Ok(12));
        for bad in ["0", "-1", "abc", "", "1.5", "99999999999"] {
            assert!(parse_parallelism(bad).is_err(), "{bad}");
        }
        for bad in ["0", "-1", "abc"] {
            let err = parse(&["run", "-p", bad, "job"]).unwrap_err();
            assert_eq!(err.exit_code(), 2);
            let msg = err.to_string();
            assert!(msg.contains("--parallelism") && msg.contains(bad), "{msg}");
        }
    }

    #[test]
    fn arguments_after_the_job_binary_belong_to_the_job() {
        let j = job(parse(&["run", "-p", "2", "./job", "-p", "3", "--input", "x"]).unwrap());
        assert_eq!(j.parallelism, Some(2));
        assert_eq!(j.job(), Path::new("./job"));
        assert_eq!(j.args(), ["-p", "3", "--input", "x"].map(OsString::from));

        let j = job(parse(&["explain", "--json", "-c", "c.yaml", "./job", "a"]).unwrap());
        assert_eq!(j.config, Some(PathBuf::from("c.yaml")));
        assert_eq!(j.args(), [OsString::from("a")]);

        let j = job(parse(&["info", "--", "./job", "--json"]).unwrap());
        assert_eq!(j.args(), [OsString::from("--json")]);

        let err = parse(&["run", "--paralelism", "3", "./job"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("'--paralelism'"), "{err}");
    }

    #[test]
    fn a_job_binary_is_required() {
        assert_eq!(parse(&["run"]).unwrap_err().exit_code(), 2);
        assert_eq!(parse(&["run", "-p", "2"]).unwrap_err().exit_code(), 2);
    }
}
