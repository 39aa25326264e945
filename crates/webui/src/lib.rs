//! The JobManager's web UI (M2): a few static files compiled into the binary.
//!
//! Why static and hand-written: the UI is a thin view over the REST API (M1,
//! described in `docs/rest-api.yaml`, in the JSON shapes of Apache Flink's API), so
//! it needs no server-side rendering, no build step and no framework. Vanilla
//! JavaScript and SVG, embedded with `include_bytes!`, make the UI work offline
//! and behind any firewall, ship with the exact binary that serves its API, and
//! leave nothing on disk to go missing or out of date.
//!
//! How it fits: the JobManager adds [`static_files`] to its
//! [`Router`](runnel_rest::Router) next to its API routes. Every file lives at
//! `/`, `/index.html` or under `/assets/`, which the REST server's default
//! [`public_paths`](runnel_rest::RestConfig::public_paths) serve without a bearer
//! token; the page then sends `Authorization: Bearer <token>` on API calls when
//! the user has given one (kept in `localStorage.runnelToken`). The page polls
//! the API every `refresh-interval` ms of `GET /config` and uses relative URLs,
//! so it also works behind a reverse proxy under a path prefix.
//!
//! This crate depends only on `runnel-rest`; the JobManager depends on it.
//!
//! ```
//! use runnel_rest::{Method, Request, Router};
//!
//! let router = Router::new().static_files(runnel_webui::static_files());
//! let page = router.handle(Request::new(Method::Get, "/").unwrap());
//! assert_eq!(page.status(), 200);
//! assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
//! ```

use runnel_rest::StaticFiles;

/// Every embedded file: the route it is served at and its bytes.
/// `/index.html` is also served at `/` (see [`StaticFiles::file`]).
const ASSETS: [(&str, &[u8]); 6] = [
    ("/index.html", include_bytes!("../assets/index.html")),
    ("/assets/app.js", include_bytes!("../assets/app.js")),
    ("/assets/graph.js", include_bytes!("../assets/graph.js")),
    ("/assets/style.css", include_bytes!("../assets/style.css")),
    (
        "/assets/favicon.svg",
        include_bytes!("../assets/favicon.svg"),
    ),
    // Browsers that ask for a favicon at the root before reading the page.
    ("/favicon.svg", include_bytes!("../assets/favicon.svg")),
];

/// The web UI's files, ready for [`Router::static_files`](runnel_rest::Router::static_files):
/// `/` and `/index.html`, `/assets/app.js`, `/assets/graph.js`,
/// `/assets/style.css`, `/assets/favicon.svg` and `/favicon.svg`.
///
/// Sent with `Cache-Control: no-cache`: the file names carry no content hash, so a
/// browser must revalidate to pick up a new JobManager's UI. The files are a few
/// tens of kilobytes, borrowed from the binary without copying.
pub fn static_files() -> StaticFiles {
    ASSETS
        .iter()
        .fold(StaticFiles::new(), |files, (path, bytes)| {
            files.file(path, *bytes)
        })
        .cache_control("no-cache")
}

#[cfg(test)]
mod tests;
