//! The scoped groups of Flink's hierarchy, one type each, so that only legal
//! nestings compile:
//!
//! ```text
//! JobManagerGroup ── add_job ──▶ JobManagerJobGroup
//! TaskManagerGroup ── add_job ──▶ TaskManagerJobGroup ── add_task ──▶ TaskGroup ── add_operator ──▶ OperatorGroup
//! ```
//!
//! Each dereferences to [`MetricGroup`] for registering metrics and user subgroups.
//! Asking twice for the same child (same job id; same task id, subtask and attempt;
//! same operator id) returns the same group while it is open.

use std::ops::Deref;

use crate::MetricGroup;
use crate::scope::{ScopeKind, variables as var};

macro_rules! scoped_group {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(pub(crate) MetricGroup);

        impl $name {
            /// This group as a plain [`MetricGroup`].
            pub fn group(&self) -> &MetricGroup {
                &self.0
            }
        }

        impl Deref for $name {
            type Target = MetricGroup;

            fn deref(&self) -> &MetricGroup {
                &self.0
            }
        }
    };
}

scoped_group!(
    /// The JobManager process: scope `<host>.jobmanager`.
    JobManagerGroup
);
scoped_group!(
    /// A job on the JobManager: scope `<host>.jobmanager.<job_name>`.
    JobManagerJobGroup
);
scoped_group!(
    /// A TaskManager process: scope `<host>.taskmanager.<tm_id>`.
    TaskManagerGroup
);
scoped_group!(
    /// A job's share of a TaskManager: scope `<host>.taskmanager.<tm_id>.<job_name>`.
    TaskManagerJobGroup
);
scoped_group!(
    /// One subtask: scope `<host>.taskmanager.<tm_id>.<job_name>.<task_name>.<subtask_index>`.
    TaskGroup
);
scoped_group!(
    /// One operator of a subtask: scope
    /// `<host>.taskmanager.<tm_id>.<job_name>.<operator_name>.<subtask_index>`.
    OperatorGroup
);

impl JobManagerGroup {
    /// The group of job `job_id` (named `job_name`) on this JobManager.
    pub fn add_job(&self, job_id: &str, job_name: &str) -> JobManagerJobGroup {
        JobManagerJobGroup(job_child(
            &self.0,
            ScopeKind::JobManagerJob,
            job_id,
            job_name,
        ))
    }
}

impl TaskManagerGroup {
    /// The group of job `job_id` (named `job_name`) on this TaskManager.
    pub fn add_job(&self, job_id: &str, job_name: &str) -> TaskManagerJobGroup {
        TaskManagerJobGroup(job_child(
            &self.0,
            ScopeKind::TaskManagerJob,
            job_id,
            job_name,
        ))
    }
}

fn job_child(parent: &MetricGroup, kind: ScopeKind, job_id: &str, job_name: &str) -> MetricGroup {
    parent.child(format!("job:{job_id}"), |s| {
        let mut components = s.components.clone();
        components.push(job_name.to_string());
        s.scoped_child(
            kind,
            components,
            &[(var::JOB_ID, job_id), (var::JOB_NAME, job_name)],
            Vec::new(),
        )
    })
}

impl TaskManagerJobGroup {
    /// The group of subtask `subtask_index` of vertex `task_id` (named
    /// `task_name`), attempt `attempt_number` (0 for the first run).
    pub fn add_task(
        &self,
        task_id: &str,
        task_name: &str,
        subtask_index: u32,
        attempt_number: u32,
    ) -> TaskGroup {
        let subtask = subtask_index.to_string();
        let attempt = attempt_number.to_string();
        let key = format!("task:{task_id}\u{0}{subtask}\u{0}{attempt}");
        TaskGroup(self.0.child(key, |s| {
            let mut components = s.components.clone();
            components.extend([task_name.to_string(), subtask.clone()]);
            s.scoped_child(
                ScopeKind::Task,
                components,
                &[
                    (var::TASK_ID, task_id),
                    (var::TASK_NAME, task_name),
                    (var::SUBTASK_INDEX, &subtask),
                    (var::TASK_ATTEMPT_NUM, &attempt),
                ],
                vec![subtask.clone()],
            )
        }))
    }
}

impl TaskGroup {
    /// The group of operator `operator_id` (named `operator_name`) in this subtask.
    pub fn add_operator(&self, operator_id: &str, operator_name: &str) -> OperatorGroup {
        OperatorGroup(self.0.child(format!("op:{operator_id}"), |s| {
            let subtask = s
                .variable(var::SUBTASK_INDEX)
                .unwrap_or_default()
                .to_string();
            // A task's scope ends with `<task_name>.<subtask_index>`; an operator's
            // replaces both with `<operator_name>.<subtask_index>`.
            let mut components = s.components[..s.components.len().saturating_sub(2)].to_vec();
            components.extend([operator_name.to_string(), subtask.clone()]);
            s.scoped_child(
                ScopeKind::Operator,
                components,
                &[
                    (var::OPERATOR_ID, operator_id),
                    (var::OPERATOR_NAME, operator_name),
                ],
                vec![subtask, operator_name.to_string()],
            )
        }))
    }
}

