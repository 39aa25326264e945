//! Checkpoints: Flink's `CheckpointingStatistics` of a job, and the state of a
//! savepoint request.

use crate::savepoints::SavepointStatus;
use runnel_runtime::status::{CheckpointHistory, CheckpointRecord, CheckpointState};
use serde::Serialize;

#[derive(Debug, Serialize, PartialEq, Eq)]
pub(crate) struct Counts {
    restored: u64,
    total: u64,
    in_progress: u64,
    completed: u64,
    failed: u64,
}

/// Minimum, maximum and (truncated) average; all `0` over nothing.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub(crate) struct MinMaxAvg {
    min: u64,
    max: u64,
    avg: u64,
}

impl MinMaxAvg {
    fn of(values: impl Iterator<Item = u64>) -> Self {
        let (mut min, mut max, mut sum, mut n) = (u64::MAX, 0, 0u128, 0u128);
        for v in values {
            min = min.min(v);
            max = max.max(v);
            sum += u128::from(v);
            n += 1;
        }
        if n == 0 {
            return MinMaxAvg::default();
        }
        MinMaxAvg {
            min,
            max,
            avg: (sum / n) as u64,
        }
    }
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub(crate) struct Summary {
    checkpointed_size: MinMaxAvg,
    state_size: MinMaxAvg,
    end_to_end_duration: MinMaxAvg,
}

/// One checkpoint or savepoint (Flink's `CheckpointStatistics`).
#[derive(Debug, Serialize, PartialEq, Eq)]
pub(crate) struct CheckpointStatistics {
    id: u64,
    status: CheckpointState,
    is_savepoint: bool,
    trigger_timestamp: i64,
    latest_ack_timestamp: i64,
    state_size: u64,
    checkpointed_size: u64,
    end_to_end_duration: u64,
    num_subtasks: u32,
    num_acknowledged_subtasks: u32,
    external_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_message: Option<String>,
}

/// The latest restore.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub(crate) struct RestoredCheckpoint {
    id: u64,
    restore_timestamp: i64,
    is_savepoint: bool,
    external_path: Option<String>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub(crate) struct Latest {
    completed: Option<CheckpointStatistics>,
    savepoint: Option<CheckpointStatistics>,
    failed: Option<CheckpointStatistics>,
    restored: Option<RestoredCheckpoint>,
}

/// `GET /jobs/{jid}/checkpoints`.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub(crate) struct CheckpointingStatistics {
    counts: Counts,
    summary: Summary,
    latest: Latest,
    history: Vec<CheckpointStatistics>,
}

/// The statistics of `history`. Counts cover the job's whole life; the
/// summary covers the completed checkpoints and savepoints still in the
/// history (the newest few); sizes are full state sizes (nothing is
/// incremental yet, so `checkpointed_size` equals `state_size`).
pub(crate) fn statistics(history: &CheckpointHistory) -> CheckpointingStatistics {
    let records: Vec<&CheckpointRecord> = distinct(history);
    let in_progress = records
        .iter()
        .filter(|r| r.state == CheckpointState::InProgress)
        .count() as u64;
    let completed: Vec<&CheckpointRecord> = records
        .iter()
        .copied()
        .filter(|r| r.state == CheckpointState::Completed)
        .collect();
    let newest = |keep: &dyn Fn(&CheckpointRecord) -> bool| {
        records.iter().rev().find(|r| keep(r)).map(|r| record(r))
    };
    let restored = history
        .latest_restore
        .as_ref()
        .map(|(id, location, at)| RestoredCheckpoint {
            id: *id,
            restore_timestamp: *at,
            is_savepoint: records
                .iter()
                .find(|r| r.id == *id && r.external_path.as_deref() == Some(location))
                .map(|r| r.is_savepoint)
                .unwrap_or_else(|| is_savepoint_path(location)),
            external_path: Some(location.clone()),
        });
    CheckpointingStatistics {
        counts: Counts {
            restored: history.restored,
            total: history.completed + history.failed + in_progress,
            in_progress,
            completed: history.completed,
            failed: history.failed,
        },
        summary: Summary {
            checkpointed_size: MinMaxAvg::of(completed.iter().map(|r| r.state_size)),
            state_size: MinMaxAvg::of(completed.iter().map(|r| r.state_size)),
            end_to_end_duration: MinMaxAvg::of(completed.iter().map(|r| duration(r))),
        },
        latest: Latest {
            completed: newest(&|r| r.state == CheckpointState::Completed && !r.is_savepoint),
            savepoint: newest(&|r| r.state == CheckpointState::Completed && r.is_savepoint),
            failed: newest(&|r| r.state == CheckpointState::Failed),
            restored,
        },
        history: records.iter().rev().map(|r| record(r)).collect(),
    }
}

