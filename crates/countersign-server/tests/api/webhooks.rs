//! Webhooks (SPEC §13): registration and URL rules, Standard Webhooks signatures checked with
//! the `standardwebhooks` library, each event once, retries with back-off, a restart in the
//! middle of retries, and addresses refused at delivery.

use crate::lifecycle::{api_user, at, lifecycle_app};
use countersign_test_support::webhooks::{Received, WebhookReceiver};
use countersign_test_support::{Call as _, Read as _};
use countersign_test_support::{
    CreatedApiUser, CreatedWebhook, TestApp, spawn_app, spawn_app_with,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration as Wait;
use time::Duration;

const ALL_EVENTS: [&str; 6] = [
    "api_user.expiring",
    "api_user.expired",
    "api_user.revoked",
    "api_user.rotated",
    "api_user.key_leaked",
    "integrator_key.sunset_reached",
];

/// Checks a delivery's signature with the Standard Webhooks library: its own signing of the
/// message, and its full verification (timestamp tolerance included) when the server's
/// clock has not been moved away from the real time.
fn assert_signed(secret: &str, received: &Received) {
    let webhook = standardwebhooks::Webhook::new(secret).unwrap();
    let timestamp: i64 = received.header("webhook-timestamp").parse().unwrap();
    let expected = webhook
        .sign(
            received.header("webhook-id"),
            timestamp,
            received.body.as_bytes(),
        )
        .unwrap();
    assert_eq!(received.header("webhook-signature"), expected);
    let real_now = time::OffsetDateTime::now_utc().unix_timestamp();
    if (real_now - timestamp).abs() < 120 {
        let mut headers = axum::http::HeaderMap::new();
        for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
            headers.insert(name, received.header(name).parse().unwrap());
        }
        webhook
            .verify(received.body.as_bytes(), &headers)
            .expect("the Standard Webhooks library verifies the delivery");
    }
    let body = received.json();
    assert_eq!(body["id"], received.header("webhook-id"));
}

