//! Run/cancel sources (Flink's `SourceFunction`): user code that loops, emitting
//! records, until its input ends or the job is cancelled.
//!
//! `run` blocks, so it gets a thread of its own; records cross to the task thread
//! in batches through a bounded hand-off (backpressure reaches `collect`). Batches
//! are handed over when full or, to keep latency low, as soon as the task is idle
//! waiting for them. Cancellation sets the flag `SourceContext::is_running` reads,
//! runs the callbacks registered with `SourceContext::on_cancel` (for example to
//! close a socket the source is blocked on) and wakes the thread.

use crate::context::RuntimeContext;
use crate::error::BoxError;
use crate::processor::InputStatus;
use crate::source::{
    Boundedness, Source, SourceOutput, SourceReader, SourceReaderContext, SourceWaker,
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
    events: VecDeque<Event<T>>,
    spare: Vec<Vec<StreamRecord<T>>>,
    done: Option<Result<(), Box<dyn Any + Send>>>,
}

struct Handoff<T> {
    state: Mutex<HandoffState<T>>,
    capacity: usize,
    task: SourceWaker,
    run_thread: OnceLock<Thread>,
    cancelled: AtomicBool,
    consumer_waiting: AtomicBool,
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

    /// Queues an event, waiting for space; dropped if cancelled meanwhile.
    fn push(&self, event: Event<T>) {
        loop {
            if self.is_cancelled() {
                return;
            }
            {
                let mut st = self.lock();
                if st.events.len() < self.capacity {
                    st.events.push_back(event);
                    drop(st);
                    self.task.wake();
                    return;
                }
            }
            std::thread::park_timeout(Duration::from_millis(100));
        }
    }
}

/// What a [`SourceFunction`] emits into.
pub struct SourceContext<T> {
    buffer: Vec<StreamRecord<T>>,
    batch_size: usize,
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
        self.hand_over();
        self.handoff.push(Event::Watermark(watermark));
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
        if self.handoff.is_cancelled() {
            return;
        }
        self.buffer.push(record);
        if self.buffer.len() >= self.batch_size
            || self.handoff.consumer_waiting.load(Ordering::Relaxed)
        {
            self.hand_over();
        }
    }

    fn hand_over(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        let fresh = self
            .handoff
            .lock()
            .spare
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(self.batch_size));
        let full = std::mem::replace(&mut self.buffer, fresh);
        self.handoff
            .consumer_waiting
            .store(false, Ordering::Relaxed);
        self.handoff.push(Event::Records(full));
    }
}

/// Adapts a [`SourceFunction`] to the [`Source`] contract: every subtask clones the
/// function and runs it on a thread of its own.
pub struct FunctionSource<F> {
    prototype: Mutex<F>,
    boundedness: Boundedness,
    batch_size: usize,
}

impl<F: Clone> FunctionSource<F> {
    /// Wraps `function`; `boundedness` only informs the plan (a run loop decides
    /// itself when it ends).
    pub fn new(function: F, boundedness: Boundedness) -> Self {
        FunctionSource {
            prototype: Mutex::new(function),
            boundedness,
            batch_size: 256,
        }
    }
}

impl<T: Data, F: SourceFunction<T> + Clone> Source<T> for FunctionSource<F> {
    type Reader = FunctionSourceReader<T>;

    fn boundedness(&self) -> Boundedness {
        self.boundedness
    }

    fn create_reader(&self, ctx: &SourceReaderContext) -> Result<Self::Reader, BoxError> {
        let mut function = self
            .prototype
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let handoff = Arc::new(Handoff {
            state: Mutex::new(HandoffState {
                events: VecDeque::new(),
                spare: Vec::new(),
                done: None,
            }),
            capacity: 4,
            task: ctx.waker(),
            run_thread: OnceLock::new(),
            cancelled: AtomicBool::new(false),
            consumer_waiting: AtomicBool::new(false),
            cancel_hooks: Mutex::new(Vec::new()),
        });
        let runtime = ctx.runtime().clone();
        let shared = handoff.clone();
        let batch_size = self.batch_size;
        let name = format!("{} [run]", runtime.task_name_with_subtasks());
        let thread = std::thread::Builder::new().name(name).spawn(move || {
            let _ = shared.run_thread.set(std::thread::current());
            let mut sctx = SourceContext {
                buffer: Vec::with_capacity(batch_size),
                batch_size,
                handoff: shared.clone(),
            };
            let outcome = catch_unwind(AssertUnwindSafe(|| -> Result<(), BoxError> {
                function.open(&runtime)?;
                let ran = function.run(&mut sctx);
                sctx.hand_over();
                let closed = function.close();
                ran.and(closed)
            }));
            let done = match outcome {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(Box::new(e) as Box<dyn Any + Send>),
                Err(panic) => Err(panic),
            };
            shared.lock().done = Some(done);
            shared.task.wake();
        })?;
        Ok(FunctionSourceReader {
            handoff,
            thread: Some(thread),
        })
    }
}

/// The task-side end of a running [`SourceFunction`].
pub struct FunctionSourceReader<T> {
    handoff: Arc<Handoff<T>>,
    thread: Option<JoinHandle<()>>,
}

impl<T: Data> SourceReader<T> for FunctionSourceReader<T> {
    fn poll_next(&mut self, output: &mut SourceOutput<'_, T>) -> Result<InputStatus, BoxError> {
        let mut st = self.handoff.lock();
        match st.events.pop_front() {
            Some(Event::Records(mut batch)) => {
                drop(st);
                if let Some(t) = self.handoff.run_thread.get() {
                    t.unpark();
                }
                for r in batch.drain(..) {
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
                    self.handoff.consumer_waiting.store(true, Ordering::Relaxed);
                    Ok(InputStatus::NothingAvailable)
                }
            },
        }
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
