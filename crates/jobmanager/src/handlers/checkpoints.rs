//! `/jobs/:jobid/checkpoints`, savepoint triggers and stop-with-savepoint.

use super::{job, ok, param};
use crate::view::checkpoints as view;
use crate::{Dispatcher, JobManagerError, SavepointMode};
use runnel_rest::{Request, Response};
use serde_json::{Map, Value};
use std::path::PathBuf;

pub(super) fn statistics(d: &Dispatcher, req: &Request) -> Result<Response, JobManagerError> {
    ok(&view::statistics(&job(d, req)?.checkpoints))
}

/// An optional JSON object body (empty is `{}`) with only the `known` fields.
fn body(req: &Request, known: &[&str]) -> Result<Map<String, Value>, JobManagerError> {
    let invalid = |reason: String| {
        JobManagerError::bad_request(format!("invalid body of POST {}: {reason}", req.path()))
    };
    if req.body().iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let Value::Object(fields) = req.json::<Value>().map_err(|e| invalid(e.to_string()))? else {
        return Err(invalid("expected a JSON object".into()));
    };
    if let Some(unknown) = fields.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(invalid(format!(
            "unknown field `{unknown}`; expected {}",
            known.join(", ")
        )));
    }
    Ok(fields)
}

/// A string field (absent or `null`: `None`).
fn string(fields: &Map<String, Value>, key: &str) -> Result<Option<String>, JobManagerError> {
    match fields.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(JobManagerError::bad_request(format!(
            "field `{key}` must be a string or null, not {other}"
        ))),
    }
}

/// A boolean field (absent or `null`: `false`).
fn boolean(fields: &Map<String, Value>, key: &str) -> Result<bool, JobManagerError> {
    match fields.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(JobManagerError::bad_request(format!(
            "field `{key}` must be true or false, not {other}"
        ))),
    }
}

/// A target directory as a path (`file://` URIs accepted; empty is none).
fn directory(dir: Option<String>) -> Option<PathBuf> {
    let dir = dir?;
    let path = dir.strip_prefix("file://").unwrap_or(&dir);
    (!path.is_empty()).then(|| PathBuf::from(path))
}

fn accepted(request_id: String) -> Result<Response, JobManagerError> {
    Ok(Response::json(
        202,
        &serde_json::json!({ "request-id": request_id }),
    ))
}

/// `POST /jobs/:jobid/savepoints`: `202` with the request id to poll.
pub(super) fn trigger(d: &Dispatcher, req: &Request) -> Result<Response, JobManagerError> {
    // Flink's `SavepointTriggerRequestBody`.
    let b = body(req, &["target-directory", "cancel-job", "triggerId"])?;
    let mode = if boolean(&b, "cancel-job")? {
        SavepointMode::Cancel
    } else {
        SavepointMode::Keep
    };
    let id = d.trigger_savepoint(
        param(req, "jobid"),
        directory(string(&b, "target-directory")?),
        mode,
        string(&b, "triggerId")?,
    )?;
    accepted(id)
}

/// `POST /jobs/:jobid/stop`: stop-with-savepoint, `202` with the request id.
pub(super) fn stop(d: &Dispatcher, req: &Request) -> Result<Response, JobManagerError> {
    // Flink's `StopWithSavepointRequestBody`.
    let b = body(req, &["targetDirectory", "drain", "triggerId"])?;
    if boolean(&b, "drain")? {
        return Err(JobManagerError::bad_request(
            "\"drain\": true is not supported yet: a job stops with a savepoint without \
             emitting the final watermark first",
        ));
    }
    let id = d.trigger_savepoint(
        param(req, "jobid"),
        directory(string(&b, "targetDirectory")?),
        SavepointMode::Stop,
        string(&b, "triggerId")?,
    )?;
    accepted(id)
}

/// `GET /jobs/:jobid/savepoints/:triggerid`.
pub(super) fn trigger_status(d: &Dispatcher, req: &Request) -> Result<Response, JobManagerError> {
    let status = d.savepoint_status(param(req, "jobid"), param(req, "triggerid"))?;
    ok(&view::savepoint_status(&status))
}
