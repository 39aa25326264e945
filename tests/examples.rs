//! Runs every example binary (built by `cargo test`) and checks its output.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output};

fn example(name: &str) -> PathBuf {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_runnel"));
    let path = bin
        .parent()
        .expect("target dir")
        .join("examples")
        .join(name);
    assert!(
        path.exists(),
        "example binary {} is missing: run `cargo test --workspace`, which builds the examples",
        path.display()
    );
    path
}

fn run(name: &str, args: &[&str], envs: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(example(name));
    cmd.args(args)
        .env_remove("RUNNEL_PARALLELISM")
        .env_remove("RUNNEL_CONFIG")
        .env_remove("RUNNEL_CONF_DIR");
    cmd.env_remove("RUNNEL_EXECUTION_MODE");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8(stdout).unwrap(),
        String::from_utf8_lossy(&stderr).into_owned(),
    );
    assert!(
        status.success(),
        "{name} failed: {status}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    stdout
}

/// Splits `3> ("a", 1)` into the prefix (`3`) and the record text.
fn split_prefix(line: &str) -> (Option<&str>, &str) {
    match line.split_once("> ") {
        Some((prefix, rest)) if !prefix.contains('(') && !prefix.contains('"') => {
            (Some(prefix), rest)
        }
        _ => (None, line),
    }
}

fn word_counts_of(text: &str) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        *counts.entry(word.to_lowercase()).or_default() += 1;
    }
    counts
}

/// The largest count printed for each word (the final rolling count).
fn final_counts(stdout: &str) -> BTreeMap<String, u64> {
    let mut last = BTreeMap::new();
    for line in stdout.lines() {
        let (_, record) = split_prefix(line);
        let record = record.trim_start_matches("(\"").trim_end_matches(')');
        let (word, count) = record
            .split_once("\", ")
            .unwrap_or_else(|| panic!("unexpected line {line:?}"));
        let count: u64 = count.parse().unwrap();
        let e = last.entry(word.to_string()).or_insert(0);
        *e = (*e).max(count);
    }
    last
}

#[test]
fn word_count_counts_the_bundled_text() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/data/words.txt"
    ))
    .unwrap();
    let stdout = run("word_count", &[], &[]);
    assert!(
        stdout.lines().all(|l| split_prefix(l).0.is_none()),
        "no prefix at parallelism 1"
    );
    assert_eq!(final_counts(&stdout), word_counts_of(&text));
}

#[test]
fn word_count_in_parallel_prefixes_lines_with_the_subtask() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/data/words.txt"
    ))
    .unwrap();
    let stdout = run("word_count", &[], &[("RUNNEL_PARALLELISM", "2")]);
    let prefixes: std::collections::BTreeSet<&str> =
        stdout.lines().filter_map(|l| split_prefix(l).0).collect();
    assert_eq!(
        prefixes,
        ["1", "2"].into_iter().collect(),
        "Flink's `N> ` prefix when the sink is parallel"
    );
    assert_eq!(final_counts(&stdout), word_counts_of(&text));
}

#[test]
fn socket_word_count_counts_what_the_server_sends() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.write_all(b"to be or\nnot to be\n").unwrap();
    });
    let stdout = run("socket_word_count", &["127.0.0.1", &port], &[]);
    server.join().unwrap();
    assert_eq!(final_counts(&stdout), word_counts_of("to be or not to be"));
}

#[test]
fn pv_uv_counts_views_and_distinct_visitors() {
    let stdout = run("pv_uv", &[], &[]);
    let mut last: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for line in stdout.lines() {
        let (prefix, record) = split_prefix(line);
        assert!(
            prefix.is_some_and(|p| p.starts_with("pv,uv:")),
            "identifier and subtask in the prefix: {line}"
        );
        let fields: Vec<&str> = record
            .trim_matches(|c| c == '(' || c == ')')
            .split(", ")
            .collect();
        let page = fields[0].trim_matches('"').to_string();
        let (pv, uv) = (
            fields[1].parse::<u64>().unwrap(),
            fields[2].parse::<u64>().unwrap(),
        );
        let e = last.entry(page).or_default();
        *e = (e.0.max(pv), e.1.max(uv));
    }
    let total_views: u64 = last.values().map(|(pv, _)| pv).sum();
    assert_eq!(total_views, 40);
    assert!(last.values().all(|(pv, uv)| uv <= pv && *uv <= 5));
    assert_eq!(last.len(), 3);
}

