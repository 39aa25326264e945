//! The server's settings: where it listens, who may call it, and every limit a
//! client can run into.

use crate::RestError;
use crate::pattern::Pattern;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

/// Settings of a [`RestServer`](crate::RestServer). Build with struct update syntax:
///
/// ```
/// use runnel_rest::RestConfig;
///
/// let config = RestConfig {
///     address: "127.0.0.1:0".parse().unwrap(),
///     bearer_token: Some("s3cret".into()),
///     ..RestConfig::default()
/// };
/// assert_eq!(config.workers, 4);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestConfig {
    /// Where to listen; `127.0.0.1:8081` like Flink's `rest.port`. Port 0 picks a
    /// free port (see [`RestServer::local_addr`](crate::RestServer::local_addr)).
    pub address: SocketAddr,
    /// Opt-in to listening on an address other hosts can reach (`0.0.0.0`, a LAN
    /// address). Without it, [`RestServer::bind`](crate::RestServer::bind) refuses
    /// such an address.
    pub allow_non_loopback: bool,
    /// When set, every request outside [`public_paths`](Self::public_paths) must
    /// carry `Authorization: Bearer <token>`, else it gets `401`.
    pub bearer_token: Option<String>,
    /// Paths served without a token: exact paths (`/config`), `:name` segments and a
    /// trailing `*` matching any rest (`/assets/*`). Only consulted when a token is set.
    pub public_paths: Vec<String>,
    /// Largest request body accepted (job binary uploads); larger is `413`, decided
    /// from `Content-Length` before reading the body.
    pub max_body_bytes: u64,
    /// Longest request line (`GET /path HTTP/1.1`); longer is `414`.
    pub max_request_line_bytes: usize,
    /// Largest request head (request line and all header lines); larger is `431`.
    pub max_header_bytes: usize,
    /// Most header fields in one request; more is `431`.
    pub max_headers: usize,
    /// How long a read may wait. Also the deadline for a whole request head to
    /// arrive and the idle time after which a keep-alive connection is closed.
    pub read_timeout: Duration,
    /// How long a write of a response may block on a client that does not read.
    pub write_timeout: Duration,
    /// Threads running handlers (a small fixed pool).
    pub workers: usize,
    /// Most connections open at once; further ones get `503` and are closed.
    pub max_connections: usize,
}

impl Default for RestConfig {
    fn default() -> Self {
        RestConfig {
            address: SocketAddr::from((Ipv4Addr::LOCALHOST, 8081)),
            allow_non_loopback: false,
            bearer_token: None,
            public_paths: ["/", "/index.html", "/favicon.ico", "/config", "/assets/*"]
                .map(String::from)
                .to_vec(),
            max_body_bytes: 512 * 1024 * 1024,
            max_request_line_bytes: 8 * 1024,
            max_header_bytes: 32 * 1024,
            max_headers: 100,
            read_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            workers: 4,
            max_connections: 128,
        }
    }
}

impl RestConfig {
    /// Checks every setting; returns the parsed public-path patterns.
    pub(crate) fn validate(&self) -> Result<Vec<Pattern>, RestError> {
        let invalid = |reason: String| Err(RestError::InvalidConfig { reason });
        if !self.allow_non_loopback && !self.address.ip().is_loopback() {
            return Err(RestError::NonLoopbackAddress {
                address: self.address,
            });
        }
        if self.workers == 0 {
            return invalid("`workers` must be at least 1".into());
        }
        if self.max_connections == 0 {
            return invalid("`max_connections` must be at least 1".into());
        }
        if self.read_timeout.is_zero() || self.write_timeout.is_zero() {
            return invalid("`read_timeout` and `write_timeout` must be positive".into());
        }
        if self.max_request_line_bytes == 0
            || self.max_header_bytes < self.max_request_line_bytes
            || self.max_headers == 0
        {
            return invalid(
                "`max_request_line_bytes` and `max_headers` must be positive and \
                 `max_header_bytes` at least `max_request_line_bytes`"
                    .into(),
            );
        }
        if let Some(token) = &self.bearer_token
            && (token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()))
        {
            return invalid("`bearer_token` must be non-empty visible ASCII without spaces".into());
        }
        self.public_paths
            .iter()
            .map(|p| {
                Pattern::parse(p).map_err(|reason| RestError::InvalidConfig {
                    reason: format!("public path {p:?}: {reason}"),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(address: &str) -> RestConfig {
        RestConfig {
            address: address.parse().unwrap(),
            ..RestConfig::default()
        }
    }

    #[test]
    fn default_is_loopback_8081_and_valid() {
        let c = RestConfig::default();
        assert_eq!(c.address.to_string(), "127.0.0.1:8081");
        assert_eq!(c.max_body_bytes, 512 << 20);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn non_loopback_needs_opt_in() {
        let err = config("0.0.0.0:8081").validate().unwrap_err();
        assert!(err.to_string().contains("0.0.0.0:8081"), "{err}");
        assert!(config("[::1]:0").validate().is_ok());
        let opted_in = RestConfig {
            allow_non_loopback: true,
            ..config("0.0.0.0:0")
        };
        assert!(opted_in.validate().is_ok());
    }

    #[test]
    fn rejects_unusable_values() {
        let bad = [
            RestConfig {
                workers: 0,
                ..RestConfig::default()
            },
            RestConfig {
                bearer_token: Some("has space".into()),
                ..RestConfig::default()
            },
            RestConfig {
                bearer_token: Some(String::new()),
                ..RestConfig::default()
            },
            RestConfig {
                public_paths: vec!["no-slash".into()],
                ..RestConfig::default()
            },
            RestConfig {
                read_timeout: Duration::ZERO,
                ..RestConfig::default()
            },
        ];
        for c in bad {
            assert!(
                matches!(c.validate(), Err(RestError::InvalidConfig { .. })),
                "{c:?}"
            );
        }
    }
}
