//! Forward auth behind a real nginx: the sample configuration of `deploy/nginx` with its ports
//! substituted, in front of a small API that echoes the identity headers it receives. nginx is
//! Debian's package (installed with apt-get when missing and running as root); without it the
//! tests fail in CI and elsewhere print a SKIPPED line.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

#[path = "../proxy_support.rs"]
mod proxy_support;

use countersign_test_support::{Call as _, Read as _};
use proxy_support::{ScratchDir, find_or_install, free_port, running_as_root, seen_header};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use countersign_core::legacy::{HeaderFormat, build_header};
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
    "/../../deploy/nginx/countersign.conf"
));

const PASSWORD: &str = "legacy-service-password-1";

/// The nginx binary, installing Debian's package when it is missing and we may.
fn nginx_binary() -> Option<PathBuf> {
    static BINARY: OnceLock<Option<PathBuf>> = OnceLock::new();
    BINARY.get_or_init(find_or_install_nginx).clone()
}

fn find_or_install_nginx() -> Option<PathBuf> {
    let found = find_or_install("nginx", "/usr/sbin/nginx", "nginx");
    if found.is_none() {
        eprintln!("nginx tests skipped: nginx is missing and could not be installed");
    }
    found
}

/// The sample configuration with countersign, the API and the listening port substituted;
/// each placeholder must occur exactly once, so a change to the sample cannot go unnoticed.
fn site_config(countersign: &str, api: &str, port: u16) -> String {
    let mut config = SAMPLE.to_owned();
    for (from, to) in [
        ("server 127.0.0.1:8080;", format!("server {countersign};")),
        ("server 127.0.0.1:3000;", format!("server {api};")),
        ("listen 80;", format!("listen 127.0.0.1:{port};")),
    ] {
        assert_eq!(
            config.matches(from).count(),
            1,
            "sample must contain {from}"
        );
        config = config.replace(from, &to);
    }
    config
}

/// nginx as a child process with everything inside a scratch directory.
struct Nginx {
    child: Child,
    port: u16,
    // Removed after `Drop` has stopped nginx.
    dir: ScratchDir,
}

impl Nginx {
    fn start(binary: &Path, countersign: &str, api: &str) -> Self {
        let dir = ScratchDir::new("countersign-nginx");
        let root = dir.path();
        for sub in ["logs", "temp"] {
            std::fs::create_dir(root.join(sub)).unwrap();
        }
        let port = free_port();
        std::fs::write(root.join("site.conf"), site_config(countersign, api, port)).unwrap();
        let user = if running_as_root() {
            "user root;\n"
        } else {
            ""
        };
        let r = root.display();
        std::fs::write(
            root.join("nginx.conf"),
            format!(
                "{user}worker_processes 1;\n\
                 pid {r}/nginx.pid;\n\
                 error_log {r}/logs/error.log info;\n\
                 events {{ worker_connections 256; }}\n\
                 http {{\n\
                 access_log {r}/logs/access.log;\n\
                 client_body_temp_path {r}/temp/client_body;\n\
                 proxy_temp_path {r}/temp/proxy;\n\
                 fastcgi_temp_path {r}/temp/fastcgi;\n\
                 uwsgi_temp_path {r}/temp/uwsgi;\n\
                 scgi_temp_path {r}/temp/scgi;\n\
                 default_type application/octet-stream;\n\
                 include {r}/site.conf;\n\
                 }}\n"
            ),
        )
        .unwrap();
        let child = Command::new(binary)
            .arg("-p")
            .arg(root)
            .arg("-c")
            .arg(root.join("nginx.conf"))
            .arg("-e")
            .arg(root.join("logs/error.log"))
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Self { child, port, dir }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("logs/error.log")).unwrap_or_default()
    }

    /// Waits until nginx answers HTTP; `false` if it exited (e.g. lost the port) or timed out.
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

