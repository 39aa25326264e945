//! The coordinator's rules, driven by events and a made-up clock.

use super::*;

fn task(v: u32, s: u32) -> TaskId {
    TaskId {
        vertex: JobVertexId(v),
        subtask: s,
    }
}

/// Source (0,0) feeding (1,0) and (1,1); checkpoints every 100 ms.
fn coordinator(config: CoordinatorConfig) -> CheckpointCoordinator<&'static str> {
    CheckpointCoordinator::new(
        config,
        vec![task(0, 0)],
        vec![task(0, 0), task(1, 0), task(1, 1)],
    )
}

fn every_100ms() -> CoordinatorConfig {
    CoordinatorConfig {
        interval: Some(Duration::from_millis(100)),
        ..CoordinatorConfig::default()
    }
}

fn tick(c: &mut CheckpointCoordinator<&'static str>, now: i64) -> Vec<Action<&'static str>> {
    c.handle(Event::Tick { now })
}

fn triggered(actions: &[Action<&'static str>]) -> Option<CheckpointId> {
    actions.iter().find_map(|a| match a {
        Action::Trigger { barrier, .. } => Some(barrier.id),
        _ => None,
    })
}

fn ack_all(
    c: &mut CheckpointCoordinator<&'static str>,
    id: CheckpointId,
) -> Vec<Action<&'static str>> {
    let mut out = Vec::new();
    for t in [task(0, 0), task(1, 0), task(1, 1)] {
        out.extend(c.handle(Event::Acknowledge {
            id,
            task: t,
            state: "s",
        }));
    }
    out
}

#[test]
fn a_checkpoint_is_triggered_acknowledged_persisted_and_notified() {
    let mut c = coordinator(every_100ms());
    assert!(
        tick(&mut c, 1_000).is_empty(),
        "the first is due one interval later"
    );
    assert!(tick(&mut c, 1_099).is_empty());
    let actions = tick(&mut c, 1_100);
    let [Action::Trigger { barrier, tasks }] = actions.as_slice() else {
        panic!("{actions:?}");
    };
    assert_eq!(barrier.id, CheckpointId(1));
    assert_eq!(barrier.timestamp, 1_100);
    assert_eq!(barrier.kind, SnapshotKind::Checkpoint);
    assert_eq!(tasks, &[task(0, 0)], "only sources inject barriers");

    let mut actions = Vec::new();
    for t in [task(0, 0), task(1, 0)] {
        actions.extend(c.handle(Event::Acknowledge {
            id: CheckpointId(1),
            task: t,
            state: "s",
        }));
    }
    assert!(actions.is_empty(), "one task has not acknowledged yet");
    let actions = c.handle(Event::Acknowledge {
        id: CheckpointId(1),
        task: task(1, 1),
        state: "last",
    });
    let [Action::Persist { id, states, .. }] = actions.as_slice() else {
        panic!("{actions:?}");
    };
    assert_eq!(*id, CheckpointId(1));
    assert_eq!(states.len(), 3);
    assert_eq!(
        c.latest_completed(),
        None,
        "not complete before the metadata is durable"
    );

    let actions = c.handle(Event::Persisted {
        id: CheckpointId(1),
        now: 1_150,
    });
    assert_eq!(
        actions,
        [Action::NotifyComplete {
            id: CheckpointId(1),
            tasks: vec![task(0, 0), task(1, 0), task(1, 1)],
        }]
    );
    assert_eq!(c.latest_completed(), Some(CheckpointId(1)));
}

#[test]
fn max_concurrent_and_min_pause_hold_back_the_next_trigger() {
    let mut c = coordinator(every_100ms());
    tick(&mut c, 0);
    assert_eq!(triggered(&tick(&mut c, 100)), Some(CheckpointId(1)));
    assert_eq!(
        triggered(&tick(&mut c, 250)),
        None,
        "one is still in progress"
    );
    ack_all(&mut c, CheckpointId(1));
    c.handle(Event::Persisted {
        id: CheckpointId(1),
        now: 260,
    });
    assert_eq!(triggered(&tick(&mut c, 261)), Some(CheckpointId(2)));

    let mut c = coordinator(CoordinatorConfig {
        min_pause: Duration::from_millis(80),
        ..every_100ms()
    });
    tick(&mut c, 0);
    tick(&mut c, 100);
    ack_all(&mut c, CheckpointId(1));
    c.handle(Event::Persisted {
        id: CheckpointId(1),
        now: 190,
    });
    assert_eq!(
        triggered(&tick(&mut c, 200)),
        None,
        "within the pause after 190"
    );
    assert_eq!(triggered(&tick(&mut c, 269)), None);
    assert_eq!(triggered(&tick(&mut c, 270)), Some(CheckpointId(2)));
}

#[test]
fn an_expired_checkpoint_is_aborted_and_fails_the_job_beyond_the_tolerance() {
    let mut c = coordinator(CoordinatorConfig {
        timeout: Duration::from_millis(50),
        tolerable_failures: 1,
        ..every_100ms()
    });
    tick(&mut c, 0);
    tick(&mut c, 100);
    let actions = tick(&mut c, 150);
    assert!(
        matches!(
            &actions[0],
            Action::NotifyAborted { id: CheckpointId(1), tasks, reason }
                if tasks.len() == 3 && reason.contains("expired")
        ),
        "{actions:?}"
    );
    assert!(
        !actions.iter().any(|a| matches!(a, Action::FailJob { .. })),
        "one failure is tolerated"
    );
    assert_eq!(triggered(&tick(&mut c, 200)), Some(CheckpointId(2)));
    let actions = tick(&mut c, 250);
    assert!(
        actions.iter().any(|a| matches!(a, Action::FailJob { reason } if reason.contains("2 checkpoint(s) failed in a row"))),
        "{actions:?}"
    );
}

#[test]
fn a_completion_resets_the_failure_count() {
    let mut c = coordinator(CoordinatorConfig {
        timeout: Duration::from_millis(50),
        tolerable_failures: 1,
        ..every_100ms()
    });
    tick(&mut c, 0);
    tick(&mut c, 100);
    tick(&mut c, 150); // 1 expires
    tick(&mut c, 200); // 2 triggered
    ack_all(&mut c, CheckpointId(2));
    c.handle(Event::Persisted {
        id: CheckpointId(2),
        now: 210,
    });
    tick(&mut c, 310); // 3 triggered
    let actions = tick(&mut c, 360); // 3 expires: the first failure after a success
    assert!(
        !actions.iter().any(|a| matches!(a, Action::FailJob { .. })),
        "{actions:?}"
    );
}

#[test]
fn a_subsumed_decline_is_not_a_failure() {
    let mut c = coordinator(every_100ms());
    tick(&mut c, 0);
    tick(&mut c, 100);
    let actions = c.handle(Event::Decline {
        id: CheckpointId(1),
        task: task(1, 0),
        reason: DeclineReason::Subsumed,
    });
    assert!(
        matches!(actions.as_slice(), [Action::NotifyAborted { .. }]),
        "{actions:?}"
    );
    tick(&mut c, 200);
    let actions = c.handle(Event::Decline {
        id: CheckpointId(2),
        task: task(1, 0),
        reason: DeclineReason::Failed("disk full".into()),
    });
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::FailJob { reason } if reason.contains("disk full"))),
        "{actions:?}"
    );
}

