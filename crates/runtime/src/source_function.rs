//! Run/cancel sources (Flink's `SourceFunction`): user code that loops, emitting
//! records, until its input ends or the job is cancelled.
//!
//! `run` blocks, so it gets a thread of its own. Records cross to the task thread
//! through a shared hand-off: `collect` appends to the batch being filled (one
//! uncontended lock per record) and wakes the task if it is waiting; the task takes
//! whatever has been collected, so a record never waits for a batch to fill while
//! `run` blocks in user code. Full batches queue up to a bound, beyond which
//! `collect` waits (backpressure). Cancellation sets the flag
//! `SourceContext::is_running` reads, runs the callbacks registered with
//! `SourceContext::on_cancel` (for example to close a socket the source is blocked
//! on) and wakes the thread. The pull-based [`Source`] API has no such hand-off and
//! is the one to use for high-throughput sources.

use crate::context::RuntimeContext;
use crate::error::BoxError;
use crate::processor::InputStatus;
use crate::source::{
    Boundedness, Source, SourceOutput, SourceReader, SourceReaderContext, SourceWaker, SplitState,
};
use runnel_types::{Data, EventTime, StreamRecord, Watermark};
use std::any::Any;
use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant};

/// A source written as a loop (Flink's `SourceFunction` / `RichSourceFunction`).
/// Closures `FnMut(&mut SourceContext<T>) -> Result<(), BoxError>` are source functions.
pub trait SourceFunction<T>: Send + 'static {
    /// Called once, on the source's thread, before `run`.
    fn open(&mut self, _ctx: &RuntimeContext) -> Result<(), BoxError> {
        Ok(())
    }

    /// Emits records until the input ends (return `Ok`) or `ctx.is_running()`
    /// turns false (cancellation; return promptly).
    fn run(&mut self, ctx: &mut SourceContext<T>) -> Result<(), BoxError>;

    /// Called once after `run` returned, also after cancellation.
    fn close(&mut self) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<T, F> SourceFunction<T> for F
where
    F: FnMut(&mut SourceContext<T>) -> Result<(), BoxError> + Send + 'static,
{
    fn run(&mut self, ctx: &mut SourceContext<T>) -> Result<(), BoxError> {
        self(ctx)
    }
}

enum Event<T> {
    Records(Vec<StreamRecord<T>>),
    Watermark(Watermark),
}

struct HandoffState<T> {
    /// The batch `collect` is filling.
    filling: Vec<StreamRecord<T>>,
    /// Full batches and watermarks, in order; all older than `filling`.
    ready: VecDeque<Event<T>>,
    spare: Vec<Vec<StreamRecord<T>>>,
    done: Option<Result<(), Box<dyn Any + Send>>>,
    /// The task found nothing and is waiting to be woken.
    task_waiting: bool,
}

struct Handoff<T> {
    state: Mutex<HandoffState<T>>,
    batch_size: usize,
    /// Queued full batches beyond which `collect` waits.
    capacity: usize,
    task: SourceWaker,
    run_thread: OnceLock<Thread>,
    cancelled: AtomicBool,
    cancel_hooks: Mutex<Vec<Box<dyn FnOnce() + Send>>>,
}

impl<T> Handoff<T> {
    fn lock(&self) -> MutexGuard<'_, HandoffState<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn cancel(&self) {
        self.cancelled.store(true, Ordering::Release);
        let hooks =
            std::mem::take(&mut *self.cancel_hooks.lock().unwrap_or_else(|e| e.into_inner()));
        for hook in hooks {
            let _ = catch_unwind(AssertUnwindSafe(hook));
        }
        if let Some(t) = self.run_thread.get() {
            t.unpark();
        }
    }

    fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }

    fn wake_task(&self, st: &mut HandoffState<T>) {
        if st.task_waiting {
            st.task_waiting = false;
            self.task.wake();
        }
    }

    fn seal_filling(&self, st: &mut HandoffState<T>) {
        if !st.filling.is_empty() {
            let fresh = st
                .spare
                .pop()
                .unwrap_or_else(|| Vec::with_capacity(self.batch_size));
            let full = std::mem::replace(&mut st.filling, fresh);
            st.ready.push_back(Event::Records(full));
        }
    }

    /// Appends a record; waits while too many full batches are queued.
    fn push_record(&self, record: StreamRecord<T>) {
        let mut st = self.lock();
        st.filling.push(record);
        if st.filling.len() >= self.batch_size {
            self.seal_filling(&mut st);
        }
        self.wake_task(&mut st);
        while st.ready.len() > self.capacity && !self.is_cancelled() {
            drop(st);
            std::thread::park_timeout(Duration::from_millis(100));
            st = self.lock();
        }
    }

    /// Queues a watermark after every record collected so far.
    fn push_watermark(&self, watermark: Watermark) {
        let mut st = self.lock();
        self.seal_filling(&mut st);
        st.ready.push_back(Event::Watermark(watermark));
        self.wake_task(&mut st);
    }

    fn finish(&self, done: Result<(), Box<dyn Any + Send>>) {
        let mut st = self.lock();
        st.done = Some(done);
        st.task_waiting = false;
        drop(st);
        self.task.wake();
    }
}

