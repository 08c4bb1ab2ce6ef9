//! What the real-proxy suites (nginx, Caddy) share: finding (or, as root, installing with
//! apt-get) the proxy's Debian package, the proxy as a child process in a scratch directory,
//! the stack of countersign, an echoing API and the proxy in front of both, and reading the
//! identity headers the API received.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]
#![allow(dead_code, reason = "each proxy suite uses its part of this file")]

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use countersign_server::config::ServerConfig;
use countersign_test_support::{Call as _, CreatedApiUser, Read as _, TestApp, spawn_app_with};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The password of the stack's user.
pub const PASSWORD: &str = "legacy-service-password-1";
/// The stack's user, who may use the main account.
pub const USER_EMAIL: &str = "bob@api.example";
/// The API user whose token the stack holds.
pub const API_USERNAME: &str = "erp-integration";

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

/// A proxy running as a child process, everything of it inside a scratch directory.
pub struct ProxyProcess {
    /// The proxy.
    pub child: Child,
    /// The port it listens on.
    pub port: u16,
    /// Removed after `Drop` has stopped the proxy.
    pub dir: ScratchDir,
    /// Its log, relative to `dir`.
    pub log_file: &'static str,
    /// Whether to ask it to stop (TERM) before killing it: nginx's master then stops its
    /// worker too.
    pub terminate_first: bool,
}

impl ProxyProcess {
    /// Runs `command` (the proxy, listening on `port`, everything of it in `dir`); its log
    /// is `log_file` in `dir`. See [`ProxyProcess::terminate_first`].
    pub fn spawn(
        command: &mut Command,
        (port, dir): (u16, ScratchDir),
        log_file: &'static str,
        terminate_first: bool,
    ) -> Self {
        let child = command.stdin(Stdio::null()).spawn().unwrap();
        Self {
            child,
            port,
            dir,
            log_file,
            terminate_first,
        }
    }

    /// Its address.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What it logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join(self.log_file)).unwrap_or_default()
    }

    /// Waits until it answers HTTP; `false` if it exited (e.g. lost the port) or timed out.
    pub async fn ready(&mut self, client: &reqwest::Client) -> bool {
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

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        if self.terminate_first {
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
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How many requests reached the protected API.
#[derive(Clone, Default)]
pub struct Seen(Arc<AtomicUsize>);

/// The protected API: answers with the method, URI and every header naming countersign;
/// `/api-says-no` answers with the API's own 401 and challenge.
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

/// countersign, the API and a proxy in front of both, with a user who may use the main
/// account and a token acting for them.
pub struct Stack {
    pub app: TestApp,
    pub proxy: ProxyProcess,
    api_calls: Seen,
    pub client: reqwest::Client,
    pub user: String,
    pub token: String,
    /// The header the proxy sends the original URI in.
    uri_header: &'static str,
}

/// Starts the stack with the proxy `name` (`binary`, `None` when missing: then a SKIPPED
/// line, or a failure in CI); `start` runs the proxy for countersign's and the API's
/// addresses. A proxy that does not come up (a lost port race) is started again, three times
/// at most.
pub async fn stack_with(
    name: &str,
    binary: Option<PathBuf>,
    uri_header: &'static str,
    tweak: impl FnOnce(&mut ServerConfig),
    start: impl Fn(&Path, &str, &str) -> ProxyProcess,
) -> Option<Stack> {
    let Some(binary) = binary else {
        countersign_test_support::skip::skip(&format!(
            "{name} (Debian's package; installed automatically when running as root)"
        ));
        return None;
    };
    let app = spawn_app_with(|config| {
        config.trust_forwarded_for = true;
        tweak(config);
    })
    .await;
    let user = app.create_sender(USER_EMAIL, Some(PASSWORD)).await;
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
        let mut proxy = start(&binary, &countersign, &api);
        if proxy.ready(&client).await {
            return Some(Stack {
                app,
                proxy,
                api_calls,
                client,
                user,
                token,
                uri_header,
            });
        }
        eprintln!("{name} did not start:\n{}", proxy.log());
    }
    panic!("{name} did not start three times");
}

impl Stack {
    /// `path` on the proxy.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.proxy.base())
    }

    /// A `GET` of `path` through the proxy, without credentials.
    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path))
    }

    /// A `POST` to `path` through the proxy, without credentials.
    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.post(self.url(path))
    }

    /// A `GET` of `path` through the proxy with the stack's token.
    pub fn bearer(&self, path: &str) -> reqwest::RequestBuilder {
        self.get(path)
            .header("Authorization", format!("bearer {}", self.token))
    }

    /// How many requests reached the API.
    pub fn api_calls(&self) -> usize {
        self.api_calls.0.load(Ordering::SeqCst)
    }

    /// Asserts that the API received the stack's verified identity, each header once.
    pub fn assert_identity(&self, echo: &Value) {
        let app = &self.app;
        for (header, expected) in [
            ("x-countersign-organization", app.organization_id.as_str()),
            ("x-countersign-environment", app.environment_id.as_str()),
            ("x-countersign-account", app.account_id.as_str()),
            ("x-countersign-user-id", self.user.as_str()),
            ("x-countersign-user-email", USER_EMAIL),
            ("x-countersign-actor", API_USERNAME),
            ("x-countersign-auth-method", "api_user_token"),
        ] {
            assert_eq!(seen_header(echo, header), expected, "{header}");
        }
    }

    /// Asserts that a request naming the stack's user in an identity header, without
    /// credentials, is refused by the proxy and never reaches the API.
    pub async fn assert_unverified_request_never_reaches_the_api(&self) {
        let before = self.api_calls();
        let anonymous = self
            .get("/api/v1/envelopes")
            .header("X-Countersign-User-Id", self.user.as_str())
            .call()
            .await;
        assert_eq!(anonymous.status(), 401);
        assert_eq!(
            self.api_calls(),
            before,
            "an unverified request never reaches the API"
        );
    }

    /// countersign's own answer to `/v1/verify` for the same credentials and original URI.
    pub async fn direct_verify(&self, original_uri: &str, authorization: &str) -> (u16, Value) {
        let response = self
            .app
            .get("/v1/verify")
            .header("Authorization", authorization)
            .header(self.uri_header, original_uri)
            .call()
            .await;
        (response.status().as_u16(), response.value().await)
    }
}