#[test]
fn only_the_newest_checkpoints_are_retained() {
    let mut c = coordinator(CoordinatorConfig {
        num_retained: 2,
        max_concurrent: 3,
        ..every_100ms()
    });
    tick(&mut c, 0);
    let mut discarded = Vec::new();
    for (i, now) in [100, 200, 300].into_iter().enumerate() {
        let id = triggered(&tick(&mut c, now)).unwrap();
        assert_eq!(id, CheckpointId(i as u64 + 1));
        ack_all(&mut c, id);
        for a in c.handle(Event::Persisted { id, now }) {
            if let Action::Discard { id } = a {
                discarded.push(id);
            }
        }
    }
    assert_eq!(discarded, [CheckpointId(1)]);
}

#[test]
fn completing_a_checkpoint_subsumes_older_pending_ones() {
    let mut c = coordinator(CoordinatorConfig {
        max_concurrent: 2,
        ..every_100ms()
    });
    tick(&mut c, 0);
    tick(&mut c, 100);
    tick(&mut c, 200);
    ack_all(&mut c, CheckpointId(2));
    let actions = c.handle(Event::Persisted {
        id: CheckpointId(2),
        now: 250,
    });
    assert!(actions.iter().any(|a| matches!(
        a,
        Action::NotifyAborted {
            id: CheckpointId(1),
            ..
        }
    )));
    assert!(!actions.iter().any(|a| matches!(a, Action::FailJob { .. })));
    assert_eq!(c.pending_count(), 0);
}

