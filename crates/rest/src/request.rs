//! A parsed HTTP request as handlers see it, and the pieces it is made of: the
//! [`Method`], case-insensitive [`Headers`] and the decoded request target.

use crate::RestError;
use serde::de::DeserializeOwned;
use std::fmt;

/// The request methods the server routes. Any other method is answered with `501`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`: served by the `GET` route without the body.
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
    /// `OPTIONS`
    Options,
}

impl Method {
    /// Every method, in the order `Allow` headers list them.
    pub const ALL: [Method; 7] = [
        Method::Get,
        Method::Head,
        Method::Post,
        Method::Put,
        Method::Patch,
        Method::Delete,
        Method::Options,
    ];

    /// The method's name as sent on the wire (`"GET"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
        }
    }

    /// The method named exactly (case-sensitively, as HTTP requires) by `name`.
    pub fn from_bytes(name: &[u8]) -> Option<Method> {
        Method::ALL
            .into_iter()
            .find(|m| m.as_str().as_bytes() == name)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Header fields in arrival order. Names are stored lower-cased, so lookups are
/// case-insensitive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    fields: Vec<(String, String)>,
}

impl Headers {
    /// Appends a field (the name is lower-cased).
    pub fn push(&mut self, name: &str, value: impl Into<String>) {
        self.fields.push((name.to_ascii_lowercase(), value.into()));
    }

    /// The first value of the field `name`, in any letter case.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of the field `name`, in arrival order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.fields
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the comma-separated field `name` lists `token` (case-insensitively),
    /// as in `Connection: keep-alive, Upgrade`.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.get_all(name)
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// All fields as `(lower-case name, value)`.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

/// An HTTP request: method, path (raw and as decoded segments), path parameters
/// (filled in by the router), query parameters, headers and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    method: Method,
    path: String,
    segments: Vec<String>,
    query: Vec<(String, String)>,
    params: Vec<(String, String)>,
    headers: Headers,
    body: Vec<u8>,
}

impl Request {
    /// A request for `target` (an origin-form path with an optional query, e.g.
    /// `/jobs/abc?mode=cancel`), without headers or body. The server builds requests
    /// from the wire; this constructor lets handlers be tested without sockets.
    ///
    /// ```
    /// use runnel_rest::{Method, Request};
    ///
    /// let req = Request::new(Method::Patch, "/jobs/a%20b?mode=cancel").unwrap();
    /// assert_eq!(req.path(), "/jobs/a%20b");
    /// assert_eq!(req.query("mode"), Some("cancel"));
    /// ```
    pub fn new(method: Method, target: &str) -> Result<Request, RestError> {
        let (path, segments, query) =
            parse_target(target).map_err(|reason| RestError::InvalidRequest { reason })?;
        Ok(Request {
            method,
            path,
            segments,
            query,
            params: Vec::new(),
            headers: Headers::default(),
            body: Vec::new(),
        })
    }

    /// Adds a header field.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Request {
        self.headers.push(name, value);
        self
    }

    /// Sets the body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// The request method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The path as sent (still percent-encoded), without the query.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The path's segments, percent-decoded (`/jobs/a%2Fb` is `["jobs", "a/b"]`).
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// The decoded value of the path parameter `name` (`:jobid` in the route).
    pub fn param(&self, name: &str) -> Option<&str> {
        find(&self.params, name)
    }

    /// All path parameters, in pattern order.
    pub fn params(&self) -> &[(String, String)] {
        &self.params
    }

    /// The first decoded value of the query parameter `name` (`?mode=cancel`).
    pub fn query(&self, name: &str) -> Option<&str> {
        find(&self.query, name)
    }

    /// All query parameters in order, decoded (`+` is a space).
    pub fn query_pairs(&self) -> &[(String, String)] {
        &self.query
    }

    /// The first value of header `name`, in any letter case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    /// All header fields.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The body (already de-chunked).
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body parsed as JSON. On failure the error names serde's reason with line
    /// and column, and converts into a `400` response:
    ///
    /// ```
    /// use runnel_rest::{Method, Request, Response};
    ///
    /// let req = Request::new(Method::Post, "/jobs").unwrap().with_body(r#"{"a": }"#);
    /// let err = req.json::<serde_json::Value>().unwrap_err();
    /// assert!(err.to_string().contains("line 1 column 7"), "{err}");
    /// assert_eq!(Response::from(err).status(), 400);
    /// ```
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, RestError> {
        serde_json::from_slice(&self.body).map_err(|e| RestError::MalformedJson {
            line: e.line(),
            column: e.column(),
            reason: e.to_string(),
        })
    }

    pub(crate) fn set_params(&mut self, params: Vec<(String, String)>) {
        self.params = params;
    }

    pub(crate) fn from_parts(
        method: Method,
        target: &str,
        headers: Headers,
        body: Vec<u8>,
    ) -> Result<Request, String> {
        let (path, segments, query) = parse_target(target)?;
        Ok(Request {
            method,
            path,
            segments,
            query,
            params: Vec::new(),
            headers,
            body,
        })
    }
}