/// What a [`SourceFunction`] emits into.
pub struct SourceContext<T> {
    handoff: Arc<Handoff<T>>,
}

impl<T> SourceContext<T> {
    /// Emits a record without timestamp.
    pub fn collect(&mut self, value: T) {
        self.push(StreamRecord::new(value));
    }

    /// Emits a record with an event-time timestamp.
    pub fn collect_with_timestamp(&mut self, value: T, timestamp: EventTime) {
        self.push(StreamRecord::with_timestamp(value, timestamp));
    }

    /// Emits a watermark after the records collected before it.
    pub fn emit_watermark(&mut self, watermark: Watermark) {
        if !self.handoff.is_cancelled() {
            self.handoff.push_watermark(watermark);
        }
    }

    /// False once the job is cancelled: `run` should return.
    pub fn is_running(&self) -> bool {
        !self.handoff.is_cancelled()
    }

    /// Registers a callback run (on another thread) when the source is cancelled,
    /// e.g. to shut down a socket `run` is blocked reading. Runs at once if the
    /// source is already cancelled.
    pub fn on_cancel(&mut self, hook: impl FnOnce() + Send + 'static) {
        let mut hooks = self
            .handoff
            .cancel_hooks
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if self.handoff.is_cancelled() {
            drop(hooks);
            hook();
        } else {
            hooks.push(Box::new(hook));
        }
    }

    #[inline]
    fn push(&mut self, record: StreamRecord<T>) {
        if !self.handoff.is_cancelled() {
            self.handoff.push_record(record);
        }
    }
}

/// Adapts a [`SourceFunction`] to the [`Source`] contract: every subtask clones the
/// function and runs it on a thread of its own.
///
/// With [`FunctionSource::with_replay_offsets`], a checkpoint records how many
/// records the subtask has emitted, and a restored subtask drops that many
/// records from the start of what its function produces again: exactly-once for
/// a function that replays the same records when it starts over (a socket
/// server that serves the same stream to every connection). Without it the
/// function starts over and its records may be seen twice.
pub struct FunctionSource<F> {
    prototype: Mutex<F>,
    boundedness: Boundedness,
    batch_size: usize,
    replay_offsets: bool,
}

impl<F: Clone> FunctionSource<F> {
    /// Wraps `function`; `boundedness` only informs the plan (a run loop decides
    /// itself when it ends).
    pub fn new(function: F, boundedness: Boundedness) -> Self {
        FunctionSource {
            prototype: Mutex::new(function),
            boundedness,
            batch_size: 256,
            replay_offsets: false,
        }
    }

    /// Keeps the number of emitted records in checkpoints and skips that many
    /// after a restore.
    pub fn with_replay_offsets(mut self) -> Self {
        self.replay_offsets = true;
        self
    }
}

impl<T: Data, F: SourceFunction<T> + Clone> Source<T> for FunctionSource<F> {
    type Reader = FunctionSourceReader<T>;

    fn boundedness(&self) -> Boundedness {
        self.boundedness
    }

    fn create_reader(&self, ctx: &SourceReaderContext) -> Result<Self::Reader, BoxError> {
        self.start(ctx, 0)
    }

    fn restore_reader(
        &self,
        ctx: &SourceReaderContext,
        splits: Vec<SplitState>,
    ) -> Result<Self::Reader, BoxError> {
        let mut emitted = 0u64;
        for split in &splits {
            emitted += split.decode::<u64>()?;
        }
        self.start(ctx, emitted)
    }
}

