//! The web UI rendered by headless Chromium against a fake JobManager that
//! answers the REST API with the fixtures under `tests/fixtures/`.
//!
//! Needs `chromium` (`apt-get install chromium`) or `RUNNEL_CHROMIUM`; set
//! `RUNNEL_SKIP_BROWSER_TESTS=1` to skip. The job graph screenshot is kept as
//! `<target dir>/job-graph.png` for CI to archive.

mod support;

use std::path::{Path, PathBuf};
use support::{JID, VERTICES, chromium, fixture_json};

/// `text` as it appears in a serialized DOM.
fn html_escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The markup of the graph's vertex `id` (a `<g>` with no nested groups).
fn vertex_markup<'a>(dom: &'a str, id: &str) -> &'a str {
    let at = dom
        .find(&format!("data-vertex=\"{id}\""))
        .unwrap_or_else(|| panic!("vertex {id} is not drawn:\n{dom}"));
    let start = dom[..at].rfind("<g ").expect("vertex group opens");
    let len = dom[start..].find("</g>").expect("vertex group closes");
    &dom[start..start + len]
}

/// Renders `route` of a fresh fake JobManager and returns the DOM.
fn render(name: &str, route: &str, broken: &[&str], token: Option<&str>) -> Option<String> {
    let browser = chromium::find()?;
    let server = support::serve(support::router(broken), token);
    let url = format!("http://{}/{route}", server.local_addr());
    Some(chromium::dump_dom(&browser, name, &url))
}

#[test]
fn job_page_draws_the_graph_with_parallelism_records_and_backpressure() {
    let Some(dom) = render("job", &format!("#/jobs/{JID}"), &[], None) else {
        return;
    };
    assert!(dom.contains("Shop Revenue"), "{dom}");
    for (id, name, parallelism, _) in VERTICES {
        let vertex = vertex_markup(&dom, id);
        assert!(vertex.contains(&html_escaped(name)), "{name}: {vertex}");
        assert!(
            vertex.contains(&format!("Parallelism: {parallelism}")),
            "{vertex}"
        );
    }
    let [source, window, sink] = VERTICES.map(|(id, ..)| vertex_markup(&dom, id));
    assert!(
        source.contains("bp-high") && source.contains(">HIGH</text>"),
        "{source}"
    );
    assert!(window.contains(">LOW</text>") && sink.contains(">OK</text>"));
    // Records from the job detail's vertex metrics.
    assert!(source.contains("Records out: 1.3 M"), "{source}");
    assert!(window.contains("Records in: 1.3 M") && window.contains("Records out: 3480"));
    assert!(sink.contains("Records in: 3480"), "{sink}");
    for strategy in ["HASH", "REBALANCE"] {
        assert!(
            dom.contains(&format!(">{strategy}</text>")),
            "edge {strategy}: {dom}"
        );
    }
    assert_eq!(dom.matches("class=\"edge\"").count(), 2);
    assert!(dom.contains("Trigger savepoint") && dom.contains("Cancel job"));
}

#[test]
fn overview_lists_the_jobs_and_the_cluster() {
    let Some(dom) = render("overview", "#/overview", &[], None) else {
        return;
    };
    assert!(
        dom.contains(&format!("href=\"#/jobs/{JID}\">Shop Revenue</a>")),
        "{dom}"
    );
    assert!(dom.contains("Word Count") && dom.contains(">RUNNING<") && dom.contains(">FINISHED<"));
    assert!(dom.contains("6 / 8"), "slots available / total: {dom}");
    assert!(
        dom.contains("2025-01-01 10:00:00"),
        "start time in UTC: {dom}"
    );
}

