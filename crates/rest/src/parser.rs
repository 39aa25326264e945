//! An incremental HTTP/1.1 request parser: bytes in, [`Request`]s out, no I/O.
//!
//! The connection pushes whatever a `read` returned; [`Parser::next_request`] yields
//! a request once its head and body are complete and keeps any bytes after it (a
//! pipelined request) for the next call. Every limit is checked as soon as it can
//! be: the request line and head while they arrive, `Content-Length` against the
//! body limit before a single body byte is read, chunk sizes before their data.
//!
//! Framing rules (RFC 9112 §6), chosen for a server that must not be confused:
//! - `Content-Length` must be digits; several differing values are `400`;
//! - `Transfer-Encoding: chunked` is decoded; any other coding is `501`; both
//!   headers together are `400` (the classic request-smuggling ambiguity);
//! - neither header means an empty body (RFC 9112 §6.3), even for `POST`: we do not
//!   answer `411`, because `curl -X POST` without data sends no length. Bytes sent
//!   without framing are then read as the next request and fail as a bad request
//!   line (`400`).
//!
//! After an error the connection must be closed: the stream cannot be resynchronised.

use crate::RestConfig;
use crate::chunked::{ChunkError, ChunkedDecoder};
use crate::request::{Headers, Method, Request};
use std::fmt;

/// Size limits for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    pub(crate) request_line: usize,
    pub(crate) head: usize,
    pub(crate) headers: usize,
    pub(crate) body: u64,
}

impl From<&RestConfig> for Limits {
    fn from(c: &RestConfig) -> Self {
        Limits {
            request_line: c.max_request_line_bytes,
            head: c.max_header_bytes,
            headers: c.max_headers,
            body: c.max_body_bytes,
        }
    }
}

/// A request the server answers with an error status, then closes the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpError {
    pub(crate) status: u16,
    pub(crate) message: String,
}

impl HttpError {
    pub(crate) fn new(status: u16, message: impl Into<String>) -> HttpError {
        HttpError {
            status,
            message: message.into(),
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, self.message)
    }
}

/// A complete request and whether the client wants the connection kept open.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub(crate) request: Request,
    pub(crate) keep_alive: bool,
}

#[derive(Debug)]
enum Framing {
    Length(u64),
    Chunked(ChunkedDecoder),
}

#[derive(Debug)]
struct Pending {
    request: Request,
    keep_alive: bool,
    framing: Framing,
    body: Vec<u8>,
    expect_continue: bool,
}

#[derive(Debug)]
enum State {
    Head,
    Body(Box<Pending>),
}

/// Parser state between reads on one connection.
#[derive(Debug)]
pub(crate) struct Parser {
    limits: Limits,
    buf: Vec<u8>,
    /// Bytes of `buf` already searched for the end of the head.
    scanned: usize,
    /// Start of the head line being scanned.
    line_start: usize,
    state: State,
}

impl Parser {
    pub(crate) fn new(limits: Limits) -> Parser {
        Parser {
            limits,
            buf: Vec::new(),
            scanned: 0,
            line_start: 0,
            state: State::Head,
        }
    }

    /// Appends bytes read from the connection.
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Whether no part of a request is buffered (a clean point to close).
    pub(crate) fn is_idle(&self) -> bool {
        matches!(self.state, State::Head) && self.buf.is_empty()
    }

    /// Whether the head of the current request is still incomplete.
    pub(crate) fn in_head(&self) -> bool {
        matches!(self.state, State::Head)
    }

    /// True once, when the client asked `Expect: 100-continue` and waits for the
    /// interim response before sending the body.
    pub(crate) fn take_expect_continue(&mut self) -> bool {
        match &mut self.state {
            State::Body(p) if p.expect_continue && p.body.is_empty() && self.buf.is_empty() => {
                p.expect_continue = false;
                true
            }
            _ => false,
        }
    }

