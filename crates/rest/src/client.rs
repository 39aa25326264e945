//! A small blocking HTTP/1.1 client for tests and the CLI: one request per
//! connection (`Connection: close`), bodies framed by `Content-Length`.
//!
//! It reads responses framed by `Content-Length`, by `Transfer-Encoding: chunked`
//! or by the end of the connection, skips interim `1xx` responses, and refuses a
//! response head over 64 KiB or a body over 1 GiB. Connecting may take 10 s and
//! each read or write 60 s.

use crate::chunked::{ChunkError, ChunkedDecoder};
use crate::{Headers, Method, RestError};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const IO_TIMEOUT: Duration = Duration::from_secs(60);
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: u64 = 1 << 30;

/// Sends one request and returns the status, the header fields and the body.
///
/// `path` is sent as is (percent-encode it yourself) and may carry a query.
/// `body` is `(content type, bytes)`. `bearer` adds `Authorization: Bearer …`.
///
/// ```no_run
/// use runnel_rest::{Method, client};
///
/// let addr = "127.0.0.1:8081".parse().unwrap();
/// let (status, _headers, body) = client::request(addr, Method::Get, "/jobs/overview", None, None)?;
/// println!("{status}: {}", String::from_utf8_lossy(&body));
/// # Ok::<(), runnel_rest::RestError>(())
/// ```
pub fn request(
    addr: SocketAddr,
    method: Method,
    path: &str,
    body: Option<(&str, &[u8])>,
    bearer: Option<&str>,
) -> Result<(u16, Headers, Vec<u8>), RestError> {
    let message = encode(addr, method, path, body, bearer)?;
    let mut stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).map_err(|source| {
        RestError::Connect {
            address: addr,
            source,
        }
    })?;
    let io = |e: std::io::Error| RestError::io(format!("{method} {path} on {addr}"), e);
    stream.set_read_timeout(Some(IO_TIMEOUT)).map_err(io)?;
    stream.set_write_timeout(Some(IO_TIMEOUT)).map_err(io)?;
    stream.write_all(&message).map_err(io)?;
    Reader {
        stream,
        addr,
        buf: Vec::new(),
    }
    .response(method)
}

