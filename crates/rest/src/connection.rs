//! One connection's life: read and parse requests, hand each to the worker pool,
//! write the answer, repeat while the client keeps the connection alive.
//!
//! Timeouts, all from [`RestConfig`](crate::RestConfig):
//! - a whole request head (and, between keep-alive requests, the idle time before
//!   it) must arrive within `read_timeout`, so a client dripping one header byte at
//!   a time cannot hold the connection; an idle connection is closed silently, a
//!   partial request gets `408`;
//! - while a body arrives, each read may wait `read_timeout` (large uploads on slow
//!   links keep going as long as they make progress);
//! - each response write may block `write_timeout`.
//!
//! After any protocol error the server answers with the error's status and
//! closes, after briefly draining what the client still sends so the answer is
//! not lost to a TCP reset.

use crate::parser::{HttpError, Parsed, Parser};
use crate::server::{Job, Shared};
use crate::{Method, Response};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc::{self, Sender};
use std::time::{Duration, Instant};

/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 16 * 1024;
/// How long, and how much, to drain before closing after an error.
const LINGER_TIME: Duration = Duration::from_millis(500);
const LINGER_BYTES: usize = 1024 * 1024;

/// Why no request could be read.
enum ReadError {
    /// Answer with this error, then close.
    Http(HttpError),
    /// The socket failed; just close.
    Io,
}

/// Serves requests on `stream` until the client or the server ends it.
pub(crate) fn serve(mut stream: TcpStream, shared: &Shared, jobs: &Sender<Job>) {
    let _ = stream.set_nodelay(true);
    if stream
        .set_write_timeout(Some(shared.config.write_timeout))
        .is_err()
    {
        return;
    }
    let mut parser = Parser::new(shared.limits);
    let mut buf = vec![0; READ_CHUNK];
    loop {
        let read = read_request(
            &mut stream,
            &mut parser,
            &mut buf,
            shared.config.read_timeout,
        );
        let Parsed {
            request,
            keep_alive,
        } = match read {
            Ok(Some(parsed)) => parsed,
            Ok(None) | Err(ReadError::Io) => return,
            Err(ReadError::Http(e)) => {
                log::debug!(
                    "REST: rejecting a request from {:?}: {e}",
                    stream.peer_addr().ok()
                );
                let _ = Response::error(e.status, e.message).write_to(&mut stream, false, false);
                close_gracefully(&mut stream);
                return;
            }
        };
        let head_only = request.method() == Method::Head;
        let keep_alive = keep_alive && !shared.stopping();
        let response = run(jobs, request);
        if response
            .write_to(&mut stream, keep_alive, head_only)
            .is_err()
        {
            return;
        }
        if !keep_alive {
            close_gracefully(&mut stream);
            return;
        }
    }
}

/// Runs a request on the worker pool and waits for its answer.
fn run(jobs: &Sender<Job>, request: crate::Request) -> Response {
    let (reply, answer) = mpsc::sync_channel(1);
    if jobs.send(Job { request, reply }).is_err() {
        return Response::error(503, "The REST server is shutting down.");
    }
    answer
        .recv()
        .unwrap_or_else(|_| Response::error(500, "Internal server error: the request was lost."))
}

/// Reads until the parser yields a request. `Ok(None)`: the client closed, or
/// stayed idle past the timeout, between requests.
fn read_request(
    stream: &mut TcpStream,
    parser: &mut Parser,
    buf: &mut [u8],
    timeout: Duration,
) -> Result<Option<Parsed>, ReadError> {
    let head_deadline = Instant::now() + timeout;
    loop {
        if let Some(parsed) = parser.next_request().map_err(ReadError::Http)? {
            return Ok(Some(parsed));
        }
        if parser.take_expect_continue() {
            stream
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .map_err(|_| ReadError::Io)?;
        }
        let wait = if parser.in_head() {
            head_deadline.saturating_duration_since(Instant::now())
        } else {
            timeout
        };
        if wait.is_zero() || stream.set_read_timeout(Some(wait)).is_err() {
            return timed_out(parser);
        }
        match stream.read(buf) {
            Ok(0) if parser.is_idle() => return Ok(None),
            Ok(0) => {
                return Err(ReadError::Http(HttpError::new(
                    400,
                    "the connection was closed before the request was complete",
                )));
            }
            Ok(n) => parser.push(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return timed_out(parser);
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return Err(ReadError::Io),
        }
    }
}

fn timed_out(parser: &Parser) -> Result<Option<Parsed>, ReadError> {
    if parser.is_idle() {
        Ok(None)
    } else {
        Err(ReadError::Http(HttpError::new(
            408,
            "timed out waiting for the rest of the request",
        )))
    }
}

/// Half-closes, then drains (bounded in time and bytes) so that data the client
/// is still sending does not turn our close into a reset that destroys the
/// response it has not read yet.
fn close_gracefully(stream: &mut TcpStream) {
    if stream.shutdown(Shutdown::Write).is_err() {
        return;
    }
    let started = Instant::now();
    let mut sink = [0u8; 8192];
    let mut drained = 0;
    while drained < LINGER_BYTES {
        let left = LINGER_TIME.saturating_sub(started.elapsed());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => return,
            Ok(n) => drained += n,
        }
    }
}

/// Answers a connection over the limit with `503` and closes it.
pub(crate) fn refuse_busy(mut stream: TcpStream) {
    log::warn!(
        "REST server: too many open connections; refusing {:?}",
        stream.peer_addr().ok()
    );
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let response = Response::error(503, "Too many open connections; try again later.")
        .with_header("Retry-After", "1");
    let _ = response.write_to(&mut stream, false, false);
    let _ = stream.shutdown(Shutdown::Write);
}