impl Drop for Nginx {
    fn drop(&mut self) {
        // TERM lets the master stop its worker too; KILL only if it does not.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the protected API received: path, method and every header naming countersign.
#[derive(Clone, Default)]
struct Seen(Arc<AtomicUsize>);

async fn echo(State(seen): State<Seen>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    seen.0.fetch_add(1, Ordering::SeqCst);
    if uri.path() == "/api-says-no" {
        return (
            StatusCode::UNAUTHORIZED,
            [("www-authenticate", "Basic realm=\"the api\"")],
            "the API's own refusal",
        )
            .into_response();
    }
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

/// countersign, the API and nginx in front of both, with a user who may use the main account.
struct Stack {
    app: TestApp,
    nginx: Nginx,
    api_calls: Seen,
    client: reqwest::Client,
    user: String,
    token: String,
}

const USER_EMAIL: &str = "bob@api.example";
const API_USERNAME: &str = "erp-integration";

async fn stack() -> Option<Stack> {
    let Some(binary) = nginx_binary() else {
        countersign_test_support::skip::skip(
            "nginx (Debian's package; installed automatically when running as root)",
        );
        return None;
    };
    let app = spawn_app_with(|config| config.trust_forwarded_for = true).await;
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
        let mut nginx = Nginx::start(&binary, &countersign, &api);
        if nginx.ready(&client).await {
            return Some(Stack {
                app,
                nginx,
                api_calls,
                client,
                user,
                token,
            });
        }
        eprintln!("nginx did not start:\n{}", nginx.error_log());
    }
    panic!("nginx did not start three times");
}

impl Stack {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.nginx.base())
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path))
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.post(self.url(path))
    }

    fn bearer(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .get(self.url(path))
            .header("Authorization", format!("bearer {}", self.token))
    }

    fn api_calls(&self) -> usize {
        self.api_calls.0.load(Ordering::SeqCst)
    }

    /// countersign's own answer to `/v1/verify` for the same credentials and original URI.
    async fn direct_verify(&self, original_uri: &str, authorization: &str) -> (u16, Value) {
        let response = self
            .app
            .client
            .get(self.app.url("/v1/verify"))
            .header("Authorization", authorization)
            .header("X-Original-URI", original_uri)
            .call()
            .await;
        (response.status().as_u16(), response.value().await)
    }
}

/// Sends a request line exactly as written (HTTP clients normalise dot segments away).
fn raw_get(port: u16, target: &str) -> u16 {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: api.example.com\r\nConnection: close\r\n\r\n"
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
    let account: Value = s
        .app
        .admin_get(&format!("/admin/v1/accounts/{}", s.app.account_id))
        .await
        .value()
        .await;
    let number = account["number"].as_str().unwrap();
    let response = s.bearer("/api/v1/envelopes?status=sent").call().await;
    assert_eq!(response.status(), 200);
    assert!(!response.headers().contains_key("sunset"));
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
    assert_eq!(seen_header(&echo, "x-countersign-account-number"), number);
    assert_eq!(seen_header(&echo, "x-countersign-user-id"), s.user);
    assert_eq!(seen_header(&echo, "x-countersign-user-email"), USER_EMAIL);
    assert_eq!(seen_header(&echo, "x-countersign-actor"), API_USERNAME);
    assert_eq!(
        seen_header(&echo, "x-countersign-auth-method"),
        "api_user_token"
    );

    let on_account_path = s
        .bearer(&format!(
            "/restapi/v2.1/accounts/{}/envelopes",
            s.app.account_id
        ))
        .call()
        .await;
    assert_eq!(on_account_path.status(), 200);
    let echo: Value = on_account_path.value().await;
    assert_eq!(
        seen_header(&echo, "x-countersign-account"),
        s.app.account_id
    );
}

