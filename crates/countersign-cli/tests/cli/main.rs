//! Runs the built `countersign` binary against a fresh SQLite file: `commands` (init, the
//! directory commands, header, token, serve), `operator` (databases never created by accident,
//! bootstrap, logs, configuration reference, backup and restore, upgrades, healthcheck) and
//! `serving` (doctor, file-descriptor exhaustion, TLS, complete lists).
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

fn countersign(dir: &tempfile::TempDir) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_countersign"));
    command
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "COUNTERSIGN_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("cs.db").display()),
        );
    command
}

fn run(dir: &tempfile::TempDir, args: &[&str]) -> String {
    let output = countersign(dir).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[path = "../support/mod.rs"]
mod support;

mod commands;
mod operator;
mod serving;

use std::path::Path;
use std::time::{Duration, Instant};

/// Runs a command expected to fail and returns its standard error.
fn fails(command: &mut Command) -> String {
    let output = command.output().unwrap();
    assert!(
        !output.status.success(),
        "expected a failure: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8(output.stderr).unwrap()
}

/// Starts `serve` with piped standard error and returns the lines it wrote up to and including
/// "countersign listening" (the rest is drained in the background).
fn serve_until_listening(mut command: Command) -> (std::process::Child, Vec<String>, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = command
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.contains("countersign listening");
        seen.push(line);
        if done {
            std::thread::spawn(move || lines.for_each(drop));
            return (child, seen, port);
        }
    }
    let status = child.wait().unwrap();
    panic!(
        "serve exited ({status}) before listening:\n{}",
        seen.join("\n")
    );
}
