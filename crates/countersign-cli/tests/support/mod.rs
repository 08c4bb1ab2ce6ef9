//! Shared helpers for the tests that run the built binary as a server.
#![allow(dead_code, reason = "each test binary uses a subset")]
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use countersign_test_support::{Call as _, Read as _};
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Administrator credentials of every test installation.
pub const ADMIN: &str = "admin@example.com";
/// Administrator password.
pub const ADMIN_PASSWORD: &str = "hygiene-admin-password-1";

/// The binary with a clean environment, the test administrator and `database_url`.
pub fn countersign_on(database_url: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_countersign"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("COUNTERSIGN_DATABASE_URL", database_url)
        .env("COUNTERSIGN_ADMIN_EMAIL", ADMIN)
        .env("COUNTERSIGN_ADMIN_PASSWORD", ADMIN_PASSWORD);
    command
}

/// The binary with a clean environment and an SQLite database in `dir`.
pub fn countersign(dir: &Path) -> Command {
    let mut command = countersign_on(&format!("sqlite://{}", dir.join("cs.db").display()));
    command.current_dir(dir);
    command
}

/// A running server process, killed on drop.
pub struct Server {
    /// The child.
    pub child: Child,
    /// Base URL.
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `serve` on a free port with extra environment and waits until it is ready.
pub async fn start(dir: &Path, env: &[(&str, &str)], stderr: Stdio) -> Server {
    let mut command = countersign(dir);
    command.stdout(Stdio::null()).stderr(stderr);
    for (name, value) in env {
        command.env(name, value);
    }
    serve(command).await
}

/// Runs `command serve` on a free port and waits until `/readyz` answers 2xx (30 s at most).
pub async fn serve(mut command: Command) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    command.args(["serve", "--listen", &format!("127.0.0.1:{port}")]);
    let server = Server {
        child: command.spawn().unwrap(),
        base: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(response) = client.get(format!("{}/readyz", server.base)).send().await
            && response.status().is_success()
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("server did not become ready");
}

/// Sends SIGTERM and waits for the exit status.
pub fn terminate(server: &mut Server) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    server.child.wait().unwrap()
}

/// Sends SIGKILL and waits.
pub fn kill_hard(server: &mut Server) {
    let status = Command::new("kill")
        .args(["-KILL", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let _ = server.child.wait();
}

/// Signs the administrator in.
pub async fn admin_token(client: &reqwest::Client, base: &str) -> String {
    let body: Value = client
        .post(format!("{base}/admin/v1/login"))
        .json(&json!({"email": ADMIN, "password": ADMIN_PASSWORD}))
        .call()
        .await
        .value()
        .await;
    body["token"].as_str().unwrap().to_owned()
}
