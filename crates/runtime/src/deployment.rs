//! Starting the tasks of one attempt in this process: the same code for the
//! local executor's job master and for a task executor of a job spread over
//! several processes (see `distributed`), which differ only in which subtasks
//! they start and through which transport the tasks' channels go.

use crate::checkpointing::{ReportSink, TaskCheckpointer, TaskMailbox, TaskMessage};
use crate::clock::Clock;
use crate::environment::{CounterRegistry, ExecutableJob, TaskEnvironment};
use crate::error::TaskError;
use crate::task::StreamTask;
use crate::time::ProcessingTimeService;
use runnel_checkpoint::{RestoredJob, TaskId};
use runnel_config::BufferTimeout;
use runnel_network::{TaskSignal, Transport};
use std::collections::HashMap;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Called when a task's run ends (before its operators are dropped).
pub(crate) type ExitSink = Arc<dyn Fn(TaskId, u32, Result<(), TaskError>) + Send + Sync>;

/// What the tasks of one attempt in this process share.
pub(crate) struct AttemptContext {
    pub(crate) job: Arc<ExecutableJob>,
    pub(crate) attempt: u32,
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) counters: Arc<CounterRegistry>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) restored: Arc<RestoredJob>,
    pub(crate) batch_size: usize,
    pub(crate) reports: ReportSink,
    pub(crate) periodic: bool,
    pub(crate) exited: ExitSink,
}

/// The report and exit sinks of an attempt's tasks, posting to `events` as
/// `report` and `exit` make events of them.
pub(crate) fn sinks<E: Send + 'static>(
    events: &Sender<E>,
    report: fn(TaskMessage) -> E,
    exit: fn(TaskId, u32, Result<(), TaskError>) -> E,
) -> (ReportSink, ExitSink) {
    let reports = Mutex::new(events.clone());
    let exits = Mutex::new(events.clone());
    (
        Arc::new(move |m| {
            let _ = lock(&reports).send(report(m));
        }),
        Arc::new(move |task, attempt, result| {
            let _ = lock(&exits).send(exit(task, attempt, result));
        }),
    )
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A started task.
pub(crate) struct SpawnedTask {
    pub(crate) signal: Arc<TaskSignal>,
    pub(crate) mailbox: Arc<TaskMailbox>,
    pub(crate) thread: JoinHandle<()>,
}

/// Fresh counters for every operator instance of `job`.
pub(crate) fn new_counters(job: &ExecutableJob) -> CounterRegistry {
    let mut counters: CounterRegistry = HashMap::new();
    for node in &job.plan.stream_graph.nodes {
        for s in 0..node.parallelism {
            counters.insert((node.id, s), Default::default());
        }
    }
    counters
}

/// Starts subtask `id` on a thread of its own; `Err` names the task and says
/// why the thread could not start.
pub(crate) fn spawn_task(ctx: &AttemptContext, id: TaskId) -> Result<SpawnedTask, String> {
    let vertex = ctx.job.plan.job_graph.vertex(id.vertex);
    let subtask = id.subtask;
    let signal = Arc::new(TaskSignal::new());
    let mailbox = Arc::new(TaskMailbox::new(signal.clone()));
    let flush_interval = match ctx.job.config.buffer_timeout {
        BufferTimeout::Interval(d) if !d.is_zero() => Some(d),
        _ => None::<Duration>,
    };
    let attempt = ctx.attempt;
    let checkpointer = TaskCheckpointer::new(id, attempt, ctx.reports.clone(), ctx.periodic);
    let (job, transport, counters, clock, restored, exited) = (
        ctx.job.clone(),
        ctx.transport.clone(),
        ctx.counters.clone(),
        ctx.clock.clone(),
        ctx.restored.clone(),
        ctx.exited.clone(),
    );
    let (task_signal, task_mailbox) = (signal.clone(), mailbox.clone());
    let batch_size = ctx.batch_size;
    let vertex_id = vertex.id;
    let name = format!("{} ({}/{})", vertex.name, subtask + 1, vertex.parallelism);
    let thread = std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || {
            let signal = task_signal;
            signal.bind_current_thread();
            clock.register(&signal);
            let vertex = job.plan.job_graph.vertex(vertex_id);
            let mut env = TaskEnvironment {
                job: &job,
                vertex,
                subtask,
                attempt,
                transport: transport.as_ref(),
                signal: &signal,
                clock: &clock,
                counters: &counters,
                batch_size,
                task_name: Arc::from(vertex.name.as_str()),
                job_name: Arc::from(job.plan.stream_graph.job_name.as_str()),
                time: ProcessingTimeService::new(clock.clone()),
                checkpointer,
                restored,
            };
            match job.factories[vertex.head.index()].create_head(&mut env) {
                Ok(processor) => {
                    let time = env.time.clone();
                    let mut task = StreamTask::new(
                        signal.clone(),
                        processor,
                        flush_interval,
                        time,
                        task_mailbox,
                        env.checkpointer.clone(),
                    );
                    let result = task.run();
                    // Report before dropping the task: dropping closes its
                    // channels, which upstream tasks would see as an error.
                    exited(id, attempt, result);
                    drop(task);
                }
                Err(e) => exited(id, attempt, Err(e)),
            }
        })
        .map_err(|e| format!("cannot start task `{name}`: {e}"))?;
    Ok(SpawnedTask {
        signal,
        mailbox,
        thread,
    })
}
