//! Backpressure and metrics over real jobs: a slow sink backpressures its
//! upstream, and the Prometheus scrape is well-formed.

#[path = "rest_support/mod.rs"]
mod common;
#[path = "common/mod.rs"]
mod jobs;

use common::{get, serve, wait_for, wait_for_state};
use jobs::start_slow_sink_job;
use runnel::api::StreamExecutionEnvironment;
use runnel::rest::{Method, client};

#[test]
fn a_slow_sink_makes_its_upstream_report_high_backpressure() {
    let client = start_slow_sink_job("Backpressured");
    let jid = client.job_id().to_string();
    let endpoint = serve(&client);
    let addr = endpoint.local_addr();
    let job = wait_for_state(addr, &jid, "RUNNING");
    let ids: Vec<String> = job["vertices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 2, "{job}");
    let (upstream, sink) = (&ids[0], &ids[1]);

    let source = wait_for("the upstream to report HIGH backpressure", || {
        let bp = get(
            addr,
            &format!("/jobs/{jid}/vertices/{upstream}/backpressure"),
        );
        (bp["backpressure-level"] == "high").then_some(bp)
    });
    let subtask = &source["subtasks"][0];
    assert_eq!(subtask["backpressure-level"], "high");
    assert!(subtask["ratio"].as_f64().unwrap() > 0.5, "{source}");
    assert!(source["end-timestamp"].as_i64() > Some(0));

    let bp = get(addr, &format!("/jobs/{jid}/vertices/{sink}/backpressure"));
    assert_eq!(bp["backpressure-level"], "ok", "{bp}");
    assert!(bp["subtasks"][0]["ratio"].as_f64().unwrap() <= 0.1, "{bp}");
    assert!(
        bp["subtasks"][0]["busyRatio"].as_f64().unwrap() > 0.5,
        "{bp}"
    );

    let metrics = get(
        addr,
        &format!("/jobs/{jid}/vertices/{upstream}/metrics?get=backPressuredTimeMsPerSecond"),
    );
    let ms: u64 = metrics[0]["value"].as_str().unwrap().parse().unwrap();
    assert!(ms > 500, "{metrics}");

    // The channel between them is full: the sink's input buffers and the
    // upstream's output buffers are all in use (Flink's buffer usage gauges).
    let usage = |vertex: &str, name: &str| -> f64 {
        let m = get(
            addr,
            &format!("/jobs/{jid}/vertices/{vertex}/metrics?get={name}"),
        );
        m[0]["value"].as_str().unwrap().parse().unwrap()
    };
    wait_for("full buffers", || {
        (usage(sink, "buffers.inPoolUsage") > 0.5 && usage(upstream, "buffers.outPoolUsage") > 0.5)
            .then_some(())
    });
    assert!(
        usage(upstream, "buffers.inPoolUsage") < 0.5,
        "a source has no input"
    );
    // About 5000 records a second get through the sink (200 µs each).
    let rate = wait_for("a rate", || {
        let r = usage(sink, "numRecordsInPerSecond");
        (r > 0.0).then_some(r)
    });
    assert!((100.0..=6000.0).contains(&rate), "{rate}");

    client.cancel();
    assert!(client.wait().is_err());
}

/// One sample line of the Prometheus text format.
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

/// Parses a sample line `name{label="value",…} value`, checking every part.
fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("no value")?;
    let name = &line[..name_end];
    let name_ok = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    if !name_ok {
        return Err(format!("bad metric name {name:?}"));
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(inner) = rest.strip_prefix('{') {
        rest = inner;
        loop {
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let eq = rest.find('=').ok_or("a label without =")?;
            let label = &rest[..eq];
            if label.is_empty() || !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("bad label name {label:?}"));
            }
            let mut chars = rest[eq + 1..].char_indices();
            if chars.next().map(|(_, c)| c) != Some('"') {
                return Err("an unquoted label value".into());
            }
            let mut value = String::new();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, e @ ('\\' | '"'))) => value.push(e),
                        _ => return Err("a bad escape".into()),
                    },
                    '"' => {
                        end = Some(eq + 1 + i + 1);
                        break;
                    }
                    c => value.push(c),
                }
            }
            let end = end.ok_or("an unterminated label value")?;
            labels.push((label.to_string(), value));
            rest = &rest[end..];
            rest = rest.strip_prefix(',').unwrap_or(rest);
        }
    }
    let value = rest.strip_prefix(' ').ok_or("no space before the value")?;
    let value = match value {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().map_err(|e| format!("bad value {v:?}: {e}"))?,
    };
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

#[test]
fn the_prometheus_scrape_is_well_formed_and_counts_records() {
    let env = StreamExecutionEnvironment::local();
    common::endless_sum(&env, 2);
    let client = env.execute_async("Scraped \"Sum\"").unwrap();
    let jid = client.job_id().to_string();
    let endpoint = serve(&client);
    let addr = endpoint.local_addr();

    let records_out = |text: &str| -> Vec<f64> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| parse_sample(l).ok())
            .filter(|s| {
                s.name == "runnel_taskmanager_job_task_numRecordsOut"
                    && s.labels.iter().any(|(k, v)| k == "job_id" && *v == jid)
            })
            .map(|s| s.value)
            .collect()
    };
    let text = wait_for("the job's numRecordsOut to be above 0", || {
        let (status, headers, body) =
            client::request(addr, Method::Get, "/metrics", None, None).unwrap();
        assert_eq!(status, 200);
        assert_eq!(
            headers.get("content-type"),
            Some("text/plain; version=0.0.4; charset=utf-8")
        );
        let text = String::from_utf8(body).unwrap();
        records_out(&text).iter().any(|v| *v > 0.0).then_some(text)
    });

    let mut samples = 0;
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix('#') {
            assert!(
                comment.starts_with(" HELP ") || comment.starts_with(" TYPE "),
                "{line}"
            );
            continue;
        }
        let Sample { labels, .. } = parse_sample(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        if line.starts_with("runnel_taskmanager_job_task_") {
            let label = |k: &str| labels.iter().find(|(l, _)| l == k).map(|(_, v)| v.as_str());
            assert_eq!(label("job_id"), Some(jid.as_str()), "{line}");
            assert_eq!(label("job_name"), Some("Scraped \"Sum\""), "{line}");
            assert!(
                label("task_name").is_some() && label("subtask_index").is_some(),
                "{line}"
            );
        }
        samples += 1;
    }
    // 2 vertices x 2 subtasks, one series each per task metric.
    assert_eq!(records_out(&text).len(), 4, "{text}");
    assert!(samples > 40, "{text}");
    assert!(
        text.contains("runnel_jobmanager_job_numRestarts{"),
        "{text}"
    );
    assert!(text.contains("runnel_jobmanager_job_uptime{"), "{text}");

    client.cancel();
    assert!(client.wait().is_err());
    wait_for("the ended job's series to go", || {
        let (_, _, body) = client::request(addr, Method::Get, "/metrics", None, None).unwrap();
        (!String::from_utf8_lossy(&body).contains(&jid)).then_some(())
    });
}
