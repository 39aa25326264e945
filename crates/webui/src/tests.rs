//! The embedded files are served as a browser needs them and reach nothing
//! outside the JobManager.

use super::{ASSETS, static_files};
use runnel_rest::{Method, Request, Response, Router};

fn get(path: &str) -> Response {
    let router = Router::new().static_files(static_files());
    router.handle(Request::new(Method::Get, path).unwrap())
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("assets are UTF-8 text")
}

#[test]
fn every_asset_is_served_with_its_content_type() {
    let table = [
        ("/", "text/html; charset=utf-8", "index.html"),
        ("/index.html", "text/html; charset=utf-8", "index.html"),
        ("/assets/app.js", "text/javascript; charset=utf-8", "app.js"),
        (
            "/assets/graph.js",
            "text/javascript; charset=utf-8",
            "graph.js",
        ),
        ("/assets/style.css", "text/css; charset=utf-8", "style.css"),
        ("/assets/favicon.svg", "image/svg+xml", "favicon.svg"),
        ("/favicon.svg", "image/svg+xml", "favicon.svg"),
    ];
    for (path, content_type, file) in table {
        let r = get(path);
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.header("content-type"), Some(content_type), "{path}");
        assert_eq!(r.header("cache-control"), Some("no-cache"), "{path}");
        let expected = ASSETS
            .iter()
            .find(|(p, _)| p.ends_with(&format!("/{file}")))
            .map(|(_, bytes)| *bytes)
            .unwrap();
        assert_eq!(r.body(), expected, "{path}");
        assert!(!r.body().is_empty(), "{path}");
    }
    assert_eq!(get("/assets/nope.js").status(), 404);
}

#[test]
fn every_served_file_is_under_a_token_free_path() {
    // The REST server's default public paths; an asset elsewhere would need a
    // token the browser cannot send for <script> and <link> loads.
    for (path, _) in ASSETS {
        assert!(
            path == "/index.html" || path.starts_with("/assets/") || path == "/favicon.svg",
            "{path}"
        );
    }
}

/// The SVG namespace is an identifier every SVG file must declare, never fetched.
const SVG_NAMESPACE: &str = "http://www.w3.org/2000/svg";

#[test]
fn no_asset_names_a_remote_url() {
    for (path, bytes) in ASSETS {
        let body = text(bytes).replace(SVG_NAMESPACE, "");
        for scheme in ["http://", "https://", "//cdn", "@import"] {
            assert!(!body.contains(scheme), "{path} contains {scheme:?}");
        }
    }
}

/// The values of every `src="…"` and `href="…"` attribute in `html`.
fn referenced(html: &str) -> Vec<&str> {
    let mut refs = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for (at, _) in html.match_indices(attr) {
            let rest = &html[at + attr.len()..];
            refs.push(&rest[..rest.find('"').unwrap()]);
        }
    }
    refs
}

#[test]
fn index_references_only_embedded_local_assets() {
    let index = text(ASSETS[0].1);
    let refs = referenced(index);
    assert!(refs.contains(&"assets/app.js"), "{refs:?}");
    assert!(refs.contains(&"assets/style.css"), "{refs:?}");
    for r in refs {
        if r.starts_with('#') {
            continue; // in-page routes
        }
        assert!(!r.contains(':') && !r.starts_with('/'), "not relative: {r}");
        let served = get(&format!("/{r}"));
        assert_eq!(served.status(), 200, "index.html references {r}");
    }
}
