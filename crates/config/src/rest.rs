//! The REST API and web UI (`rest.*`, Flink's keys plus Runnel's
//! `rest.enabled` and `rest.bearer-token`).
//!
//! A job run embedded serves them only when asked (`rest.enabled: true`), on
//! loopback unless `rest.bind-address` names another address: binding
//! elsewhere is always an explicit choice.

use crate::values::parse_bool;
use std::fmt;

/// Where and how the REST API (and the web UI with it) is served.
#[derive(Clone, PartialEq, Eq)]
pub struct RestConfig {
    /// `rest.enabled`: serve the REST API and web UI while an embedded job runs
    /// (false).
    pub enabled: bool,
    /// `rest.bind-address`: the address to listen on (`127.0.0.1`).
    pub bind_address: String,
    /// `rest.port`: the port (8081; 0 picks a free one).
    pub port: u16,
    /// `rest.bearer-token`: when set, API calls need
    /// `Authorization: Bearer <token>`.
    pub bearer_token: Option<String>,
}

impl Default for RestConfig {
    fn default() -> Self {
        RestConfig {
            enabled: false,
            bind_address: "127.0.0.1".to_string(),
            port: 8081,
            bearer_token: None,
        }
    }
}

impl fmt::Debug for RestConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestConfig")
            .field("enabled", &self.enabled)
            .field("bind_address", &self.bind_address)
            .field("port", &self.port)
            .field(
                "bearer_token",
                &self.bearer_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl RestConfig {
    /// Whether the address is a loopback one (the default).
    pub fn is_loopback(&self) -> bool {
        matches!(
            self.bind_address.as_str(),
            "127.0.0.1" | "::1" | "localhost"
        )
    }
}

/// Parses a `rest.*` key into `rest`; `None` if the key is not one of them,
/// `Some(Err(expected))` for a bad value.
pub(crate) fn parse(key: &str, v: &str, rest: &mut RestConfig) -> Option<Result<(), &'static str>> {
    let v = v.trim();
    let result = match key {
        "rest.enabled" => parse_bool(v)
            .ok_or("true or false")
            .map(|b| rest.enabled = b),
        "rest.bind-address" | "rest.address" => {
            if v.is_empty() || v.contains(char::is_whitespace) {
                Err("an IP address or host name")
            } else {
                rest.bind_address = v.to_string();
                Ok(())
            }
        }
        "rest.port" => v
            .parse::<u16>()
            .map(|p| rest.port = p)
            .map_err(|_| "a port number from 0 to 65535"),
        "rest.bearer-token" => {
            if v.is_empty() {
                Err("a non-empty token")
            } else {
                rest.bearer_token = Some(v.to_string());
                Ok(())
            }
        }
        _ => return None,
    };
    Some(result)
}

#[cfg(test)]
mod tests {
    use crate::Configuration;

    #[test]
    fn rest_keys_parse_and_bad_values_name_the_line() {
        let c = Configuration::from_yaml_str(
            "rest.enabled: true\nrest.port: 0\nrest.bind-address: 0.0.0.0\nrest.bearer-token: s3cret\n",
            "test",
        )
        .unwrap();
        assert!(c.rest.enabled);
        assert_eq!(c.rest.port, 0);
        assert_eq!(c.rest.bind_address, "0.0.0.0");
        assert!(!c.rest.is_loopback());
        assert_eq!(c.rest.bearer_token.as_deref(), Some("s3cret"));
        assert!(!format!("{:?}", c.rest).contains("s3cret"));
        assert!(Configuration::default().rest.is_loopback());

        let err = Configuration::from_yaml_str("rest.port: 70000\n", "c.yaml").unwrap_err();
        assert!(err.to_string().contains("c.yaml:1"), "{err}");
        assert!(err.to_string().contains("a port number"), "{err}");
    }
}