#[test]
fn finished_tasks_are_triggered_directly_and_the_job_ends_with_a_final_checkpoint() {
    let mut c = coordinator(every_100ms());
    tick(&mut c, 0);
    tick(&mut c, 100);
    // The source finishes before it handled checkpoint 1's trigger: it is asked
    // directly (and snapshots its final state once).
    let actions = c.handle(Event::TaskFinished {
        task: task(0, 0),
        now: 110,
    });
    assert_eq!(
        actions,
        [Action::Trigger {
            barrier: CheckpointBarrier::aligned(CheckpointId(1), 100),
            tasks: vec![task(0, 0)],
        }]
    );
    let actions = ack_all(&mut c, CheckpointId(1));
    assert!(matches!(actions.as_slice(), [Action::Persist { .. }]));
    c.handle(Event::Persisted {
        id: CheckpointId(1),
        now: 120,
    });
    assert_eq!(
        triggered(&tick(&mut c, 300)),
        None,
        "no source left to inject barriers"
    );

    assert!(
        c.handle(Event::TaskFinished {
            task: task(1, 0),
            now: 310,
        })
        .is_empty()
    );
    let actions = c.handle(Event::TaskFinished {
        task: task(1, 1),
        now: 320,
    });
    let [Action::Trigger { barrier, tasks }] = actions.as_slice() else {
        panic!("{actions:?}");
    };
    assert_eq!(barrier.id, CheckpointId(2));
    assert_eq!(
        tasks.len(),
        3,
        "every finished task snapshots its final state"
    );
    let actions = ack_all(&mut c, CheckpointId(2));
    assert!(matches!(
        actions.as_slice(),
        [Action::Persist {
            id: CheckpointId(2),
            ..
        }]
    ));
    let actions = c.handle(Event::Persisted {
        id: CheckpointId(2),
        now: 330,
    });
    assert!(matches!(
        actions.first(),
        Some(Action::NotifyComplete {
            id: CheckpointId(2),
            ..
        })
    ));
    assert_eq!(actions.last(), Some(&Action::Finished));
}

#[test]
fn finished_tasks_take_part_in_later_checkpoints() {
    let mut c = CheckpointCoordinator::<&str>::new(
        every_100ms(),
        vec![task(0, 0), task(0, 1)],
        vec![task(0, 0), task(0, 1), task(1, 0)],
    );
    tick(&mut c, 0);
    c.handle(Event::TaskFinished {
        task: task(0, 1),
        now: 50,
    });
    let actions = tick(&mut c, 100);
    let [Action::Trigger { tasks, .. }] = actions.as_slice() else {
        panic!("{actions:?}");
    };
    assert_eq!(
        tasks,
        &[task(0, 0), task(0, 1)],
        "the running source and the finished one"
    );
}

#[test]
fn savepoints_skip_the_schedule_and_do_not_notify() {
    let mut c = coordinator(CoordinatorConfig::default());
    assert!(
        tick(&mut c, 100).is_empty(),
        "no periodic checkpoints configured"
    );
    let actions = c.handle(Event::TriggerSavepoint {
        kind: SnapshotKind::Savepoint,
        now: 100,
    });
    let [Action::Trigger { barrier, .. }] = actions.as_slice() else {
        panic!("{actions:?}");
    };
    assert_eq!(barrier.kind, SnapshotKind::Savepoint);
    assert_eq!(barrier.alignment, BarrierAlignment::Aligned);
    ack_all(&mut c, barrier.id);
    let actions = c.handle(Event::Persisted {
        id: barrier.id,
        now: 120,
    });
    assert_eq!(
        actions,
        [Action::SavepointCompleted {
            id: CheckpointId(1),
            kind: SnapshotKind::Savepoint
        }]
    );
    assert_eq!(
        c.latest_completed(),
        None,
        "a savepoint is not a checkpoint to recover from"
    );
}

