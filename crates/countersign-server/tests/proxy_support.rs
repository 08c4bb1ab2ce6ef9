//! What the real-proxy suites (nginx, Caddy) share: finding (or, as root, installing with
//! apt-get) the proxy's Debian package, a free port, a scratch directory, and reading the
//! identity headers the echoing API received.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The binary `name`, on `PATH` or at `fallback`.
pub fn find_binary(name: &str, fallback: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .chain([PathBuf::from(fallback)])
        .find(|candidate| candidate.is_file())
}

/// Whether the tests run as root (the proxy then drops to an unprivileged user).
pub fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// The binary `name` (on `PATH` or at `fallback`), installing Debian's `package` with apt-get
/// when it is missing and the tests run as root.
pub fn find_or_install(name: &str, fallback: &str, package: &str) -> Option<PathBuf> {
    if let Some(found) = find_binary(name, fallback) {
        return Some(found);
    }
    if !running_as_root() {
        return None;
    }
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    if !(apt(&["update", "-qq"]) && apt(&["install", "-y", "-qq", package])) {
        return None;
    }
    find_binary(name, fallback)
}

/// A port that was free a moment ago (the proxy binds it itself; a lost race is retried).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A directory of its own under the system's temporary directory, removed on drop.
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// A new, empty directory named after `prefix`, the process and a counter.
    pub fn new(prefix: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "{prefix}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The single value of an identity header the API received.
pub fn seen_header<'a>(echo: &'a Value, name: &str) -> &'a str {
    let values = echo["headers"][name]
        .as_array()
        .unwrap_or_else(|| panic!("the API did not receive {name}: {echo}"));
    assert_eq!(values.len(), 1, "{name} sent once: {echo}");
    values[0].as_str().unwrap()
}
