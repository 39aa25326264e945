//! Routing, JSON, static files and connection reuse over real sockets.

mod common;

use common::{Conn, echo_router, exchange, get, serve};
use runnel_rest::{Method, Request, Response, Router, StaticFiles, client};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap()
}

#[test]
fn routes_with_path_params_and_query() {
    let server = serve(echo_router());
    let (status, headers, body) = client::request(
        server.local_addr(),
        Method::Patch,
        "/jobs/a%20b?mode=cancel&x=1",
        None,
        None,
    )
    .unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        headers.get("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(
        json_of(&body),
        json!({
            "method": "PATCH",
            "path": "/jobs/a%20b",
            "params": [["jobid", "a b"]],
            "query": [["mode", "cancel"], ["x", "1"]],
            "body": "",
        })
    );
}

#[test]
fn unknown_paths_are_404_and_other_methods_405_with_allow() {
    let server = serve(echo_router());
    let addr = server.local_addr();
    let (status, _, body) = client::request(addr, Method::Get, "/nope", None, None).unwrap();
    assert_eq!(
        (status, json_of(&body)),
        (404, json!({"errors": ["Not found: /nope"]}))
    );
    let (status, headers, body) =
        client::request(addr, Method::Delete, "/jobs/j1", None, None).unwrap();
    assert_eq!(status, 405);
    assert_eq!(headers.get("allow"), Some("GET, HEAD, PATCH"));
    assert!(
        json_of(&body)["errors"][0]
            .as_str()
            .unwrap()
            .contains("DELETE")
    );
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Submit {
    name: String,
    parallelism: u32,
}

fn submit_router() -> Router {
    Router::new().post("/jobs", |req: &Request| match req.json::<Submit>() {
        Ok(submit) => Response::json(
            202,
            &json!({"jobid": format!("{}-{}", submit.name, submit.parallelism)}),
        ),
        Err(e) => e.into(),
    })
}

#[test]
fn json_round_trip() {
    let server = serve(submit_router());
    let request = serde_json::to_vec(&Submit {
        name: "wc".into(),
        parallelism: 4,
    })
    .unwrap();
    let (status, _, body) = client::request(
        server.local_addr(),
        Method::Post,
        "/jobs",
        Some(("application/json", &request)),
        None,
    )
    .unwrap();
    assert_eq!((status, json_of(&body)), (202, json!({"jobid": "wc-4"})));
}

#[test]
fn malformed_json_is_a_400_naming_serdes_position() {
    let server = serve(submit_router());
    let cases: [(&[u8], &str); 3] = [
        (
            b"{\"name\": \"wc\",\n \"parallelism\": }",
            "line 2 column 17",
        ),
        (b"{\"name\": \"wc\"}", "missing field `parallelism`"),
        (b"", "EOF while parsing"),
    ];
    for (body, expected) in cases {
        let (status, _, answer) = client::request(
            server.local_addr(),
            Method::Post,
            "/jobs",
            Some(("application/json", body)),
            None,
        )
        .unwrap();
        let message = json_of(&answer)["errors"][0].as_str().unwrap().to_owned();
        assert_eq!(status, 400, "{message}");
        assert!(
            message.starts_with("malformed JSON in request body"),
            "{message}"
        );
        assert!(message.contains(expected), "{message}");
    }
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let server = serve(echo_router());
    let mut conn = Conn::open(server.local_addr());
    conn.send(get("/jobs/first", ""));
    let first = conn.response();
    assert_eq!(first.status, 200);
    assert_eq!(first.header("connection").as_deref(), Some("keep-alive"));
    conn.send(get("/jobs/second", "Connection: close\r\n"));
    let second = conn.response();
    assert_eq!(
        json_of(&second.body)["params"],
        json!([["jobid", "second"]])
    );
    assert_eq!(second.header("connection").as_deref(), Some("close"));
    assert!(
        conn.closed_by_server(),
        "Connection: close must be honoured"
    );
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = serve(echo_router());
    let mut conn = Conn::open(server.local_addr());
    conn.send(format!(
        "{}POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello{}",
        get("/jobs/1", ""),
        get("/jobs/3", "")
    ));
    let bodies: Vec<Value> = (0..3).map(|_| json_of(&conn.response().body)).collect();
    assert_eq!(bodies[0]["params"], json!([["jobid", "1"]]));
    assert_eq!(bodies[1]["body"], "hello");
    assert_eq!(bodies[2]["params"], json!([["jobid", "3"]]));
}

#[test]
fn chunked_request_bodies_are_decoded() {
    let server = serve(echo_router());
    let raw = exchange(
        server.local_addr(),
        "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
         6\r\nhello \r\n5;x=y\r\nworld\r\n0\r\n\r\n",
    );
    assert_eq!(raw.status, 200);
    assert_eq!(json_of(&raw.body)["body"], "hello world");
}

#[test]
fn expect_100_continue_gets_an_interim_response() {
    let server = serve(echo_router());
    let mut conn = Conn::open(server.local_addr());
    conn.send(
        "POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
    );
    assert_eq!(conn.response().status, 100);
    conn.send("ok");
    assert_eq!(json_of(&conn.response().body)["body"], "ok");
}

#[test]
fn head_uses_the_get_route_without_a_body() {
    let server = serve(Router::new().get("/doc", |_: &Request| Response::text(200, "hello")));
    let mut conn = Conn::open(server.local_addr());
    conn.send("HEAD /doc HTTP/1.1\r\nHost: t\r\n\r\n");
    let head = conn.response_to(true);
    assert_eq!(
        (head.status, head.header("content-length").as_deref()),
        (200, Some("5"))
    );
    conn.send(get("/doc", ""));
    let get = conn.response();
    assert_eq!(get.body, b"hello", "no stray body bytes after HEAD");
}

#[test]
fn static_files_have_content_type_and_cache_control() {
    let router = Router::new()
        .static_files(
            StaticFiles::new()
                .file("/index.html", &b"<!doctype html>"[..])
                .cache_control("no-cache"),
        )
        .static_files(StaticFiles::new().file("/assets/app.css", &b"body{}"[..]));
    let server = serve(router);
    let addr = server.local_addr();
    let (status, headers, body) = client::request(addr, Method::Get, "/", None, None).unwrap();
    assert_eq!((status, body.as_slice()), (200, &b"<!doctype html>"[..]));
    assert_eq!(
        headers.get("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(headers.get("cache-control"), Some("no-cache"));
    let (_, headers, _) =
        client::request(addr, Method::Get, "/assets/app.css", None, None).unwrap();
    assert_eq!(headers.get("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(headers.get("cache-control"), None);
    let (status, _, _) =
        client::request(addr, Method::Get, "/assets/missing.js", None, None).unwrap();
    assert_eq!(status, 404);
}

#[test]
fn large_bodies_round_trip() {
    let router = Router::new().post("/upload", |req: &Request| {
        Response::bytes(
            200,
            "application/octet-stream",
            req.body().iter().rev().copied().collect(),
        )
    });
    let server = serve(router);
    let upload: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let (status, _, body) = client::request(
        server.local_addr(),
        Method::Post,
        "/upload",
        Some(("application/octet-stream", &upload)),
        None,
    )
    .unwrap();
    assert_eq!(status, 200);
    assert!(body.iter().eq(upload.iter().rev()));
}
