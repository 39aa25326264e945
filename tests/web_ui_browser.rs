//! The web UI against a real running job (not fixtures): headless Chromium
//! renders the job page of an embedded job serving its REST API, and the DAG
//! shows the job's real vertices, parallelism, ship strategy and a HIGH
//! backpressure badge on the vertex a slow sink holds back; a screenshot of it
//! is kept next to the web UI crate's (`<target>/job-graph-live.png`).

#[path = "../crates/webui/tests/support/chromium.rs"]
mod chromium;

use runnel::prelude::*;
use runnel::rest::{Method, client};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

fn high_backpressure(addr: SocketAddr, job: &str) -> bool {
    let Ok((200, _, body)) =
        client::request(addr, Method::Get, &format!("/jobs/{job}"), None, None)
    else {
        return false;
    };
    let detail: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let Some(first) = detail["vertices"][0]["id"].as_str() else {
        return false;
    };
    let path = format!("/jobs/{job}/vertices/{first}/backpressure");
    matches!(client::request(addr, Method::Get, &path, None, None),
        Ok((200, _, b)) if String::from_utf8_lossy(&b).contains("\"backpressure-level\":\"high\""))
}

#[test]
fn the_job_page_of_a_running_job_draws_its_real_graph() {
    let Some(browser) = chromium::find() else {
        return;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = StreamExecutionEnvironment::with_config(Configuration::default());
    env.set_parallelism(2);
    env.enable_web_ui(port);
    env.from_sequence(1, 1_000_000_000)
        .map(|x: u64| (x % 7, x))
        .name("Numbers")
        .key_by(|e: &(u64, u64)| e.0)
        .sum(|(_, v)| v)
        .name("Running sums")
        .add_sink(|_: (u64, u64)| std::thread::sleep(Duration::from_micros(500)))
        .name("Slow sink");
    let client = env.execute_async("live graph").unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !high_backpressure(addr, client.job_id()) {
        assert!(Instant::now() < deadline, "the source never showed HIGH");
        std::thread::sleep(Duration::from_millis(100));
    }

    let url = format!("http://{addr}/#/jobs/{}", client.job_id());
    let dom = chromium::dump_dom(&browser, "live", &url);
    for text in [
        "live graph",
        "Numbers",
        "Running sums",
        "Slow sink",
        "HASH",
        "HIGH",
    ] {
        assert!(dom.contains(text), "`{text}` not on the page:\n{dom}");
    }
    assert!(dom.contains("Parallelism: 2"), "{dom}");

    let png = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("job-graph-live.png");
    let _ = std::fs::remove_file(&png);
    chromium::run(
        &browser,
        "live-screenshot",
        &url,
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1400,900".to_owned(),
        ],
    );
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert!(bytes.len() > 20_000, "{} bytes", bytes.len());
    client.cancel();
    let _ = client.wait();
}
