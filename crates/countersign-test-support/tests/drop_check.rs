//! The check every test makes when its app drops: the server stops gracefully and every audit
//! event it queued was written.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use countersign_test_support::{Call as _, spawn_app};
use reqwest::StatusCode;

/// An audited change whose event the database refuses (its table is gone): the writer retries,
/// then counts the batch lost, and the test that made the change fails when its app drops,
/// although every assertion of its own passed.
#[tokio::test]
#[should_panic(expected = "the server lost audit events")]
async fn a_test_fails_when_its_server_could_not_write_an_audit_event() {
    let app = spawn_app().await;
    app.store
        .execute_raw("DROP TABLE audit_events")
        .await
        .unwrap();
    let created = app.create_environment("Staging", "sandbox").await;
    assert!(!created.is_empty());
}

/// The same change on a healthy server: the event is written before the server stops.
#[tokio::test]
async fn an_audit_event_queued_as_a_test_ends_is_written_before_its_server_stops() {
    let mut app = spawn_app().await;
    let before = app.store.count_audit_events().await.unwrap();
    let response = app
        .admin(reqwest::Method::POST, "/admin/v1/environments")
        .json(&serde_json::json!({"name": "Staging", "kind": "sandbox"}))
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    app.shutdown().await;
    let after = app.store.count_audit_events().await.unwrap();
    assert_eq!(
        after,
        before + 1,
        "the environment's creation is in the audit log"
    );
}
