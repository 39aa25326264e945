//! Headless Chromium as a test tool: find it, load a page with virtual time
//! (so polling and fetches settle without real sleeps), dump the DOM or take a
//! screenshot, and never hang the test run.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Set to `1` to skip the browser tests (CI without a browser).
const SKIP_VAR: &str = "RUNNEL_SKIP_BROWSER_TESTS";
/// A Chromium binary to use instead of searching `PATH`.
const BINARY_VAR: &str = "RUNNEL_CHROMIUM";
/// Longest one browser run may take before it is killed.
const DEADLINE: Duration = Duration::from_secs(90);

/// The browser, or `None` (after saying so) when the browser tests are skipped.
///
/// # Panics
/// When no browser is found and the tests are not skipped: a missing browser
/// must not pass silently.
pub fn find() -> Option<PathBuf> {
    if std::env::var(SKIP_VAR).is_ok_and(|v| v == "1") {
        eprintln!("skipped: {SKIP_VAR}=1, the web UI was not rendered in a browser");
        return None;
    }
    if let Some(path) = std::env::var_os(BINARY_VAR) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "{BINARY_VAR}={} is not a file",
            path.display()
        );
        return Some(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = ["chromium", "chromium-browser"].iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    assert!(
        found.is_some(),
        "the web UI browser tests need headless Chromium: install it with \
         `apt-get install chromium` (Debian) or point {BINARY_VAR} at a Chromium \
         binary; set {SKIP_VAR}=1 to skip these tests"
    );
    found
}

/// Runs `browser` headless on `url` with `extra` flags; returns its stdout.
///
/// # Panics
/// If the browser cannot start, fails, or outlives [`DEADLINE`].
pub fn run(browser: &Path, name: &str, url: &str, extra: &[String]) -> String {
    // A profile per run: concurrent Chromiums must not share one.
    let profile = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("webui-chromium-{name}-{}", std::process::id()));
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--hide-scrollbars",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", browser.display()));
    // Drain both pipes on threads so a chatty browser never blocks on a full pipe.
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut out = String::new();
            let _ = pipe.read_to_string(&mut out);
            out
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("browser status") {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{} on {url} took longer than {DEADLINE:?}",
                browser.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        status.success(),
        "{} on {url} failed ({status}):\n{stderr}",
        browser.display()
    );
    stdout
}

/// The DOM of `url` after its scripts ran for five seconds of virtual time.
pub fn dump_dom(browser: &Path, name: &str, url: &str) -> String {
    run(browser, name, url, &["--dump-dom".to_owned()])
}
