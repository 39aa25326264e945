//! The stream execution environment: where a job is defined and executed.

use crate::cluster_attempt::ProcessRole;
use crate::datastream::SingleOutputStreamOperator;
use crate::error::EnvironmentError;
use crate::graph::GraphBuilder;
use crate::signal;
use runnel_config::{BufferTimeout, Configuration};
use runnel_connectors::{
    CollectionSource, DataGeneratorSource, FileProcessingMode, IteratorSource,
    NumberSequenceSource, SocketTextSource, TextFileSource,
};
use runnel_plan::{
    ChainingStrategy, NodeKind, NodeSpec, ParallelismDefaults, Plan, PlanError, StreamGraph,
};
use runnel_runtime::clock::{Clock, SystemClock};
use runnel_runtime::control::ControlEndpoint;
use runnel_runtime::distributed::{LeaderRole, TaskExecutorRole, run_task_executor};
use runnel_runtime::environment::{ExecutableJob, NodeFactory, OutputPort, SidePorts};
use runnel_runtime::nodes::SourceNode;
use runnel_runtime::source::{Boundedness, Source};
use runnel_runtime::source_function::{FunctionSource, SourceFunction};
use runnel_runtime::watermark::WatermarkStrategyFor;
use runnel_runtime::{JobClient, JobError, JobExecutionResult, LocalExecutor, RestoreSettings};
use runnel_types::{Data, NodeId};
use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

/// Environment variable through which `runnel run -p <n>` passes the command-line
/// parallelism to the job binary.
pub const ENV_PARALLELISM: &str = "RUNNEL_PARALLELISM";
/// Environment variable through which the CLI asks a job binary to explain its plan
/// (`explain` or `explain-json`) instead of running it.
pub const ENV_EXECUTION_MODE: &str = "RUNNEL_EXECUTION_MODE";

/// Environment variable through which `runnel run -s <path>` names the savepoint
/// a job binary starts from.
pub const ENV_SAVEPOINT_PATH: &str = "RUNNEL_SAVEPOINT_PATH";
/// Environment variable through which `runnel run --allow-non-restored-state`
/// lets a job drop savepoint state of operators it no longer has (`true`).
pub const ENV_ALLOW_NON_RESTORED_STATE: &str = "RUNNEL_ALLOW_NON_RESTORED_STATE";

/// Environment variable naming the directory where a running job registers
/// itself so that `runnel savepoint`, `stop`, `cancel` and `list` find it.
pub const ENV_JOBS_DIR: &str = "RUNNEL_JOBS_DIR";

/// What `execute` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExecutionMode {
    /// Run the job in this process (embedded mode).
    #[default]
    Local,
    /// Print the plan (text, or JSON) and exit the process without running.
    Explain {
        /// JSON instead of text.
        json: bool,
    },
}

/// The settings an environment starts from.
#[derive(Debug, Clone, Default)]
pub struct EnvironmentSettings {
    /// The configuration (file or defaults).
    pub config: Configuration,
    /// The command line's `-p`, if given.
    pub command_line_parallelism: Option<u32>,
    /// What `execute` does.
    pub mode: ExecutionMode,
    /// A savepoint to start from (`runnel run -s`).
    pub restore: Option<RestoreSettings>,
    /// Where the running job registers for `runnel savepoint`, `stop`,
    /// `cancel` and `list` (`RUNNEL_JOBS_DIR`, set by `runnel run`).
    pub jobs_dir: Option<PathBuf>,
}

