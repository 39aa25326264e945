//! Helpers shared by the socket tests: a server on a free loopback port and a raw
//! connection that speaks bytes, for requests no well-behaved client would send.

#![allow(dead_code)]

use runnel_rest::{Request, Response, RestConfig, RestServer, Router};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long a test waits for the server before failing (a safety net, never an
/// assertion).
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A config on `127.0.0.1:0`.
pub fn config() -> RestConfig {
    RestConfig {
        address: "127.0.0.1:0".parse().unwrap(),
        ..RestConfig::default()
    }
}

/// A server with `router` and the default config on a free port.
pub fn serve(router: Router) -> RestServer {
    RestServer::bind(config(), router).unwrap()
}

/// A router echoing the method, path, params and query as JSON.
pub fn echo_router() -> Router {
    let echo = |req: &Request| {
        Response::json(
            200,
            &serde_json::json!({
                "method": req.method().as_str(),
                "path": req.path(),
                "params": req.params(),
                "query": req.query_pairs(),
                "body": String::from_utf8_lossy(req.body()),
            }),
        )
    };
    Router::new()
        .get("/echo", echo)
        .post("/echo", echo)
        .get("/jobs/:jobid", echo)
        .patch("/jobs/:jobid", echo)
}

/// A response as read off the wire.
#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Raw {
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }
}

/// A raw connection to the server.
pub struct Conn {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        Conn {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.stream.write_all(bytes.as_ref()).unwrap();
    }

    /// Reads more; false at the end of the connection.
    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 8192];
        match self.stream.read(&mut chunk) {
            Ok(0) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            Err(e) if e.kind() == ErrorKind::ConnectionReset => false,
            Err(e) => panic!("reading from the server: {e}"),
        }
    }

    /// The next response; `head_only` for a response to `HEAD`.
    pub fn response_to(&mut self, head_only: bool) -> Raw {
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            assert!(
                self.fill(),
                "connection closed before a response; got {:?}",
                self.text()
            );
        };
        let head = String::from_utf8(self.buf.drain(..end).collect()).unwrap();
        let status = head[9..12].parse().unwrap();
        let mut raw = Raw {
            status,
            head,
            body: Vec::new(),
        };
        let length: usize = raw
            .header("content-length")
            .map_or(0, |l| l.parse().unwrap());
        if !head_only {
            while self.buf.len() < length {
                assert!(self.fill(), "connection closed in the body");
            }
            raw.body = self.buf.drain(..length).collect();
        }
        raw
    }

    pub fn response(&mut self) -> Raw {
        self.response_to(false)
    }

    /// Whether the server closed the connection (after any buffered bytes).
    pub fn closed_by_server(&mut self) -> bool {
        self.buf.is_empty() && !self.fill()
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf).into_owned()
    }
}

/// Sends `bytes` on a fresh connection and returns the one response.
pub fn exchange(addr: SocketAddr, bytes: impl AsRef<[u8]>) -> Raw {
    let mut conn = Conn::open(addr);
    conn.send(bytes);
    conn.response()
}

/// A `GET` with the given extra header lines.
pub fn get(path: &str, extra: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n{extra}\r\n")
}
