use super::*;
use slots::placed;

const TIMEOUT_MS: i64 = 50_000;

fn rm() -> ResourceManager {
    ResourceManager::default()
}

fn registration(id: &str, slots: u32) -> Registration {
    Registration {
        id: id.to_string(),
        address: "10.0.0.11:6121".to_string(),
        slots,
        hardware: TaskManagerHardware {
            cpu_cores: 8,
            physical_memory: 1 << 34,
        },
        version: VERSION.to_string(),
    }
}

fn ids(rm: &ResourceManager) -> Vec<String> {
    rm.task_managers()
        .iter()
        .map(|t| t.id.to_string())
        .collect()
}

#[test]
fn registers_task_managers_with_free_slots() {
    let mut rm = rm();
    let r = rm.register(registration("tm-a", 4), 1_000).unwrap();
    assert_eq!((r.id.as_str(), r.replaced), ("tm-a", false));
    rm.register(registration("tm-b", 2), 1_500).unwrap();
    assert_eq!(ids(&rm), ["tm-a", "tm-b"]);
    let a = rm.task_manager("tm-a").unwrap();
    assert_eq!((a.slots, a.free_slots, a.data_port), (4, 4, 6121));
    assert_eq!((a.registered_at, a.last_heartbeat), (1_000, 1_000));
    assert_eq!(a.hardware.cpu_cores, 8);
    assert_eq!(a.version, VERSION);
    assert!(rm.task_manager("tm-c").is_none());
    assert_eq!(rm.len(), 2);
}

#[test]
fn malformed_registrations_are_rejected_and_change_nothing() {
    let mut rm = rm();
    rm.register(registration("tm-a", 4), 1_000).unwrap();
    let with = |f: fn(&mut Registration)| {
        let mut r = registration("tm-a", 4);
        f(&mut r);
        r
    };
    let table = [
        (with(|r| r.id = String::new()), "id"),
        (with(|r| r.id = "tm/a".into()), "id"),
        (with(|r| r.id = "x".repeat(65)), "id"),
        (with(|r| r.id = "local".into()), "reserved"),
        (with(|r| r.address = "nohost".into()), "address"),
        (with(|r| r.address = "h:99999".into()), "address"),
        (with(|r| r.slots = 0), "slots"),
        (with(|r| r.slots = MAX_SLOTS + 1), "slots"),
        (with(|r| r.hardware.cpu_cores = 0), "cpuCores"),
        (with(|r| r.hardware.physical_memory = -2), "physicalMemory"),
        (with(|r| r.version = "one".into()), "version"),
    ];
    for (bad, needle) in table {
        let err = rm.register(bad.clone(), 2_000).unwrap_err();
        assert!(
            matches!(&err, Rejection::Malformed { reason } if reason.contains(needle)),
            "{bad:?}: {err}"
        );
    }
    let a = rm.task_manager("tm-a").unwrap();
    assert_eq!((a.slots, a.registered_at), (4, 1_000), "untouched");
}

#[test]
fn an_incompatible_version_is_rejected_naming_both_versions() {
    let mut rm = rm();
    let mut r = registration("tm-a", 4);
    r.version = "99.1.0".into();
    let err = rm.register(r, 1_000).unwrap_err();
    assert_eq!(
        err,
        Rejection::IncompatibleVersion {
            jobmanager: VERSION.into(),
            taskmanager: "99.1.0".into()
        }
    );
    let message = err.to_string();
    assert!(message.contains(VERSION) && message.contains("99.1.0"));
    assert!(rm.is_empty());
}