impl EnvironmentSettings {
    /// Reads the settings `runnel run` / `runnel explain` pass to a job binary: the
    /// config file (`RUNNEL_CONFIG` or `RUNNEL_CONF_DIR`), `RUNNEL_PARALLELISM` and
    /// `RUNNEL_EXECUTION_MODE`. All are optional.
    pub fn from_env() -> Result<Self, EnvironmentError> {
        let config = Configuration::from_env()?;
        let command_line_parallelism = match std::env::var(ENV_PARALLELISM) {
            Ok(v) if !v.trim().is_empty() => {
                Some(v.trim().parse::<u32>().ok().filter(|p| *p > 0).ok_or(
                    EnvironmentError::Variable {
                        name: ENV_PARALLELISM,
                        value: v.clone(),
                        problem: "expected a positive integer",
                    },
                )?)
            }
            _ => None,
        };
        let mode = match std::env::var(ENV_EXECUTION_MODE).as_deref().map(str::trim) {
            Err(_) | Ok("") | Ok("local") => ExecutionMode::Local,
            Ok("explain") => ExecutionMode::Explain { json: false },
            Ok("explain-json") => ExecutionMode::Explain { json: true },
            Ok(other) => {
                return Err(EnvironmentError::Variable {
                    name: ENV_EXECUTION_MODE,
                    value: other.to_string(),
                    problem: "expected `local`, `explain` or `explain-json`",
                });
            }
        };
        let restore = std::env::var_os(ENV_SAVEPOINT_PATH)
            .filter(|v| !v.is_empty())
            .map(|path| RestoreSettings {
                path: crate::cluster_attempt::failover_restore_path(PathBuf::from(path)),
                allow_non_restored_state: std::env::var(ENV_ALLOW_NON_RESTORED_STATE)
                    .is_ok_and(|v| v.trim() == "true"),
            });
        let jobs_dir = std::env::var_os(ENV_JOBS_DIR)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        Ok(EnvironmentSettings {
            config,
            command_line_parallelism,
            mode,
            restore,
            jobs_dir,
        })
    }
}

struct EnvInner {
    graph: GraphBuilder,
    config: Configuration,
    parallelism: Option<u32>,
    command_line_parallelism: Option<u32>,
    max_parallelism: Option<u32>,
    clock: Arc<dyn Clock>,
    mode: ExecutionMode,
    restore: Option<RestoreSettings>,
    jobs_dir: Option<PathBuf>,
}

/// Defines and runs a streaming job (Flink's `StreamExecutionEnvironment`).
///
/// ```
/// use runnel_api::{Collector, StreamExecutionEnvironment};
///
/// let env = StreamExecutionEnvironment::local();
/// env.from_elements(["to be".to_string(), "or not to be".to_string()])
///     .flat_map(|line: String, out: &mut Collector<'_, String>| {
///         line.split(' ').for_each(|w| out.collect(w.to_string()))
///     })
///     .map(|w| (w, 1u64))
///     .key_by(|(w, _)| w.clone())
///     .sum(|(_, n)| n)
///     .print();
/// env.execute("word count").unwrap();
/// ```
///
/// The environment is a cheap handle; streams keep a reference to it. It is not
/// `Send`: a job is defined on one thread and runs on threads of its own.
#[derive(Clone)]
pub struct StreamExecutionEnvironment {
    inner: Rc<RefCell<EnvInner>>,
}

impl StreamExecutionEnvironment {
    /// The environment for the current context: configured from the environment
    /// variables `runnel run` sets (none of which are required). This is what a job
    /// binary's `main` should use.
    pub fn get_execution_environment() -> Result<Self, EnvironmentError> {
        Ok(Self::from_settings(EnvironmentSettings::from_env()?))
    }

    /// An embedded environment with the default configuration, ignoring environment
    /// variables (tests, examples).
    pub fn local() -> Self {
        Self::from_settings(EnvironmentSettings::default())
    }

    /// An embedded environment with an explicit configuration.
    pub fn with_config(config: Configuration) -> Self {
        Self::from_settings(EnvironmentSettings {
            config,
            ..Default::default()
        })
    }

    /// An environment from explicit settings.
    pub fn from_settings(settings: EnvironmentSettings) -> Self {
        StreamExecutionEnvironment {
            inner: Rc::new(RefCell::new(EnvInner {
                graph: GraphBuilder::default(),
                max_parallelism: settings.config.max_parallelism,
                config: settings.config,
                parallelism: None,
                command_line_parallelism: settings.command_line_parallelism,
                clock: Arc::new(SystemClock),
                mode: settings.mode,
                restore: settings.restore,
                jobs_dir: settings.jobs_dir,
            })),
        }
    }

    pub(crate) fn graph<R>(&self, f: impl FnOnce(&mut GraphBuilder) -> R) -> R {
        f(&mut self.inner.borrow_mut().graph)
    }

    /// Records a problem of the program; `execute` and `explain` report the first.
    pub(crate) fn record_error(&self, problem: String) {
        self.graph(|g| g.errors.push(problem));
    }

    /// Sets the default parallelism of this job's operators (overrides `-p` and the
    /// config file; an operator's own `set_parallelism` overrides it).
    pub fn set_parallelism(&self, parallelism: u32) -> &Self {
        self.inner.borrow_mut().parallelism = Some(parallelism);
        self
    }

    /// The parallelism operators get when they set none.
    pub fn parallelism(&self) -> u32 {
        let inner = self.inner.borrow();
        inner
            .parallelism
            .or(inner.command_line_parallelism)
            .unwrap_or(inner.config.default_parallelism)
    }

