//! Maps `METHOD /path` to handlers.
//!
//! Among the routes whose pattern matches a path and whose method matches the
//! request, the most specific pattern wins (`/jobs/overview` beats `/jobs/:jobid`,
//! as Flink's API needs); on a tie the first registered. No pattern matches: `404`.
//! Patterns match but none has the method: `405` with `Allow`. `HEAD` falls back to
//! the `GET` route (the connection then omits the body). A handler that panics is
//! answered with `500` and the worker thread carries on.

use crate::pattern::Pattern;
use crate::{Method, Request, Response, StaticFiles};
use std::any::Any;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync + 'static>;

#[derive(Clone)]
struct Route {
    method: Method,
    pattern: Pattern,
    handler: Handler,
}

/// The routing table, built once and shared by the server's workers.
///
/// ```
/// use runnel_rest::{Method, Request, Response, Router};
///
/// let router = Router::new()
///     .get("/jobs/overview", |_: &Request| Response::json(200, &serde_json::json!({"jobs": []})))
///     .get("/jobs/:jobid", |req: &Request| Response::text(200, req.param("jobid").unwrap_or("")));
/// let res = router.handle(Request::new(Method::Get, "/jobs/j42").unwrap());
/// assert_eq!(res.body(), b"j42");
/// let res = router.handle(Request::new(Method::Delete, "/jobs/j42").unwrap());
/// assert_eq!((res.status(), res.header("allow")), (405, Some("GET, HEAD")));
/// ```
#[derive(Clone, Default)]
pub struct Router {
    routes: Vec<Route>,
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(
                self.routes
                    .iter()
                    .map(|r| format!("{} {}", r.method, r.pattern.as_str())),
            )
            .finish()
    }
}

impl Router {
    /// An empty router: every path is `404`.
    pub fn new() -> Router {
        Router::default()
    }

    /// Adds a route. `pattern` is a path whose segments may be `:name` (one
    /// segment, available as [`Request::param`]) or, last, `*name` / `*` (the rest
    /// of the path).
    ///
    /// # Panics
    /// If the pattern is malformed, or a route with the same method and the same
    /// shape of pattern exists — both programming errors found at startup.
    pub fn route<F>(mut self, method: Method, pattern: &str, handler: F) -> Router
    where
        F: Fn(&Request) -> Response + Send + Sync + 'static,
    {
        let pattern = match Pattern::parse(pattern) {
            Ok(p) => p,
            Err(reason) => panic!("invalid route pattern {pattern:?}: {reason}"),
        };
        if let Some(dup) = self
            .routes
            .iter()
            .find(|r| r.method == method && r.pattern.same_shape(&pattern))
        {
            panic!(
                "route {method} {} conflicts with {method} {}",
                pattern.as_str(),
                dup.pattern.as_str()
            );
        }
        self.routes.push(Route {
            method,
            pattern,
            handler: Arc::new(handler),
        });
        self
    }

    /// Adds a `GET` route (also answering `HEAD`). See [`route`](Self::route).
    pub fn get<F>(self, pattern: &str, handler: F) -> Router
    where
        F: Fn(&Request) -> Response + Send + Sync + 'static,
    {
        self.route(Method::Get, pattern, handler)
    }

    /// Adds a `POST` route. See [`route`](Self::route).
    pub fn post<F>(self, pattern: &str, handler: F) -> Router
    where
        F: Fn(&Request) -> Response + Send + Sync + 'static,
    {
        self.route(Method::Post, pattern, handler)
    }

    /// Adds a `PUT` route. See [`route`](Self::route).
    pub fn put<F>(self, pattern: &str, handler: F) -> Router
    where
        F: Fn(&Request) -> Response + Send + Sync + 'static,
    {
        self.route(Method::Put, pattern, handler)
    }

    /// Adds a `PATCH` route (Flink cancels jobs with `PATCH /jobs/:jobid`). See
    /// [`route`](Self::route).
    pub fn patch<F>(self, pattern: &str, handler: F) -> Router
    where
        F: Fn(&Request) -> Response + Send + Sync + 'static,
    {
        self.route(Method::Patch, pattern, handler)
    }

    /// Adds a `DELETE` route. See [`route`](Self::route).
    pub fn delete<F>(self, pattern: &str, handler: F) -> Router
    where
        F: Fn(&Request) -> Response + Send + Sync + 'static,
    {
        self.route(Method::Delete, pattern, handler)
    }

    /// Adds a `GET` route for every file of `files`.
    ///
    /// # Panics
    /// As [`route`](Self::route), if a file path is not a valid literal path or is
    /// already routed.
    pub fn static_files(mut self, files: StaticFiles) -> Router {
        for (path, response) in files.into_routes() {
            self = self.get(&path, move |_: &Request| response.clone());
        }
        self
    }

