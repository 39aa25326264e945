//! Jobs spread over several TaskManagers, one process per TaskManager:
//! deployments, followers' ends, lost TaskManagers, kill orders, and the
//! leader's address.

use super::*;

fn running(job: &str, attempt: u32) -> Value {
    json!([{"jobId": job, "attempt": attempt, "running": true}])
}

fn ended(job: &str, attempt: u32, code: Value) -> Value {
    json!([{"jobId": job, "attempt": attempt, "running": false, "exitCode": code}])
}

/// `(process, processes, slotIndices)` of the one deployment in `answer`.
fn deployed(answer: &Value) -> (Value, Value, Value) {
    let deploy = answer["deploy"].as_array().unwrap();
    assert_eq!(deploy.len(), 1, "{answer}");
    let d = &deploy[0];
    (
        d["process"].clone(),
        d["processes"].clone(),
        d["slotIndices"].clone(),
    )
}

/// A job of 2 slots on `tm-a` and `tm-b` (1 slot each), both processes
/// deployed and process 0 running.
fn two_processes(c: &Cluster) -> String {
    c.register("tm-a", 1);
    c.register("tm-b", 1);
    let job = c.submit("slots=2&name=j&parallelism=2");
    assert_eq!(
        deployed(&c.beat("tm-b", json!([]))),
        (json!(1), json!(2), json!([1]))
    );
    assert_eq!(
        deployed(&c.beat("tm-a", json!([]))),
        (json!(0), json!(2), json!([0]))
    );
    assert_eq!(c.report(&job, 1, JobState::Running).0, 200);
    job
}

#[test]
fn a_job_of_two_slots_runs_as_two_processes_and_a_follower_exiting_with_0_ends_nothing() {
    let c = cluster(3);
    let job = two_processes(&c);
    assert_eq!(
        (c.free_slots("tm-a"), c.free_slots("tm-b")),
        (json!(0), json!(0))
    );
    let held = c.get("/taskmanagers/tm-b");
    assert_eq!(held["allocatedSlots"][0]["jobId"], job, "{held}");

    assert_eq!(
        c.beat("tm-b", ended(&job, 1, json!(0)))["cancel"],
        json!([])
    );
    assert_eq!(c.state(&job), "RUNNING", "process 0 decides");
    assert_eq!(c.beat("tm-a", running(&job, 1))["cancel"], json!([]));
    assert_eq!(c.report(&job, 1, JobState::Finished).0, 200);
    assert_eq!(c.state(&job), "FINISHED");
    assert_eq!(
        (c.free_slots("tm-a"), c.free_slots("tm-b")),
        (json!(1), json!(1))
    );
}

#[test]
fn a_killed_follower_fails_the_attempt_and_its_peers_are_killed() {
    let c = cluster(3);
    let job = two_processes(&c);
    let answer = c.beat("tm-b", ended(&job, 1, Value::Null));
    assert_eq!(c.state(&job), "RESTARTING");
    // Attempt 2 takes the slots again: process 1 on tm-b at once.
    assert_eq!(deployed(&answer).0, json!(1));
    assert_eq!(answer["deploy"][0]["attempt"], 2);
    let exceptions = c.get(&format!("/jobs/{job}/exceptions")).to_string();
    assert!(
        exceptions.contains("process 1 of attempt 1 on TaskManager tm-b was killed by a signal"),
        "{exceptions}"
    );
    // Process 0 of attempt 1 still runs on tm-a: killed; attempt 2 deployed.
    let answer = c.beat("tm-a", running(&job, 1));
    assert_eq!(answer["cancel"], json!([{"jobId": job, "attempt": 1}]));
    assert_eq!(deployed(&answer), (json!(0), json!(2), json!([0])));
    assert_eq!(
        c.beat("tm-a", running(&job, 2))["cancel"],
        json!([]),
        "once"
    );
    assert_eq!(c.report(&job, 1, JobState::Running).0, 410);
    assert_eq!(c.report(&job, 2, JobState::Running).0, 200);
    // A follower exiting with an error code fails the attempt too.
    c.beat("tm-b", ended(&job, 2, json!(3)));
    let exceptions = c.get(&format!("/jobs/{job}/exceptions")).to_string();
    assert!(
        exceptions.contains("process 1 of attempt 2 on TaskManager tm-b exited with code 3"),
        "{exceptions}"
    );
}