#[test]
fn stop_with_savepoint_notifies_and_stops_periodic_checkpoints() {
    let mut c = coordinator(every_100ms());
    tick(&mut c, 0);
    let actions = c.handle(Event::TriggerSavepoint {
        kind: SnapshotKind::SavepointTerminate,
        now: 50,
    });
    let id = triggered(&actions).unwrap();
    assert_eq!(triggered(&tick(&mut c, 500)), None);
    ack_all(&mut c, id);
    let actions = c.handle(Event::Persisted { id, now: 510 });
    assert!(
        matches!(actions[0], Action::NotifyComplete { .. }),
        "{actions:?}"
    );
    assert!(matches!(
        actions[1],
        Action::SavepointCompleted {
            kind: SnapshotKind::SavepointTerminate,
            ..
        }
    ));
    let again = c.handle(Event::TriggerSavepoint {
        kind: SnapshotKind::Savepoint,
        now: 520,
    });
    assert!(matches!(again.as_slice(), [Action::SavepointFailed { .. }]));
}

#[test]
fn a_reset_forgets_progress_and_ids_continue() {
    let mut c = coordinator(every_100ms());
    c.restored_from(CheckpointId(41));
    tick(&mut c, 0);
    assert_eq!(triggered(&tick(&mut c, 100)), Some(CheckpointId(42)));
    let sp = c.handle(Event::TriggerSavepoint {
        kind: SnapshotKind::Savepoint,
        now: 110,
    });
    assert_eq!(triggered(&sp), Some(CheckpointId(43)));
    let actions = c.reset(150);
    assert!(matches!(
        actions.as_slice(),
        [Action::SavepointFailed {
            id: Some(CheckpointId(43)),
            ..
        }]
    ));
    assert_eq!(c.pending_count(), 0);
    // A late acknowledgement of the old attempt is ignored.
    assert!(ack_all(&mut c, CheckpointId(42)).is_empty());
    assert_eq!(triggered(&tick(&mut c, 249)), None);
    assert_eq!(triggered(&tick(&mut c, 250)), Some(CheckpointId(44)));
}

#[test]
fn after_the_sources_finish_the_tasks_they_fed_are_triggered_directly() {
    let upstream = BTreeMap::from([
        (task(1, 0), vec![task(0, 0)]),
        (task(1, 1), vec![task(0, 0)]),
    ]);
    let mut c = coordinator(every_100ms()).with_upstream(upstream);
    tick(&mut c, 0);
    c.handle(Event::TaskFinished {
        task: task(0, 0),
        now: 50,
    });
    let actions = tick(&mut c, 100);
    let [Action::Trigger { tasks, .. }] = actions.as_slice() else {
        panic!("{actions:?}");
    };
    assert_eq!(
        tasks,
        &[task(0, 0), task(1, 0), task(1, 1)],
        "the finished source and the running tasks it fed"
    );
    // A checkpoint pending when a source finishes: the tasks it fed are asked
    // directly too (its barrier may never reach them).
    let mut c2 =
        coordinator(every_100ms()).with_upstream(BTreeMap::from([(task(1, 0), vec![task(0, 0)])]));
    tick(&mut c2, 0);
    let first = triggered(&tick(&mut c2, 100)).unwrap();
    let actions = c2.handle(Event::TaskFinished {
        task: task(0, 0),
        now: 120,
    });
    let [Action::Trigger { tasks, barrier }] = actions.as_slice() else {
        panic!("{actions:?}");
    };
    assert_eq!(barrier.id, first);
    assert_eq!(tasks, &[task(0, 0), task(1, 0)]);
}