    /// Sets the job's max parallelism: the number of key groups, the upper bound
    /// for rescaling keyed state.
    pub fn set_max_parallelism(&self, max_parallelism: u32) -> &Self {
        self.inner.borrow_mut().max_parallelism = Some(max_parallelism);
        self
    }

    /// Sets the buffer timeout in milliseconds: partly filled network buffers are
    /// sent at least this often; `0` sends after every record; `-1` only when full.
    pub fn set_buffer_timeout(&self, millis: i64) -> &Self {
        let mut inner = self.inner.borrow_mut();
        match BufferTimeout::from_millis(millis) {
            Some(t) => inner.config.buffer_timeout = t,
            None => inner.graph.errors.push(format!(
                "invalid buffer timeout {millis} ms: use -1, 0 or a positive value"
            )),
        }
        drop(inner);
        self
    }

    /// Turns operator chaining off for the whole job (every operator becomes a task).
    pub fn disable_operator_chaining(&self) -> &Self {
        self.inner.borrow_mut().config.operator_chaining = false;
        self
    }

    /// Uses `clock` for processing time (tests drive a manual clock).
    pub fn set_clock(&self, clock: Arc<dyn Clock>) -> &Self {
        self.inner.borrow_mut().clock = clock;
        self
    }

    /// The job's configuration.
    pub fn config(&self) -> Configuration {
        self.inner.borrow().config.clone()
    }

    /// Changes the job's configuration in place.
    pub(crate) fn update_config(&self, f: impl FnOnce(&mut Configuration)) {
        f(&mut self.inner.borrow_mut().config);
    }

    /// Starts the job from a savepoint (or retained checkpoint) directory, as
    /// `runnel run -s <path>` does. With `allow_non_restored_state`, state of
    /// operators the job no longer has is dropped instead of failing the start.
    pub fn restore_from(&self, path: impl Into<PathBuf>, allow_non_restored_state: bool) -> &Self {
        self.inner.borrow_mut().restore = Some(RestoreSettings {
            path: path.into(),
            allow_non_restored_state,
        });
        self
    }

    // ----- sources -----

    /// A stream of the given elements, in order (non-parallel).
    pub fn from_elements<T: Data + Sync>(
        &self,
        elements: impl IntoIterator<Item = T>,
    ) -> SingleOutputStreamOperator<T> {
        let items: Vec<T> = elements.into_iter().collect();
        self.add_source_node(CollectionSource::new(items), "Collection Source", true)
    }

    /// A stream of an iterator's items, in order (non-parallel). The iterator is
    /// cloned for each run.
    pub fn from_iter<T: Data, I>(&self, iter: I) -> SingleOutputStreamOperator<T>
    where
        I: Iterator<Item = T> + Clone + Send + Sync + 'static,
    {
        self.add_source_node(IteratorSource::new(iter), "Iterator Source", true)
    }

    /// The numbers `from..=to`, split over parallel subtasks.
    pub fn from_sequence(&self, from: u64, to: u64) -> SingleOutputStreamOperator<u64> {
        self.add_source_node(
            NumberSequenceSource::new(from, to),
            "Sequence Source",
            false,
        )
    }

    /// `count` records generated from their index (`generator(i)`), split over
    /// parallel subtasks.
    pub fn from_generator<T: Data, F>(
        &self,
        count: u64,
        generator: F,
    ) -> SingleOutputStreamOperator<T>
    where
        F: Fn(u64) -> T + Clone + Send + Sync + 'static,
    {
        self.add_source_node(
            DataGeneratorSource::new(count, generator),
            "Data Generator",
            false,
        )
    }

    /// The lines of a text file, or of every file under a directory (bounded).
    pub fn read_text_file(&self, path: impl Into<PathBuf>) -> SingleOutputStreamOperator<String> {
        self.add_source_node(TextFileSource::new(path), "File Source", false)
    }

    /// The lines of the files under `path`, read once or watched for new files.
    pub fn read_file(
        &self,
        path: impl Into<PathBuf>,
        mode: FileProcessingMode,
    ) -> SingleOutputStreamOperator<String> {
        self.add_source_node(TextFileSource::with_mode(path, mode), "File Source", false)
    }

    /// Lines read from a TCP server (non-parallel; ends when the server closes).
    pub fn socket_text_stream(&self, host: &str, port: u16) -> SingleOutputStreamOperator<String> {
        self.socket_text_stream_with(SocketTextSource::new(host, port))
    }

