//! The check every test makes when its app drops: the server stops gracefully and every audit
//! event it queued was written.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use countersign_test_support::spawn_app;

/// An audited change whose event the database refuses (its table is gone): the writer retries,
/// then counts the batch lost, and the test that made the change fails when its app drops,
/// although every assertion of its own passed. The event is still in its retries (about 20 s)
/// when the test's body ends, so this also shows that the drop waits for the server's audit
/// writer to finish rather than reading the count at once.
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