#[test]
fn losing_the_task_manager_of_a_follower_fails_the_attempt_over() {
    let c = cluster(3);
    let job = two_processes(&c);
    c.register("tm-c", 1);
    c.clock.advance(3_000);
    c.beat("tm-a", running(&job, 1));
    c.beat("tm-c", json!([]));
    c.clock.advance(3_000);
    // tm-b has been silent for 6 s: lost; attempt 2 on tm-a and tm-c.
    let answer = c.beat("tm-a", running(&job, 1));
    assert_eq!(answer["cancel"], json!([{"jobId": job, "attempt": 1}]));
    assert_eq!(deployed(&answer), (json!(0), json!(2), json!([0])));
    assert_eq!(
        deployed(&c.beat("tm-c", json!([]))),
        (json!(1), json!(2), json!([1]))
    );
    let exceptions = c.get(&format!("/jobs/{job}/exceptions")).to_string();
    assert!(
        exceptions.contains("TaskManager tm-b of attempt 1 (process 1 of 2) was lost"),
        "{exceptions}"
    );
    assert_eq!(c.report(&job, 2, JobState::Running).0, 200);
}

#[test]
fn a_cancel_kills_every_process_still_running_after_the_cancel_timeout() {
    let c = cluster(0);
    let job = two_processes(&c);
    assert_eq!(c.call(Method::Patch, &format!("/jobs/{job}"), "").0, 202);
    assert_eq!(
        c.report(&job, 1, JobState::Running).1["commands"],
        json!([{"type": "cancel"}])
    );
    assert_eq!(c.beat("tm-b", running(&job, 1))["cancel"], json!([]));
    assert_eq!(c.beat("tm-a", running(&job, 1))["cancel"], json!([]));
    c.clock.advance(CANCEL_TIMEOUT_MS);
    let kill = json!([{"jobId": job, "attempt": 1}]);
    assert_eq!(c.beat("tm-b", running(&job, 1))["cancel"], kill);
    assert_eq!(c.beat("tm-a", running(&job, 1))["cancel"], kill);
    assert_eq!(c.state(&job), "CANCELLING");
    c.beat("tm-b", ended(&job, 1, Value::Null));
    assert_eq!(c.state(&job), "CANCELED", "no restart after a cancel");
    c.beat("tm-a", ended(&job, 1, Value::Null));
    assert_eq!(
        (c.free_slots("tm-a"), c.free_slots("tm-b")),
        (json!(1), json!(1))
    );
}

#[test]
fn after_a_cancel_process_0_reports_canceled_and_only_what_lingers_is_killed() {
    let c = cluster(0);
    let job = two_processes(&c);
    assert_eq!(c.call(Method::Patch, &format!("/jobs/{job}"), "").0, 202);
    c.report(&job, 1, JobState::Running);
    assert_eq!(c.report(&job, 1, JobState::Canceled).0, 200);
    assert_eq!(c.state(&job), "CANCELED");
    // Within the cancel timeout: the processes exit on their own.
    assert_eq!(c.beat("tm-b", running(&job, 1))["cancel"], json!([]));
    assert_eq!(
        c.beat("tm-a", ended(&job, 1, json!(0)))["cancel"],
        json!([])
    );
    c.clock.advance(CANCEL_TIMEOUT_MS);
    assert_eq!(c.beat("tm-a", json!([]))["cancel"], json!([]));
    // The follower still runs after it: killed.
    assert_eq!(
        c.beat("tm-b", running(&job, 1))["cancel"],
        json!([{"jobId": job, "attempt": 1}])
    );
    assert_eq!(
        c.beat("tm-b", running(&job, 1))["cancel"],
        json!([]),
        "once"
    );
}

