//! S3-compatible object storage (`s3.*`, Flink's keys): how checkpoints under
//! an `s3://bucket/prefix` directory reach the store.

use crate::values::parse_bool;
use std::fmt;

/// Endpoint, credentials and addressing of S3; an unset field falls back to
/// the standard `AWS_*` environment variables.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct S3Config {
    /// `s3.endpoint`: the service's URL (MinIO and other S3-compatible stores).
    pub endpoint: Option<String>,
    /// `s3.access-key`.
    pub access_key: Option<String>,
    /// `s3.secret-key`.
    pub secret_key: Option<String>,
    /// `s3.region`.
    pub region: Option<String>,
    /// `s3.path.style.access`: address the bucket in the path rather than in
    /// the host name.
    pub path_style_access: Option<bool>,
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("access_key", &self.access_key)
            .field(
                "secret_key",
                &self.secret_key.as_ref().map(|_| "<redacted>"),
            )
            .field("region", &self.region)
            .field("path_style_access", &self.path_style_access)
            .finish()
    }
}

/// Parses an `s3.*` key into `s3`; `None` if the key is not one of them,
/// `Some(Err(expected))` for a bad value.
pub(crate) fn parse(key: &str, v: &str, s3: &mut S3Config) -> Option<Result<(), &'static str>> {
    let text = || {
        let v = v.trim();
        (!v.is_empty())
            .then(|| v.to_string())
            .ok_or("a non-empty value")
    };
    let result = match key {
        "s3.endpoint" => text().map(|t| s3.endpoint = Some(t)),
        "s3.access-key" => text().map(|t| s3.access_key = Some(t)),
        "s3.secret-key" => text().map(|t| s3.secret_key = Some(t)),
        "s3.region" => text().map(|t| s3.region = Some(t)),
        "s3.path.style.access" => parse_bool(v)
            .ok_or("true or false")
            .map(|b| s3.path_style_access = Some(b)),
        _ => return None,
    };
    Some(result)
}

#[cfg(test)]
mod tests {
    use crate::Configuration;

    #[test]
    fn s3_keys_parse() {
        let c = Configuration::from_yaml_str(
            "execution.checkpointing.dir: s3://bucket/ckpt\n\
             s3.endpoint: http://127.0.0.1:9000\n\
             s3.access-key: minio\n\
             s3.secret-key: hunter2\n\
             s3.region: eu-west-1\n\
             s3.path.style.access: true\n",
            "test",
        )
        .unwrap();
        assert_eq!(
            c.checkpointing.dir.as_deref().and_then(|d| d.to_str()),
            Some("s3://bucket/ckpt")
        );
        assert_eq!(c.s3.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(c.s3.access_key.as_deref(), Some("minio"));
        assert_eq!(c.s3.secret_key.as_deref(), Some("hunter2"));
        assert_eq!(c.s3.region.as_deref(), Some("eu-west-1"));
        assert_eq!(c.s3.path_style_access, Some(true));
        assert!(
            !format!("{c:?}").contains("hunter2"),
            "the secret is not printed"
        );
        let err =
            Configuration::from_yaml_str("s3.path.style.access: maybe\n", "test").unwrap_err();
        assert!(err.to_string().contains("s3.path.style.access"), "{err}");
    }
}