#[test]
fn re_registration_replaces_in_place_and_frees_its_slots() {
    let mut rm = rm();
    rm.register(registration("tm-a", 4), 1_000).unwrap();
    rm.register(registration("tm-b", 2), 1_000).unwrap();
    rm.allocate("job-1", 5).unwrap();
    let mut again = registration("tm-a", 8);
    again.address = "10.0.0.12:7000".into();
    let r = rm.register(again, 9_000).unwrap();
    assert!(r.replaced);
    assert_eq!(r.affected_jobs, ["job-1"]);
    assert_eq!(ids(&rm), ["tm-a", "tm-b"], "keeps its place");
    let a = rm.task_manager("tm-a").unwrap();
    assert_eq!((a.slots, a.free_slots), (8, 8));
    assert_eq!((a.address.as_str(), a.data_port), ("10.0.0.12:7000", 7000));
    assert_eq!((a.registered_at, a.last_heartbeat), (9_000, 9_000));
    assert_eq!(rm.task_manager("tm-b").unwrap().free_slots, 1);
}

#[test]
fn heartbeats_refresh_and_unknown_ids_are_refused() {
    let mut rm = rm();
    rm.register(registration("tm-a", 4), 1_000).unwrap();
    let hb = Heartbeat {
        free_slots: Some(4),
    };
    rm.heartbeat("tm-a", hb, 5_000).unwrap();
    let a = rm.task_manager("tm-a").unwrap();
    assert_eq!((a.last_heartbeat, a.reported_free_slots), (5_000, Some(4)));
    rm.heartbeat("tm-a", Heartbeat::default(), 4_000).unwrap();
    assert_eq!(
        rm.task_manager("tm-a").unwrap().last_heartbeat,
        5_000,
        "a late heartbeat does not move time back"
    );
    assert_eq!(
        rm.heartbeat("tm-x", hb, 6_000),
        Err(HeartbeatError::UnknownTaskManager { id: "tm-x".into() })
    );
    let too_many = Heartbeat {
        free_slots: Some(5),
    };
    assert!(matches!(
        rm.heartbeat("tm-a", too_many, 6_000),
        Err(HeartbeatError::Malformed { free: 5, .. })
    ));
}

#[test]
fn a_task_manager_is_lost_only_after_the_timeout() {
    let mut rm = rm();
    rm.register(registration("tm-a", 4), 1_000).unwrap();
    rm.register(registration("tm-b", 2), 1_000).unwrap();
    rm.heartbeat("tm-b", Heartbeat::default(), 30_000).unwrap();
    rm.allocate("job-1", 5).unwrap();
    // (now, TaskManagers lost at that tick)
    let table: [(i64, &[&str]); 5] = [
        (1_000 + TIMEOUT_MS - 1, &[]),
        (1_000 + TIMEOUT_MS, &[]),
        (1_000 + TIMEOUT_MS + 1, &["tm-a"]),
        (30_000 + TIMEOUT_MS, &[]),
        (30_000 + TIMEOUT_MS + 1, &["tm-b"]),
    ];
    for (now, expected) in table {
        let lost: Vec<String> = rm.tick(now).iter().map(|l| l.id.to_string()).collect();
        assert_eq!(lost, expected, "at {now}");
    }
    assert!(rm.is_empty());
    assert_eq!(
        rm.heartbeat("tm-a", Heartbeat::default(), 90_000),
        Err(HeartbeatError::UnknownTaskManager { id: "tm-a".into() }),
        "a lost TaskManager must register again"
    );
    assert!(rm.allocate("job-1", 1).is_err(), "its slots are gone");
}

#[test]
fn a_lost_task_manager_names_its_jobs_and_how_long_it_was_silent() {
    let mut rm = rm();
    rm.register(registration("tm-a", 2), 0).unwrap();
    rm.register(registration("tm-b", 2), 0).unwrap();
    rm.allocate("job-1", 1).unwrap();
    rm.allocate("job-2", 2).unwrap();
    rm.heartbeat("tm-b", Heartbeat::default(), 40_000).unwrap();
    let lost = rm.tick(60_000);
    assert_eq!(
        lost,
        [Lost {
            id: TaskManagerId::new("tm-a").unwrap(),
            address: "10.0.0.11:6121".into(),
            silent_ms: 60_000,
            affected_jobs: vec!["job-1".into(), "job-2".into()],
        }]
    );
    assert!(rm.tick(60_000).is_empty(), "reported once");
    let b = rm.task_manager("tm-b").unwrap();
    assert_eq!(b.free_slots, 1);
    assert_eq!(b.allocated.len(), 1);
    assert_eq!(b.allocated[0].1, "job-2");
}

