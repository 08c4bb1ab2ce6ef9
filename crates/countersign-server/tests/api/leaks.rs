//! Secret-scanning leak reports (SPEC §14): GitHub's partner format at
//! `POST /v1/credentials/leaked`, signed with a P-256 key generated here.

use base64::Engine;
use countersign_test_support::webhooks::WebhookReceiver;
use countersign_test_support::{Call as _, Read as _};
use countersign_test_support::{CreatedApiUser, TestApp, spawn_app, spawn_app_with};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::{EncodePublicKey, LineEnding};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

const BOB: &str = "bob@mycompany.com";
const KEY_ID: &str = "90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a";
const FOUND_AT: &str = "https://github.com/octo/app/blob/main/.env";

/// A scanner's key pair: signs reports like GitHub does.
struct Scanner {
    key: SigningKey,
}

impl Scanner {
    fn new() -> Self {
        loop {
            if let Ok(key) = SigningKey::from_slice(&rand::random::<[u8; 32]>()) {
                return Self { key };
            }
        }
    }

    fn public_keys_json(&self, identifier: &str) -> String {
        let pem = self
            .key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        json!({"public_keys": [
            {"key_identifier": "an-old-key", "key": Scanner::new().key.verifying_key().to_public_key_pem(LineEnding::LF).unwrap(), "is_current": false},
            {"key_identifier": identifier, "key": pem, "is_current": true},
        ]})
        .to_string()
    }

    fn sign(&self, body: &[u8]) -> String {
        let signature: Signature = self.key.sign(body);
        base64::engine::general_purpose::STANDARD.encode(signature.to_der().as_bytes())
    }
}

/// An app that trusts `scanner`'s key, with Bob, an API user that may act for him, and a
/// session token of it.
struct World {
    app: TestApp,
    scanner: Scanner,
    api_user: CreatedApiUser,
    token: String,
    _keys: tempfile::TempDir,
}

async fn world() -> World {
    let scanner = Scanner::new();
    let keys = tempfile::tempdir().unwrap();
    let file = keys.path().join("public_keys.json");
    std::fs::write(&file, scanner.public_keys_json(KEY_ID)).unwrap();
    let app = spawn_app_with(|config| {
        config.leak_report.public_keys_file = Some(file.clone());
        config.webhooks.allow_http = true;
        config.webhooks.allow_private = true;
    })
    .await;
    let (api_user, token) = integration(&app).await;
    World {
        app,
        scanner,
        api_user,
        token,
        _keys: keys,
    }
}

async fn integration(app: &TestApp) -> (CreatedApiUser, String) {
    app.create_sender(BOB, None).await;
    let api_user = app
        .create_api_user("Leaky", json!({"type": "organization"}))
        .await;
    let token = app.token("Leaky", &api_user.key, BOB).await;
    (api_user, token)
}

fn report(tokens: &[&str]) -> Vec<u8> {
    let items: Vec<Value> = tokens
        .iter()
        .map(|token| json!({"token": token, "type": "countersign_api_key", "url": FOUND_AT, "source": "content"}))
        .collect();
    serde_json::to_vec(&items).unwrap()
}

impl World {
    async fn send(
        &self,
        body: Vec<u8>,
        identifier: Option<&str>,
        signature: Option<String>,
    ) -> reqwest::Response {
        let mut request = self
            .app
            .post("/v1/credentials/leaked")
            .header("Content-Type", "application/json");
        if let Some(identifier) = identifier {
            request = request.header("Github-Public-Key-Identifier", identifier);
        }
        if let Some(signature) = signature {
            request = request.header("Github-Public-Key-Signature", signature);
        }
        request.body(body).call().await
    }

    async fn send_signed(&self, body: Vec<u8>) -> reqwest::Response {
        let signature = self.scanner.sign(&body);
        self.send(body, Some(KEY_ID), Some(signature)).await
    }

