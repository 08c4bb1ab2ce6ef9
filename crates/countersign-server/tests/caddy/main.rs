//! Forward auth behind a real Caddy: the sample `deploy/caddy/Caddyfile` with its addresses
//! substituted, in front of a small API that echoes the identity headers it receives. Caddy is
//! Debian's package (installed with apt-get when missing and running as root); without it the
//! tests fail in CI and elsewhere print a SKIPPED line.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

#[path = "../proxy_support.rs"]
mod proxy_support;

use countersign_test_support::{Call as _, Read as _};
use proxy_support::{ScratchDir, find_or_install, free_port, seen_header};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use countersign_core::legacy::{HeaderFormat, build_header};
use countersign_server::config::ServerConfig;
use countersign_test_support::{CreatedAccount, CreatedApiUser};
use countersign_test_support::{TestApp, spawn_app_with};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// The shipped sample; the tests run exactly this, with addresses substituted.
const SAMPLE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../deploy/caddy/Caddyfile"
));

const PASSWORD: &str = "legacy-service-password-1";
const USER_EMAIL: &str = "bob@api.example";
const API_USERNAME: &str = "erp-integration";

/// The caddy binary, installing Debian's package when it is missing and we may.
fn caddy_binary() -> Option<PathBuf> {
    static BINARY: OnceLock<Option<PathBuf>> = OnceLock::new();
    BINARY
        .get_or_init(|| find_or_install("caddy", "/usr/bin/caddy", "caddy"))
        .clone()
}

/// The sample with countersign, the API and the site address substituted, behind a global
/// block that keeps each test's Caddy to itself (no admin endpoint, no saved state, plain
/// HTTP). Each placeholder must occur exactly once, so a change to the sample cannot go
/// unnoticed.
fn caddyfile(countersign: &str, api: &str, port: u16) -> String {
    let mut config = SAMPLE.to_owned();
    for (from, to) in [
        (
            "forward_auth countersign:8080 {",
            format!("forward_auth {countersign} {{"),
        ),
        ("reverse_proxy api:3000", format!("reverse_proxy {api}")),
        ("api.example.com {", format!("http://127.0.0.1:{port} {{")),
    ] {
        assert_eq!(
            config.matches(from).count(),
            1,
            "sample must contain {from}"
        );
        config = config.replace(from, &to);
    }
    format!("{{\n\tadmin off\n\tauto_https off\n}}\n\n{config}")
}

/// Caddy as a child process, its storage and logs inside a scratch directory.
struct Caddy {
    child: Child,
    port: u16,
    // Removed after `Drop` has stopped Caddy.
    dir: ScratchDir,
}

