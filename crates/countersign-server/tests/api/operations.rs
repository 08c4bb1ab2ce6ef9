//! Operations surface: `/metrics`, request ids, health.

use countersign_test_support::CreatedApiUser;
use countersign_test_support::{Call as _, Read as _};
use countersign_test_support::{spawn_app, spawn_app_with};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn metrics_report_requests_verifications_cache_and_throttle() {
    let app = spawn_app().await;
    app.create_sender("bob@example.com", None).await;
    let CreatedApiUser { key, .. } = app
        .create_api_user("bot", json!({"type": "organization"}))
        .await;
    let token = app.token("bot", &key, "bob@example.com").await;
    for _ in 0..3 {
        assert_eq!(app.verify(&token, None).await.status(), StatusCode::OK);
    }
    app.verify("cst_bad", None).await;
    let response = app.get("/metrics").call().await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.body().await;
    assert!(
        text.contains("countersign_http_requests_total{route=\"/v1/verify\",status=\"200\"} 3"),
        "{text}"
    );
    assert!(text.contains(
        "countersign_verifications_total{method=\"api_user_token\",outcome=\"allowed\"} 3"
    ));
    assert!(text.contains(
        "countersign_verifications_total{method=\"api_user_token\",outcome=\"refused\"} 1"
    ));
    assert!(text.contains("countersign_verification_duration_seconds_bucket"));
    assert!(text.contains("countersign_directory_cache_hits"));
    assert!(text.contains("countersign_throttled_attempts{kind=\"source_ip\"}"));
    assert!(!text.contains(&token) && !text.contains(&key));
}

/// The value of an unlabelled metric.
fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} in {text}"))
}

/// A node's own directory change empties its caches when it commits and again behind its
/// version, and no more: the version re-check (and, on PostgreSQL, the notification of that
/// change coming back) finds it applied. A change the node did not make (a version bumped and
/// announced in the database, as the CLI or another node does) empties them once, and marks
/// when both have been seen.
#[tokio::test]
async fn a_nodes_own_change_is_not_applied_again_when_it_comes_back() {
    let app = spawn_app_with(|config| config.directory_recheck_millis = 50).await;
    let figures = || async {
        let text = app.get("/metrics").call().await.body().await;
        (
            metric(&text, "countersign_directory_cache_invalidations"),
            metric(&text, "countersign_directory_applied_version"),
        )
    };
    let foreign_change = || async {
        let version = app.store.bump_directory_version().await.unwrap();
        app.store.announce_directory_version(version).await.unwrap();
        let seen = app
            .eventually(std::time::Duration::from_secs(5), || async {
                figures().await.1 >= u64::try_from(version).unwrap()
            })
            .await;
        assert!(seen, "version {version} applied");
    };
    // Once the node has applied a foreign change, its watcher is running (and on PostgreSQL
    // listening), so what follows is counted from a settled start.
    foreign_change().await;
    let (before, _) = figures().await;
    app.create_environment("Staging", "sandbox").await;
    assert_eq!(
        figures().await.0,
        before + 2,
        "the change itself, before and after its version"
    );
    foreign_change().await;
    assert_eq!(
        figures().await.0,
        before + 3,
        "the own change emptied the caches again"
    );
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_keeps_a_given_one() {
    let app = spawn_app().await;
    let response = app.get("/healthz").call().await;
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(id.len() > 10, "{id}");
    let next = app.get("/healthz").call().await;
    assert_ne!(
        next.headers()["x-request-id"].to_str().unwrap(),
        id,
        "unique per request"
    );
    let response = app
        .get("/healthz")
        .header("x-request-id", "trace-me-123")
        .call()
        .await;
    assert_eq!(response.headers()["x-request-id"], "trace-me-123");
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_unreachable() {
    let app = spawn_app().await;
    assert_eq!(app.get("/readyz").call().await.status(), StatusCode::OK);
    // Closing the server's connection pool makes the database unreachable for it.
    let store = app.server().state().store.clone();
    app.on_server(async move { store.close().await }).await;
    let response = app.get("/readyz").call().await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        app.get("/healthz").call().await.status(),
        StatusCode::OK,
        "still alive"
    );
}