#[cfg(test)]
mod tests {
    use crate::scope::variables as var;
    use crate::{MetricError, MetricRegistry, ScopeKind};

    #[test]
    fn task_manager_hierarchy_scopes_and_variables() {
        let registry = MetricRegistry::new();
        let tm = registry.task_manager_group("host-1", "tm-1");
        let job = tm.add_job("j-1", "WordCount");
        let task = job.add_task("v-2", "Map -> Filter", 3, 1);
        let op = task.add_operator("op-9", "Filter");

        let table = [
            (
                tm.group(),
                "host-1.taskmanager.tm-1",
                "taskmanager",
                ScopeKind::TaskManager,
            ),
            (
                job.group(),
                "host-1.taskmanager.tm-1.WordCount",
                "taskmanager.job",
                ScopeKind::TaskManagerJob,
            ),
            (
                task.group(),
                "host-1.taskmanager.tm-1.WordCount.Map -> Filter.3",
                "taskmanager.job.task",
                ScopeKind::Task,
            ),
            (
                op.group(),
                "host-1.taskmanager.tm-1.WordCount.Filter.3",
                "taskmanager.job.task.operator",
                ScopeKind::Operator,
            ),
        ];
        for (group, scope, logical, kind) in table {
            assert_eq!(group.scope_components().join("."), scope);
            assert_eq!(group.logical_scope(), logical);
            assert_eq!(group.scope_kind(), kind);
        }

        let vars = op.variables();
        let expected = [
            (var::HOST, "host-1"),
            (var::TM_ID, "tm-1"),
            (var::JOB_ID, "j-1"),
            (var::JOB_NAME, "WordCount"),
            (var::TASK_ID, "v-2"),
            (var::TASK_NAME, "Map -> Filter"),
            (var::SUBTASK_INDEX, "3"),
            (var::TASK_ATTEMPT_NUM, "1"),
            (var::OPERATOR_ID, "op-9"),
            (var::OPERATOR_NAME, "Filter"),
        ];
        assert_eq!(vars.len(), expected.len());
        for (k, v) in expected {
            assert_eq!(vars.get(k).map(String::as_str), Some(v), "{k}");
        }
        assert_eq!(task.variables().get(var::OPERATOR_NAME), None);
        assert_eq!(
            op.metric_identifier("numRecordsIn"),
            "host-1.taskmanager.tm-1.WordCount.Filter.3.numRecordsIn"
        );
    }

    #[test]
    fn job_manager_hierarchy() {
        let registry = MetricRegistry::new();
        let job = registry.job_manager_group("jm").add_job("j-1", "Etl");
        assert_eq!(
            job.metric_identifier("numRestarts"),
            "jm.jobmanager.Etl.numRestarts"
        );
        assert_eq!(job.logical_scope(), "jobmanager.job");
        assert_eq!(job.variables().len(), 3);
    }

    #[test]
    fn asking_twice_returns_the_same_group() -> Result<(), MetricError> {
        let registry = MetricRegistry::new();
        let tm = registry.task_manager_group("h", "tm");
        tm.add_job("j", "job")
            .add_task("v", "Map", 0, 0)
            .counter("n")?
            .inc();
        let again = tm
            .add_job("j", "job")
            .add_task("v", "Map", 0, 0)
            .counter("n")?;
        assert_eq!(again.count(), 1);
        // Another attempt of the same subtask is another group.
        let retry = tm
            .add_job("j", "job")
            .add_task("v", "Map", 0, 1)
            .counter("n")?;
        assert_eq!(retry.count(), 0);
        assert_eq!(registry.len(), 2);
        Ok(())
    }

    #[test]
    fn key_value_groups_add_a_variable() -> Result<(), MetricError> {
        let registry = MetricRegistry::new();
        let op = registry
            .task_manager_group("h", "tm")
            .add_job("j", "job")
            .add_task("v", "Map", 0, 0)
            .add_operator("o", "Map");
        let shard = op.add_key_value_group("shard", "7")?;
        assert_eq!(
            shard.variables().get("<shard>").map(String::as_str),
            Some("7")
        );
        assert_eq!(shard.logical_scope(), "taskmanager.job.task.operator.shard");
        assert_eq!(
            shard.metric_identifier("lag"),
            "h.taskmanager.tm.job.Map.0.shard.7.lag"
        );
        Ok(())
    }
}