/// The history's records, one per checkpoint id, oldest first. The job master
/// updates the first record of an id; a later one with the same id is a
/// duplicate it pushed when triggering a checkpoint again, and left behind.
pub(crate) fn distinct(history: &CheckpointHistory) -> Vec<&CheckpointRecord> {
    let mut seen = std::collections::HashSet::new();
    history
        .history
        .iter()
        .filter(|r| seen.insert(r.id))
        .collect()
}

/// Whether a location is a savepoint's (its last component is `savepoint-…`).
fn is_savepoint_path(location: &str) -> bool {
    location
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .is_some_and(|last| last.starts_with("savepoint-"))
}

/// From trigger to the last acknowledgement, in ms.
fn duration(r: &CheckpointRecord) -> u64 {
    u64::try_from(r.latest_ack_timestamp - r.trigger_timestamp).unwrap_or(0)
}

fn record(r: &CheckpointRecord) -> CheckpointStatistics {
    CheckpointStatistics {
        id: r.id,
        status: r.state,
        is_savepoint: r.is_savepoint,
        trigger_timestamp: r.trigger_timestamp,
        latest_ack_timestamp: r.latest_ack_timestamp,
        state_size: r.state_size,
        checkpointed_size: r.state_size,
        end_to_end_duration: duration(r),
        num_subtasks: r.total,
        num_acknowledged_subtasks: r.acknowledged,
        external_path: r.external_path.clone(),
        failure_message: r.failure.clone(),
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct QueueStatus {
    id: &'static str,
}

#[derive(Debug, Serialize)]
pub(crate) struct FailureCause {
    class: String,
    #[serde(rename = "stack-trace")]
    stack_trace: String,
}

#[derive(Debug, Serialize)]
pub(crate) enum Operation {
    #[serde(rename = "location")]
    Location(String),
    #[serde(rename = "failure-cause")]
    FailureCause(FailureCause),
}

/// `GET /jobs/{jid}/savepoints/{triggerid}` (Flink's `AsynchronousOperationResult`).
#[derive(Debug, Serialize)]
pub(crate) struct SavepointStatusInfo {
    status: QueueStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    operation: Option<Operation>,
}

pub(crate) fn savepoint_status(s: &SavepointStatus) -> SavepointStatusInfo {
    let (id, operation) = match s {
        SavepointStatus::InProgress => ("IN_PROGRESS", None),
        SavepointStatus::Completed { location } => {
            ("COMPLETED", Some(Operation::Location(location.clone())))
        }
        SavepointStatus::Failed { class, message } => (
            "COMPLETED",
            Some(Operation::FailureCause(FailureCause {
                class: class.clone(),
                stack_trace: message.clone(),
            })),
        ),
    };
    SavepointStatusInfo {
        status: QueueStatus { id },
        operation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn record(
        id: u64,
        state: CheckpointState,
        savepoint: bool,
        trigger: i64,
        ack: i64,
        size: u64,
    ) -> CheckpointRecord {
        CheckpointRecord {
            id,
            is_savepoint: savepoint,
            state,
            trigger_timestamp: trigger,
            latest_ack_timestamp: ack,
            acknowledged: if state == CheckpointState::Completed {
                4
            } else {
                2
            },
            total: 4,
            state_size: size,
            external_path: (state == CheckpointState::Completed).then(|| {
                if savepoint {
                    format!("/sp/savepoint-{id}")
                } else {
                    format!("/cp/chk-{id}")
                }
            }),
            failure: (state == CheckpointState::Failed).then(|| "declined".to_string()),
        }
    }

    fn history() -> CheckpointHistory {
        use CheckpointState::*;
        CheckpointHistory {
            history: vec![
                record(1, Completed, false, 1_000, 1_400, 300),
                record(2, Completed, true, 2_000, 2_900, 600),
                record(3, Failed, false, 3_000, 3_100, 0),
                record(4, Completed, false, 4_000, 4_201, 901),
                record(5, InProgress, false, 5_000, 5_050, 0),
            ],
            completed: 13,
            failed: 2,
            restored: 1,
            latest_restore: Some((2, "/sp/savepoint-2".into(), 4_500)),
        }
    }

    #[test]
    fn summary_covers_completed_checkpoints_and_savepoints() {
        let s = serde_json::to_value(statistics(&history())).unwrap();
        assert_eq!(
            s["counts"],
            json!({"restored": 1, "total": 16, "in_progress": 1, "completed": 13, "failed": 2})
        );
        let sizes = json!({"min": 300, "max": 901, "avg": 600});
        assert_eq!(s["summary"]["state_size"], sizes);
        assert_eq!(s["summary"]["checkpointed_size"], sizes);
        assert_eq!(
            s["summary"]["end_to_end_duration"],
            json!({"min": 201, "max": 900, "avg": 500})
        );
    }

    #[test]
    fn latest_and_history_newest_first() {
        let s = serde_json::to_value(statistics(&history())).unwrap();
        let ids = |v: &Value| {
            v.as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_u64().unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&s["history"]), [5, 4, 3, 2, 1]);
        assert_eq!(s["latest"]["completed"]["id"], 4);
        assert_eq!(s["latest"]["completed"]["external_path"], "/cp/chk-4");
        assert_eq!(s["latest"]["completed"]["end_to_end_duration"], 201);
        assert_eq!(s["latest"]["savepoint"]["id"], 2);
        assert_eq!(s["latest"]["failed"]["id"], 3);
        assert_eq!(s["latest"]["failed"]["failure_message"], "declined");
        assert_eq!(
            s["latest"]["restored"],
            json!({"id": 2, "restore_timestamp": 4_500, "is_savepoint": true, "external_path": "/sp/savepoint-2"})
        );
        let in_progress = &s["history"][0];
        assert_eq!(in_progress["status"], "IN_PROGRESS");
        assert_eq!(in_progress["external_path"], Value::Null);
        assert_eq!(in_progress["num_acknowledged_subtasks"], 2);
        assert_eq!(in_progress.get("failure_message"), None);
    }

    #[test]
    fn a_checkpoint_pushed_twice_counts_once_with_its_first_record() {
        use CheckpointState::*;
        let mut h = history();
        h.history
            .insert(2, record(2, InProgress, false, 2_000, 2_000, 0));
        h.history
            .push(record(4, InProgress, false, 4_000, 4_000, 0));
        let s = serde_json::to_value(statistics(&h)).unwrap();
        let ids: Vec<u64> = s["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_u64().unwrap())
            .collect();
        assert_eq!(ids, [5, 4, 3, 2, 1]);
        assert_eq!(s["history"][3]["status"], "COMPLETED");
        assert_eq!(s["counts"]["in_progress"], 1);
    }

    #[test]
    fn no_checkpoints_is_zeros_and_nulls() {
        let s = serde_json::to_value(statistics(&CheckpointHistory::default())).unwrap();
        assert_eq!(
            s["summary"]["state_size"],
            json!({"min": 0, "max": 0, "avg": 0})
        );
        assert_eq!(
            s["latest"],
            json!({"completed": null, "savepoint": null, "failed": null, "restored": null})
        );
        assert_eq!(s["history"], json!([]));
        assert!(is_savepoint_path("file:///x/savepoint-ab12-cd/"));
        assert!(!is_savepoint_path("/x/chk-3"));
    }

    #[test]
    fn savepoint_status_shapes() {
        let table = [
            (
                SavepointStatus::InProgress,
                json!({"status": {"id": "IN_PROGRESS"}}),
            ),
            (
                SavepointStatus::Completed {
                    location: "/sp/savepoint-1".into(),
                },
                json!({"status": {"id": "COMPLETED"}, "operation": {"location": "/sp/savepoint-1"}}),
            ),
            (
                SavepointStatus::Failed {
                    class: "SavepointError".into(),
                    message: "no dir".into(),
                },
                json!({"status": {"id": "COMPLETED"},
                       "operation": {"failure-cause": {"class": "SavepointError", "stack-trace": "no dir"}}}),
            ),
        ];
        for (status, expected) in table {
            assert_eq!(
                serde_json::to_value(savepoint_status(&status)).unwrap(),
                expected
            );
        }
    }
}
