//! Checkpoint storage on S3-compatible object storage (`s3://bucket/prefix`),
//! behind the `s3` cargo feature.
//!
//! A file system directory only helps recovery when every machine of a cluster
//! sees it; an object store is the usual shared storage of a cluster, so
//! checkpoints and savepoints written by one process can be restored by
//! another. The objects have the same names and contents as the files
//! [`FsStorage`](crate::storage::FsStorage) writes under its root: a checkpoint
//! copied between the two can be restored from either.
//!
//! [`object_store`] is asynchronous; the storage is called from plain threads
//! (the snapshot writer, the job master), so it owns a small single-threaded
//! tokio runtime and blocks on each call. A `PutObject` (or the completion of a
//! multipart upload, for large files) is atomic: a reader never sees half an
//! object, as the trait requires.

use crate::storage::{CheckpointStorage, S3Options, StorageError};
use futures::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path;
use object_store::{ObjectStore, PutPayload, WriteMultipart};
use std::fmt;
use tokio::runtime::Runtime;

/// Files larger than this are uploaded in parts.
const MULTIPART_THRESHOLD: usize = 32 * 1024 * 1024;
/// The size of one part of a multipart upload.
const PART_SIZE: usize = 16 * 1024 * 1024;

/// Files as objects under a prefix of an S3 bucket (or of any S3-compatible
/// store: MinIO, Ceph, …).
pub struct S3Storage {
    store: AmazonS3,
    runtime: Runtime,
    bucket: String,
    /// The key prefix, without a leading or trailing `/` (may be empty).
    prefix: String,
}

