//! Responses and how they go on the wire.
//!
//! The server owns message framing: it always writes `Content-Length` and
//! `Connection` itself, so handlers cannot produce an ambiguous response. Header
//! fields a handler sets with those names (or `Transfer-Encoding`) are dropped; a
//! status outside 200–599 is sent as `500`.

use crate::RestError;
use serde::Serialize;
use std::borrow::Cow;
use std::io::{self, Write};

/// `Content-Type` of JSON responses.
const JSON: &str = "application/json; charset=utf-8";

/// An HTTP response: status, header fields and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Cow<'static, [u8]>,
}

impl Response {
    /// A response with no body and no header fields.
    pub fn new(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Cow::Borrowed(&[]),
        }
    }

    /// `value` serialized as JSON. If serialization fails (a map with non-string
    /// keys, a failing `Serialize` impl) the response is a `500` naming the reason.
    ///
    /// ```
    /// use runnel_rest::Response;
    ///
    /// let r = Response::json(200, &serde_json::json!({"jobs": []}));
    /// assert_eq!(r.body(), br#"{"jobs":[]}"#);
    /// assert_eq!(r.header("content-type"), Some("application/json; charset=utf-8"));
    /// ```
    pub fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Response {
        match serde_json::to_vec(value) {
            Ok(body) => Response::bytes(status, JSON, body),
            Err(e) => Response::error(500, format!("cannot serialize the response: {e}")),
        }
    }

    /// Flink's REST error shape: `{"errors": ["<message>"]}`.
    ///
    /// ```
    /// use runnel_rest::Response;
    ///
    /// let r = Response::error(404, "Job abc not found.");
    /// assert_eq!(r.body(), br#"{"errors":["Job abc not found."]}"#);
    /// ```
    pub fn error(status: u16, message: impl Into<String>) -> Response {
        #[derive(Serialize)]
        struct Errors {
            errors: [String; 1],
        }
        let body = Errors {
            errors: [message.into()],
        };
        // Serializing a struct of strings cannot fail.
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        Response::bytes(status, JSON, bytes)
    }

    /// A body of any content type (a Prometheus scrape is
    /// `text/plain; version=0.0.4`).
    pub fn bytes(status: u16, content_type: &str, body: Vec<u8>) -> Response {
        Response::new(status)
            .with_header("Content-Type", content_type)
            .with_body(body)
    }

    /// A `text/plain; charset=utf-8` body.
    pub fn text(status: u16, body: impl Into<String>) -> Response {
        Response::bytes(
            status,
            "text/plain; charset=utf-8",
            body.into().into_bytes(),
        )
    }

    /// A body borrowed from the binary (embedded web UI assets), without copying.
    pub fn static_bytes(status: u16, content_type: &str, body: &'static [u8]) -> Response {
        Response::new(status)
            .with_header("Content-Type", content_type)
            .with_body(body)
    }

    /// Replaces the body.
    pub fn with_body(mut self, body: impl Into<Cow<'static, [u8]>>) -> Response {
        self.body = body.into();
        self
    }

    /// Adds a header field, replacing an earlier one of the same name. A name that is
    /// not an HTTP token is ignored (logged); line breaks in the value become spaces,
    /// so a value can never inject a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
            log::warn!("ignoring response header with invalid name {name:?}");
            return self;
        }
        let value: String = value
            .chars()
            .map(|c| if c.is_control() && c != '\t' { ' ' } else { c })
            .collect();
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value));
        self
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The value of header `name`, in any letter case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All header fields as set.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Writes the response. `head_only` answers a `HEAD` request: the
    /// `Content-Length` of the body, but not the body.
    pub(crate) fn write_to(
        &self,
        out: &mut impl Write,
        keep_alive: bool,
        head_only: bool,
    ) -> io::Result<()> {
        let status = if (200..=599).contains(&self.status) {
            self.status
        } else {
            log::warn!("handler returned status {}; sending 500", self.status);
            500
        };
        let mut head = format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status));
        for (name, value) in &self.headers {
            let framing = ["content-length", "transfer-encoding", "connection"]
                .iter()
                .any(|f| name.eq_ignore_ascii_case(f));
            if !framing {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        // 204 and 304 have no body; a 304's length would describe the absent
        // representation, so it is omitted too.
        let has_body = status != 204 && status != 304;
        if has_body {
            head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        head.push_str(if keep_alive {
            "Connection: keep-alive\r\n\r\n"
        } else {
            "Connection: close\r\n\r\n"
        });
        let body: &[u8] = if has_body && !head_only {
            &self.body
        } else {
            &[]
        };
        if body.len() <= 16 * 1024 {
            let mut all = head.into_bytes();
            all.extend_from_slice(body);
            out.write_all(&all)?;
        } else {
            out.write_all(head.as_bytes())?;
            out.write_all(body)?;
        }
        out.flush()
    }
}

impl From<RestError> for Response {
    /// The error as Flink's error shape, with [`RestError::status`].
    fn from(e: RestError) -> Self {
        Response::error(e.status(), e.to_string())
    }
}

/// The standard reason phrase of a status code (empty when unknown).
pub(crate) fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        417 => "Expectation Failed",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(r: &Response, keep_alive: bool, head_only: bool) -> String {
        let mut out = Vec::new();
        r.write_to(&mut out, keep_alive, head_only).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn writes_status_headers_length_and_body() {
        let r = Response::text(200, "hi").with_header("Cache-Control", "no-store");
        assert_eq!(
            wire(&r, true, false),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Cache-Control: no-store\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nhi"
        );
        assert!(wire(&r, false, true).ends_with("Content-Length: 2\r\nConnection: close\r\n\r\n"));
    }

    #[test]
    fn framing_headers_from_handlers_are_dropped() {
        let r = Response::text(200, "abc")
            .with_header("Content-Length", "999")
            .with_header("Transfer-Encoding", "chunked")
            .with_header("X-Evil", "a\r\nSet-Cookie: x=1")
            .with_header("Bad Name", "v");
        let w = wire(&r, true, false);
        assert!(
            !w.contains("999") && !w.contains("chunked") && !w.contains("Bad Name"),
            "{w}"
        );
        assert!(w.contains("X-Evil: a  Set-Cookie: x=1\r\n"), "{w}");
    }

    #[test]
    fn odd_statuses_are_safe() {
        assert!(
            wire(&Response::new(204), true, false)
                .starts_with("HTTP/1.1 204 No Content\r\nConnection")
        );
        assert!(wire(&Response::new(101), true, false).starts_with("HTTP/1.1 500 "));
        assert!(wire(&Response::new(1000), true, false).starts_with("HTTP/1.1 500 "));
    }

    #[test]
    fn errors_use_flinks_shape() {
        let r = Response::from(RestError::InvalidRequest {
            reason: "no \"quotes\"".into(),
        });
        assert_eq!(r.status(), 400);
        let v: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(v["errors"][0], "invalid request: no \"quotes\"");
        let unserializable = std::collections::HashMap::from([((1, 2), 3)]);
        let r = Response::json(200, &unserializable);
        assert_eq!(r.status(), 500);
        assert!(String::from_utf8_lossy(r.body()).contains("key must be a string"));
    }
}
