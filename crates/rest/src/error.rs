//! The crate's error type.

use std::io;
use std::net::SocketAddr;
use thiserror::Error;

/// A failure of the REST server, its client, or a request a handler could not use.
///
/// Whose fault: [`NonLoopbackAddress`](Self::NonLoopbackAddress) and
/// [`InvalidConfig`](Self::InvalidConfig) are the operator's (fix the config);
/// [`MalformedJson`](Self::MalformedJson) is the HTTP client's (a `400`);
/// [`Bind`](Self::Bind), [`Connect`](Self::Connect) and [`Io`](Self::Io) are the
/// environment's (a retry may help); [`InvalidResponse`](Self::InvalidResponse) is
/// the server's at the other end.
#[derive(Debug, Error)]
pub enum RestError {
    /// The listening socket could not be bound (port in use, no permission).
    #[error("cannot bind the REST server to {address}: {source}")]
    Bind {
        /// The configured address.
        address: SocketAddr,
        /// The operating system's reason.
        source: io::Error,
    },
    /// The configured address is reachable from other hosts and
    /// `allow_non_loopback` was not set.
    #[error(
        "refusing to bind the REST server to non-loopback address {address}: it would be \
         reachable from the network; set `allow_non_loopback` (and a bearer token) to opt in"
    )]
    NonLoopbackAddress {
        /// The configured address.
        address: SocketAddr,
    },
    /// A configuration value is unusable (zero workers, an empty token, a bad path
    /// pattern, …).
    #[error("invalid REST server configuration: {reason}")]
    InvalidConfig {
        /// What is wrong, naming the setting.
        reason: String,
    },
    /// A request body is not the JSON the handler expected; answered with `400`.
    #[error("malformed JSON in request body: {reason}")]
    MalformedJson {
        /// Line of the error in the body (1-based; 0 if unknown).
        line: usize,
        /// Column of the error in that line (1-based; 0 if unknown).
        column: usize,
        /// serde's message, which includes the position.
        reason: String,
    },
    /// A request could not be built (client side: a path with spaces, a header
    /// value with a line break; or a target that is not an origin-form path).
    #[error("invalid request: {reason}")]
    InvalidRequest {
        /// What is wrong.
        reason: String,
    },
    /// The client could not connect to the server.
    #[error("cannot connect to {address}: {source}")]
    Connect {
        /// The server's address.
        address: SocketAddr,
        /// The operating system's reason.
        source: io::Error,
    },
    /// The server's answer is not a valid HTTP/1.1 response.
    #[error("invalid HTTP response from {address}: {reason}")]
    InvalidResponse {
        /// The server's address.
        address: SocketAddr,
        /// What is wrong.
        reason: String,
    },
    /// Reading, writing or spawning a thread failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The operating system's reason.
        source: io::Error,
    },
}

impl RestError {
    /// The HTTP status this error maps to when a handler turns it into a
    /// [`Response`](crate::Response): `400` for the client's faults, `500` otherwise.
    pub fn status(&self) -> u16 {
        match self {
            RestError::MalformedJson { .. } | RestError::InvalidRequest { .. } => 400,
            _ => 500,
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        RestError::Io {
            context: context.into(),
            source,
        }
    }
}