impl Caddy {
    fn start(binary: &Path, countersign: &str, api: &str) -> Self {
        let dir = ScratchDir::new("countersign-caddy");
        let root = dir.path();
        let port = free_port();
        let config = root.join("Caddyfile");
        std::fs::write(&config, caddyfile(countersign, api, port)).unwrap();
        let log = std::fs::File::create(root.join("caddy.log")).unwrap();
        let child = Command::new(binary)
            .args(["run", "--adapter", "caddyfile", "--config"])
            .arg(&config)
            .env("HOME", root)
            .env("XDG_DATA_HOME", root.join("data"))
            .env("XDG_CONFIG_HOME", root.join("config"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        Self { child, port, dir }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("caddy.log")).unwrap_or_default()
    }

    /// Waits until Caddy answers HTTP; `false` if it exited (e.g. lost the port) or timed out.
    async fn ready(&mut self, client: &reqwest::Client) -> bool {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self.child.try_wait().unwrap().is_some() {
                return false;
            }
            let answer = client
                .get(format!("{}/healthcheck-of-the-test", self.base()))
                .timeout(Duration::from_secs(1))
                .send()
                .await;
            if answer.is_ok() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        false
    }
}

impl Drop for Caddy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How many requests reached the protected API.
#[derive(Clone, Default)]
struct Seen(Arc<AtomicUsize>);

/// The protected API: answers with the method, URI and every header naming countersign.
async fn echo(State(seen): State<Seen>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    seen.0.fetch_add(1, Ordering::SeqCst);
    let mut identity: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in &headers {
        if name.as_str().contains("countersign") {
            identity
                .entry(name.as_str().to_owned())
                .or_default()
                .push(value.to_str().unwrap_or("<binary>").to_owned());
        }
    }
    Json(json!({"method": method.as_str(), "uri": uri.to_string(), "headers": identity}))
        .into_response()
}

/// countersign, the API and Caddy in front of both, with a user who may use the main account.
struct Stack {
    app: TestApp,
    caddy: Caddy,
    api_calls: Seen,
    client: reqwest::Client,
    user: String,
    token: String,
}

async fn stack() -> Option<Stack> {
    stack_with(|_| {}).await
}

async fn stack_with(tweak: impl FnOnce(&mut ServerConfig)) -> Option<Stack> {
    let Some(binary) = caddy_binary() else {
        countersign_test_support::skip::skip(
            "caddy (Debian's package; installed automatically when running as root)",
        );
        return None;
    };
    let app = spawn_app_with(|config| {
        config.trust_forwarded_for = true;
        tweak(config);
    })
    .await;
    let user = app.create_user(USER_EMAIL, Some(PASSWORD)).await;
    app.put_membership(&user, &app.account_id, &["send"], true)
        .await;
    let CreatedApiUser { key, .. } = app
        .create_api_user(API_USERNAME, json!({"type": "organization"}))
        .await;
    let token = app.token(API_USERNAME, &key, USER_EMAIL).await;

    let api_calls = Seen::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = listener.local_addr().unwrap().to_string();
    let router = axum::Router::new()
        .fallback(echo)
        .with_state(api_calls.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });

    let countersign = app.base.trim_start_matches("http://").to_owned();
    let client = reqwest::Client::new();
    for _ in 0..3 {
        let mut caddy = Caddy::start(&binary, &countersign, &api);
        if caddy.ready(&client).await {
            return Some(Stack {
                app,
                caddy,
                api_calls,
                client,
                user,
                token,
            });
        }
        eprintln!("caddy did not start:\n{}", caddy.log());
    }
    panic!("caddy did not start three times");
}

impl Stack {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.caddy.base())
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path))
    }

    fn bearer(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .get(self.url(path))
            .header("Authorization", format!("bearer {}", self.token))
    }

    fn api_calls(&self) -> usize {
        self.api_calls.0.load(Ordering::SeqCst)
    }

    fn account_path(&self, account: &str) -> String {
        format!("/restapi/v2.1/accounts/{account}/envelopes")
    }

    /// countersign's own answer to `/v1/verify` for the same credentials and original URI.
    async fn direct_verify(&self, original_uri: &str, authorization: &str) -> (u16, Value) {
        let response = self
            .app
            .client
            .get(self.app.url("/v1/verify"))
            .header("Authorization", authorization)
            .header("X-Forwarded-Uri", original_uri)
            .call()
            .await;
        (response.status().as_u16(), response.value().await)
    }
}

/// Sends a request line exactly as written (HTTP clients normalise dot segments away).
fn raw_get(port: u16, target: &str, authorization: &str) -> u16 {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {authorization}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"))
}

#[tokio::test]
async fn valid_token_reaches_the_api_with_the_verified_identity() {
    let Some(s) = stack().await else { return };
    let response = s.bearer("/api/v1/envelopes?status=sent").call().await;
    assert_eq!(response.status(), 200, "{}", s.caddy.log());
    let echo: Value = response.value().await;
    assert_eq!(echo["uri"], "/api/v1/envelopes?status=sent");
    assert_eq!(
        seen_header(&echo, "x-countersign-organization"),
        s.app.organization_id
    );
    assert_eq!(
        seen_header(&echo, "x-countersign-environment"),
        s.app.environment_id
    );
    assert_eq!(
        seen_header(&echo, "x-countersign-account"),
        s.app.account_id
    );
    assert_eq!(seen_header(&echo, "x-countersign-user-id"), s.user);
    assert_eq!(seen_header(&echo, "x-countersign-user-email"), USER_EMAIL);
    assert_eq!(seen_header(&echo, "x-countersign-actor"), API_USERNAME);
    assert_eq!(
        seen_header(&echo, "x-countersign-auth-method"),
        "api_user_token"
    );
    let on_account_path = s.bearer(&s.account_path(&s.app.account_id)).call().await;
    assert_eq!(on_account_path.status(), 200);
}