    /// The next complete request, `None` if more bytes are needed.
    pub(crate) fn next_request(&mut self) -> Result<Option<Parsed>, HttpError> {
        if let State::Head = self.state {
            let Some(head_len) = self.find_head_end()? else {
                return Ok(None);
            };
            let pending = parse_head(&self.buf[..head_len], &self.limits)?;
            self.buf.drain(..head_len);
            self.scanned = 0;
            self.line_start = 0;
            self.state = State::Body(Box::new(pending));
        }
        let State::Body(pending) = &mut self.state else {
            return Ok(None);
        };
        let done = match &mut pending.framing {
            Framing::Length(remaining) => {
                let n = usize::try_from(*remaining)
                    .unwrap_or(usize::MAX)
                    .min(self.buf.len());
                pending.body.extend(self.buf.drain(..n));
                *remaining -= n as u64;
                *remaining == 0
            }
            Framing::Chunked(decoder) => {
                let used = decoder
                    .decode(&self.buf, &mut pending.body)
                    .map_err(|e| match e {
                        ChunkError::TooLarge => too_large(self.limits.body),
                        ChunkError::Malformed(reason) => HttpError::new(400, reason),
                    })?;
                self.buf.drain(..used);
                decoder.is_done()
            }
        };
        if !done {
            return Ok(None);
        }
        let State::Body(pending) = std::mem::replace(&mut self.state, State::Head) else {
            return Ok(None);
        };
        let Pending {
            request,
            keep_alive,
            body,
            ..
        } = *pending;
        Ok(Some(Parsed {
            request: request.with_body(body),
            keep_alive,
        }))
    }

    /// Length of the head including its blank line, once it has arrived.
    fn find_head_end(&mut self) -> Result<Option<usize>, HttpError> {
        if self.scanned == 0 {
            // RFC 9112 §2.2: ignore empty lines before the request line.
            let skip = self
                .buf
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n'))
                .count();
            self.buf.drain(..skip);
        }
        while let Some(offset) = self.buf[self.scanned..].iter().position(|&b| b == b'\n') {
            let nl = self.scanned + offset;
            self.scanned = nl + 1;
            if self.line_start == 0 && nl > self.limits.request_line {
                return Err(HttpError::new(414, "request line too long"));
            }
            if nl + 1 > self.limits.head {
                return Err(head_too_large(self.limits.head));
            }
            let line = &self.buf[self.line_start..nl];
            if line.is_empty() || line == b"\r" {
                return Ok(Some(nl + 1));
            }
            self.line_start = nl + 1;
        }
        self.scanned = self.buf.len();
        if self.line_start == 0 && self.buf.len() > self.limits.request_line {
            return Err(HttpError::new(414, "request line too long"));
        }
        if self.buf.len() > self.limits.head {
            return Err(head_too_large(self.limits.head));
        }
        Ok(None)
    }
}

fn head_too_large(limit: usize) -> HttpError {
    HttpError::new(431, format!("request header fields exceed {limit} bytes"))
}

fn too_large(limit: u64) -> HttpError {
    HttpError::new(
        413,
        format!("request body exceeds the limit of {limit} bytes"),
    )
}