#[test]
fn side_outputs_split_the_orders() {
    let stdout = run("side_outputs", &[], &[]);
    let mut lines: Vec<&str> = stdout.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "invalid> \"order 3 has amount -10\"",
            "invalid> \"order 6 has amount 0\"",
            "large> (2, 250000)",
            "large> (5, 100000)",
            "normal> (1, 2500)",
            "normal> (4, 9900)",
        ]
    );
}

#[test]
fn connect_streams_blocks_words_and_co_maps() {
    let stdout = run("connect_streams", &[], &[]);
    let mut words: Vec<&str> = stdout
        .lines()
        .filter(|l| !l.starts_with("co-map"))
        .map(|l| split_prefix(l).1)
        .collect();
    words.sort();
    assert_eq!(words, ["\"again\"", "\"hello\"", "\"world\""]);
    let mut comap: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("co-map"))
        .map(|l| split_prefix(l).1)
        .collect();
    comap.sort();
    assert_eq!(
        comap,
        [
            "\"extra\"",
            "\"letter a\"",
            "\"letter b\"",
            "\"number 1\"",
            "\"number 2\"",
            "\"number 3\""
        ]
    );
}

#[test]
fn partitioning_shows_each_distribution() {
    let stdout = run("partitioning", &[], &[]);
    let records = |tag: &str| -> Vec<(String, u64)> {
        stdout
            .lines()
            .filter(|l| l.contains(&format!("(\"{tag}\", ")))
            .map(|l| {
                let (prefix, record) = split_prefix(l);
                let value = record
                    .rsplit(", ")
                    .next()
                    .unwrap()
                    .trim_end_matches(')')
                    .parse()
                    .unwrap();
                (prefix.unwrap().to_string(), value)
            })
            .collect()
    };
    assert_eq!(
        records("broadcast").len(),
        32,
        "8 records to each of 4 subtasks"
    );
    assert!(
        records("global").iter().all(|(p, _)| p == "1"),
        "global: all to the first subtask"
    );
    assert_eq!(records("rebalance").len(), 8);
    for (p, v) in records("custom") {
        assert_eq!(
            p.parse::<u64>().unwrap() - 1,
            v % 4,
            "custom partitioner: value % 4"
        );
    }
    for (p, v) in records("rescale") {
        // Source subtask 0 holds 1..=4 and feeds map subtasks 1-2; subtask 1 holds 5..=8 and feeds 3-4.
        let group = (p.parse::<u64>().unwrap() - 1) / 2;
        assert_eq!(group, u64::from(v > 4));
    }
    let key_by = records("key_by");
    for parity in [0, 1] {
        let subtasks: std::collections::BTreeSet<&String> = key_by
            .iter()
            .filter(|(_, v)| v % 2 == parity)
            .map(|(p, _)| p)
            .collect();
        assert_eq!(subtasks.len(), 1, "one key, one subtask");
    }
}

#[test]
fn custom_sources_emit_everything() {
    let stdout = run("custom_sources", &[], &[]);
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("sensor> ")).count(),
        10
    );
    let mut ids: Vec<&str> = stdout.lines().filter(|l| l.starts_with("ids:")).collect();
    ids.sort();
    assert_eq!(ids.len(), 6);
    assert!(ids[0].starts_with("ids:1> ") && ids[5].starts_with("ids:2> "));
    let mut squares: Vec<u64> = stdout
        .lines()
        .filter(|l| l.starts_with("squares:"))
        .map(|l| split_prefix(l).1.parse().unwrap())
        .collect();
    squares.sort();
    assert_eq!(squares, [0, 1, 4, 9, 16, 25]);
}

#[test]
fn explain_prints_the_seeds_graphs() {
    let stdout = run("explain", &[], &[]);
    assert!(
        stdout.contains("JobGraph: 3 vertices") && stdout.contains("ExecutionGraph: 5 subtasks"),
        "{stdout}"
    );
    let json: serde_json::Value = serde_json::from_str(&run("explain", &["--json"], &[])).unwrap();
    assert_eq!(json["job_graph"]["vertices"].as_array().unwrap().len(), 3);
}