    /// Answers `request`: the matching handler's response, or `404`/`405`, or
    /// `500` if the handler panicked.
    pub fn handle(&self, mut request: Request) -> Response {
        let method = request.method();
        let segments = request.segments();
        let found = self.best(method, segments).or_else(|| {
            (method == Method::Head)
                .then(|| self.best(Method::Get, segments))
                .flatten()
        });
        let Some((route, params)) = found else {
            return self.unrouted(&request);
        };
        request.set_params(params);
        match catch_unwind(AssertUnwindSafe(|| (route.handler)(&request))) {
            Ok(response) => response,
            Err(payload) => {
                let message = panic_message(payload.as_ref());
                log::error!(
                    "REST handler for {} {} panicked: {message}",
                    route.method,
                    route.pattern.as_str()
                );
                Response::error(
                    500,
                    format!(
                        "Internal server error: the handler for {} {} failed: {message}",
                        route.method,
                        route.pattern.as_str()
                    ),
                )
            }
        }
    }

    /// The most specific route for `method` matching `segments`, with its params.
    fn best(&self, method: Method, segments: &[String]) -> Option<(&Route, Vec<(String, String)>)> {
        let mut best: Option<(&Route, Vec<(String, String)>)> = None;
        for route in self.routes.iter().filter(|r| r.method == method) {
            let Some(params) = route.pattern.matches(segments) else {
                continue;
            };
            let better = best.as_ref().is_none_or(|(b, _)| {
                route.pattern.cmp_specificity(&b.pattern) == std::cmp::Ordering::Greater
            });
            if better {
                best = Some((route, params));
            }
        }
        best
    }

    fn unrouted(&self, request: &Request) -> Response {
        let mut allowed: Vec<Method> = Vec::new();
        for route in &self.routes {
            if route.pattern.matches(request.segments()).is_some() {
                allowed.push(route.method);
                if route.method == Method::Get {
                    allowed.push(Method::Head);
                }
            }
        }
        if allowed.is_empty() {
            return Response::error(404, format!("Not found: {}", request.path()));
        }
        let allow: Vec<&str> = Method::ALL
            .into_iter()
            .filter(|m| allowed.contains(m))
            .map(Method::as_str)
            .collect();
        let allow = allow.join(", ");
        Response::error(
            405,
            format!(
                "Method {} is not allowed on {}; allowed: {allow}",
                request.method(),
                request.path()
            ),
        )
        .with_header("Allow", &allow)
    }
}

/// The text of a panic payload (`panic!("...")` carries a `&str` or a `String`).
fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router() -> Router {
        Router::new()
            .get("/jobs/overview", |_: &Request| {
                Response::text(200, "overview")
            })
            .get("/jobs/:jobid", |r: &Request| {
                Response::text(200, format!("job {}", r.param("jobid").unwrap_or("?")))
            })
            .patch("/jobs/:jobid", |r: &Request| {
                Response::text(
                    202,
                    format!("{} {:?}", r.param("jobid").unwrap_or("?"), r.query("mode")),
                )
            })
            .get("/assets/*file", |r: &Request| {
                Response::text(200, r.param("file").unwrap_or(""))
            })
            .get("/boom", |_: &Request| panic!("kaboom"))
    }

    fn call(method: Method, target: &str) -> Response {
        router().handle(Request::new(method, target).unwrap())
    }

    fn body(r: &Response) -> String {
        String::from_utf8_lossy(r.body()).into_owned()
    }

    #[test]
    fn routes_by_specificity_with_params_and_query() {
        let table = [
            (Method::Get, "/jobs/overview", 200, "overview"),
            (Method::Get, "/jobs/j1", 200, "job j1"),
            (Method::Get, "/jobs/a%2Fb/", 200, "job a/b"),
            (Method::Head, "/jobs/j1", 200, "job j1"),
            (
                Method::Patch,
                "/jobs/j1?mode=cancel",
                202,
                "j1 Some(\"cancel\")",
            ),
            (Method::Patch, "/jobs/overview", 202, "overview None"),
            (Method::Get, "/assets/css/app.css", 200, "css/app.css"),
        ];
        for (method, target, status, expected) in table {
            let r = call(method, target);
            assert_eq!(
                (r.status(), body(&r).as_str()),
                (status, expected),
                "{method} {target}"
            );
        }
    }

    #[test]
    fn unknown_paths_are_404_and_wrong_methods_405() {
        let r = call(Method::Get, "/nope");
        assert_eq!(r.status(), 404);
        assert_eq!(body(&r), r#"{"errors":["Not found: /nope"]}"#);
        let r = call(Method::Post, "/jobs/j1");
        assert_eq!(r.status(), 405);
        assert_eq!(r.header("Allow"), Some("GET, HEAD, PATCH"));
        assert!(body(&r).contains("Method POST is not allowed on /jobs/j1"));
    }

    #[test]
    fn a_panicking_handler_is_a_500() {
        let r = call(Method::Get, "/boom");
        assert_eq!(r.status(), 500);
        assert!(
            body(&r).contains("GET /boom failed: kaboom"),
            "{}",
            body(&r)
        );
    }

    #[test]
    #[should_panic(expected = "conflicts with")]
    fn conflicting_routes_are_refused() {
        let _ = Router::new()
            .get("/jobs/:a", |_: &Request| Response::new(200))
            .get("/jobs/:b", |_: &Request| Response::new(200));
    }
}
