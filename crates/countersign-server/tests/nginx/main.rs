//! Forward auth behind a real nginx: the sample configuration of `deploy/nginx` with its ports
//! substituted, in front of a small API that echoes the identity headers it receives. nginx is
//! Debian's package (installed with apt-get when missing and running as root); without it the
//! tests fail in CI and elsewhere print a SKIPPED line.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

#[path = "../proxy_support.rs"]
mod proxy_support;

use countersign_core::legacy::{HeaderFormat, build_header};
use countersign_test_support::{Call as _, Read as _};
use proxy_support::{
    PASSWORD, ProxyProcess, ScratchDir, Stack, USER_EMAIL, assert_invalid_token_refusal,
    find_or_install, free_port, running_as_root, seen_header, shared, stack_with,
};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The shipped sample; the tests run exactly this, with addresses substituted.
const SAMPLE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../deploy/nginx/countersign.conf"
));

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

/// nginx running the sample, everything inside a scratch directory.
fn start_nginx(binary: &Path, countersign: &str, api: &str) -> ProxyProcess {
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
    let mut command = Command::new(binary);
    command
        .arg("-p")
        .arg(root)
        .arg("-c")
        .arg(root.join("nginx.conf"))
        .arg("-e")
        .arg(root.join("logs/error.log"))
        .args(["-g", "daemon off;"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    ProxyProcess::spawn(&mut command, (port, dir), "logs/error.log", true)
}

async fn stack() -> Option<Stack> {
    stack_with(
        "nginx",
        nginx_binary(),
        "X-Original-URI",
        |_| {},
        start_nginx,
    )
    .await
}

#[tokio::test]
async fn valid_token_reaches_the_api_with_the_verified_identity() {
    let Some(s) = stack().await else { return };
    let number = s.app.account_number(&s.app.account_id).await;
    let response = s.bearer("/api/v1/envelopes?status=sent").call().await;
    assert_eq!(response.status(), 200);
    assert!(!response.headers().contains_key("sunset"));
    let echo: Value = response.value().await;
    assert_eq!(echo["uri"], "/api/v1/envelopes?status=sent");
    s.assert_identity(&echo);
    assert_eq!(seen_header(&echo, "x-countersign-account-number"), number);

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
    shared::identity_headers_sent_by_the_client_never_reach_the_api(&s, &[]).await;
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
        let (_, body) = assert_invalid_token_refusal(response).await;
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
    shared::token_for_one_account_is_refused_on_another_accounts_path(&s).await;
}

#[tokio::test]
async fn legacy_header_passes_and_its_sunset_notice_reaches_the_client() {
    let Some(s) = stack().await else { return };
    let created = s.app.create_integrator_key("Acme ERP", None).await;
    let key_id = created.id.as_str();
    let key = created.key.as_str();
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
    shared::paths_the_api_could_route_differently_are_refused_before_verification(
        &s,
        "api.example.com",
        false,
        &[],
        401,
    )
    .await;
}

#[tokio::test]
async fn original_uri_headers_sent_by_the_client_do_not_steer_the_account_check() {
    let Some(s) = stack().await else { return };
    shared::original_uri_headers_sent_by_the_client_do_not_steer_the_account_check(&s).await;
}
