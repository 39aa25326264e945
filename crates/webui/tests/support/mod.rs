//! A fake JobManager: the web UI's files plus the REST API answered from the JSON
//! fixtures of one running 3-vertex job (Source → keyed window at parallelism 2
//! → Sink, the source backpressured HIGH).

pub mod chromium;

use runnel_rest::{Request, Response, RestConfig, RestServer, Router};
use std::path::PathBuf;
use std::sync::Arc;

/// The running job of the fixtures.
pub const JID: &str = "a6b3c1d0e9f8476a9b2c3d4e5f607182";

/// The job's vertices: id, name, parallelism and backpressure fixture.
pub const VERTICES: [(&str, &str, u32, &str); 3] = [
    (
        "bc764cd8ddf7a0cff126f51c16239658",
        "Source: Orders -> Watermarks",
        1,
        "backpressure-source.json",
    ),
    (
        "20ba6b65f97481d5570070de90e4e791",
        "Keyed Window: revenue per shop",
        2,
        "backpressure-window.json",
    ),
    (
        "6d2677a0ecc3fd8df0b72ec675edf8f4",
        "Sink: Revenue Report",
        1,
        "backpressure-sink.json",
    ),
];

/// `GET` routes answered with a fixture as is.
const ROUTES: [(&str, &str); 9] = [
    ("/config", "config.json"),
    ("/overview", "overview.json"),
    ("/jobs", "jobs.json"),
    ("/jobs/overview", "jobs-overview.json"),
    ("/taskmanagers", "taskmanagers.json"),
    ("/jobs/:jobid", "job.json"),
    ("/jobs/:jobid/plan", "plan.json"),
    ("/jobs/:jobid/checkpoints", "checkpoints.json"),
    ("/jobs/:jobid/exceptions", "exceptions.json"),
];

/// The bytes of fixture `name`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Fixture `name` parsed.
pub fn fixture_json(name: &str) -> serde_json::Value {
    serde_json::from_slice(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn json(body: &Arc<Vec<u8>>) -> Response {
    Response::bytes(200, "application/json; charset=utf-8", body.to_vec())
}

/// `404` in Flink's shape unless the request names the fixtures' job.
fn known_job(req: &Request) -> Result<(), Response> {
    match req.param("jobid") {
        Some(JID) | None => Ok(()),
        Some(other) => Err(Response::error(404, format!("Job {other} not found."))),
    }
}

/// The UI plus every fixture route; `broken` routes answer `500` instead.
pub fn router(broken: &[&str]) -> Router {
    let mut router = Router::new().static_files(runnel_webui::static_files());
    for (route, name) in ROUTES {
        let body = Arc::new(fixture(name));
        let fail = broken.contains(&route);
        router = router.get(route, move |req: &Request| {
            if fail {
                return Response::error(
                    500,
                    "Internal server error: fixture route broken on purpose",
                );
            }
            known_job(req).map_or_else(|e| e, |()| json(&body))
        });
    }
    let pressure: Vec<(&str, Arc<Vec<u8>>)> = VERTICES
        .iter()
        .map(|(id, _, _, f)| (*id, Arc::new(fixture(f))))
        .collect();
    router
        .get(
            "/jobs/:jobid/vertices/:vertexid/backpressure",
            move |req: &Request| {
                if let Err(e) = known_job(req) {
                    return e;
                }
                let vertex = req.param("vertexid").unwrap_or_default();
                match pressure.iter().find(|(id, _)| *id == vertex) {
                    Some((_, body)) => json(body),
                    None => Response::error(404, format!("Vertex {vertex} not found.")),
                }
            },
        )
        .patch("/jobs/:jobid", |req: &Request| {
            known_job(req).map_or_else(|e| e, |()| Response::json(202, &serde_json::json!({})))
        })
}

/// A server on a free loopback port; with `token`, API calls need it.
pub fn serve(router: Router, token: Option<&str>) -> RestServer {
    let config = RestConfig {
        address: "127.0.0.1:0".parse().unwrap(),
        bearer_token: token.map(str::to_owned),
        ..RestConfig::default()
    };
    RestServer::bind(config, router).expect("fake JobManager starts")
}