fn find<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

type Target = (String, Vec<String>, Vec<(String, String)>);

/// Splits an origin-form target into the raw path, its decoded segments and the
/// decoded query. `.`/`..` segments are refused: paths are matched literally and
/// never name files, so a dot segment can only be an attempt to confuse a prefix
/// check such as the bearer-token allow-list.
fn parse_target(target: &str) -> Result<Target, String> {
    if !target.starts_with('/') {
        return Err(format!("request target {target:?} is not an absolute path"));
    }
    if let Some(bad) = target.bytes().find(|b| !b.is_ascii_graphic() || *b == b'#') {
        return Err(format!(
            "request target contains the invalid byte 0x{bad:02x}"
        ));
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let trimmed = path[1..].strip_suffix('/').unwrap_or(&path[1..]);
    let mut segments = Vec::new();
    if !trimmed.is_empty() {
        for raw in trimmed.split('/') {
            let segment = percent_decode(raw, false)?;
            if segment == "." || segment == ".." {
                return Err("dot segments ('.', '..') are not allowed in paths".into());
            }
            segments.push(segment);
        }
    }
    let mut pairs = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        pairs.push((percent_decode(name, true)?, percent_decode(value, true)?));
    }
    Ok((path.to_owned(), segments, pairs))
}

/// Decodes `%XX` escapes (and `+` as a space in queries); the result must be UTF-8.
fn percent_decode(raw: &str, plus_is_space: bool) -> Result<String, String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|h| {
                    let h = std::str::from_utf8(h).ok()?;
                    u8::from_str_radix(h, 16).ok()
                });
                let Some(byte) = hex else {
                    return Err(format!("invalid percent-encoding in {raw:?}"));
                };
                out.push(byte);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| format!("{raw:?} does not decode to UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_is_split_and_decoded() {
        let req = Request::new(Method::Get, "/jobs/a%2Fb/x%20y/?q=1+2&flag&e=%C3%A9").unwrap();
        assert_eq!(req.path(), "/jobs/a%2Fb/x%20y/");
        assert_eq!(req.segments(), ["jobs", "a/b", "x y"]);
        assert_eq!(req.query("q"), Some("1 2"));
        assert_eq!(req.query("flag"), Some(""));
        assert_eq!(req.query("e"), Some("é"));
        assert_eq!(req.query("missing"), None);
        assert!(
            Request::new(Method::Get, "/")
                .unwrap()
                .segments()
                .is_empty()
        );
    }

    #[test]
    fn bad_targets_are_refused() {
        for bad in [
            "jobs", "/a%2", "/a%zz", "/%ff", "/a/../b", "/./x", "/a b", "/a#frag",
        ] {
            assert!(Request::new(Method::Get, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn headers_are_case_insensitive() {
        let req = Request::new(Method::Get, "/")
            .unwrap()
            .with_header("Content-Type", "application/json")
            .with_header("Connection", "Keep-Alive, Upgrade");
        assert_eq!(req.header("content-type"), Some("application/json"));
        assert_eq!(req.header("CONTENT-TYPE"), Some("application/json"));
        assert!(req.headers().has_token("connection", "keep-alive"));
        assert!(!req.headers().has_token("connection", "close"));
    }

    #[test]
    fn malformed_json_names_the_position() {
        let req = Request::new(Method::Post, "/")
            .unwrap()
            .with_body("{\n  \"a\": x\n}");
        match req.json::<serde_json::Value>() {
            Err(RestError::MalformedJson {
                line,
                column,
                reason,
            }) => {
                assert_eq!(line, 2);
                assert!(column > 0);
                assert!(reason.contains("line 2"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
}
