//! Static files for the web UI (M2): bytes compiled into the binary, served with a
//! content type chosen by extension and an optional `Cache-Control`.
//!
//! Files are registered as ordinary `GET` routes (see
//! [`Router::static_files`](crate::Router::static_files)), so unknown files are
//! `404` like any unknown path and nothing ever touches the file system.

use crate::Response;
use std::borrow::Cow;

/// A set of static files sharing one `Cache-Control` policy. Use two sets for the
/// usual split: `index.html` with `no-cache`, content-hashed assets `immutable`.
///
/// ```
/// use runnel_rest::{Router, StaticFiles};
///
/// let index = StaticFiles::new()
///     .file("/index.html", &b"<!doctype html><title>Runnel</title>"[..])
///     .cache_control("no-cache");
/// let assets = StaticFiles::new()
///     .file("/assets/app.3f9a.js", &b"console.log(1)"[..])
///     .cache_control("public, max-age=31536000, immutable");
/// let router = Router::new().static_files(index).static_files(assets);
/// # let _ = router;
/// ```
#[derive(Debug, Clone, Default)]
pub struct StaticFiles {
    files: Vec<(String, Cow<'static, [u8]>)>,
    cache_control: Option<String>,
}

impl StaticFiles {
    /// An empty set.
    pub fn new() -> StaticFiles {
        StaticFiles::default()
    }

    /// Adds a file served at `path` (starting with `/`). `/index.html` is also
    /// served at `/`. Borrowed bytes (`include_bytes!`) are served without copying;
    /// owned bytes are copied into each response.
    pub fn file(mut self, path: &str, bytes: impl Into<Cow<'static, [u8]>>) -> StaticFiles {
        self.files.push((path.to_owned(), bytes.into()));
        self
    }

    /// The `Cache-Control` value sent with every file of this set.
    pub fn cache_control(mut self, value: &str) -> StaticFiles {
        self.cache_control = Some(value.to_owned());
        self
    }

    /// The route paths and the response each serves.
    pub(crate) fn into_routes(self) -> Vec<(String, Response)> {
        let mut routes = Vec::with_capacity(self.files.len() + 1);
        for (path, bytes) in self.files {
            let mut response = Response::new(200)
                .with_header("Content-Type", content_type_for(&path))
                .with_body(bytes);
            if let Some(cache) = &self.cache_control {
                response = response.with_header("Cache-Control", cache);
            }
            if path == "/index.html" {
                routes.push(("/".to_owned(), response.clone()));
            }
            routes.push((path, response));
        }
        routes
    }
}

/// The `Content-Type` for a file name, by extension (case-insensitive);
/// `application/octet-stream` when unknown.
///
/// ```
/// assert_eq!(runnel_rest::content_type_for("/assets/app.JS"), "text/javascript; charset=utf-8");
/// ```
pub fn content_type_for(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    let Some((_, ext)) = name.rsplit_once('.') else {
        return "application/octet-stream";
    };
    match ext.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" | "map" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "wasm" => "application/wasm",
        "xml" => "application/xml",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_by_extension() {
        let table = [
            ("/index.html", "text/html; charset=utf-8"),
            ("/a/b.CSS", "text/css; charset=utf-8"),
            ("/x.woff2", "font/woff2"),
            ("/favicon.ico", "image/x-icon"),
            ("/no-extension", "application/octet-stream"),
            ("/dir.js/file", "application/octet-stream"),
            ("/x.unknown", "application/octet-stream"),
        ];
        for (path, expected) in table {
            assert_eq!(content_type_for(path), expected, "{path}");
        }
    }

    #[test]
    fn index_is_also_served_at_root_with_cache_control() {
        let routes = StaticFiles::new()
            .file("/index.html", &b"<html>"[..])
            .file("/app.js", b"js".to_vec())
            .cache_control("no-cache")
            .into_routes();
        let paths: Vec<&str> = routes.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, ["/", "/index.html", "/app.js"]);
        let (_, js) = &routes[2];
        assert_eq!(js.header("cache-control"), Some("no-cache"));
        assert_eq!(
            js.header("content-type"),
            Some("text/javascript; charset=utf-8")
        );
        assert_eq!(js.body(), b"js");
    }
}
