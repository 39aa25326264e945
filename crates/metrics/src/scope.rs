//! Where a metric lives: a group's scope, its logical scope and its variables.
//!
//! Every group carries three views of its position, as in Flink:
//! - the *scope* (`localhost.taskmanager.tm-1.WordCount.Map.0`), the default
//!   Flink scope formats filled in, which prefixes a metric's identifier;
//! - the *logical scope* (`taskmanager.job.task.operator`), the kinds of the
//!   groups on the path plus user subgroup names, which names Prometheus families;
//! - the *variables* (`<job_id>`, `<subtask_index>`, …), which become labels;
//!
//! and the *query scope* the REST API uses to name a metric relative to its
//! job, task or operator (`0.Map.numRecordsOut`).

use std::collections::BTreeMap;

/// The names of the variables scoped groups define (Flink's, with the brackets).
pub mod variables {
    /// The host of the JobManager or TaskManager process.
    pub const HOST: &str = "<host>";
    /// The TaskManager's id.
    pub const TM_ID: &str = "<tm_id>";
    /// The job's id.
    pub const JOB_ID: &str = "<job_id>";
    /// The job's name.
    pub const JOB_NAME: &str = "<job_name>";
    /// The id of the task's job vertex.
    pub const TASK_ID: &str = "<task_id>";
    /// The task's name (its vertex's name).
    pub const TASK_NAME: &str = "<task_name>";
    /// The index of the subtask, from 0.
    pub const SUBTASK_INDEX: &str = "<subtask_index>";
    /// How many times this subtask was restarted (0 for the first attempt).
    pub const TASK_ATTEMPT_NUM: &str = "<task_attempt_num>";
    /// The operator's id.
    pub const OPERATOR_ID: &str = "<operator_id>";
    /// The operator's name.
    pub const OPERATOR_NAME: &str = "<operator_name>";
}

/// The kind of scoped group a metric belongs to (user subgroups inherit the
/// kind of the scoped group they hang under).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeKind {
    /// The JobManager process.
    JobManager,
    /// One job on the JobManager (job-level metrics: restarts, checkpoints).
    JobManagerJob,
    /// A TaskManager process.
    TaskManager,
    /// One job's share of a TaskManager.
    TaskManagerJob,
    /// One subtask.
    Task,
    /// One operator in a subtask.
    Operator,
}

impl ScopeKind {
    /// The component this kind adds to the logical scope.
    pub(crate) fn logical_name(self) -> &'static str {
        match self {
            ScopeKind::JobManager => "jobmanager",
            ScopeKind::TaskManager => "taskmanager",
            ScopeKind::JobManagerJob | ScopeKind::TaskManagerJob => "job",
            ScopeKind::Task => "task",
            ScopeKind::Operator => "operator",
        }
    }
}

/// A group's position; shared (in an `Arc`) by the group and its registered metrics.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ScopeInfo {
    pub(crate) kind: ScopeKind,
    /// The scope: `<host>.taskmanager.<tm_id>.<job_name>…`.
    pub(crate) components: Vec<String>,
    /// The logical scope: `taskmanager.job.task…`.
    pub(crate) logical: Vec<String>,
    pub(crate) variables: BTreeMap<String, String>,
    /// The REST id prefix, relative to the job, task or operator.
    pub(crate) query: Vec<String>,
}

impl ScopeInfo {
    /// The scope of a root group (JobManager or TaskManager).
    pub(crate) fn root(kind: ScopeKind, components: &[&str], variables: &[(&str, &str)]) -> Self {
        ScopeInfo {
            kind,
            components: components.iter().map(|c| c.to_string()).collect(),
            logical: vec![kind.logical_name().to_string()],
            variables: owned(variables),
            query: Vec::new(),
        }
    }

    /// The scope of a scoped child group (job, task, operator).
    ///
    /// `components` is the child's whole scope, not a suffix: an operator's scope is
    /// not its task's plus something (Flink's default is
    /// `…<job_name>.<operator_name>.<subtask_index>`).
    pub(crate) fn scoped_child(
        &self,
        kind: ScopeKind,
        components: Vec<String>,
        variables: &[(&str, &str)],
        query: Vec<String>,
    ) -> Self {
        let mut all = self.variables.clone();
        all.extend(owned(variables));
        let mut logical = self.logical.clone();
        logical.push(kind.logical_name().to_string());
        ScopeInfo {
            kind,
            components,
            logical,
            variables: all,
            query,
        }
    }

    /// The scope of a user subgroup `name`, or of a key/value group `key`→`value`.
    pub(crate) fn user_child(&self, name: &str, value: Option<&str>) -> Self {
        let mut child = self.clone();
        child.components.push(name.to_string());
        child.logical.push(name.to_string());
        child.query.push(name.to_string());
        if let Some(value) = value {
            child.components.push(value.to_string());
            child.query.push(value.to_string());
            child
                .variables
                .insert(format!("<{name}>"), value.to_string());
        }
        child
    }

    /// The scope, components joined with `.`.
    pub(crate) fn scope_string(&self) -> String {
        self.components.join(".")
    }

    /// A metric's full identifier: scope components and name joined with `.`.
    pub(crate) fn identifier(&self, name: &str) -> String {
        join_with(&self.components, name)
    }

    /// A metric's REST id: query scope and name joined with `.`.
    pub(crate) fn query_id(&self, name: &str) -> String {
        join_with(&self.query, name)
    }

    pub(crate) fn variable(&self, key: &str) -> Option<&str> {
        self.variables.get(key).map(String::as_str)
    }
}

fn owned(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn join_with(prefix: &[String], name: &str) -> String {
    let mut s = String::new();
    for p in prefix {
        s.push_str(p);
        s.push('.');
    }
    s.push_str(name);
    s
}