/// Asserts countersign's answer to an invalid token, handed over by the proxy: 401 with one
/// `invalid_token` challenge and an `UNAUTHORIZED` JSON body; returns its content type and body.
pub async fn assert_invalid_token_refusal(response: reqwest::Response) -> (String, Value) {
    assert_eq!(response.status(), 401);
    let challenges: Vec<_> = response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(challenges.len(), 1, "one challenge: {challenges:?}");
    assert!(challenges[0].contains("invalid_token"), "{challenges:?}");
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body: Value = response.value().await;
    assert_eq!(body["errorCode"], "UNAUTHORIZED", "{body}");
    (content_type, body)
}

/// Sends a request line exactly as written (HTTP clients normalise dot segments away), with
/// the `Host` header and, when given, `Authorization`; returns the status.
pub fn raw_get(port: u16, host: &str, target: &str, authorization: Option<&str>) -> u16 {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let authorization = authorization
        .map(|value| format!("Authorization: {value}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: {host}\r\n{authorization}Connection: close\r\n\r\n"
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

/// The test bodies both proxy suites run against their own proxy.
pub mod shared {
    use super::{API_USERNAME, Stack, raw_get, seen_header};
    use countersign_test_support::{Call as _, CreatedAccount, Read as _};
    use serde_json::Value;

    /// Identity headers a client sends (any spelling) never reach the API; only the verified
    /// identity does, and an unverified request does not reach it at all. `unlisted` names
    /// headers outside countersign's identity that this proxy drops too (Caddy drops every
    /// `X-Countersign-*`; the nginx sample overwrites the ones it lists).
    pub async fn identity_headers_sent_by_the_client_never_reach_the_api(
        s: &Stack,
        unlisted: &[&str],
    ) {
        let mut request = s.bearer("/api/v1/envelopes");
        for name in unlisted {
            request = request.header(*name, "spoofed");
        }
        let response = request
            .header("X-Countersign-User-Id", "spoofed")
            .header("x-countersign-user-id", "spoofed-again")
            .header("X-Countersign-Account", "spoofed")
            .header("X-Countersign-Auth-Method", "spoofed")
            .header("X_Countersign_Actor", "spoofed")
            .header("x_countersign_user_email", "spoofed")
            .call()
            .await;
        assert_eq!(response.status(), 200);
        let echo: Value = response.value().await;
        s.assert_identity(&echo);
        assert_eq!(seen_header(&echo, "x-countersign-actor"), API_USERNAME);
        assert!(
            !echo.to_string().contains("spoofed"),
            "no client value reached the API: {echo}"
        );
        s.assert_unverified_request_never_reaches_the_api().await;
    }

    /// A token for one account is refused on another account's path (by id and by number),
    /// and the proxy hands over countersign's own answer.
    pub async fn token_for_one_account_is_refused_on_another_accounts_path(s: &Stack) {
        let app = &s.app;
        let CreatedAccount {
            id: other,
            number: other_number,
        } = app.create_account(&app.environment_id, "Not Bob's").await;
        let before = s.api_calls();
        for account in [&other, &other_number] {
            let path = format!("/restapi/v2.1/accounts/{account}/envelopes");
            let response = s.bearer(&path).call().await;
            assert_eq!(response.status(), 403, "{path}");
            let body: Value = response.value().await;
            assert!(body["errorCode"].is_string(), "{body}");
            let direct = s.direct_verify(&path, &format!("bearer {}", s.token)).await;
            assert_eq!(
                direct,
                (403, body),
                "the proxy hands over countersign's answer"
            );
        }
        assert_eq!(s.api_calls(), before);
    }

    /// Original-URI headers a client sends do not steer the account check: claiming one's own
    /// account while requesting another's is refused, and a copy naming another account does
    /// not break one's own request (the proxy overwrites or drops it).
    pub async fn original_uri_headers_sent_by_the_client_do_not_steer_the_account_check(s: &Stack) {
        let app = &s.app;
        let CreatedAccount { id: other, .. } =
            app.create_account(&app.environment_id, "Not Bob's").await;
        let mine = format!("/restapi/v2.1/accounts/{}/envelopes", app.account_id);
        let theirs = format!("/restapi/v2.1/accounts/{other}/envelopes");
        let before = s.api_calls();
        for header in ["X-Original-URI", "X-Forwarded-Uri", "X-Envoy-Original-Path"] {
            let response = s.bearer(&theirs).header(header, mine.as_str()).call().await;
            assert_eq!(response.status(), 403, "{header}");
            let body: Value = response.value().await;
            assert!(body["errorCode"].is_string(), "{body}");
            let response = s.bearer(&mine).header(header, theirs.as_str()).call().await;
            assert_eq!(response.status(), 200, "{header}");
        }
        assert_eq!(s.api_calls(), before + 3);
    }

    /// Request targets an API could route to another account than the one they name (dot
    /// segments, encoded slashes, `;params`, backslashes) are refused with 400 before
    /// verification and never reach the API; `;..%2F` in the query string is not the path, so
    /// that request is verified as usual and answered `query_status`. Sent as `host`, with
    /// the stack's token when `with_token`; `more` adds targets only this proxy refuses.
    pub async fn paths_the_api_could_route_differently_are_refused_before_verification(
        s: &Stack,
        host: &str,
        with_token: bool,
        more: &[&str],
        query_status: u16,
    ) {
        let app = &s.app;
        let CreatedAccount { id: other, .. } =
            app.create_account(&app.environment_id, "Not Bob's").await;
        let mine = &app.account_id;
        let before = s.api_calls();
        let mut targets = vec![
            format!("/restapi/v2.1/accounts/{mine}/../../accounts/{other}/envelopes"),
            format!("/restapi/v2.1/accounts/{mine}/%2e%2e/%2E%2E/accounts/{other}/envelopes"),
            format!("/restapi/v2.1/accounts%2F{other}/envelopes"),
            format!("/restapi/v2.1/accounts;v=1/{other}/envelopes"),
            format!("/restapi/v2.1/accounts\\{other}/envelopes"),
        ];
        targets.extend(more.iter().map(|more| more.replace("{mine}", mine)));
        let authorization = with_token.then(|| format!("bearer {}", s.token));
        let port = s.proxy.port;
        let send = |target: String| {
            let (host, authorization) = (host.to_owned(), authorization.clone());
            tokio::task::spawn_blocking(move || {
                raw_get(port, &host, &target, authorization.as_deref())
            })
        };
        for target in targets {
            assert_eq!(send(target.clone()).await.unwrap(), 400, "{target}");
        }
        assert_eq!(s.api_calls(), before);
        let query = "/restapi/v2.1/envelopes?from=2024-01-01;x=..%2F".to_owned();
        assert_eq!(
            send(query).await.unwrap(),
            query_status,
            "the query string is not the path"
        );
    }
}