/// The request bytes, after checking that nothing can break the framing.
fn encode(
    addr: SocketAddr,
    method: Method,
    path: &str,
    body: Option<(&str, &[u8])>,
    bearer: Option<&str>,
) -> Result<Vec<u8>, RestError> {
    let invalid = |reason: String| Err(RestError::InvalidRequest { reason });
    if !path.starts_with('/') || !path.bytes().all(|b| b.is_ascii_graphic()) {
        return invalid(format!(
            "path {path:?} must start with '/' and be percent-encoded"
        ));
    }
    let clean = |v: &str| !v.chars().any(char::is_control);
    if !bearer.is_none_or(clean) || !body.is_none_or(|(ct, _)| clean(ct)) {
        return invalid("header values must not contain control characters".into());
    }
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Accept: application/json, */*\r\nUser-Agent: runnel-rest\r\n"
    );
    if let Some(token) = bearer {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    let bytes: &[u8] = match body {
        Some((content_type, bytes)) => {
            head.push_str(&format!("Content-Type: {content_type}\r\n"));
            bytes
        }
        None => &[],
    };
    if body.is_some() || matches!(method, Method::Post | Method::Put | Method::Patch) {
        head.push_str(&format!("Content-Length: {}\r\n", bytes.len()));
    }
    head.push_str("\r\n");
    let mut message = head.into_bytes();
    message.extend_from_slice(bytes);
    Ok(message)
}

/// Reads one response from a connection.
struct Reader {
    stream: TcpStream,
    addr: SocketAddr,
    buf: Vec<u8>,
}

impl Reader {
    fn invalid<T>(&self, reason: impl Into<String>) -> Result<T, RestError> {
        Err(RestError::InvalidResponse {
            address: self.addr,
            reason: reason.into(),
        })
    }

    /// Reads more bytes into `buf`; 0 at the end of the connection.
    fn fill(&mut self) -> Result<usize, RestError> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(n);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(RestError::io(
                        format!("reading the response from {}", self.addr),
                        e,
                    ));
                }
            }
        }
    }

    fn response(mut self, method: Method) -> Result<(u16, Headers, Vec<u8>), RestError> {
        let (status, headers) = loop {
            let (status, headers) = self.head()?;
            if status >= 200 {
                break (status, headers);
            }
        };
        if method == Method::Head || status == 204 || status == 304 {
            return Ok((status, headers, Vec::new()));
        }
        let chunked = headers.has_token("transfer-encoding", "chunked");
        let body = if chunked {
            self.chunked_body()?
        } else if let Some(length) = headers.get("content-length") {
            let Ok(length) = length.parse::<u64>() else {
                return self.invalid(format!("invalid Content-Length {length:?}"));
            };
            self.sized_body(length)?
        } else {
            self.sized_body(u64::MAX)?
        };
        Ok((status, headers, body))
    }

    /// Reads and removes one response head from `buf`.
    fn head(&mut self) -> Result<(u16, Headers), RestError> {
        let end = loop {
            if let Some(end) = head_end(&self.buf) {
                break end;
            }
            if self.buf.len() > MAX_HEAD {
                return self.invalid("response head too large");
            }
            if self.fill()? == 0 {
                return self.invalid("the connection closed before a complete response head");
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        self.buf.drain(..end);
        let mut lines = head.lines();
        let status_line = lines.next().unwrap_or_default();
        let mut parts = status_line.splitn(3, ' ');
        let status = match (parts.next(), parts.next()) {
            (Some(v), Some(code)) if v.starts_with("HTTP/1.") && code.len() == 3 => {
                code.parse::<u16>().ok()
            }
            _ => None,
        };
        let Some(status) = status.filter(|s| *s >= 100) else {
            return self.invalid(format!("malformed status line {status_line:?}"));
        };
        let mut headers = Headers::default();
        for line in lines.take_while(|l| !l.is_empty()) {
            let Some((name, value)) = line.split_once(':') else {
                return self.invalid(format!("malformed header line {line:?}"));
            };
            headers.push(name.trim(), value.trim());
        }
        Ok((status, headers))
    }

    /// A body of `length` bytes, or up to the end of the connection if `u64::MAX`.
    fn sized_body(&mut self, length: u64) -> Result<Vec<u8>, RestError> {
        let to_eof = length == u64::MAX;
        if !to_eof && length > MAX_BODY {
            return self.invalid(format!("response body of {length} bytes is too large"));
        }
        while (self.buf.len() as u64) < length {
            if self.buf.len() as u64 > MAX_BODY {
                return self.invalid("response body too large");
            }
            if self.fill()? == 0 {
                if to_eof {
                    break;
                }
                return self.invalid("the connection closed in the middle of the body");
            }
        }
        let keep = usize::try_from(length)
            .unwrap_or(usize::MAX)
            .min(self.buf.len());
        self.buf.truncate(keep);
        Ok(std::mem::take(&mut self.buf))
    }

    fn chunked_body(&mut self) -> Result<Vec<u8>, RestError> {
        let mut decoder = ChunkedDecoder::new(MAX_BODY);
        let mut body = Vec::new();
        loop {
            match decoder.decode(&self.buf, &mut body) {
                Ok(used) => drop(self.buf.drain(..used)),
                Err(ChunkError::TooLarge) => return self.invalid("response body too large"),
                Err(ChunkError::Malformed(reason)) => return self.invalid(reason),
            }
            if decoder.is_done() {
                return Ok(body);
            }
            if self.fill()? == 0 {
                return self.invalid("the connection closed in the middle of a chunked body");
            }
        }
    }
}

/// Length of the head including the blank line that ends it.
fn head_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Percent-encodes a query parameter's value (RFC 3986: unreserved characters
/// stay, every other byte of its UTF-8 becomes `%XX`).
pub fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> SocketAddr {
        "127.0.0.1:9".parse().unwrap()
    }

    #[test]
    fn encodes_a_request_with_body_and_token() {
        let bytes = encode(
            addr(),
            Method::Post,
            "/jobs?x=1",
            Some(("application/json", b"{}")),
            Some("t0k"),
        )
        .unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert!(
            text.starts_with("POST /jobs?x=1 HTTP/1.1\r\nHost: 127.0.0.1:9\r\n"),
            "{text}"
        );
        assert!(text.contains("Authorization: Bearer t0k\r\n"));
        assert!(text.contains("Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"));
        let get = String::from_utf8(encode(addr(), Method::Get, "/", None, None).unwrap()).unwrap();
        assert!(!get.contains("Content-Length"));
    }

    #[test]
    fn refuses_requests_that_would_break_framing() {
        assert!(encode(addr(), Method::Get, "/a b", None, None).is_err());
        assert!(encode(addr(), Method::Get, "jobs", None, None).is_err());
        assert!(encode(addr(), Method::Get, "/", None, Some("t\r\nX-Evil: 1")).is_err());
        assert!(encode(addr(), Method::Post, "/", Some(("a\nb", b"")), None).is_err());
    }

    #[test]
    fn finds_the_end_of_a_head() {
        assert_eq!(head_end(b"HTTP/1.1 200 OK\r\n\r\nbody"), Some(19));
        assert_eq!(head_end(b"HTTP/1.1 200 OK\n\nbody"), Some(17));
        assert_eq!(head_end(b"HTTP/1.1 200 OK\r\n"), None);
    }
}

#[cfg(test)]
mod encode_tests {
    use super::encode_query_value;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(encode_query_value("a b/c&d=é"), "a%20b%2Fc%26d%3D%C3%A9");
        assert_eq!(encode_query_value("Plain-1.x_~"), "Plain-1.x_~");
    }
}