#[tokio::test]
async fn identity_headers_sent_by_the_client_never_reach_the_api() {
    let Some(s) = stack().await else { return };
    let response = s
        .bearer("/api/v1/envelopes")
        .header("X-Countersign-User-Id", "spoofed")
        .header("x-countersign-user-id", "spoofed-again")
        .header("X-Countersign-Account", "spoofed")
        .header("X-Countersign-Auth-Method", "spoofed")
        .header("X_Countersign_Actor", "spoofed")
        .call()
        .await;
    assert_eq!(response.status(), 200);
    let echo: Value = response.value().await;
    assert_eq!(seen_header(&echo, "x-countersign-user-id"), s.user);
    assert_eq!(
        seen_header(&echo, "x-countersign-account"),
        s.app.account_id
    );
    assert_eq!(
        seen_header(&echo, "x-countersign-auth-method"),
        "api_user_token"
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
async fn invalid_token_gets_countersigns_401_body_and_challenge_from_nginx() {
    let Some(s) = stack().await else { return };
    let before = s.api_calls();
    for request in [
        s.get("/api/v1/envelopes"),
        s.post("/api/v1/envelopes?draft=1")
            .header("Content-Type", "application/json")
            .body(r#"{"subject":"a body countersign never sees"}"#),
    ] {
        let response = request
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
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
        let body: Value = response.value().await;
        assert_eq!(body["errorCode"], "UNAUTHORIZED", "{body}");
        assert!(
            body["summary"].is_string() && body["details"].is_array(),
            "{body}"
        );
    }
    assert_eq!(s.api_calls(), before);
}

#[tokio::test]
async fn request_without_credentials_gets_401_in_the_paths_dialect() {
    let Some(s) = stack().await else { return };
    let response = s.get("/api/v1/envelopes").call().await;
    assert_eq!(response.status(), 401);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let body: Value = response.value().await;
    assert_eq!(body["errorCode"], "UNAUTHORIZED", "{body}");

    let legacy_path = s
        .get(&format!(
            "/restapi/v2.1/accounts/{}/envelopes",
            s.app.account_id
        ))
        .call()
        .await;
    assert_eq!(legacy_path.status(), 401);
    let body: Value = legacy_path.value().await;
    assert!(
        body["errorCode"].is_string() && body["message"].is_string(),
        "DocuSign shape: {body}"
    );
}

#[tokio::test]
async fn token_for_one_account_is_refused_on_another_accounts_path() {
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
        let path = format!("/restapi/v2.1/accounts/{account}/envelopes");
        let response = s.bearer(&path).call().await;
        assert_eq!(response.status(), 403, "{path}");
        let body: Value = response.value().await;
        assert!(body["errorCode"].is_string(), "{body}");
        let direct = s.direct_verify(&path, &format!("bearer {}", s.token)).await;
        assert_eq!(direct, (403, body), "nginx hands over countersign's answer");
    }
    assert_eq!(s.api_calls(), before);
}

#[tokio::test]
async fn legacy_header_passes_and_its_sunset_notice_reaches_the_client() {
    let Some(s) = stack().await else { return };
    let created: Value = s
        .app
        .admin_post("/admin/v1/integrator-keys", json!({"name": "Acme ERP"}))
        .await
        .value()
        .await;
    let key_id = created["id"].as_str().unwrap();
    let key = created["key"].as_str().unwrap();
    let header = build_header(HeaderFormat::Json, USER_EMAIL, PASSWORD, key, None);
    let path = format!("/restapi/v2.1/accounts/{}/envelopes", s.app.account_id);
    let legacy = || {
        s.get(&path)
            .header("X-DocuSign-Authentication", header.as_str())
            .send()
    };

    let response = legacy().await.unwrap();
    assert_eq!(response.status(), 200);
    for name in ["sunset", "deprecation", "link"] {
        assert!(!response.headers().contains_key(name), "no {name} yet");
    }
    let echo: Value = response.value().await;
    assert_eq!(seen_header(&echo, "x-countersign-user-id"), s.user);
    assert_eq!(seen_header(&echo, "x-countersign-actor"), s.user);
    assert_eq!(
        seen_header(&echo, "x-countersign-account"),
        s.app.account_id
    );
    assert_eq!(
        seen_header(&echo, "x-countersign-auth-method"),
        "legacy_header"
    );

    let sunset = (s.app.now() + time::Duration::days(30))
        .replace_nanosecond(0)
        .unwrap();
    let patched = s
        .app
        .admin(
            reqwest::Method::PATCH,
            &format!("/admin/v1/integrator-keys/{key_id}"),
        )
        .json(&json!({"legacy_sunset_at": sunset
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()}))
        .call()
        .await;
    assert_eq!(patched.status(), 200);

    let response = legacy().await.unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    assert_eq!(
        headers["sunset"],
        httpdate::fmt_http_date(std::time::SystemTime::from(sunset)).as_str()
    );
    let deprecation = headers["deprecation"].to_str().unwrap();
    assert!(
        deprecation
            .strip_prefix('@')
            .is_some_and(|unix| unix.parse::<i64>().is_ok()),
        "{deprecation}"
    );
    assert_eq!(
        headers["link"],
        format!("<{}/docs/legacy-migration>; rel=\"sunset\"", s.app.base).as_str()
    );
    let echo: Value = response.value().await;
    assert_eq!(
        seen_header(&echo, "x-countersign-auth-method"),
        "legacy_header"
    );

    let wrong = build_header(HeaderFormat::Json, USER_EMAIL, "wrong password", key, None);
    let refused = s
        .get(&path)
        .header("X-DocuSign-Authentication", wrong.as_str())
        .call()
        .await;
    assert_eq!(refused.status(), 401);
    let body: Value = refused.value().await;
    assert!(
        body["errorCode"].is_string() && body["message"].is_string(),
        "DocuSign shape: {body}"
    );
}

#[tokio::test]
async fn the_apis_own_refusals_pass_through_untouched() {
    let Some(s) = stack().await else { return };
    let response = s.bearer("/api-says-no").call().await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Basic realm=\"the api\""
    );
    assert_eq!(response.body().await, "the API's own refusal");
}

#[tokio::test]
async fn paths_the_api_could_route_differently_are_refused_before_verification() {
    let Some(s) = stack().await else { return };
    let CreatedAccount { id: other, .. } = s
        .app
        .create_account(&s.app.environment_id, "Not Bob's")
        .await;
    let mine = &s.app.account_id;
    let before = s.api_calls();
    let port = s.nginx.port;
    let targets = [
        format!("/restapi/v2.1/accounts/{mine}/../../accounts/{other}/envelopes"),
        format!("/restapi/v2.1/accounts/{mine}/%2e%2e/%2E%2E/accounts/{other}/envelopes"),
        format!("/restapi/v2.1/accounts%2F{other}/envelopes"),
        format!("/restapi/v2.1/accounts;v=1/{other}/envelopes"),
        format!("/restapi/v2.1/accounts\\{other}/envelopes"),
    ];
    for target in targets {
        let status = tokio::task::spawn_blocking(move || (raw_get(port, &target), target))
            .await
            .unwrap();
        assert_eq!(status.0, 400, "{}", status.1);
    }
    assert_eq!(s.api_calls(), before);
    let fine = tokio::task::spawn_blocking(move || {
        raw_get(port, "/restapi/v2.1/envelopes?from=2024-01-01;x=..%2F")
    })
    .await
    .unwrap();
    assert_eq!(fine, 401, "the query string is not the path");
}

#[tokio::test]
async fn original_uri_headers_sent_by_the_client_do_not_steer_the_account_check() {
    let Some(s) = stack().await else { return };
    let CreatedAccount { id: other, .. } = s
        .app
        .create_account(&s.app.environment_id, "Not Bob's")
        .await;
    let mine = format!("/restapi/v2.1/accounts/{}/envelopes", s.app.account_id);
    let theirs = format!("/restapi/v2.1/accounts/{other}/envelopes");
    let before = s.api_calls();
    for header in ["X-Original-URI", "X-Forwarded-Uri", "X-Envoy-Original-Path"] {
        // Claiming one's own account while requesting another's: still refused.
        let response = s.bearer(&theirs).header(header, mine.as_str()).call().await;
        assert_eq!(response.status(), 403, "{header}");
        // A client copy naming another account does not break one's own request: nginx
        // overwrites X-Original-URI and drops the others, so countersign sees one reading.
        let response = s.bearer(&mine).header(header, theirs.as_str()).call().await;
        assert_eq!(response.status(), 200, "{header}");
    }
    assert_eq!(s.api_calls(), before + 3);
}
