//! The JobManager's HTTP/1.1 server: REST API (M1), web UI (M2) and the Prometheus
//! endpoint (M3), plus a small blocking client for tests and the CLI.
//!
//! Why hand-written on `std::net` and threads: the JobManager needs a few dozen
//! request/response routes, not an async stack, and the server must survive any
//! client — a port scanner, a half-open connection, a 2 GiB upload — without
//! taking the cluster down. Owning the few hundred lines that parse HTTP lets every
//! limit be explicit and tested.
//!
//! How it fits together:
//! - bytes read from a socket are fed to a pure, incremental request parser (no
//!   I/O, so split reads and pipelining are unit-tested without sockets);
//! - each connection has its own I/O thread (bounded by
//!   [`RestConfig::max_connections`]), so a slow or silent client only ever holds
//!   its own thread until [`RestConfig::read_timeout`];
//! - complete requests run on a small fixed pool of [`RestConfig::workers`], which
//!   bounds how many handlers touch JobManager state at once; a handler that
//!   panics becomes a `500` and the worker lives on;
//! - a [`Router`] maps `METHOD /path/:param` to handlers (`404`, `405` with
//!   `Allow`), and an optional bearer token guards every path outside an
//!   allow-list.
//!
//! Deliberately absent: TLS (terminate it in a proxy), HTTP/2, streaming or chunked
//! *responses* (every response is sent with `Content-Length`) and `411` (a request
//! without framing has an empty body; see the parser's rules). Chunked *request*
//! bodies are decoded.
//!
//! This crate depends on nothing of Runnel's: the JobManager depends on it, never
//! the other way round.
//!
//! ```
//! use runnel_rest::{Method, Request, Response, RestConfig, RestServer, Router, client};
//!
//! let router = Router::new()
//!     .get("/jobs/:jobid", |req: &Request| {
//!         let id = req.param("jobid").unwrap_or_default();
//!         Response::json(200, &serde_json::json!({ "jid": id, "state": "RUNNING" }))
//!     })
//!     .patch("/jobs/:jobid", |req: &Request| match req.query("mode") {
//!         Some("cancel") | None => Response::json(202, &serde_json::json!({})),
//!         Some(other) => Response::error(400, format!("unknown mode {other}")),
//!     });
//! // 127.0.0.1:8081 by default; port 0 picks a free port.
//! let config = RestConfig { address: "127.0.0.1:0".parse().unwrap(), ..RestConfig::default() };
//! let mut server = RestServer::bind(config, router)?;
//! let (status, _, body) =
//!     client::request(server.local_addr(), Method::Patch, "/jobs/j1?mode=cancel", None, None)?;
//! assert_eq!((status, body.as_slice()), (202, &b"{}"[..]));
//! server.shutdown(); // also on drop
//! # Ok::<(), runnel_rest::RestError>(())
//! ```

mod assets;
mod auth;
mod chunked;
pub mod client;
mod config;
mod connection;
mod error;
mod parser;
mod pattern;
mod request;
mod response;
mod router;
mod server;

pub use assets::{StaticFiles, content_type_for};
pub use config::RestConfig;
pub use error::RestError;
pub use request::{Headers, Method, Request};
pub use response::Response;
pub use router::Router;
pub use server::RestServer;
