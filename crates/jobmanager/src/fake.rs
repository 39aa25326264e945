//! A job whose status the test sets, for the Dispatcher's and handlers' tests.

use crate::JobHandle;
use crate::view::tests::status;
use runnel_runtime::JobError;
use runnel_runtime::status::{JobState, JobStatus};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub(crate) struct FakeJob {
    id: String,
    pub status: Mutex<JobStatus>,
    pub cancelled: Mutex<bool>,
    /// What a savepoint returns; `None`: it fails.
    pub savepoint: Mutex<Option<String>>,
    /// The last savepoint request: (directory, stop).
    pub requested: Mutex<Option<(Option<PathBuf>, bool)>>,
}

impl FakeJob {
    /// A running job with the view tests' snapshot and id `id`.
    pub(crate) fn new(id: &str) -> Arc<FakeJob> {
        let mut s = status();
        s.job_id = id.to_string();
        Arc::new(FakeJob {
            id: id.to_string(),
            status: Mutex::new(s),
            cancelled: Mutex::new(false),
            savepoint: Mutex::new(Some("file:///sp/savepoint-1".into())),
            requested: Mutex::new(None),
        })
    }

    pub(crate) fn end(&self, state: JobState, at: i64) {
        let mut s = self.status.lock().unwrap();
        s.state = state;
        s.end_time = Some(at);
        s.timestamps.push((state, at));
    }
}

impl JobHandle for FakeJob {
    fn job_id(&self) -> &str {
        &self.id
    }

    fn status(&self) -> JobStatus {
        self.status.lock().unwrap().clone()
    }

    fn cancel(&self) {
        *self.cancelled.lock().unwrap() = true;
    }

    fn trigger_savepoint(&self, dir: Option<PathBuf>, stop: bool) -> Result<String, JobError> {
        *self.requested.lock().unwrap() = Some((dir, stop));
        self.savepoint
            .lock()
            .unwrap()
            .clone()
            .ok_or(JobError::Savepoint {
                job: "fake".into(),
                message: "no savepoint directory configured".into(),
            })
    }
}