#[test]
fn tabs_and_taskmanagers_render() {
    let table = [
        ("checkpoints", format!("#/jobs/{JID}/checkpoints"), "chk-60"),
        (
            "exceptions",
            format!("#/jobs/{JID}/exceptions"),
            "broker kafka-1:9092 unreachable",
        ),
        (
            "taskmanagers",
            "#/taskmanagers".to_owned(),
            "tm-10.0.0.12-6122-1",
        ),
    ];
    for (name, route, expected) in table {
        let Some(dom) = render(name, &route, &[], None) else {
            return;
        };
        assert!(dom.contains(expected), "{route} lacks {expected:?}:\n{dom}");
    }
}

#[test]
fn a_failing_request_shows_its_error_not_a_blank_page() {
    // (broken route, page, what still renders)
    let table = [
        ("/jobs/overview", "#/overview".to_owned(), "Slots available"),
        (
            "/jobs/:jobid/checkpoints",
            format!("#/jobs/{JID}/checkpoints"),
            "Parallelism: 2",
        ),
    ];
    for (broken, route, still_shown) in table {
        let Some(dom) = render("broken", &route, &[broken], None) else {
            return;
        };
        let path = broken.replace(":jobid", JID);
        assert!(dom.contains(&format!("GET {path} failed: 500")), "{dom}");
        assert!(dom.contains("fixture route broken on purpose"), "{dom}");
        assert!(
            dom.contains(still_shown),
            "{route} lacks {still_shown:?}: {dom}"
        );
    }
}

#[test]
fn a_401_offers_the_token_input() {
    let Some(dom) = render("token", "#/overview", &[], Some("s3cret")) else {
        return;
    };
    assert!(dom.contains("failed: 401"), "{dom}");
    assert!(
        !dom.contains("id=\"token\" class=\"banner\" hidden"),
        "token form hidden: {dom}"
    );
}

/// `<target dir>/job-graph.png`.
fn screenshot_path() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join("job-graph.png")
}

#[test]
fn job_graph_screenshot_is_written() {
    let Some(browser) = chromium::find() else {
        return;
    };
    let server = support::serve(support::router(&[]), None);
    let png = screenshot_path();
    let _ = std::fs::remove_file(&png);
    let url = format!("http://{}/#/jobs/{JID}", server.local_addr());
    let flags = [
        format!("--screenshot={}", png.display()),
        "--window-size=1400,900".to_owned(),
    ];
    chromium::run(&browser, "screenshot", &url, &flags);
    let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let dimension = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    assert_eq!((dimension(16), dimension(20)), (1400, 900), "IHDR size");
    // A blank 1400×900 page compresses to a few kilobytes; a drawn graph does not.
    assert!(
        bytes.len() > 30_000,
        "{} is only {} bytes",
        png.display(),
        bytes.len()
    );
    eprintln!("job graph screenshot: {}", png.display());
}

#[test]
fn fixtures_describe_one_consistent_job() {
    let job = fixture_json("job.json");
    let plan = &fixture_json("plan.json")["plan"];
    assert_eq!(&job["plan"], plan, "job detail embeds the plan");
    let nodes = plan["nodes"].as_array().unwrap();
    let vertices = job["vertices"].as_array().unwrap();
    assert_eq!((nodes.len(), vertices.len()), (3, 3));
    for ((id, name, parallelism, pressure), (node, vertex)) in
        VERTICES.iter().zip(nodes.iter().zip(vertices))
    {
        assert_eq!((&node["id"], &vertex["id"]), (&(*id).into(), &(*id).into()));
        assert_eq!(vertex["name"], *name);
        assert_eq!(
            (&node["parallelism"], &vertex["parallelism"]),
            (&(*parallelism).into(), &(*parallelism).into())
        );
        assert!(fixture_json(pressure)["backpressure-level"].is_string());
    }
    let high: Vec<_> = VERTICES
        .iter()
        .filter(|(.., f)| fixture_json(f)["backpressure-level"] == "high")
        .collect();
    assert_eq!(high.len(), 1, "exactly one vertex is HIGH");
    let overview = fixture_json("jobs-overview.json");
    assert_eq!(overview["jobs"][0]["jid"], JID);
}