#[tokio::test]
async fn identity_headers_sent_by_the_client_never_reach_the_api() {
    let Some(s) = stack().await else { return };
    let response = s
        .bearer("/api/v1/envelopes")
        .header("X-Countersign-User-Id", "spoofed")
        .header("x-countersign-user-id", "spoofed-again")
        .header("X-Countersign-Account", "spoofed")
        .header("X-Countersign-Anything-Else", "spoofed")
        .header("X_Countersign_Actor", "spoofed")
        .header("x_countersign_user_email", "spoofed")
        .call()
        .await;
    assert_eq!(response.status(), 200);
    let echo: Value = response.value().await;
    assert_eq!(seen_header(&echo, "x-countersign-user-id"), s.user);
    assert_eq!(
        seen_header(&echo, "x-countersign-account"),
        s.app.account_id
    );
    assert_eq!(seen_header(&echo, "x-countersign-actor"), API_USERNAME);
    assert!(
        !echo.to_string().contains("spoofed"),
        "no client value reached the API: {echo}"
    );

    let before = s.api_calls();
    let anonymous = s
        .get("/api/v1/envelopes")
        .header("X-Countersign-User-Id", s.user.as_str())
        .call()
        .await;
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        s.api_calls(),
        before,
        "an unverified request never reaches the API"
    );
}

#[tokio::test]
async fn original_uri_headers_sent_by_the_client_do_not_steer_the_account_check() {
    let Some(s) = stack().await else { return };
    let CreatedAccount { id: other, .. } = s
        .app
        .create_account(&s.app.environment_id, "Not Bob's")
        .await;
    let mine = s.account_path(&s.app.account_id);
    let theirs = s.account_path(&other);
    let before = s.api_calls();
    for header in ["X-Original-URI", "X-Forwarded-Uri", "X-Envoy-Original-Path"] {
        // Claiming one's own account while requesting another's: still refused.
        let response = s.bearer(&theirs).header(header, mine.as_str()).call().await;
        assert_eq!(response.status(), 403, "{header}");
        let body: Value = response.value().await;
        assert!(body["errorCode"].is_string(), "{body}");
        // And a client copy naming another account does not break one's own request either:
        // Caddy drops or overwrites it, so countersign never sees two readings.
        let response = s.bearer(&mine).header(header, theirs.as_str()).call().await;
        assert_eq!(response.status(), 200, "{header}");
    }
    assert_eq!(s.api_calls(), before + 3);
}

#[tokio::test]
async fn token_for_one_account_is_refused_on_another_accounts_path_with_countersigns_body() {
    let Some(s) = stack().await else { return };
    let CreatedAccount {
        id: other,
        number: other_number,
    } = s
        .app
        .create_account(&s.app.environment_id, "Not Bob's")
        .await;
    let before = s.api_calls();
    for account in [&other, &other_number] {
        let path = s.account_path(account);
        let response = s.bearer(&path).call().await;
        assert_eq!(response.status(), 403, "{path}");
        let body: Value = response.value().await;
        let direct = s.direct_verify(&path, &format!("bearer {}", s.token)).await;
        assert_eq!(direct, (403, body), "Caddy hands over countersign's answer");
    }
    assert_eq!(s.api_calls(), before);
}

