//! Tests that need something outside the workspace (PostgreSQL, chromedriver, nginx, caddy, the
//! Python SDKs) never pass by doing nothing unseen: in CI they fail, elsewhere they say so on a
//! line of their own in the normal `cargo test` output.

use std::io::Write;

/// Whether this run is CI (`CI=true`, as `.ci/run` and most CI services set it).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true" || value == "1")
}

/// Reports that the calling test cannot run here because `need` is missing; the caller then
/// returns.
///
/// # Panics
/// In CI, always: a missing dependency there is a broken run, not a skip.
pub fn skip(need: &str) {
    let test = std::thread::current()
        .name()
        .filter(|name| *name != "main")
        .unwrap_or("a test")
        .to_owned();
    assert!(
        !in_ci(),
        "{test} cannot run: {need} (required when CI=true)"
    );
    // Straight to the process's standard error: the test harness captures `eprintln!` of
    // passing tests, and a skip must be visible.
    let line = format!("SKIPPED {test}: {need}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}
