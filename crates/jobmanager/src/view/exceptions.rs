//! A job's failures (Flink's `JobExceptionsInfoWithHistory`).

use runnel_runtime::status::{JobException, JobStatus};
use serde::Serialize;

/// One failure in the exception history.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExceptionEntry {
    exception_name: String,
    stacktrace: String,
    timestamp: i64,
    task_name: Option<String>,
    location: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ExceptionHistory {
    entries: Vec<ExceptionEntry>,
    truncated: bool,
}

/// `GET /jobs/{jid}/exceptions`.
#[derive(Debug, Serialize)]
pub(crate) struct JobExceptions {
    #[serde(rename = "root-exception")]
    root_exception: Option<String>,
    timestamp: Option<i64>,
    #[serde(rename = "all-exceptions")]
    all_exceptions: [(); 0],
    truncated: bool,
    #[serde(rename = "exceptionHistory")]
    exception_history: ExceptionHistory,
}

/// The job's failures, newest first, at most `max` (all when `None`); the root
/// exception is the newest failure (the cause of the last restart or the end).
pub(crate) fn exceptions(job: &JobStatus, max: Option<usize>) -> JobExceptions {
    let newest_first = job.exceptions.iter().rev();
    let limit = max.unwrap_or(usize::MAX);
    let entries: Vec<ExceptionEntry> = newest_first
        .take(limit)
        .map(|e| ExceptionEntry {
            exception_name: exception_name(e).to_string(),
            stacktrace: e.message.clone(),
            timestamp: e.timestamp,
            task_name: e.task.clone(),
            location: None,
        })
        .collect();
    // As Flink's failure info: the newest failure, also once the job recovered.
    let root = job.exceptions.last();
    JobExceptions {
        root_exception: root.map(|e| e.message.clone()),
        timestamp: root.map(|e| e.timestamp),
        all_exceptions: [],
        truncated: false,
        exception_history: ExceptionHistory {
            truncated: entries.len() < job.exceptions.len(),
            entries,
        },
    }
}

/// The name of a failure: the error type the message starts with
/// (`ConnectorError: …`), else whether a task or the job failed.
fn exception_name(e: &JobException) -> &str {
    let named = e
        .message
        .split_once(": ")
        .map(|(head, _)| head)
        .filter(|h| {
            h.starts_with(|c: char| c.is_ascii_uppercase())
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':' || c == '.')
        });
    match (named, &e.task) {
        (Some(name), _) => name,
        (None, Some(_)) => "TaskFailure",
        (None, None) => "JobFailure",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::tests::status;
    use serde_json::{Value, json};

    fn to_json<T: Serialize>(v: &T) -> Value {
        serde_json::to_value(v).unwrap()
    }

    #[test]
    fn exceptions_are_newest_first_and_the_root_is_the_newest() {
        let mut job = status();
        for (t, task, message) in [
            (
                10,
                None,
                "job `x` failed: operator `Sum` (subtask 1/2) panicked: boom",
            ),
            (20, Some("Sum (1/2)"), "operator `Sum` failed: late"),
            (30, None, "ConnectorError: broker unreachable"),
        ] {
            job.exceptions.push(JobException {
                timestamp: t,
                task: task.map(String::from),
                message: message.to_string(),
            });
        }
        let e = to_json(&exceptions(&job, None));
        assert_eq!(e["root-exception"], "ConnectorError: broker unreachable");
        assert_eq!(e["timestamp"], 30);
        assert_eq!(e["all-exceptions"], json!([]));
        let entries = e["exceptionHistory"]["entries"].as_array().unwrap();
        let names: Vec<(&str, i64)> = entries
            .iter()
            .map(|x| {
                (
                    x["exceptionName"].as_str().unwrap(),
                    x["timestamp"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                ("ConnectorError", 30),
                ("TaskFailure", 20),
                ("JobFailure", 10)
            ]
        );
        assert_eq!(entries[1]["taskName"], "Sum (1/2)");
        assert_eq!(e["exceptionHistory"]["truncated"], false);

        let two = to_json(&exceptions(&job, Some(2)));
        assert_eq!(
            two["exceptionHistory"]["entries"].as_array().unwrap().len(),
            2
        );
        assert_eq!(two["exceptionHistory"]["truncated"], true);

        let none = to_json(&exceptions(&status(), None));
        assert_eq!(none["root-exception"], Value::Null);
        assert_eq!(none["timestamp"], Value::Null);
    }
}