    /// Records read from a TCP server with a configured delimiter and reconnection.
    pub fn socket_text_stream_with(
        &self,
        source: SocketTextSource,
    ) -> SingleOutputStreamOperator<String> {
        let source = FunctionSource::new(source, Boundedness::ContinuousUnbounded);
        self.add_source_node(source.with_replay_offsets(), "Socket Stream", true)
    }

    /// A non-parallel source written as a run loop.
    pub fn add_source<T: Data, F: SourceFunction<T> + Clone>(
        &self,
        function: F,
    ) -> SingleOutputStreamOperator<T> {
        self.add_function_source(function, "Custom Source", true)
    }

    /// A parallel source written as a run loop; each subtask runs a clone and can
    /// read its index from the runtime context in `open`.
    pub fn add_parallel_source<T: Data, F: SourceFunction<T> + Clone>(
        &self,
        function: F,
    ) -> SingleOutputStreamOperator<T> {
        self.add_function_source(function, "Custom Source", false)
    }

    /// A run-loop source: it decides itself when it ends, so the plan treats it
    /// as unbounded.
    fn add_function_source<T: Data, F: SourceFunction<T> + Clone>(
        &self,
        function: F,
        name: &str,
        non_parallel: bool,
    ) -> SingleOutputStreamOperator<T> {
        let source = FunctionSource::new(function, Boundedness::ContinuousUnbounded);
        self.add_source_node(source, name, non_parallel)
    }

    /// A stream from any [`Source`] whose records get timestamps and watermarks
    /// from `strategy` inside the source, per split (a source reading several
    /// partitions keeps a watermark per partition).
    pub fn from_source_with_watermarks<T: Data, S: Source<T>, W: WatermarkStrategyFor<T> + Sync>(
        &self,
        source: S,
        strategy: W,
        name: &str,
    ) -> SingleOutputStreamOperator<T> {
        self.add_source_with(name, false, move |id, port, side| {
            Arc::new(SourceNode::with_watermarks(
                id, source, strategy, port, side,
            ))
        })
    }

    /// A stream from any [`Source`] (parallel).
    pub fn from_source<T: Data, S: Source<T>>(
        &self,
        source: S,
        name: &str,
    ) -> SingleOutputStreamOperator<T> {
        self.add_source_node(source, name, false)
    }

    fn add_source_node<T: Data, S: Source<T>>(
        &self,
        source: S,
        name: &str,
        non_parallel: bool,
    ) -> SingleOutputStreamOperator<T> {
        self.add_source_with(name, non_parallel, move |id, port, side| {
            Arc::new(SourceNode::new(id, source, port, side))
        })
    }

    fn add_source_with<T: Data>(
        &self,
        name: &str,
        non_parallel: bool,
        node: impl FnOnce(NodeId, Arc<OutputPort<T>>, Arc<SidePorts>) -> Arc<dyn NodeFactory>,
    ) -> SingleOutputStreamOperator<T> {
        let port = Arc::new(OutputPort::default());
        let side = Arc::new(SidePorts::default());
        let id = self.graph(|g| {
            let id = g.next_node_id();
            let node = node(id, port.clone(), side.clone());
            let spec = NodeSpec {
                name: format!("Source: {name}"),
                operator: "Source".to_string(),
                uid: None,
                kind: NodeKind::Source,
                parallelism: None,
                max_parallelism: None,
                non_parallel,
                chaining: ChainingStrategy::Head,
                slot_sharing_group: None,
                keyed: false,
            };
            g.add_node(spec, node)
        });
        SingleOutputStreamOperator::new(self.clone(), id, port, side)
    }

    // ----- execution -----

    fn stream_graph(&self, job_name: &str) -> Result<StreamGraph, JobError> {
        let inner = self.inner.borrow();
        if let Some(problem) = inner.graph.errors.first() {
            return Err(JobError::Plan(PlanError::InvalidProgram {
                message: problem.clone(),
            }));
        }
        let defaults = ParallelismDefaults {
            environment: inner.parallelism,
            command_line: inner.command_line_parallelism,
            config_file: inner.config.default_parallelism,
            max_parallelism: inner.max_parallelism,
        };
        Ok(StreamGraph::generate(
            job_name,
            &inner.graph.nodes,
            &inner.graph.edges,
            &defaults,
            inner.config.operator_chaining,
        )?)
    }