async fn revoke(app: &TestApp, id: &str) {
    let response = app
        .admin_post(&format!("/admin/v1/api-users/{id}/revoke"), json!({}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

async fn deliveries(app: &TestApp, webhook: &str) -> Vec<Value> {
    let body: Value = app
        .admin_get(&format!("/admin/v1/webhooks/{webhook}/deliveries"))
        .await
        .value()
        .await;
    body["items"].as_array().unwrap().clone()
}

async fn until(app: &TestApp, check: impl Fn() -> bool) -> bool {
    app.eventually(Wait::from_secs(10), || {
        let done = check();
        async move { done }
    })
    .await
}

/// Waits until attempt `attempt` of the webhook's delivery is queued.
async fn retry_queued(app: &TestApp, webhook: &str, attempt: i64) -> bool {
    app.eventually(Wait::from_secs(10), || async {
        deliveries(app, webhook)
            .await
            .iter()
            .any(|d| d["attempt"] == attempt && d["outcome"] == "pending")
    })
    .await
}

async fn received_at_least(app: &TestApp, receiver: &WebhookReceiver, count: usize) -> bool {
    app.eventually(Wait::from_secs(10), || async {
        receiver.received().len() >= count
    })
    .await
}

/// A webhook subscribed to `api_user.revoked` and the API user whose revocation it was sent.
struct RevocationSent {
    webhook: String,
    secret: String,
    api_user: String,
}

/// Subscribes `receiver` to `api_user.revoked`, then revokes a new API user named `username`,
/// and waits until the receiver has been sent the event once (answered as the receiver chose).
async fn one_revocation_sent(
    app: &TestApp,
    receiver: &WebhookReceiver,
    username: &str,
) -> RevocationSent {
    let CreatedWebhook { id, secret } = app
        .create_webhook(&receiver.url, &["api_user.revoked"])
        .await;
    let api_user = api_user(app, username, Duration::days(100)).await.id;
    revoke(app, &api_user).await;
    assert!(received_at_least(app, receiver, 1).await);
    RevocationSent {
        webhook: id,
        secret,
        api_user,
    }
}

#[tokio::test]
async fn webhook_secret_is_shown_once_and_urls_are_checked() {
    let app = spawn_app().await;
    for (url, why) in [
        ("http://hooks.example.com/in", "http is off"),
        ("https://127.0.0.1/in", "loopback"),
        ("https://10.1.2.3/in", "private"),
        ("https://169.254.169.254/latest", "link-local"),
        ("https://[::1]/in", "IPv6 loopback"),
        ("https://[fd00::1]/in", "unique-local"),
        ("https://[::ffff:192.168.0.1]/in", "IPv4-mapped private"),
        ("https://0.0.0.0/in", "unspecified"),
        ("https://user:pw@hooks.example.com/in", "credentials"),
        ("ftp://hooks.example.com/in", "scheme"),
        ("hooks.example.com/in", "relative"),
    ] {
        let response = app
            .admin_post(
                "/admin/v1/webhooks",
                json!({"url": url, "events": ["api_user.revoked"]}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{why}");
        assert_eq!(response.value().await["field"], "url", "{why}");
    }
    let unknown = app
        .admin_post(
            "/admin/v1/webhooks",
            json!({"url": "https://hooks.example.com/in", "events": ["api_user.nope"]}),
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let none = app
        .admin_post(
            "/admin/v1/webhooks",
            json!({"url": "https://hooks.example.com/in", "events": []}),
        )
        .await;
    assert_eq!(none.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let CreatedWebhook { id, secret } = app
        .create_webhook("https://hooks.example.com/in", &["api_user.revoked"])
        .await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert!(standardwebhooks::Webhook::new(&secret).is_ok());
    let fetched = app
        .admin_get(&format!("/admin/v1/webhooks/{id}"))
        .await
        .body()
        .await;
    assert!(
        !fetched.contains(&secret) && !fetched.contains("secret"),
        "{fetched}"
    );
    let listed = app.admin_get("/admin/v1/webhooks").await.body().await;
    assert!(listed.contains(&id) && !listed.contains(&secret));
    // The secret is sealed at rest: nothing in the database holds it.
    let dump = format!(
        "{:?}",
        app.store.find_secret("webhook_sealing_key").await.unwrap()
    );
    assert!(!dump.contains(&secret));
    let deleted = app
        .admin(Method::DELETE, &format!("/admin/v1/webhooks/{id}"))
        .call()
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.admin_get(&format!("/admin/v1/webhooks/{id}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let audit: Value = app
        .admin_get("/admin/v1/audit?action=webhook.create")
        .await
        .value()
        .await;
    assert!(!audit.to_string().contains(&secret));
    assert_eq!(audit["items"].as_array().unwrap().len(), 1);
}

/// The URL's limit holds for what parsing makes of it (a space becomes `%20`), and an
/// organization registers at most 100 webhooks (every one listed on one console page).
#[tokio::test]
async fn webhook_urls_stay_within_2048_characters_and_webhooks_within_100() {
    let app = spawn_app().await;
    // 2,000 characters as sent, nearly 4,000 once each space is escaped as %20.
    let spaced = format!("https://hooks.example.com/{}", "a ".repeat(987));
    assert!(spaced.len() <= 2048);
    let long = app
        .admin_post(
            "/admin/v1/webhooks",
            json!({"url": spaced, "events": ["api_user.revoked"]}),
        )
        .await;
    assert_eq!(long.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(long.value().await["field"], "url");
    for n in 0..100 {
        app.create_webhook(
            &format!("https://hooks.example.com/{n}"),
            &["api_user.revoked"],
        )
        .await;
    }
    let one_more = app
        .admin_post(
            "/admin/v1/webhooks",
            json!({"url": "https://hooks.example.com/101", "events": ["api_user.revoked"]}),
        )
        .await;
    assert_eq!(one_more.status(), StatusCode::CONFLICT);
    assert_eq!(one_more.value().await["code"], "too_many_webhooks");
}

/// The limit is counted where the webhook is written: registrations sent together when an
/// organization has 99 add exactly one.
#[tokio::test]
async fn concurrent_registrations_do_not_pass_the_limit_of_100_webhooks() {
    let app = spawn_app().await;
    for n in 0..99 {
        app.create_webhook(
            &format!("https://hooks.example.com/{n}"),
            &["api_user.revoked"],
        )
        .await;
    }
    let mut attempts = tokio::task::JoinSet::new();
    for n in 0..8 {
        let url = format!("https://hooks.example.com/race-{n}");
        let request = app
            .admin(Method::POST, "/admin/v1/webhooks")
            .json(&json!({"url": url, "events": ["api_user.revoked"]}));
        attempts.spawn(async move { request.call().await.status() });
    }
    let statuses = attempts.join_all().await;
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    assert_eq!((created, refused), (1, 7), "{statuses:?}");
    let listed = app.admin_get("/admin/v1/webhooks").await.value().await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 100);
}

#[tokio::test]
async fn deliveries_are_signed_in_the_standard_webhooks_format() {
    let app = lifecycle_app().await;
    let receiver = WebhookReceiver::start().await;
    let RevocationSent {
        webhook,
        secret,
        api_user: id,
    } = one_revocation_sent(&app, &receiver, "revoked-bot").await;
    let delivered = receiver.delivered_of("api_user.revoked");
    assert_eq!(delivered.len(), 1);
    let received = &delivered[0];
    assert_signed(&secret, received);
    assert!(received.header("webhook-id").starts_with("msg_"));
    assert_eq!(received.header("content-type"), "application/json");
    let body = received.json();
    assert_eq!(body["type"], "api_user.revoked");
    assert!(body["timestamp"].is_string());
    assert_eq!(body["data"]["api_user_id"], id.as_str());
    assert_eq!(body["data"]["username"], "revoked-bot");
    assert_eq!(
        body["data"]["revoked_by"],
        countersign_test_support::ADMIN_EMAIL
    );
    let logged = app
        .eventually(Wait::from_secs(5), || async {
            deliveries(&app, &webhook)
                .await
                .first()
                .is_some_and(|d| d["outcome"] == "delivered")
        })
        .await;
    assert!(logged);
    let log = deliveries(&app, &webhook).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["event_id"], received.header("webhook-id"));
    assert_eq!(log[0]["type"], "api_user.revoked");
    assert_eq!(log[0]["attempt"], 1);
    assert_eq!(log[0]["status_code"], 204);
    // A second revocation of the same API user is no new event.
    revoke(&app, &id).await;
    crate::lifecycle::full_round(&app).await;
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn expiry_warnings_are_sent_once_per_mark_and_only_the_tightest_of_several() {
    let app = lifecycle_app().await;
    let receiver = WebhookReceiver::start().await;
    let CreatedWebhook { secret, .. } = app
        .create_webhook(&receiver.url, &["api_user.expiring", "api_user.expired"])
        .await;
    let CreatedApiUser { id: slow, .. } = api_user(&app, "slow-bot", Duration::days(40)).await;
    let CreatedApiUser { id: fast, .. } = api_user(&app, "fast-bot", Duration::days(5)).await;
    let marks_of = |id: &str| {
        receiver
            .delivered_of("api_user.expiring")
            .iter()
            .filter(|r| r.json()["data"]["api_user_id"] == id)
            .map(|r| r.json()["data"]["warning_days"].as_i64().unwrap())
            .collect::<Vec<_>>()
    };
    let expired_of = |id: &str| {
        receiver
            .delivered_of("api_user.expired")
            .iter()
            .filter(|r| r.json()["data"]["api_user_id"] == id)
            .count()
    };
    // fast-bot passed 30 and 7 at once: only 7 is sent.
    assert!(until(&app, || marks_of(&fast) == vec![7]).await);
    assert!(marks_of(&slow).is_empty());

    app.advance(Duration::days(10));
    assert!(
        until(&app, || marks_of(&slow) == vec![30]
            && expired_of(&fast) == 1)
        .await
    );
    app.advance(Duration::days(24));
    assert!(until(&app, || marks_of(&slow) == vec![30, 7]).await);
    app.advance(Duration::days(5) + Duration::hours(12));
    assert!(until(&app, || marks_of(&slow) == vec![30, 7, 1]).await);
    app.advance(Duration::days(1));
    assert!(until(&app, || expired_of(&slow) == 1).await);
    crate::lifecycle::full_round(&app).await;
    assert_eq!(marks_of(&slow), vec![30, 7, 1], "each mark once");
    assert_eq!(marks_of(&fast), vec![7], "a missed mark is not sent late");
    assert_eq!(expired_of(&slow), 1);
    assert_eq!(expired_of(&fast), 1);
    for received in receiver.delivered() {
        assert_signed(&secret, &received);
    }
}

#[tokio::test]
async fn a_failing_receiver_is_retried_with_back_off_until_it_succeeds() {
    let app = lifecycle_app().await;
    let receiver = WebhookReceiver::start().await;
    receiver.fail_next(2);
    let RevocationSent {
        webhook, secret, ..
    } = one_revocation_sent(&app, &receiver, "flaky-bot").await;
    // The first retry waits one second of the server's time, the second two; the clock moves
    // only once the failure is recorded and the retry queued.
    assert!(retry_queued(&app, &webhook, 2).await);
    app.advance(Duration::seconds(1));
    assert!(received_at_least(&app, &receiver, 2).await);
    assert!(retry_queued(&app, &webhook, 3).await);
    app.advance(Duration::seconds(2));
    assert!(received_at_least(&app, &receiver, 3).await);
    let received = receiver.received();
    assert_eq!(
        received.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![500, 500, 204]
    );
    let id0 = received[0].header("webhook-id");
    assert!(received.iter().all(|r| r.header("webhook-id") == id0));
    for r in &received {
        assert_signed(&secret, r);
    }
    let settled = app
        .eventually(Wait::from_secs(5), || async {
            deliveries(&app, &webhook).await.len() == 3
                && deliveries(&app, &webhook).await[0]["outcome"] == "delivered"
        })
        .await;
    assert!(settled);
    let log = deliveries(&app, &webhook).await;
    let summary: Vec<(i64, String, Value)> = log
        .iter()
        .map(|d| {
            (
                d["attempt"].as_i64().unwrap(),
                d["outcome"].as_str().unwrap().to_owned(),
                d["status_code"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (3, "delivered".into(), json!(204)),
            (2, "failed".into(), json!(500)),
            (1, "failed".into(), json!(500)),
        ]
    );
}

#[tokio::test]
async fn a_restart_in_the_middle_of_retries_loses_nothing() {
    let mut app = lifecycle_app().await;
    let receiver = WebhookReceiver::start().await;
    receiver.fail_next(1);
    let RevocationSent {
        webhook, secret, ..
    } = one_revocation_sent(&app, &receiver, "restart-bot").await;
    let pending = app
        .eventually(Wait::from_secs(5), || async {
            deliveries(&app, &webhook)
                .await
                .first()
                .is_some_and(|d| d["outcome"] == "pending")
        })
        .await;
    assert!(pending, "the retry is queued");
    app.restart().await;
    app.advance(Duration::seconds(1));
    assert!(received_at_least(&app, &receiver, 2).await);
    let received = receiver.received();
    assert_eq!(received[1].status, 204);
    assert_eq!(
        received[0].header("webhook-id"),
        received[1].header("webhook-id")
    );
    assert_signed(&secret, &received[1]);
}

#[tokio::test]
async fn a_host_name_resolving_to_a_private_address_is_refused_at_delivery() {
    let app = spawn_app_with(|config| {
        config.lifecycle_check_seconds = 0.05;
        config.webhooks.allow_http = true;
        config.webhooks.allow_private = false;
        config.webhooks.retry_base_seconds = 1.0;
    })
    .await;
    let receiver = WebhookReceiver::start().await;
    let literal = app
        .admin_post(
            "/admin/v1/webhooks",
            json!({"url": receiver.url, "events": ["api_user.revoked"]}),
        )
        .await;
    assert_eq!(literal.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let url = format!("http://localhost:{}/hook", receiver.port);
    let CreatedWebhook { id: webhook, .. } = app.create_webhook(&url, &["api_user.revoked"]).await;
    let CreatedApiUser { id, .. } = api_user(&app, "ssrf-bot", Duration::days(100)).await;
    revoke(&app, &id).await;
    let refused = app
        .eventually(Wait::from_secs(10), || async {
            deliveries(&app, &webhook)
                .await
                .iter()
                .any(|d| d["outcome"] == "failed")
        })
        .await;
    assert!(refused);
    let log = deliveries(&app, &webhook).await;
    let failed = log.iter().find(|d| d["outcome"] == "failed").unwrap();
    assert_eq!(failed["status_code"], Value::Null);
    assert!(
        failed["error"].as_str().unwrap().contains("private"),
        "{failed}"
    );
    assert!(
        receiver.received().is_empty(),
        "nothing reached the receiver"
    );
}

#[tokio::test]
async fn rotations_and_sunsets_are_announced() {
    let app = lifecycle_app().await;
    let receiver = WebhookReceiver::start().await;
    let CreatedWebhook { secret, .. } = app.create_webhook(&receiver.url, &ALL_EVENTS).await;
    let CreatedApiUser { id, .. } = api_user(&app, "rotating-bot", Duration::days(100)).await;
    let rotated: Value = app
        .admin_post(
            &format!("/admin/v1/api-users/{id}/rotate"),
            json!({"grace_minutes": 30, "retire_after_silence_minutes": 5}),
        )
        .await
        .value()
        .await;
    assert!(rotated["key"].is_string());
    let key = app.create_integrator_key("Legacy", None).await;
    let key_id = key.id.as_str();
    let sunset = at(&app, Duration::hours(1));
    let patched = app
        .admin(
            Method::PATCH,
            &format!("/admin/v1/integrator-keys/{key_id}"),
        )
        .json(&json!({"legacy_sunset_at": sunset}))
        .call()
        .await;
    assert_eq!(patched.status(), StatusCode::OK);
    let announced = app
        .eventually(Wait::from_secs(10), || async {
            receiver.delivered_of("api_user.rotated").len() == 1
        })
        .await;
    assert!(announced);
    let rotation = receiver.delivered_of("api_user.rotated")[0].json();
    assert_eq!(rotation["data"]["api_user_id"], id.as_str());
    assert_eq!(rotation["data"]["retire_after_silence_minutes"], 5);
    assert!(
        receiver
            .delivered_of("integrator_key.sunset_reached")
            .is_empty()
    );
    app.advance(Duration::hours(2));
    let reached = app
        .eventually(Wait::from_secs(10), || async {
            receiver.delivered_of("integrator_key.sunset_reached").len() == 1
        })
        .await;
    assert!(reached);
    let sunset_event = receiver.delivered_of("integrator_key.sunset_reached")[0].json();
    assert_eq!(sunset_event["data"]["integrator_key_id"], key_id);
    assert_eq!(sunset_event["data"]["legacy_sunset_at"], sunset.as_str());
    for received in receiver.delivered() {
        assert_signed(&secret, &received);
    }
}
