//! Forward auth behind a real Caddy: the sample `deploy/caddy/Caddyfile` with its addresses
//! substituted, in front of a small API that echoes the identity headers it receives. Caddy is
//! Debian's package (installed with apt-get when missing and running as root); without it the
//! tests fail in CI and elsewhere print a SKIPPED line.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

#[path = "../proxy_support.rs"]
mod proxy_support;

use countersign_core::legacy::{HeaderFormat, build_header};
use countersign_server::config::ServerConfig;
use countersign_test_support::{Call as _, CreatedAccount, Read as _};
use proxy_support::{
    PASSWORD, ProxyProcess, ScratchDir, Stack, USER_EMAIL, assert_invalid_token_refusal,
    find_or_install, free_port, seen_header, shared, stack_with,
};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The shipped sample; the tests run exactly this, with addresses substituted.
const SAMPLE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../deploy/caddy/Caddyfile"
));

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

/// Caddy running the sample, everything inside a scratch directory.
fn start_caddy(binary: &Path, countersign: &str, api: &str) -> ProxyProcess {
    let dir = ScratchDir::new("countersign-caddy");
    let root = dir.path();
    let port = free_port();
    let config = root.join("Caddyfile");
    std::fs::write(&config, caddyfile(countersign, api, port)).unwrap();
    let log = std::fs::File::create(root.join("caddy.log")).unwrap();
    let mut command = Command::new(binary);
    command
        .args(["run", "--adapter", "caddyfile", "--config"])
        .arg(&config)
        .env("HOME", root)
        .env("XDG_DATA_HOME", root.join("data"))
        .env("XDG_CONFIG_HOME", root.join("config"))
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    ProxyProcess::spawn(&mut command, (port, dir), "caddy.log", false)
}

async fn stack() -> Option<Stack> {
    caddy_stack(|_| {}).await
}

/// The stack behind Caddy, with countersign's configuration changed by `tweak`.
async fn caddy_stack(tweak: impl FnOnce(&mut ServerConfig)) -> Option<Stack> {
    stack_with(
        "caddy",
        caddy_binary(),
        "X-Forwarded-Uri",
        tweak,
        start_caddy,
    )
    .await
}

/// A path of the DocuSign REST API naming `account`.
fn account_path(account: &str) -> String {
    format!("/restapi/v2.1/accounts/{account}/envelopes")
}

#[tokio::test]
async fn valid_token_reaches_the_api_with_the_verified_identity() {
    let Some(s) = stack().await else { return };
    let response = s.bearer("/api/v1/envelopes?status=sent").call().await;
    assert_eq!(response.status(), 200, "{}", s.proxy.log());
    let echo: Value = response.value().await;
    assert_eq!(echo["uri"], "/api/v1/envelopes?status=sent");
    s.assert_identity(&echo);
    let on_account_path = s.bearer(&account_path(&s.app.account_id)).call().await;
    assert_eq!(on_account_path.status(), 200);
}

#[tokio::test]
async fn identity_headers_sent_by_the_client_never_reach_the_api() {
    let Some(s) = stack().await else { return };
    shared::identity_headers_sent_by_the_client_never_reach_the_api(
        &s,
        &["X-Countersign-Anything-Else"],
    )
    .await;
}

#[tokio::test]
async fn original_uri_headers_sent_by_the_client_do_not_steer_the_account_check() {
    let Some(s) = stack().await else { return };
    shared::original_uri_headers_sent_by_the_client_do_not_steer_the_account_check(&s).await;
}

#[tokio::test]
async fn token_for_one_account_is_refused_on_another_accounts_path_with_countersigns_body() {
    let Some(s) = stack().await else { return };
    shared::token_for_one_account_is_refused_on_another_accounts_path(&s).await;
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
    let (content_type, _) = assert_invalid_token_refusal(response).await;
    assert_eq!(content_type, "application/json; charset=utf-8");

    let legacy_path = s.get(&account_path(&s.app.account_id)).call().await;
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
    let created = s.app.create_integrator_key("Acme ERP", None).await;
    let key = created.key.as_str();
    let header = build_header(HeaderFormat::Xml, USER_EMAIL, PASSWORD, key, None);
    let response = s
        .get(&account_path(&s.app.account_id))
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
    let host = format!("127.0.0.1:{}", s.proxy.port);
    let more = ["/restapi/v2.1/accounts/{mine}/./envelopes"];
    shared::paths_the_api_could_route_differently_are_refused_before_verification(
        &s, &host, true, &more, 200,
    )
    .await;
}

#[tokio::test]
async fn sample_works_with_x_forwarded_uri_configured_as_the_trusted_header() {
    let Some(s) = caddy_stack(|config| {
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
    let mine = account_path(&s.app.account_id);
    let response = s
        .bearer(&mine)
        .header("X-Original-URI", account_path(&other))
        .call()
        .await;
    assert_eq!(response.status(), 200);
    let response = s
        .bearer(&account_path(&other))
        .header("X-Forwarded-Uri", mine.as_str())
        .call()
        .await;
    assert_eq!(response.status(), 403);
}