    /// The plan of the job defined so far: StreamGraph, JobGraph and
    /// ExecutionGraph (print it, or `to_json()` it).
    pub fn explain(&self, job_name: &str) -> Result<Plan, JobError> {
        Ok(Plan::new(self.stream_graph(job_name)?))
    }

    fn take_job(&self, job_name: &str) -> Result<ExecutableJob, JobError> {
        let graph = self.stream_graph(job_name);
        let mut inner = self.inner.borrow_mut();
        // The environment starts afresh for the next job, as in Flink.
        let built = std::mem::take(&mut inner.graph);
        let plan = Plan::new(graph?);
        Ok(ExecutableJob {
            plan,
            factories: built.factories,
            config: inner.config.clone(),
            restore: inner.restore.clone(),
        })
    }

    /// Runs the job defined so far and waits for it to finish (bounded jobs) or be
    /// cancelled (Ctrl-C). Under `runnel explain`, prints the plan and exits.
    pub fn execute(&self, job_name: &str) -> Result<JobExecutionResult, JobError> {
        let mode = self.inner.borrow().mode;
        if let ExecutionMode::Explain { json } = mode {
            let plan = self.explain(job_name)?;
            if json {
                println!("{}", plan.to_json());
            } else {
                print!("{plan}");
            }
            std::process::exit(0);
        }
        let client = match crate::cluster_attempt::process_role(job_name)? {
            None => self.execute_async(job_name)?,
            Some(ProcessRole::Leader(role)) => self.execute_as_leader(job_name, role)?,
            Some(ProcessRole::TaskExecutor(role)) => {
                return self.execute_as_task_executor(job_name, role);
            }
        };
        let _guard = signal::cancel_on_interrupt(client.cancel_handle());
        let jobs_dir = self.inner.borrow().jobs_dir.clone();
        let _registration = match jobs_dir {
            Some(dir) => {
                match ControlEndpoint::start(
                    &dir,
                    client.job_id(),
                    client.job_name(),
                    client.control(),
                ) {
                    Ok(endpoint) => Some(endpoint),
                    Err(e) => {
                        log::warn!(
                            "cannot register job `{}` in {}: {e}; `runnel savepoint` and `stop` will not find it",
                            client.job_name(),
                            dir.display()
                        );
                        None
                    }
                }
            }
            None => None,
        };
        // Started by a TaskManager: report to the JobManager until the end.
        let reporter = crate::cluster_attempt::start(&client);
        let result = client.wait();
        if let Some(reporter) = reporter {
            let _ = reporter.join();
        }
        result
    }

    /// Starts the job defined so far and returns at once with a handle to wait for
    /// or cancel it.
    pub fn execute_async(&self, job_name: &str) -> Result<JobClient, JobError> {
        self.start(job_name, None)
    }

    /// Starts the job defined so far as process 0 of a job spread over
    /// several processes: this process runs the job master and the subtasks
    /// of `role.slots`; every other process builds the same job and calls
    /// [`execute_as_task_executor`](Self::execute_as_task_executor).
    /// A TaskManager's processes do this on their own (`env.execute`); this
    /// is the entry point for other launchers.
    pub fn execute_as_leader(
        &self,
        job_name: &str,
        role: LeaderRole,
    ) -> Result<JobClient, JobError> {
        self.start(job_name, Some(role))
    }

    /// Runs the subtasks of `role.slots` of the job defined so far for the
    /// leader at `role.leader` until it says the job is over (the result
    /// then holds this process's counters).
    pub fn execute_as_task_executor(
        &self,
        job_name: &str,
        role: TaskExecutorRole,
    ) -> Result<JobExecutionResult, JobError> {
        let job = self.take_job(job_name)?;
        let clock = self.inner.borrow().clock.clone();
        run_task_executor(job, role, clock)
    }

    /// Starts the job, as the leader of a job spread over several processes
    /// with `leader`.
    fn start(&self, job_name: &str, leader: Option<LeaderRole>) -> Result<JobClient, JobError> {
        let job = self.take_job(job_name)?;
        let rest = job.config.rest.clone();
        let clock = self.inner.borrow().clock.clone();
        let executor = LocalExecutor::new().with_clock(clock);
        let client = match leader {
            Some(role) => executor.submit_as_leader(job, role)?,
            None => executor.submit(job)?,
        };
        if rest.enabled
            && let Err(e) = crate::web_monitor::serve(&client, &rest)
        {
            client.cancel();
            let _ = client.wait();
            return Err(e);
        }
        Ok(client)
    }
}