#[test]
fn ctrl_c_cancels_an_unbounded_job_cleanly() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    // The server sends a line and keeps the connection open: the job never ends by itself.
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.write_all(b"still running\n").unwrap();
        std::thread::sleep(Duration::from_secs(20));
    });
    let mut child = Command::new(example("socket_word_count"))
        .args(["127.0.0.1", &port])
        .env_remove("RUNNEL_PARALLELISM")
        .env_remove("RUNNEL_EXECUTION_MODE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(first.contains("still"), "{first}");
    // Keep reading, so the job's prints never meet a closed pipe.
    let drain = std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let interrupted = Instant::now();
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    let _ = drain.join();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        interrupted.elapsed() < Duration::from_secs(8),
        "cancellation is prompt"
    );
    assert!(!output.status.success(), "a cancelled job reports failure");
    assert!(stderr.contains("cancelled"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    drop(server);
}

#[test]
fn bad_settings_fail_with_clear_messages() {
    let output = |envs: &[(&str, &str)]| {
        let mut cmd = Command::new(example("word_count"));
        cmd.env_remove("RUNNEL_PARALLELISM")
            .env_remove("RUNNEL_CONFIG")
            .env_remove("RUNNEL_CONF_DIR");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(
        output(&[("RUNNEL_PARALLELISM", "0")])
            .contains("RUNNEL_PARALLELISM=0: expected a positive integer")
    );
    let config =
        std::env::temp_dir().join(format!("runnel-bad-config-{}.yaml", std::process::id()));
    std::fs::write(&config, "# settings\nparallelism.default: two\n").unwrap();
    let stderr = output(&[("RUNNEL_CONFIG", config.to_str().unwrap())]);
    assert!(
        stderr.contains(":2: `parallelism.default` expects a positive integer, got `two`"),
        "{stderr}"
    );
    let stderr = output(&[("RUNNEL_CONFIG", "/nonexistent/runnel.yaml")]);
    assert!(
        stderr.contains("cannot read configuration file /nonexistent/runnel.yaml"),
        "{stderr}"
    );
}

/// Print lines without their subtask prefix, sorted.
fn records_sorted(stdout: &str) -> Vec<String> {
    let mut records: Vec<String> = stdout
        .lines()
        .map(|l| split_prefix(l).1.to_string())
        .collect();
    records.sort();
    records
}

#[test]
fn temperature_alert_fires_only_for_the_rising_sensor() {
    let stdout = run("temperature_alert", &[], &[]);
    assert_eq!(
        records_sorted(&stdout),
        ["\"sensor sensor-1 rose continuously for 1000 ms\""]
    );
}

#[test]
fn failed_logins_reports_three_failures_in_a_row() {
    let stdout = run("failed_logins", &[], &[]);
    assert_eq!(
        records_sorted(&stdout),
        [
            "\"user ann failed to log in 3 times in a row (at [1, 3, 5])\"",
            "\"user cid failed to log in 3 times in a row (at [10, 11, 12])\"",
        ]
    );
}

#[test]
fn order_timeout_splits_paid_and_timed_out_orders() {
    let stdout = run("order_timeout", &[], &[]);
    let mut lines: Vec<&str> = stdout.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "paid> \"order 1 paid after 300 s\"",
            "paid> \"order 3 paid after 840 s\"",
            "timeout> \"order 2 paid too late, at 1200000\"",
            "timeout> \"order 4 not paid by 2700000\"",
        ]
    );
}

#[test]
fn pv_uv_windows_match_a_reference_count_per_page_and_minute() {
    // The example's clicks, recomputed: 10 s apart, every fifth 3 s early.
    let mut expected: BTreeMap<(String, i64), (u64, std::collections::BTreeSet<i64>)> =
        BTreeMap::new();
    for i in 0..30i64 {
        let at = i * 10_000 - if i % 5 == 0 { 3_000 } else { 0 };
        let page = ["/home", "/cart"][((i / 4) % 2) as usize].to_string();
        let e = expected
            .entry((page, at.div_euclid(60_000) * 60_000))
            .or_default();
        e.0 += 1;
        e.1.insert(i % 3);
    }
    let mut expected: Vec<String> = expected
        .into_iter()
        .map(|((page, start), (pv, users))| {
            format!(
                "\"{page} [{start}, {}): pv={pv} uv={}\"",
                start + 60_000,
                users.len()
            )
        })
        .collect();
    expected.sort();
    assert_eq!(records_sorted(&run("pv_uv_windows", &[], &[])), expected);
}

#[test]
fn broadcast_enrichment_adds_the_latest_user_details() {
    let stdout = run("broadcast_enrichment", &[], &[]);
    assert_eq!(
        records_sorted(&stdout),
        [
            "\"1 (ann, Berlin) viewed /checkout at 5000\"",
            "\"1 (ann, Berlin) viewed /home at 1000\"",
            "\"2 (bob, Porto) viewed /cart at 2000\"",
            "\"3 (cid, Oslo) viewed /home at 3000\"",
            "\"9 (unknown user) viewed /help at 4000\"",
        ]
    );
}

