//! Bearer tokens and the loopback-only default, over real sockets.

mod common;

use common::{config, echo_router, exchange, get};
use runnel_rest::{Method, Request, Response, RestConfig, RestError, RestServer, client};

fn guarded() -> RestServer {
    let router = echo_router().get("/config", |_: &Request| {
        Response::json(200, &serde_json::json!({}))
    });
    let config = RestConfig {
        bearer_token: Some("s3cret-t0ken".into()),
        public_paths: vec!["/config".into()],
        ..config()
    };
    RestServer::bind(config, router).unwrap()
}

#[test]
fn bearer_token_required_accepted_wrong_and_allow_listed() {
    let server = guarded();
    let addr = server.local_addr();
    let call = |path: &str, token: Option<&str>| {
        client::request(addr, Method::Get, path, None, token).unwrap()
    };

    let (status, headers, body) = call("/jobs/j1", None);
    assert_eq!(status, 401);
    assert_eq!(
        headers.get("www-authenticate"),
        Some("Bearer realm=\"runnel\"")
    );
    assert!(String::from_utf8_lossy(&body).contains("needs a bearer token"));

    let (status, headers, _) = call("/jobs/j1", Some("s3cret-t0ke"));
    assert_eq!(status, 401);
    assert_eq!(
        headers.get("www-authenticate"),
        Some("Bearer realm=\"runnel\", error=\"invalid_token\"")
    );

    assert_eq!(call("/jobs/j1", Some("s3cret-t0ken")).0, 200);
    assert_eq!(call("/config", None).0, 200);
    assert_eq!(
        call("/nope", None).0,
        401,
        "paths are not revealed without a token"
    );
    assert_eq!(call("/nope", Some("s3cret-t0ken")).0, 404);
}

#[test]
fn other_schemes_are_refused() {
    let server = guarded();
    let raw = exchange(
        server.local_addr(),
        get("/jobs/x", "Authorization: Basic czNjcmV0LXQwa2Vu\r\n"),
    );
    assert_eq!(raw.status, 401);
    assert_eq!(
        raw.header("www-authenticate").as_deref(),
        Some("Bearer realm=\"runnel\", error=\"invalid_request\"")
    );
}

#[test]
fn non_loopback_bind_needs_the_opt_in() {
    let refused = RestServer::bind(
        RestConfig {
            address: "0.0.0.0:0".parse().unwrap(),
            ..RestConfig::default()
        },
        echo_router(),
    );
    match refused {
        Err(err @ RestError::NonLoopbackAddress { .. }) => {
            let message = err.to_string();
            assert!(
                message.contains("0.0.0.0:0") && message.contains("allow_non_loopback"),
                "{message}"
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let opted_in = RestServer::bind(
        RestConfig {
            address: "0.0.0.0:0".parse().unwrap(),
            allow_non_loopback: true,
            bearer_token: Some("t".into()),
            ..RestConfig::default()
        },
        echo_router(),
    )
    .unwrap();
    let loopback = ([127, 0, 0, 1], opted_in.local_addr().port()).into();
    let (status, _, _) = client::request(loopback, Method::Get, "/echo", None, Some("t")).unwrap();
    assert_eq!(status, 200);
}

#[test]
fn a_taken_port_is_a_bind_error() {
    let first = RestServer::bind(config(), echo_router()).unwrap();
    let second = RestServer::bind(
        RestConfig {
            address: first.local_addr(),
            ..config()
        },
        echo_router(),
    );
    assert!(matches!(second, Err(RestError::Bind { .. })), "{second:?}");
}