#[tokio::test]
async fn invalid_token_gets_countersigns_401_body_and_challenge_from_caddy() {
    let Some(s) = stack().await else { return };
    let before = s.api_calls();
    let response = s
        .get("/api/v1/envelopes")
        .header("Authorization", "bearer cst_not-a-real-token")
        .call()
        .await;
    assert_eq!(response.status(), 401);
    let challenges: Vec<_> = response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(challenges.len(), 1, "one challenge: {challenges:?}");
    assert!(challenges[0].contains("invalid_token"), "{challenges:?}");
    assert_eq!(
        response.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    let body: Value = response.value().await;
    assert_eq!(body["errorCode"], "UNAUTHORIZED", "{body}");

    let legacy_path = s.get(&s.account_path(&s.app.account_id)).call().await;
    assert_eq!(legacy_path.status(), 401);
    let body: Value = legacy_path.value().await;
    assert!(
        body["errorCode"].is_string() && body["message"].is_string(),
        "DocuSign shape: {body}"
    );
    assert_eq!(s.api_calls(), before);
}

#[tokio::test]
async fn legacy_header_passes_through_caddy() {
    let Some(s) = stack().await else { return };
    let created: Value = s
        .app
        .admin_post("/admin/v1/integrator-keys", json!({"name": "Acme ERP"}))
        .await
        .value()
        .await;
    let key = created["key"].as_str().unwrap();
    let header = build_header(HeaderFormat::Xml, USER_EMAIL, PASSWORD, key, None);
    let response = s
        .get(&s.account_path(&s.app.account_id))
        .header("X-DocuSign-Authentication", header.as_str())
        .call()
        .await;
    assert_eq!(response.status(), 200);
    let echo: Value = response.value().await;
    assert_eq!(seen_header(&echo, "x-countersign-user-id"), s.user);
    assert_eq!(
        seen_header(&echo, "x-countersign-auth-method"),
        "legacy_header"
    );
}

#[tokio::test]
async fn paths_the_api_could_route_differently_are_refused_before_verification() {
    let Some(s) = stack().await else { return };
    let CreatedAccount { id: other, .. } = s
        .app
        .create_account(&s.app.environment_id, "Not Bob's")
        .await;
    let mine = s.app.account_id.clone();
    let before = s.api_calls();
    let port = s.caddy.port;
    let authorization = format!("bearer {}", s.token);
    let targets = [
        format!("/restapi/v2.1/accounts/{mine}/../../accounts/{other}/envelopes"),
        format!("/restapi/v2.1/accounts/{mine}/%2e%2e/%2E%2E/accounts/{other}/envelopes"),
        format!("/restapi/v2.1/accounts%2F{other}/envelopes"),
        format!("/restapi/v2.1/accounts;v=1/{other}/envelopes"),
        format!("/restapi/v2.1/accounts\\{other}/envelopes"),
        format!("/restapi/v2.1/accounts/{mine}/./envelopes"),
    ];
    for target in targets {
        let authorization = authorization.clone();
        let (status, target) =
            tokio::task::spawn_blocking(move || (raw_get(port, &target, &authorization), target))
                .await
                .unwrap();
        assert_eq!(status, 400, "{target}");
    }
    assert_eq!(s.api_calls(), before);
    let fine = tokio::task::spawn_blocking(move || {
        raw_get(
            port,
            "/restapi/v2.1/envelopes?from=2024-01-01;x=..%2F",
            &authorization,
        )
    })
    .await
    .unwrap();
    assert_eq!(fine, 200, "the query string is not the path");
}

#[tokio::test]
async fn sample_works_with_x_forwarded_uri_configured_as_the_trusted_header() {
    let Some(s) = stack_with(|config| {
        config.forward_auth.uri_header = Some("X-Forwarded-Uri".into());
    })
    .await
    else {
        return;
    };
    let CreatedAccount { id: other, .. } = s
        .app
        .create_account(&s.app.environment_id, "Not Bob's")
        .await;
    let mine = s.account_path(&s.app.account_id);
    let response = s
        .bearer(&mine)
        .header("X-Original-URI", s.account_path(&other))
        .call()
        .await;
    assert_eq!(response.status(), 200);
    let response = s
        .bearer(&s.account_path(&other))
        .header("X-Forwarded-Uri", mine.as_str())
        .call()
        .await;
    assert_eq!(response.status(), 403);
}
