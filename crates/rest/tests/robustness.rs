//! Bad clients over real sockets: the server answers them and keeps serving
//! everyone else.

mod common;

use common::{Conn, config, echo_router, exchange, get, serve};
use runnel_rest::{Method, Request, Response, RestConfig, RestServer, Router, client};
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::Duration;

fn serve_with(config: RestConfig, router: Router) -> RestServer {
    RestServer::bind(config, router).unwrap()
}

fn ok(addr: std::net::SocketAddr) -> bool {
    matches!(
        client::request(addr, Method::Get, "/echo", None, None),
        Ok((200, _, _))
    )
}

#[test]
fn oversized_header_is_431_and_long_request_line_414() {
    let server = serve(echo_router());
    let addr = server.local_addr();
    let big = format!("X-Big: {}\r\n", "a".repeat(40 * 1024));
    let raw = exchange(addr, get("/echo", &big));
    assert_eq!(raw.status, 431);
    assert!(
        raw.body_text().contains("exceed 32768 bytes"),
        "{}",
        raw.body_text()
    );
    assert_eq!(raw.header("connection").as_deref(), Some("close"));
    let long = format!("/echo?q={}", "x".repeat(9000));
    assert_eq!(exchange(addr, get(&long, "")).status, 414);
    assert!(ok(addr));
}

#[test]
fn oversized_body_is_413_without_reading_it() {
    let server = serve_with(
        RestConfig {
            max_body_bytes: 1024,
            ..config()
        },
        echo_router(),
    );
    // Only the head is sent: the answer must not wait for the 1 GiB body.
    let raw = exchange(
        server.local_addr(),
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1073741824\r\n\r\n",
    );
    assert_eq!(raw.status, 413);
    assert!(raw.body_text().contains("limit of 1024 bytes"));
    let raw = exchange(
        server.local_addr(),
        "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n",
    );
    assert_eq!(
        raw.status, 413,
        "a chunk over the limit is refused before its data"
    );
}

#[test]
fn malformed_requests_get_4xx_or_5xx_and_the_server_lives_on() {
    let server = serve(echo_router());
    let addr = server.local_addr();
    let table: [(&[u8], u16); 8] = [
        (b"GARBAGE\r\n\r\n", 400),
        (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n", 400),
        (b"GET /echo HTTP/1.1\r\n\r\n", 400),
        (b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: ten\r\n\r\n", 400),
        (b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        (b"BREW /echo HTTP/1.1\r\nHost: t\r\n\r\n", 501),
        (b"GET /echo HTTP/3.0\r\nHost: t\r\n\r\n", 505),
    ];
    for (wire, status) in table {
        let mut conn = Conn::open(addr);
        conn.send(wire);
        let raw = conn.response();
        assert_eq!(raw.status, status, "{:?}", String::from_utf8_lossy(wire));
        assert!(
            raw.body_text().starts_with("{\"errors\":[\""),
            "{}",
            raw.body_text()
        );
        assert!(conn.closed_by_server());
    }
    assert!(ok(addr));
}

#[test]
fn silent_clients_do_not_block_others() {
    let server = serve_with(
        RestConfig {
            workers: 1,
            ..config()
        },
        echo_router(),
    );
    let addr = server.local_addr();
    // More silent (and half-sent) connections than workers.
    let silent: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let mut partial = Conn::open(addr);
    partial.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
    for _ in 0..3 {
        assert!(ok(addr));
    }
    drop(silent);
}

#[test]
fn slow_clients_time_out() {
    let server = serve_with(
        RestConfig {
            read_timeout: Duration::from_millis(200),
            ..config()
        },
        echo_router(),
    );
    let addr = server.local_addr();
    // Idle: closed silently.
    let mut idle = Conn::open(addr);
    assert!(idle.closed_by_server());
    // Half a head: 408.
    let mut partial = Conn::open(addr);
    partial.send("GET /echo HTTP/1.1\r\nHost: t\r\n");
    assert_eq!(partial.response().status, 408);
    assert!(partial.closed_by_server());
    // Idle after a keep-alive request: closed silently.
    let mut kept = Conn::open(addr);
    kept.send(get("/echo", ""));
    assert_eq!(kept.response().status, 200);
    assert!(kept.closed_by_server());
}

#[test]
fn a_panicking_handler_is_a_500_and_the_server_keeps_serving() {
    let router = echo_router().get("/boom", |_: &Request| -> Response {
        panic!("the handler blew up")
    });
    let server = serve_with(
        RestConfig {
            workers: 1,
            ..config()
        },
        router,
    );
    let mut conn = Conn::open(server.local_addr());
    for _ in 0..3 {
        conn.send(get("/boom", ""));
        let raw = conn.response();
        assert_eq!(raw.status, 500);
        assert!(
            raw.body_text().contains("the handler blew up"),
            "{}",
            raw.body_text()
        );
        conn.send(get("/echo", ""));
        assert_eq!(
            conn.response().status,
            200,
            "same connection, same single worker"
        );
    }
}

#[test]
fn connections_over_the_limit_get_503() {
    let server = serve_with(
        RestConfig {
            max_connections: 2,
            ..config()
        },
        echo_router(),
    );
    let addr = server.local_addr();
    let mut first = Conn::open(addr);
    let mut second = Conn::open(addr);
    // Requests prove both connections are registered before the third arrives.
    for conn in [&mut first, &mut second] {
        conn.send(get("/echo", ""));
        assert_eq!(conn.response().status, 200);
    }
    let mut third = Conn::open(addr);
    let raw = third.response();
    assert_eq!(raw.status, 503);
    assert_eq!(raw.header("retry-after").as_deref(), Some("1"));
    drop(first);
    drop(second);
}

#[test]
fn shutdown_closes_open_connections_and_joins() {
    let (started, handler_started) = mpsc::channel::<()>();
    let started = std::sync::Mutex::new(started);
    let router = echo_router().get("/slow", move |_: &Request| {
        let _ = started.lock().unwrap().send(());
        Response::text(200, "done")
    });
    let mut server = serve(router);
    let addr = server.local_addr();
    let mut idle = Conn::open(addr);
    idle.send(get("/echo", ""));
    assert_eq!(idle.response().status, 200);
    let mut busy = Conn::open(addr);
    busy.send(get("/slow", ""));
    handler_started.recv().unwrap();
    server.shutdown();
    assert!(idle.closed_by_server());
    server.shutdown();
    assert!(TcpStream::connect(addr).is_err() || !ok(addr));
}