impl fmt::Debug for S3Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Storage")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl S3Storage {
    /// A storage at `url` (`s3://bucket/prefix`, `s3a://` is accepted too).
    ///
    /// Endpoint, credentials and region come from `options` where set, else
    /// from the standard `AWS_*` environment variables. A plain `http://`
    /// endpoint is allowed.
    pub fn new(url: &str, options: &S3Options) -> Result<Self, StorageError> {
        let fail = |message: String| StorageError {
            operation: "open",
            location: url.to_string(),
            message,
        };
        let (bucket, prefix) = parse_url(url).ok_or_else(|| {
            fail("not an S3 URL; expected `s3://bucket` or `s3://bucket/prefix`".to_string())
        })?;
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        if let Some(endpoint) = &options.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let Some(key) = &options.access_key {
            builder = builder.with_access_key_id(key);
        }
        if let Some(secret) = &options.secret_key {
            builder = builder.with_secret_access_key(secret);
        }
        if let Some(region) = &options.region {
            builder = builder.with_region(region);
        }
        if let Some(path_style) = options.path_style_access {
            builder = builder.with_virtual_hosted_style_request(!path_style);
        }
        if builder
            .get_config_value(&AmazonS3ConfigKey::Endpoint)
            .is_some_and(|e| e.starts_with("http://"))
        {
            builder = builder.with_allow_http(true);
        }
        let store = builder.build().map_err(|e| fail(e.to_string()))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| fail(format!("cannot start the I/O runtime: {e}")))?;
        Ok(S3Storage {
            store,
            runtime,
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The key prefix (without a leading or trailing `/`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn key(&self, path: &str) -> Path {
        let path = path.trim_matches('/');
        match (self.prefix.is_empty(), path.is_empty()) {
            (true, _) => Path::from(path),
            (false, true) => Path::from(self.prefix.as_str()),
            (false, false) => Path::from(format!("{}/{path}", self.prefix)),
        }
    }

    fn error(&self, operation: &'static str, path: &str, e: object_store::Error) -> StorageError {
        let message = match e {
            object_store::Error::NotFound { .. } => "no such file".to_string(),
            e => e.to_string(),
        };
        StorageError {
            operation,
            location: self.location(path),
            message,
        }
    }

    async fn put(&self, key: &Path, bytes: &[u8]) -> object_store::Result<()> {
        if bytes.len() <= MULTIPART_THRESHOLD {
            self.store
                .put(key, PutPayload::from(bytes.to_vec()))
                .await
                .map(drop)
        } else {
            let upload = self.store.put_multipart(key).await?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
            for chunk in bytes.chunks(PART_SIZE) {
                writer.wait_for_capacity(2).await?;
                writer.write(chunk);
            }
            // An error aborts the upload: no object appears.
            writer.finish().await.map(drop)
        }
    }

    async fn delete_prefix(&self, prefix: &Path) -> object_store::Result<()> {
        let locations = self
            .store
            .list(Some(prefix))
            .map_ok(|meta| meta.location)
            .boxed();
        self.store
            .delete_stream(locations)
            .try_for_each(|_| async { Ok(()) })
            .await
    }
}

/// `s3://bucket/prefix` → (`bucket`, `prefix`), the prefix without slashes at
/// its ends.
fn parse_url(url: &str) -> Option<(&str, &str)> {
    let rest = url
        .strip_prefix("s3://")
        .or_else(|| url.strip_prefix("s3a://"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then(|| (bucket, prefix.trim_matches('/')))
}

impl CheckpointStorage for S3Storage {
    fn write(&self, path: &str, bytes: &[u8]) -> Result<(), StorageError> {
        let key = self.key(path);
        self.runtime
            .block_on(self.put(&key, bytes))
            .map_err(|e| self.error("write", path, e))
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, StorageError> {
        let key = self.key(path);
        self.runtime
            .block_on(async { self.store.get(&key).await?.bytes().await })
            .map(|b| b.to_vec())
            .map_err(|e| self.error("read", path, e))
    }

    fn exists(&self, path: &str) -> Result<bool, StorageError> {
        let key = self.key(path);
        match self.runtime.block_on(self.store.head(&key)) {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.error("stat", path, e)),
        }
    }

    fn delete_dir(&self, dir: &str) -> Result<(), StorageError> {
        let key = self.key(dir);
        self.runtime
            .block_on(self.delete_prefix(&key))
            .map_err(|e| self.error("delete", dir, e))
    }

    fn delete(&self, path: &str) -> Result<(), StorageError> {
        let key = self.key(path);
        match self.runtime.block_on(self.store.delete(&key)) {
            Err(e) if !matches!(e, object_store::Error::NotFound { .. }) => {
                Err(self.error("delete", path, e))
            }
            _ => Ok(()),
        }
    }

    fn list(&self, dir: &str) -> Result<Vec<String>, StorageError> {
        let key = self.key(dir);
        let prefix = (!key.as_ref().is_empty()).then_some(&key);
        let listed = self
            .runtime
            .block_on(self.store.list_with_delimiter(prefix))
            .map_err(|e| self.error("list", dir, e))?;
        let mut names: Vec<String> = listed
            .common_prefixes
            .iter()
            .chain(listed.objects.iter().map(|o| &o.location))
            .filter_map(|p| p.filename().map(str::to_string))
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn location(&self, path: &str) -> String {
        let key = self.key(path);
        if key.as_ref().is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{key}", self.bucket)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_bucket_and_a_prefix() {
        assert_eq!(parse_url("s3://b/p/q/"), Some(("b", "p/q")));
        assert_eq!(parse_url("s3a://b"), Some(("b", "")));
        assert_eq!(parse_url("s3://"), None);
        assert_eq!(parse_url("/tmp/x"), None);
    }

    #[test]
    fn locations_are_s3_urls() {
        let options = S3Options {
            endpoint: Some("http://127.0.0.1:1".to_string()),
            access_key: Some("a".to_string()),
            secret_key: Some("s".to_string()),
            region: Some("us-east-1".to_string()),
            path_style_access: Some(true),
        };
        let s = S3Storage::new("s3://bucket/runs/", &options).unwrap();
        assert_eq!(
            s.location("job/chk-1/_metadata"),
            "s3://bucket/runs/job/chk-1/_metadata"
        );
        assert_eq!(s.location(""), "s3://bucket/runs");
        let s = S3Storage::new("s3://bucket", &options).unwrap();
        assert_eq!(s.location("a"), "s3://bucket/a");
        assert!(S3Storage::new("s3:///x", &options).is_err());
    }
}