#[test]
fn a_job_fills_the_first_task_managers_and_loses_its_slots_with_them() {
    let mut rm = rm();
    rm.register(registration("tm-a", 1), 0).unwrap();
    assert!(matches!(
        rm.allocate_processes("job-1", 2),
        Err(NotEnoughSlots {
            needed: 2,
            free: 1,
            ..
        })
    ));
    assert_eq!(rm.task_manager("tm-a").unwrap().free_slots, 1, "untouched");
    rm.register(registration("tm-b", 2), 0).unwrap();
    rm.register(registration("tm-c", 2), 0).unwrap();
    let p = rm.allocate_processes("job-1", 2).unwrap();
    assert_eq!(placed(&p), ["tm-a:[0]", "tm-b:[1]"]);
    let free = |rm: &ResourceManager, id| rm.task_manager(id).unwrap().free_slots;
    assert_eq!((free(&rm, "tm-a"), free(&rm, "tm-b")), (0, 1));
    assert_eq!(rm.task_manager("tm-b").unwrap().allocated[0].1, "job-1");
    rm.heartbeat("tm-a", Heartbeat::default(), 40_000).unwrap();
    rm.heartbeat("tm-c", Heartbeat::default(), 40_000).unwrap();
    let lost = rm.tick(60_000);
    assert_eq!(lost[0].id.as_str(), "tm-b");
    assert_eq!(lost[0].affected_jobs, ["job-1"]);
    rm.release("job-1");
    assert_eq!(
        placed(&rm.allocate_processes("job-1", 3).unwrap()),
        ["tm-a:[0]", "tm-c:[1, 2]"]
    );
}

#[test]
fn evenly_spread_out_slots_take_from_the_task_managers_with_most_free() {
    let mut rm = rm().with_slot_spread(SlotSpread::Evenly);
    rm.register(registration("tm-a", 2), 0).unwrap();
    rm.register(registration("tm-b", 2), 0).unwrap();
    rm.register(registration("tm-c", 4), 0).unwrap();
    // (job, slots, placement): each next slot from the most free.
    let table: [(&str, u32, &[&str]); 3] = [
        ("job-1", 2, &["tm-c:[0, 1]"]),
        ("job-2", 3, &["tm-a:[0]", "tm-b:[1]", "tm-c:[2]"]),
        ("job-3", 3, &["tm-a:[0]", "tm-b:[1]", "tm-c:[2]"]),
    ];
    for (job, n, expected) in table {
        let p = rm.allocate_processes(job, n).unwrap();
        assert_eq!(placed(&p), expected, "{job}");
    }
    assert!(rm.task_managers().iter().all(|t| t.free_slots == 0));
}

#[test]
fn allocation_shares_slots_and_refuses_beyond_the_cluster() {
    let mut rm = rm();
    assert_eq!(
        rm.allocate("job-1", 1),
        Err(NotEnoughSlots {
            job: "job-1".into(),
            needed: 1,
            free: 0
        })
    );
    rm.register(registration("tm-a", 2), 0).unwrap();
    rm.register(registration("tm-b", 2), 0).unwrap();
    // Source (2) -> Window (3) -> Sink (1): three shared slots.
    let slots = rm.allocate("job-1", slots_needed([2, 3, 1])).unwrap();
    assert_eq!(slots.len(), 3);
    assert!(matches!(
        rm.allocate("job-2", 2),
        Err(NotEnoughSlots {
            needed: 2,
            free: 1,
            ..
        })
    ));
    assert_eq!(rm.release("job-1"), slots);
    assert_eq!(rm.allocate("job-2", 4).unwrap().len(), 4);
}
