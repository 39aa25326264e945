//! The task runtime: how a job's operators run (the same code embedded and on a
//! cluster).
//!
//! * [`operator`]: the operator contracts ([`OneInputOperator`], [`TwoInputOperator`])
//!   and their call order.
//! * [`chain`]: operators linked by direct calls, one batch per call.
//! * [`output`]: where an operator emits: main and side outputs.
//! * [`source`] / [`source_function`] / [`sink`]: how records enter and leave.
//! * [`writer`] / [`input`]: the ends of a chain that talk to channels.
//! * [`task`]: the single-threaded task loop.
//! * [`environment`] / [`nodes`]: building a subtask's chain from the plan.
//! * [`executor`]: running a whole job in this process.
//!
//! This crate knows nothing of the user-facing API; it depends on the plan (what
//! to run), the network (how subtasks talk) and the types.

mod barriers;
pub mod chain;
mod checkpoint_input;
pub mod checkpointing;
pub mod clock;
pub mod context;
pub mod control;
mod deployment;
pub mod distributed;
mod element;
pub mod environment;
pub mod error;
pub mod executor;
mod failover;
mod fault;
pub mod function_state;
pub mod idempotent;
pub mod input;
mod job_master;
pub mod metrics;
pub mod nodes;
pub mod operator;
pub mod output;
pub mod parameters;
pub mod partitioning;
pub mod processor;
mod restoring;
pub mod sink;
mod snapshot_writer;
pub mod source;
pub mod source_function;
pub mod status;
pub mod task;
pub mod time;
pub mod timers;
pub mod two_phase_commit;
pub mod watermark;
pub mod write_ahead;
pub mod writer;

pub use context::RuntimeContext;
pub use error::{BoxError, Fault, JobError, OperatorInstance, TaskError};
pub use executor::{
    JobCancelHandle, JobClient, JobControl, JobExecutionResult, LocalExecutor, OperatorResult,
};
pub use failover::{RestartBackoff, RestartDecision};
pub use job_master::RestoreSettings;
pub use operator::{InputSide, OneInputOperator, TwoInputOperator};
pub use output::{MainOutput, Output, OutputTag, SideOutputs};
pub use parameters::OperatorParameters;
pub use processor::InputStatus;
