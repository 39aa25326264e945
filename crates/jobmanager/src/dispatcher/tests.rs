use super::*;
use crate::fake::FakeJob as Fake;
use runnel_runtime::status::JobState;

#[test]
fn registers_finds_and_refuses_duplicates() {
    let d = Dispatcher::new();
    let a = Fake::new("a");
    d.register(a.clone()).unwrap();
    assert!(matches!(
        d.register(Fake::new("a")),
        Err(JobManagerError::DuplicateJob { .. })
    ));
    assert_eq!(d.job("a").unwrap().job_id, "a");
    assert!(matches!(
        d.job("b"),
        Err(JobManagerError::JobNotFound { .. })
    ));
    d.cancel("a").unwrap();
    assert!(*a.cancelled.lock().unwrap());
}

#[test]
fn ended_jobs_are_archived_and_bounded() {
    let d = Dispatcher::with_config(DispatcherConfig {
        max_finished_jobs: 2,
        ..DispatcherConfig::default()
    });
    let jobs: Vec<_> = ["a", "b", "c", "d"].map(Fake::new).into();
    for j in &jobs {
        d.register(j.clone()).unwrap();
    }
    // c ended first, then a, then b; d runs.
    jobs[2].end(JobState::Finished, 10);
    jobs[0].end(JobState::Canceled, 20);
    jobs[1].end(JobState::Failed, 30);
    let states: Vec<_> = d.jobs().iter().map(|s| s.state).collect();
    assert_eq!(states.len(), 4, "all seen once before eviction");
    assert_eq!(d.job_ids(), ["a", "b", "d"]);
    // Archived: the handle is no longer asked.
    jobs[0].end(JobState::Finished, 99);
    assert_eq!(d.job("a").unwrap().state, JobState::Canceled);
    d.cancel("a").unwrap();
    assert!(!*jobs[0].cancelled.lock().unwrap());
}

#[test]
fn savepoint_requests_complete_and_ended_jobs_reject_them() {
    let d = Dispatcher::new();
    let a = Fake::new("a");
    d.register(a.clone()).unwrap();
    let id = d
        .trigger_savepoint("a", None, SavepointMode::Keep, None)
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let status = loop {
        match d.savepoint_status("a", &id).unwrap() {
            SavepointStatus::InProgress if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(5))
            }
            other => break other,
        }
    };
    assert_eq!(
        status,
        SavepointStatus::Completed {
            location: "file:///sp/savepoint-1".into()
        }
    );
    assert!(matches!(
        d.savepoint_status("a", "nope"),
        Err(JobManagerError::TriggerNotFound { .. })
    ));
    a.end(JobState::Finished, 5);
    d.jobs();
    let id = d
        .trigger_savepoint("a", None, SavepointMode::Stop, None)
        .unwrap();
    assert!(matches!(
        d.savepoint_status("a", &id),
        Ok(SavepointStatus::Failed { .. })
    ));
}