fn bad(message: impl Into<String>) -> HttpError {
    HttpError::new(400, message)
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Parses a complete head (request line, fields, blank line) into a request
/// waiting for its body.
fn parse_head(head: &[u8], limits: &Limits) -> Result<Pending, HttpError> {
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let request_line = lines.next().unwrap_or_default();
    let (method, target, http11) = parse_request_line(request_line)?;
    let mut headers = Headers::default();
    for line in lines.take_while(|l| !l.is_empty()) {
        if headers.len() == limits.headers {
            return Err(HttpError::new(
                431,
                format!("more than {} header fields", limits.headers),
            ));
        }
        let (name, value) = parse_field(line)?;
        headers.push(name, value);
    }
    let host_count = headers.get_all("host").count();
    if (http11 && host_count != 1) || host_count > 1 {
        return Err(bad("an HTTP/1.1 request needs exactly one Host header"));
    }
    let keep_alive = if http11 {
        !headers.has_token("connection", "close")
    } else {
        headers.has_token("connection", "keep-alive")
    };
    let framing = parse_framing(&headers, http11, limits)?;
    let expects_body = !matches!(framing, Framing::Length(0));
    let expect_continue = match headers.get("expect") {
        None => false,
        Some(v) if v.eq_ignore_ascii_case("100-continue") => http11 && expects_body,
        Some(v) => {
            return Err(HttpError::new(
                417,
                format!("unsupported expectation {v:?}"),
            ));
        }
    };
    let request = Request::from_parts(method, target, headers, Vec::new()).map_err(bad)?;
    let initial = match framing {
        Framing::Length(n) => usize::try_from(n).unwrap_or(usize::MAX).min(64 * 1024),
        Framing::Chunked(_) => 0,
    };
    Ok(Pending {
        request,
        keep_alive,
        framing,
        body: Vec::with_capacity(initial),
        expect_continue,
    })
}

/// `GET /path HTTP/1.1` → (method, target, is HTTP/1.1).
fn parse_request_line(line: &[u8]) -> Result<(Method, &str, bool), HttpError> {
    let parts: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    let [method, target, version] = parts[..] else {
        return Err(bad("malformed request line"));
    };
    if method.is_empty() || !method.iter().all(|&b| is_tchar(b)) {
        return Err(bad("malformed request line"));
    }
    let http11 = match version {
        b"HTTP/1.1" => true,
        b"HTTP/1.0" => false,
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            return Err(HttpError::new(
                505,
                "only HTTP/1.0 and HTTP/1.1 are supported",
            ));
        }
        _ => return Err(bad("malformed request line")),
    };
    let Some(method) = Method::from_bytes(method) else {
        let name = String::from_utf8_lossy(method);
        return Err(HttpError::new(
            501,
            format!("method {name} is not supported"),
        ));
    };
    let target = std::str::from_utf8(target).map_err(|_| bad("malformed request target"))?;
    Ok((method, target, http11))
}

/// `Name: value` → (name, value without surrounding whitespace).
fn parse_field(line: &[u8]) -> Result<(&str, String), HttpError> {
    if line.starts_with(b" ") || line.starts_with(b"\t") {
        return Err(bad("obsolete header line folding is not allowed"));
    }
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return Err(bad("header line without ':'"));
    };
    let name = &line[..colon];
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        return Err(bad("invalid header field name"));
    }
    let value = line[colon + 1..].trim_ascii();
    if value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(bad("control character in header field value"));
    }
    let name = std::str::from_utf8(name).map_err(|_| bad("invalid header field name"))?;
    Ok((name, String::from_utf8_lossy(value).into_owned()))
}

fn parse_framing(headers: &Headers, http11: bool, limits: &Limits) -> Result<Framing, HttpError> {
    let codings: Vec<&str> = headers
        .get_all("transfer-encoding")
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let has_length = headers.get("content-length").is_some();
    if !codings.is_empty() {
        if has_length {
            return Err(bad("both Transfer-Encoding and Content-Length"));
        }
        if !http11 {
            return Err(bad("Transfer-Encoding in an HTTP/1.0 request"));
        }
        return match codings[..] {
            [c] if c.eq_ignore_ascii_case("chunked") => {
                Ok(Framing::Chunked(ChunkedDecoder::new(limits.body)))
            }
            _ => Err(HttpError::new(
                501,
                format!(
                    "transfer coding {:?} is not supported; use chunked",
                    codings.join(", ")
                ),
            )),
        };
    }
    let mut length = None;
    for value in headers.get_all("content-length") {
        let valid =
            !value.is_empty() && value.len() <= 19 && value.bytes().all(|b| b.is_ascii_digit());
        let parsed = valid.then(|| value.parse::<u64>().ok()).flatten();
        let Some(n) = parsed else {
            return Err(bad(format!("invalid Content-Length {value:?}")));
        };
        if length.is_some_and(|l| l != n) {
            return Err(bad("conflicting Content-Length values"));
        }
        length = Some(n);
    }
    let length = length.unwrap_or(0);
    if length > limits.body {
        return Err(too_large(limits.body));
    }
    Ok(Framing::Length(length))
}

#[cfg(test)]
#[path = "parser_tests.rs"]
mod tests;
