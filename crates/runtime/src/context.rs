//! What a function knows about where it runs (Flink's `RuntimeContext`).

use crate::clock::Clock;
use crate::error::OperatorInstance;
use runnel_checkpoint::OperatorId;
use runnel_types::NodeId;
use std::sync::Arc;

/// The runtime context of one parallel instance of an operator, handed to
/// `open` of every rich function.
#[derive(Debug, Clone)]
pub struct RuntimeContext {
    pub(crate) job_name: Arc<str>,
    pub(crate) task_name: Arc<str>,
    pub(crate) operator_name: Arc<str>,
    pub(crate) operator_id: NodeId,
    pub(crate) uid: Option<Arc<str>>,
    pub(crate) subtask_index: u32,
    pub(crate) parallelism: u32,
    pub(crate) max_parallelism: u32,
    pub(crate) attempt_number: u32,
    pub(crate) clock: Arc<dyn Clock>,
}

impl RuntimeContext {
    /// A context for running an operator outside a job (operator tests, examples).
    pub fn standalone(
        operator_name: &str,
        subtask_index: u32,
        parallelism: u32,
        clock: Arc<dyn Clock>,
    ) -> Self {
        RuntimeContext {
            job_name: Arc::from("standalone"),
            task_name: Arc::from(operator_name),
            operator_name: Arc::from(operator_name),
            operator_id: NodeId(0),
            uid: None,
            subtask_index,
            parallelism,
            max_parallelism: runnel_types::compute_default_max_parallelism(parallelism),
            attempt_number: 0,
            clock,
        }
    }

    /// The job's name.
    pub fn job_name(&self) -> &str {
        &self.job_name
    }

    /// The task's name: the chained name of the vertex this operator runs in.
    pub fn task_name(&self) -> &str {
        &self.task_name
    }

    /// The task's name with the subtask, as Flink prints it: `Map -> Filter (2/4)#0`.
    pub fn task_name_with_subtasks(&self) -> String {
        format!(
            "{} ({}/{})#{}",
            self.task_name,
            self.subtask_index + 1,
            self.parallelism,
            self.attempt_number
        )
    }

    /// This operator's name.
    pub fn operator_name(&self) -> &str {
        &self.operator_name
    }

    /// This operator's id in the StreamGraph.
    pub fn operator_id(&self) -> NodeId {
        self.operator_id
    }

    /// The operator's uid, if one was set.
    pub fn uid(&self) -> Option<&str> {
        self.uid.as_deref()
    }

    /// The id the operator's state is stored under in checkpoints: its uid, or
    /// its position in the graph.
    pub fn state_operator_id(&self) -> OperatorId {
        OperatorId::of(self.uid(), self.operator_id)
    }

    /// This instance's index, `0..parallelism`.
    pub fn subtask_index(&self) -> u32 {
        self.subtask_index
    }

    /// Number of parallel instances of the operator.
    pub fn parallelism(&self) -> u32 {
        self.parallelism
    }

    /// The operator's max parallelism (number of key groups).
    pub fn max_parallelism(&self) -> u32 {
        self.max_parallelism
    }

    /// How many times this task has been restarted (0 on the first run).
    pub fn attempt_number(&self) -> u32 {
        self.attempt_number
    }

    /// Current processing time in epoch milliseconds, from the job's clock.
    pub fn processing_time(&self) -> i64 {
        self.clock.now_millis()
    }

    /// The job's processing-time clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The instance, for error messages.
    pub fn instance(&self) -> OperatorInstance {
        OperatorInstance {
            operator: self.operator_name.to_string(),
            subtask: self.subtask_index,
            parallelism: self.parallelism,
        }
    }
}
