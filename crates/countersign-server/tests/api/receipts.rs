//! Revocation receipts (SPEC §14): each node's heartbeat with the directory version it has
//! applied, and `revoke?wait=true` answering once every live node has applied the revocation.
//! Two real server processes on one PostgreSQL are in the CLI's `nodes` suite.

use countersign_store::NodeHeartbeat;
use countersign_test_support::{Call as _, Read as _};
use countersign_test_support::{TestApp, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};
use time::OffsetDateTime;

async fn revoke_and_wait(app: &TestApp, id: &str) -> reqwest::Response {
    app.admin(
        reqwest::Method::POST,
        &format!("/admin/v1/api-users/{id}/revoke?wait=true"),
    )
    .call()
    .await
}

/// Waits until the app's own node has written its heartbeat.
async fn beating(app: &TestApp) {
    let beating = app
        .eventually(std::time::Duration::from_secs(10), || async {
            !app.store
                .list_live_nodes(OffsetDateTime::now_utc() - time::Duration::seconds(10))
                .await
                .unwrap()
                .is_empty()
        })
        .await;
    assert!(beating, "the node writes its heartbeat");
}

fn other_node(applied_version: i64, seen_at: OffsetDateTime) -> NodeHeartbeat {
    NodeHeartbeat {
        node_id: "another-node".into(),
        name: "10.0.0.7:8080 pid 4242".into(),
        applied_version,
        started_at: seen_at,
        seen_at,
    }
}

#[tokio::test]
async fn a_revocation_with_wait_answers_once_every_live_node_has_applied_it() {
    let app = spawn_app().await;
    let api_user = app
        .create_api_user("Receipted", json!({"type": "organization"}))
        .await;
    beating(&app).await;
    let response = revoke_and_wait(&app, &api_user.id).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.value().await;
    assert_eq!(body["api_user"]["status"], "revoked");
    assert_eq!(body["applied"], json!({"nodes": 1, "of": 1}));
    assert!(body.get("behind").is_none());
    // Without `wait`, the answer is the API user, as before.
    let plain = app
        .admin(
            reqwest::Method::POST,
            &format!("/admin/v1/api-users/{}/revoke", api_user.id),
        )
        .call()
        .await;
    assert_eq!(plain.status(), StatusCode::OK);
    assert_eq!(plain.value().await["status"], "revoked");
}

#[tokio::test]
async fn a_live_node_behind_is_named_after_two_seconds() {
    let app = spawn_app().await;
    let api_user = app
        .create_api_user("Receipted", json!({"type": "organization"}))
        .await;
    beating(&app).await;
    app.store
        .upsert_node_heartbeat(&other_node(0, OffsetDateTime::now_utc()))
        .await
        .unwrap();
    let response = revoke_and_wait(&app, &api_user.id).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let body: Value = response.value().await;
    assert_eq!(body["api_user"]["status"], "revoked");
    assert_eq!(body["applied"]["of"], 2);
    assert_eq!(body["applied"]["nodes"], 1);
    let behind = body["behind"].as_array().unwrap();
    assert_eq!(behind.len(), 1);
    assert_eq!(behind[0]["node_id"], "another-node");
    assert_eq!(behind[0]["name"], "10.0.0.7:8080 pid 4242");
    assert_eq!(behind[0]["applied_version"], 0);
    // The revocation itself took effect at once, whatever the receipts say.
    assert_eq!(
        app.exchange("Receipted", &api_user.key, "x@example.com")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_node_silent_for_more_than_ten_seconds_is_not_waited_for() {
    let app = spawn_app().await;
    let api_user = app
        .create_api_user("Receipted", json!({"type": "organization"}))
        .await;
    beating(&app).await;
    app.store
        .upsert_node_heartbeat(&other_node(
            0,
            OffsetDateTime::now_utc() - time::Duration::seconds(11),
        ))
        .await
        .unwrap();
    let response = revoke_and_wait(&app, &api_user.id).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.value().await;
    assert_eq!(body["applied"], json!({"nodes": 1, "of": 1}));
}

#[tokio::test]
async fn a_node_removes_its_heartbeat_when_it_stops_gracefully() {
    let mut app = spawn_app().await;
    let store = app.store.clone();
    let since = || OffsetDateTime::now_utc() - time::Duration::seconds(10);
    beating(&app).await;
    app.shutdown().await;
    assert!(store.list_live_nodes(since()).await.unwrap().is_empty());
}

#[tokio::test]
async fn wait_must_be_a_boolean() {
    let app = spawn_app().await;
    let api_user = app
        .create_api_user("Receipted", json!({"type": "organization"}))
        .await;
    let response = app
        .admin(
            reqwest::Method::POST,
            &format!("/admin/v1/api-users/{}/revoke?wait=soon", api_user.id),
        )
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        app.exchange("Receipted", &api_user.key, "x@example.com")
            .await
            .status(),
        StatusCode::FORBIDDEN,
        "a refused request revokes nothing (the key is good; the user is unknown)"
    );
}