impl<F> FunctionSource<F> {
    /// Starts the function's thread; `emitted` records were emitted before a
    /// restore (skipped again when replay offsets are kept).
    fn start<T: Data>(
        &self,
        ctx: &SourceReaderContext,
        emitted: u64,
    ) -> Result<FunctionSourceReader<T>, BoxError>
    where
        F: SourceFunction<T> + Clone,
    {
        let mut function = self
            .prototype
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let handoff = Arc::new(Handoff {
            state: Mutex::new(HandoffState {
                filling: Vec::with_capacity(self.batch_size),
                ready: VecDeque::new(),
                spare: Vec::new(),
                done: None,
                task_waiting: false,
            }),
            batch_size: self.batch_size,
            capacity: 4,
            task: ctx.waker(),
            run_thread: OnceLock::new(),
            cancelled: AtomicBool::new(false),
            cancel_hooks: Mutex::new(Vec::new()),
        });
        let runtime = ctx.runtime().clone();
        let shared = handoff.clone();
        let name = format!("{} [run]", runtime.task_name_with_subtasks());
        let thread = std::thread::Builder::new().name(name).spawn(move || {
            let _ = shared.run_thread.set(std::thread::current());
            let mut sctx = SourceContext {
                handoff: shared.clone(),
            };
            let outcome = catch_unwind(AssertUnwindSafe(|| -> Result<(), BoxError> {
                function.open(&runtime)?;
                let ran = function.run(&mut sctx);
                let closed = function.close();
                ran.and(closed)
            }));
            shared.finish(match outcome {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(Box::new(e) as Box<dyn Any + Send>),
                Err(panic) => Err(panic),
            });
        })?;
        Ok(FunctionSourceReader {
            handoff,
            thread: Some(thread),
            replay_offsets: self.replay_offsets,
            emitted,
            skip: if self.replay_offsets { emitted } else { 0 },
        })
    }
}

/// The task-side end of a running [`SourceFunction`].
pub struct FunctionSourceReader<T> {
    handoff: Arc<Handoff<T>>,
    thread: Option<JoinHandle<()>>,
    replay_offsets: bool,
    /// Records emitted by this subtask, before and after a restore.
    emitted: u64,
    /// Records the restarted function still has to replay before new ones.
    skip: u64,
}

impl<T: Data> SourceReader<T> for FunctionSourceReader<T> {
    fn poll_next(&mut self, output: &mut SourceOutput<'_, T>) -> Result<InputStatus, BoxError> {
        let mut st = self.handoff.lock();
        if st.ready.is_empty() {
            // Take the partly filled batch: nothing waits for a batch to fill.
            self.handoff.seal_filling(&mut st);
        }
        match st.ready.pop_front() {
            Some(Event::Records(mut batch)) => {
                drop(st);
                if let Some(t) = self.handoff.run_thread.get() {
                    t.unpark();
                }
                let replayed = (self.skip.min(batch.len() as u64)) as usize;
                self.skip -= replayed as u64;
                self.emitted += (batch.len() - replayed) as u64;
                for r in batch.drain(..).skip(replayed) {
                    output.collect_record(r);
                }
                self.handoff.lock().spare.push(batch);
                Ok(InputStatus::MoreAvailable)
            }
            Some(Event::Watermark(w)) => {
                drop(st);
                output.emit_watermark(w);
                Ok(InputStatus::MoreAvailable)
            }
            None => match st.done.take() {
                Some(Ok(())) => Ok(InputStatus::EndOfInput),
                Some(Err(payload)) => {
                    drop(st);
                    match payload.downcast::<BoxError>() {
                        Ok(e) => Err(*e),
                        // A panic in `run`: re-raise it here so it is reported as one.
                        Err(panic) => std::panic::resume_unwind(panic),
                    }
                }
                None => {
                    st.task_waiting = true;
                    Ok(InputStatus::NothingAvailable)
                }
            },
        }
    }

    fn snapshot_state(&mut self) -> Result<Option<Vec<SplitState>>, BoxError> {
        if !self.replay_offsets {
            return Ok(None);
        }
        Ok(Some(vec![SplitState::encode(&self.emitted)?]))
    }

    fn close(&mut self) -> Result<(), BoxError> {
        self.handoff.cancel();
        if let Some(thread) = self.thread.take() {
            let deadline = Instant::now() + Duration::from_secs(5);
            while !thread.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if thread.is_finished() {
                let _ = thread.join();
            } else {
                log::warn!(
                    "source thread `{}` ignored cancellation for 5 s and is left behind; check `ctx.is_running()` in `run`",
                    thread.thread().name().unwrap_or("?")
                );
            }
        }
        Ok(())
    }
}