    async fn api_user_status(&self) -> String {
        self.app
            .admin_get(&format!("/admin/v1/api-users/{}", self.api_user.id))
            .await
            .value()
            .await["status"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

#[tokio::test]
async fn a_signed_report_of_a_live_key_revokes_its_api_user_at_once() {
    let world = world().await;
    let app = &world.app;
    let response = world.send_signed(report(&[&world.api_user.key])).await;
    assert_eq!(response.status(), StatusCode::OK);
    let labels: Value = response.value().await;
    assert_eq!(
        labels,
        json!([{"token_raw": world.api_user.key, "token_type": "countersign_api_key", "label": "true_positive"}])
    );
    assert_eq!(world.api_user_status().await, "revoked");
    assert_eq!(
        app.exchange("Leaky", &world.api_user.key, BOB)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.verify(&world.token, None).await.status(),
        StatusCode::UNAUTHORIZED,
        "every session of the revoked API user ends"
    );
    let items = app.audit_events("actor=leak_report", 2).await;
    let leaked = items
        .iter()
        .find(|e| e["action"] == "api_user.key_leaked")
        .unwrap();
    assert_eq!(leaked["subject"], world.api_user.id);
    assert!(leaked["detail"].as_str().unwrap().contains(FOUND_AT));
    assert!(
        !leaked.to_string().contains(&world.api_user.key),
        "no key in the audit"
    );
    assert!(items.iter().any(|e| e["action"] == "api_user.revoke"));
    let revoked_by = app
        .admin_get(&format!("/admin/v1/api-users/{}", world.api_user.id))
        .await
        .value()
        .await["revoked_by"]
        .clone();
    assert_eq!(revoked_by, "leak_report");
}

#[tokio::test]
async fn what_is_not_a_live_key_is_a_false_positive_and_changes_nothing() {
    let world = world().await;
    let key = world.api_user.key.clone();
    // The same length and prefix, one character changed: the checksum no longer matches.
    let mut mistyped: Vec<char> = key.chars().collect();
    let at = 10;
    mistyped[at] = if mistyped[at] == 'a' { 'b' } else { 'a' };
    let mistyped: String = mistyped.into_iter().collect();
    // A well-formed key of this server's format that nobody holds.
    let stranger = world
        .app
        .create_api_user("Stranger", json!({"type": "organization"}))
        .await;
    world
        .app
        .admin(
            reqwest::Method::DELETE,
            &format!("/admin/v1/api-users/{}", stranger.id),
        )
        .call()
        .await;
    let tokens = [
        mistyped.as_str(),
        stranger.key.as_str(),
        "ghp_notours",
        "",
        "cst_forged",
    ];
    let response = world.send_signed(report(&tokens)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let labels: Vec<Value> = response.json().await.unwrap();
    assert_eq!(labels.len(), tokens.len());
    for (label, token) in labels.iter().zip(tokens) {
        assert_eq!(label["token_raw"], token);
        assert_eq!(label["label"], "false_positive", "{token}");
    }
    assert_eq!(world.api_user_status().await, "active");
    assert_eq!(
        world.app.verify(&world.token, None).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_unsigned_or_badly_signed_report_is_refused_and_revokes_nothing() {
    let world = world().await;
    let body = report(&[&world.api_user.key]);
    let other = Scanner::new();
    let cases: Vec<(&str, Option<&str>, Option<String>)> = vec![
        ("unsigned", None, None),
        ("no identifier", None, Some(world.scanner.sign(&body))),
        ("no signature", Some(KEY_ID), None),
        (
            "another key's signature",
            Some(KEY_ID),
            Some(other.sign(&body)),
        ),
        (
            "the signature of another body",
            Some(KEY_ID),
            Some(world.scanner.sign(b"[]")),
        ),
        (
            "an unknown key identifier",
            Some("unknown"),
            Some(world.scanner.sign(&body)),
        ),
        (
            "the other configured key",
            Some("an-old-key"),
            Some(world.scanner.sign(&body)),
        ),
        ("not base64", Some(KEY_ID), Some("%%%".into())),
        (
            "not DER",
            Some(KEY_ID),
            Some(base64::engine::general_purpose::STANDARD.encode(b"nonsense")),
        ),
    ];
    for (case, identifier, signature) in cases {
        let response = world.send(body.clone(), identifier, signature).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{case}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{case}"
        );
        assert!(
            response.headers().contains_key("www-authenticate"),
            "{case}"
        );
    }
    let repeated = world
        .app
        .post("/v1/credentials/leaked")
        .header("Content-Type", "application/json")
        .header("Github-Public-Key-Identifier", KEY_ID)
        .header("Github-Public-Key-Signature", world.scanner.sign(&body))
        .header("Github-Public-Key-Signature", other.sign(&body))
        .body(body.clone())
        .call()
        .await;
    assert_eq!(
        repeated.status(),
        StatusCode::UNAUTHORIZED,
        "a repeated header"
    );
    assert_eq!(world.api_user_status().await, "active");
    assert_eq!(
        world.app.verify(&world.token, None).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_report_that_is_not_a_list_of_at_most_1000_items_is_refused() {
    let world = world().await;
    let many: Vec<String> = (0..1001).map(|n| format!("ghp_{n}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let too_many = world.send_signed(report(&many)).await;
    assert_eq!(too_many.status(), StatusCode::BAD_REQUEST);
    let body: Value = too_many.value().await;
    assert_eq!(body["code"], "too_many_items");
    let exactly: Vec<&str> = many[..1000].to_vec();
    let answer = world.send_signed(report(&exactly)).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.json::<Vec<Value>>().await.unwrap().len(), 1000);
    for body in [
        b"{}".to_vec(),
        b"[{\"token\": 1}]".to_vec(),
        b"[{\"type\": \"x\"}]".to_vec(),
        b"not json".to_vec(),
        b"[{\"token\": \"a\", \"token\": \"b\", \"type\": \"x\"}]".to_vec(),
    ] {
        let response = world.send_signed(body.clone()).await;
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "{}",
            String::from_utf8_lossy(&body)
        );
    }
    let body = report(&["ghp_x"]);
    let signature = world.scanner.sign(&body);
    let form = world
        .app
        .post("/v1/credentials/leaked")
        .header("Content-Type", "text/plain")
        .header("Github-Public-Key-Identifier", KEY_ID)
        .header("Github-Public-Key-Signature", signature)
        .body(body)
        .call()
        .await;
    assert_eq!(form.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let empty = world.send_signed(b"[]".to_vec()).await;
    assert_eq!(empty.status(), StatusCode::OK);
    assert_eq!(empty.value().await, json!([]));
    assert_eq!(world.api_user_status().await, "active");
}

#[tokio::test]
async fn a_reported_session_token_ends_the_sessions_of_its_api_user_key_and_user() {
    let world = world().await;
    let app = &world.app;
    app.create_sender("carol@mycompany.com", None).await;
    let carols = app
        .token("Leaky", &world.api_user.key, "carol@mycompany.com")
        .await;
    let response = world.send_signed(report(&[&world.token])).await;
    assert_eq!(response.status(), StatusCode::OK);
    let labels: Value = response.value().await;
    assert_eq!(labels[0]["label"], "true_positive");
    assert_eq!(
        app.verify(&world.token, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.verify(&carols, None).await.status(), StatusCode::OK);
    assert_eq!(
        world.api_user_status().await,
        "active",
        "a session token revokes nothing"
    );
    let fresh = app.token("Leaky", &world.api_user.key, BOB).await;
    assert_eq!(app.verify(&fresh, None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_same_key_reported_twice_in_one_report_is_handled_once() {
    let world = world().await;
    let key = world.api_user.key.clone();
    let response = world.send_signed(report(&[&key, &key])).await;
    let labels: Vec<Value> = response.json().await.unwrap();
    assert!(labels.iter().all(|l| l["label"] == "true_positive"));
    let app = &world.app;
    let leaked = || async {
        let events: Value = app
            .admin_get("/admin/v1/audit?action=api_user.key_leaked")
            .await
            .value()
            .await;
        events["items"].as_array().unwrap().len()
    };
    let seen = app
        .eventually(Duration::from_secs(10), || async { leaked().await >= 1 })
        .await;
    assert!(seen);
    // Events of one request reach the log together: a second one would be there too.
    assert_eq!(leaked().await, 1);
    // A later report of the revoked key is still a genuine credential of this server.
    let again = world.send_signed(report(&[&key])).await;
    assert_eq!(again.value().await[0]["label"], "true_positive");
}

/// The bodies of reports being read share 16 MiB; a report that cannot have its share within
/// 2 s is refused with 503 and `Retry-After`, and revokes nothing until it is sent again.
#[tokio::test]
async fn a_report_that_finds_the_body_budget_taken_is_refused_with_503_and_revokes_nothing() {
    let w = world().await;
    let budget = w.app.server().state().leak_report_budget.clone();
    let held = budget.try_acquire_many_owned(16 * 1024).unwrap();
    let body = report(&[&w.api_user.key]);
    let response = w.send_signed(body.clone()).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "1");
    let refusal: Value = response.value().await;
    assert_eq!(refusal["code"], "busy");
    assert_eq!(w.api_user_status().await, "active");
    drop(held);
    assert_eq!(w.send_signed(body).await.status(), StatusCode::OK);
    assert_eq!(w.api_user_status().await, "revoked");
}

/// A report refused as busy is the server's state, not the sender's failure: however many
/// there are, they do not throttle the sender's next report.
#[tokio::test]
async fn busy_refusals_do_not_count_toward_the_senders_throttle() {
    let app = spawn_app_with(|config| config.throttle.ip_failures_per_minute = 2).await;
    let (api_user, token) = integration(&app).await;
    let send = || {
        app.post("/v1/credentials/leaked")
            .header("Content-Type", "application/json")
            .body(report(&[&api_user.key]))
            .call()
    };
    let budget = app.server().state().leak_report_budget.clone();
    let held = budget.try_acquire_many_owned(16 * 1024).unwrap();
    for _ in 0..3 {
        let busy = send().await;
        assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(busy.value().await["code"], "busy");
    }
    drop(held);
    let answered = send().await;
    assert_eq!(answered.status(), StatusCode::OK);
    assert_eq!(
        app.verify(&token, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

/// Senders that announce 4 MiB and stall hold only what they sent: a report sent meanwhile
/// is read and acted on at once.
#[tokio::test]
async fn stalled_senders_do_not_keep_a_report_from_being_read() {
    use tokio::io::AsyncWriteExt as _;
    let w = world().await;
    let addr = w.app.base.trim_start_matches("http://").to_owned();
    let mut stalled = Vec::new();
    for _ in 0..8 {
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let head = format!(
            "POST /v1/credentials/leaked HTTP/1.1\r\nHost: countersign.test\r\n\
             Content-Type: application/json\r\nGithub-Public-Key-Identifier: {KEY_ID}\r\n\
             Github-Public-Key-Signature: c2lnbmF0dXJl\r\nContent-Length: {}\r\n\r\n[",
            4 * 1024 * 1024
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stalled.push(stream);
    }
    // Each stalled sender holds the KiB its first byte took.
    let budget = w.app.server().state().leak_report_budget.clone();
    assert!(
        w.app
            .eventually(Duration::from_secs(5), || {
                let budget = budget.clone();
                async move { budget.available_permits() == 16 * 1024 - 8 }
            })
            .await,
        "the stalled senders are being read"
    );
    let response = w.send_signed(report(&[&w.api_user.key])).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(w.api_user_status().await, "revoked");
    drop(stalled);
}

#[tokio::test]
async fn without_configured_public_keys_reports_are_accepted_unsigned() {
    let app = spawn_app().await;
    let (api_user, token) = integration(&app).await;
    let response = app.post("/v1/credentials/leaked")
        .json(&json!([{"token": api_user.key, "type": "countersign_api_key", "url": FOUND_AT, "source": "commit"}]))
        .call().await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        app.verify(&token, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_reported_key_that_no_longer_works_revokes_nothing() {
    let world = world().await;
    let app = &world.app;
    let rotated: Value = app
        .admin_post(
            &format!("/admin/v1/api-users/{}/rotate", world.api_user.id),
            json!({"grace_minutes": 0}),
        )
        .await
        .value()
        .await;
    let new_key = rotated["key"].as_str().unwrap().to_owned();
    let response = world.send_signed(report(&[&world.api_user.key])).await;
    let labels: Value = response.value().await;
    assert_eq!(
        labels[0]["label"], "true_positive",
        "it is a key this server issued"
    );
    assert_eq!(world.api_user_status().await, "active");
    let token = app.token("Leaky", &new_key, BOB).await;
    assert_eq!(app.verify(&token, None).await.status(), StatusCode::OK);
    let events = app.audit_events("action=api_user.key_leaked", 1).await;
    let detail = events[0]["detail"].as_str().unwrap();
    assert!(detail.contains("no longer works"), "{detail}");
    assert!(detail.contains(FOUND_AT), "{detail}");
}

#[tokio::test]
async fn a_leaked_key_is_announced_to_webhooks_as_api_user_key_leaked() {
    let world = world().await;
    let app = &world.app;
    let receiver = WebhookReceiver::start().await;
    app.create_webhook(&receiver.url, &["api_user.key_leaked", "api_user.revoked"])
        .await;
    let response = world.send_signed(report(&[&world.api_user.key])).await;
    assert_eq!(response.status(), StatusCode::OK);
    let both = app
        .eventually(Duration::from_secs(10), || async {
            receiver.delivered_of("api_user.key_leaked").len() == 1
                && receiver.delivered_of("api_user.revoked").len() == 1
        })
        .await;
    assert!(both, "received: {}", receiver.received().len());
    let leaked = receiver.delivered_of("api_user.key_leaked")[0].json();
    assert_eq!(leaked["data"]["api_user_id"], world.api_user.id);
    assert_eq!(leaked["data"]["username"], "Leaky");
    assert_eq!(leaked["data"]["url"], FOUND_AT);
    assert!(
        !leaked.to_string().contains(&world.api_user.key),
        "no key in the webhook"
    );
    let revoked = receiver.delivered_of("api_user.revoked")[0].json();
    assert_eq!(revoked["data"]["revoked_by"], "leak_report");
}

#[tokio::test]
async fn with_the_notify_policy_a_leaked_key_keeps_working_and_is_announced() {
    let world = world().await;
    let app = &world.app;
    let receiver = WebhookReceiver::start().await;
    app.create_webhook(&receiver.url, &["api_user.key_leaked", "api_user.revoked"])
        .await;
    let patched = app
        .admin(reqwest::Method::PATCH, "/admin/v1/organization")
        .json(&json!({"leak_response": "notify"}))
        .call()
        .await;
    assert_eq!(patched.status(), StatusCode::OK);
    let response = world.send_signed(report(&[&world.api_user.key])).await;
    let labels: Value = response.value().await;
    assert_eq!(labels[0]["label"], "true_positive");
    assert_eq!(world.api_user_status().await, "active");
    assert_eq!(
        app.verify(&world.token, None).await.status(),
        StatusCode::OK
    );
    let announced = app
        .eventually(Duration::from_secs(10), || async {
            receiver.delivered_of("api_user.key_leaked").len() == 1
        })
        .await;
    assert!(announced);
    let audited = app
        .eventually(Duration::from_secs(10), || async {
            let events: Value = app
                .admin_get("/admin/v1/audit?actor=leak_report")
                .await
                .value()
                .await;
            events["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["action"] == "api_user.key_leaked")
        })
        .await;
    assert!(audited);
    assert!(receiver.delivered_of("api_user.revoked").is_empty());
}

/// Reports need no sign-in when no public keys are configured: their bodies are bounded, a
/// long array is skipped rather than kept, and an address whose reports keep being refused is
/// throttled like any other source of failures.
#[tokio::test]
async fn report_bodies_are_bounded_and_refused_reports_throttle_their_address() {
    let app = spawn_app_with(|config| config.throttle.ip_failures_per_minute = 4).await;
    let post = |body: Vec<u8>| {
        app.post("/v1/credentials/leaked")
            .header("Content-Type", "application/json")
            .body(body)
            .send()
    };
    let oversized = post(vec![b' '; 4 * 1024 * 1024 + 1]).await.unwrap();
    assert_eq!(oversized.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let item = b"{\"token\":\"\",\"type\":\"\"},";
    let mut long = b"[".to_vec();
    for _ in 0..20_000 {
        long.extend_from_slice(item);
    }
    long.extend_from_slice(b"{\"token\":\"\",\"type\":\"\"}]");
    let too_many = post(long).await.unwrap();
    assert_eq!(too_many.status(), StatusCode::BAD_REQUEST);
    let body: Value = too_many.value().await;
    assert_eq!(body["code"], "too_many_items");
    for _ in 0..2 {
        let malformed = post(b"not json".to_vec()).await.unwrap();
        assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    }
    let throttled = post(b"[]".to_vec()).await.unwrap();
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(throttled.headers().contains_key("retry-after"));
    let body: Value = throttled.value().await;
    assert_eq!(body["code"], "too_many_requests");
}