#[test]
fn an_ended_job_kills_its_followers() {
    let c = cluster(0);
    c.register("tm-a", 1);
    c.register("tm-b", 1);
    // Failed for good (no restarts): the follower is killed, process 0 is
    // told by its next report.
    let job = c.submit("slots=2&name=j");
    c.beat("tm-a", json!([]));
    c.beat("tm-b", json!([]));
    c.report(&job, 1, JobState::Running);
    c.beat("tm-a", ended(&job, 1, json!(1)));
    assert_eq!(c.state(&job), "FAILED");
    assert_eq!(
        c.beat("tm-b", running(&job, 1))["cancel"],
        json!([{"jobId": job, "attempt": 1}])
    );
    // A follower not running any more is not ordered killed.
    let job = c.submit("slots=2&name=j");
    c.beat("tm-a", json!([]));
    c.beat("tm-b", json!([]));
    c.report(&job, 1, JobState::Running);
    c.beat("tm-a", ended(&job, 1, json!(1)));
    assert_eq!(c.beat("tm-b", json!([]))["cancel"], json!([]));
    assert_eq!(
        c.beat("tm-b", running(&job, 1))["cancel"],
        json!([]),
        "dropped"
    );
}

#[test]
fn evenly_spread_out_slots_place_each_slot_on_the_task_manager_with_most_free() {
    for (evenly, expected) in [(false, ["tm-a", "tm-a"]), (true, ["tm-a", "tm-b"])] {
        let c = cluster_spread(3, evenly);
        c.register("tm-a", 2);
        c.register("tm-b", 2);
        let job = c.submit("slots=2&name=j");
        let a = c.beat("tm-a", json!([]));
        let b = c.beat("tm-b", json!([]));
        let mut placed = Vec::new();
        for (tm, answer) in [("tm-a", &a), ("tm-b", &b)] {
            for d in answer["deploy"].as_array().unwrap() {
                assert_eq!(d["jobId"], job);
                for _ in d["slotIndices"].as_array().unwrap() {
                    placed.push(tm);
                }
            }
        }
        assert_eq!(placed, expected, "evenly: {evenly}");
    }
}

#[test]
fn process_0_posts_where_it_listens_and_the_others_ask() {
    let c = cluster(3);
    let unknown = "0123456789abcdef0123456789abcdef";
    let leader = |job: &str, attempt: u32| format!("/jobs/{job}/attempts/{attempt}/leader");
    let post = |job: &str, attempt, body: &str| c.call(Method::Post, &leader(job, attempt), body);
    let get = |job: &str, attempt| c.call(Method::Get, &leader(job, attempt), "");
    assert_eq!(get(unknown, 1).0, 404);
    assert_eq!(post(unknown, 1, r#"{"control": "127.0.0.1:1"}"#).0, 404);

    let job = two_processes(&c);
    let (status, body) = get(&job, 1);
    assert_eq!(status, 404, "not posted yet");
    assert!(
        body["errors"][0]
            .as_str()
            .unwrap()
            .contains("not known yet")
    );
    for bad in [
        r#"{"control": "somewhere"}"#,
        r#"{"control": 1}"#,
        "{}",
        "x",
    ] {
        assert_eq!(post(&job, 1, bad).0, 400, "{bad}");
    }
    assert_eq!(
        post(&job, 1, r#"{"control": "10.0.0.5:6200"}"#),
        (200, json!({}))
    );
    assert_eq!(get(&job, 1), (200, json!({"control": "10.0.0.5:6200"})));
    assert_eq!(get(&job, 2).0, 410, "not the current attempt");

    // Forgotten on failover; an ended job's attempts are gone.
    c.beat("tm-b", ended(&job, 1, json!(1)));
    assert_eq!(get(&job, 1).0, 410);
    assert_eq!(post(&job, 1, r#"{"control": "10.0.0.5:6200"}"#).0, 410);
    c.beat("tm-a", running(&job, 1));
    c.beat("tm-b", json!([]));
    assert_eq!(get(&job, 2).0, 404, "attempt 2 has no leader yet");
    assert_eq!(post(&job, 2, r#"{"control": "[::1]:7000"}"#).0, 200);
    assert_eq!(get(&job, 2).1, json!({"control": "[::1]:7000"}));
    assert_eq!(c.call(Method::Patch, &format!("/jobs/{job}"), "").0, 202);
    assert_eq!(c.report(&job, 2, JobState::Canceled).0, 200);
    let (status, gone) = get(&job, 2);
    assert_eq!(status, 410);
    assert!(gone["errors"][0].as_str().unwrap().contains("ended"));
}