#[test]
fn interval_join_pairs_each_order_with_the_clicks_of_the_ten_minutes_before() {
    let stdout = run("interval_join", &[], &[]);
    assert_eq!(
        records_sorted(&stdout),
        [
            "\"order 1 by ann viewed /checkout 30 s before\"",
            "\"order 1 by ann viewed /shoes 300 s before\"",
            "\"order 1 by ann viewed /shoes/red 210 s before\"",
            "\"order 2 by bob viewed /books 600 s before\"",
            "\"order 2 by bob viewed /music 300 s before\"",
            "\"order 3 by cid viewed /games 42 s before\"",
        ]
    );
}

#[test]
fn hot_items_ranks_the_top_three_of_every_hour_sliding_by_five_minutes() {
    let stdout = run("hot_items", &[], &[]);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 35, "windows ending 00:05 .. 02:55:\n{stdout}");
    assert_eq!(
        lines[0],
        "\"hour ending 00:05: #1 item 0 (36 views), #2 item 19 (4 views), #3 item 44 (4 views)\""
    );
    for (i, line) in lines.iter().enumerate() {
        let minutes = 5 * (i + 1);
        let end = format!("hour ending {:02}:{:02}:", minutes / 60, minutes % 60);
        assert!(line.contains(&end), "{line} should be {end}");
        let views: Vec<u64> = line
            .split('(')
            .skip(1)
            .map(|s| s.split(' ').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(views.len(), 3);
        assert!(views.windows(2).all(|w| w[0] >= w[1]), "ranked: {line}");
    }
}

#[test]
fn session_clicks_merge_sessions_bridged_by_an_out_of_order_click() {
    let stdout = run("session_clicks", &[], &[]);
    assert_eq!(
        records_sorted(&stdout),
        [
            "\"ann: session 0..79 min (49 min of activity), 4 clicks on {\\\"/checkout\\\", \\\"/home\\\", \\\"/item/1\\\", \\\"/search\\\"}\"",
            "\"ann: session 120..150 min (0 min of activity), 1 clicks on {\\\"/home\\\"}\"",
            "\"bob: session 7..80 min (43 min of activity), 3 clicks on {\\\"/cart\\\", \\\"/home\\\", \\\"/item/2\\\"}\"",
        ]
    );
}

#[test]
fn window_join_pairs_orders_and_payments_and_co_group_finds_the_unpaid() {
    let stdout = run("window_join", &[], &[]);
    let mut lines: Vec<&str> = stdout.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "joined> \"order 1 (book) paid 25\"",
            "joined> \"order 3 (desk) paid 310\"",
            "unpaid> \"order 2 (lamp) unpaid in its window\"",
            "unpaid> \"order 4 (pen) unpaid in its window\"",
        ]
    );
}

#[test]
fn late_data_refires_within_lateness_and_side_outputs_the_rest() {
    let stdout = run("late_data", &[], &[]);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "average> \"t1 minute 0: 21.0 °C over 2 readings (watermark 60000)\"",
            "average> \"t1 minute 0: 24.0 °C over 3 readings (watermark 60000)\"",
            "late> \"t1 40 °C at 59 s\"",
            "average> \"t1 minute 1: 21.0 °C over 1 readings (watermark 200000)\"",
        ]
    );
}

#[test]
fn checkpointing_recovers_from_the_injected_failure_and_commits_every_order_once() {
    let out = std::env::temp_dir().join(format!(
        "runnel-example-checkpointing-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&out);
    let stdout = run(
        "checkpointing",
        &[
            "--orders",
            "30000",
            "--rate",
            "30000",
            "--fail-after",
            "5000",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert!(stdout.contains("done: 1 restart(s)"), "{stdout}");
    let committed = common::committed_orders(&out);
    assert_eq!(committed.in_progress, 0, "no in-progress file is left");
    assert_eq!(committed.orders, 30_000, "every order exactly once");
    assert_eq!(committed.lines, 50 * 30, "one line per user and second");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn savepoints_resumes_at_another_parallelism_with_the_same_counts() {
    let stdout = run("savepoints", &[], &[]);
    assert!(
        stdout.contains("stopped at parallelism 2 after"),
        "{stdout}"
    );
    assert!(stdout.contains("resumed at parallelism 3"), "{stdout}");
    assert!(stdout.contains("page  0: 10000 views"), "{stdout}");
    assert!(
        stdout.contains("by the map's operator state: 200000"),
        "{stdout}"
    );
}

#[test]
fn web_ui_serves_while_the_job_runs_and_counts_every_window() {
    let stdout = run("web_ui", &["--seconds", "2", "--port", "0"], &[]);
    assert!(
        stdout.starts_with("counted 8 page-second windows"),
        "{stdout}"
    );
}
