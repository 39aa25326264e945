//! Bearer-token access control (RFC 6750).
//!
//! With a token configured, every request whose path is not on the public
//! allow-list must carry `Authorization: Bearer <token>`; otherwise it is answered
//! `401` with `WWW-Authenticate: Bearer` before routing, so an unauthenticated
//! client cannot even learn which paths exist. The comparison takes time that
//! depends only on the length of the presented token, never on how much of it is
//! right.

use crate::pattern::Pattern;
use crate::{Request, Response};
use std::hint::black_box;

/// The realm named in challenges.
const REALM: &str = "runnel";

/// The server's access policy.
#[derive(Debug, Clone)]
pub(crate) struct BearerAuth {
    token: Option<Vec<u8>>,
    public: Vec<Pattern>,
}

impl BearerAuth {
    pub(crate) fn new(token: Option<&str>, public: Vec<Pattern>) -> BearerAuth {
        BearerAuth {
            token: token.map(|t| t.as_bytes().to_vec()),
            public,
        }
    }

    /// `Ok` if the request may proceed, else the `401` to send.
    pub(crate) fn check(&self, request: &Request) -> Result<(), Response> {
        let Some(token) = &self.token else {
            return Ok(());
        };
        if self
            .public
            .iter()
            .any(|p| p.matches(request.segments()).is_some())
        {
            return Ok(());
        }
        let Some(authorization) = request.header("authorization") else {
            return Err(challenge(
                None,
                "Unauthorized: this request needs a bearer token",
            ));
        };
        let presented = authorization
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, credentials)| credentials.trim());
        match presented {
            None => Err(challenge(
                Some("invalid_request"),
                "Unauthorized: use the Authorization scheme Bearer",
            )),
            Some(presented) if constant_time_eq(token, presented.as_bytes()) => Ok(()),
            Some(_) => Err(challenge(
                Some("invalid_token"),
                "Unauthorized: invalid bearer token",
            )),
        }
    }
}

fn challenge(error: Option<&str>, message: &str) -> Response {
    let value = match error {
        Some(e) => format!("Bearer realm=\"{REALM}\", error=\"{e}\""),
        None => format!("Bearer realm=\"{REALM}\""),
    };
    Response::error(401, message).with_header("WWW-Authenticate", &value)
}

/// Compares without an early exit: the loop runs over every presented byte and
/// folds all differences (and the length difference) into one value.
fn constant_time_eq(expected: &[u8], presented: &[u8]) -> bool {
    let mut diff = expected.len() ^ presented.len();
    for (i, &p) in presented.iter().enumerate() {
        let e = expected.get(i).copied().unwrap_or(0);
        diff |= usize::from(black_box(e ^ p));
    }
    black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Method;

    fn auth() -> BearerAuth {
        let public = ["/config", "/assets/*"]
            .map(|p| Pattern::parse(p).unwrap())
            .to_vec();
        BearerAuth::new(Some("s3cret"), public)
    }

    fn status(path: &str, authorization: Option<&str>) -> u16 {
        let mut req = Request::new(Method::Get, path).unwrap();
        if let Some(a) = authorization {
            req = req.with_header("Authorization", a);
        }
        match auth().check(&req) {
            Ok(()) => 200,
            Err(r) => {
                assert!(
                    r.header("www-authenticate")
                        .unwrap()
                        .starts_with("Bearer realm=")
                );
                r.status()
            }
        }
    }

    #[test]
    fn token_is_required_outside_the_allow_list() {
        let table = [
            ("/jobs", None, 401),
            ("/jobs", Some("Bearer s3cret"), 200),
            ("/jobs", Some("bearer  s3cret "), 200),
            ("/jobs", Some("Bearer s3cre"), 401),
            ("/jobs", Some("Bearer s3cret2"), 401),
            ("/jobs", Some("Basic czNjcmV0"), 401),
            ("/jobs", Some("s3cret"), 401),
            ("/config", None, 200),
            ("/assets/app.js", None, 200),
            ("/configx", None, 401),
        ];
        for (path, authorization, expected) in table {
            assert_eq!(
                status(path, authorization),
                expected,
                "{path} {authorization:?}"
            );
        }
    }

    #[test]
    fn without_a_token_everything_is_open() {
        let req = Request::new(Method::Delete, "/jobs/x").unwrap();
        assert!(BearerAuth::new(None, Vec::new()).check(&req).is_ok());
    }

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"x"));
    }
}
