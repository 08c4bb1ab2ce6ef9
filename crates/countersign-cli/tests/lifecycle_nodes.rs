//! Two real `countersign serve` processes on one PostgreSQL run the credential lifecycle
//! (SPEC §13): whichever node holds the lease notices expiry warnings, either node records
//! revocations, either node delivers, and a webhook receiver gets each event exactly once —
//! also after the node holding the lease is killed and the other takes it over. Without
//! `COUNTERSIGN_TEST_POSTGRES_URL` it fails in CI and elsewhere prints a SKIPPED line; it lives
//! in `on_postgresql`, which the SQLite pass of `.ci/run` leaves out.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

mod support;

use countersign_store::{Store, StoreConfig};
use countersign_test_support::webhooks::WebhookReceiver;
use countersign_test_support::{Call as _, Read as _};
use countersign_test_support::{fresh_database, postgres_base_url};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{ADMIN, ADMIN_PASSWORD, Server, countersign_on, serve};

const CONFIG: &str = "[server]\nlifecycle_check_seconds = 0.2\n\n[server.webhooks]\n\
                      allow_http = true\nallow_private = true\nretry_base_seconds = 1\n";

/// `countersign` on the PostgreSQL database `url` with `config`, quiet.
fn command(url: &str, config: &Path) -> Command {
    let mut command = countersign_on(url);
    command
        .arg("--config")
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

async fn start_node(url: &str, config: &Path) -> Server {
    serve(command(url, config)).await
}

async fn call(
    client: &reqwest::Client,
    node: &Server,
    token: &str,
    path: &str,
    body: Value,
) -> Value {
    let mut request = client.post(format!("{}{path}", node.base)).json(&body);
    if !token.is_empty() {
        request = request.bearer_auth(token);
    }
    let response = request.call().await;
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.value().await
}

/// Polls `check` every 50 ms until it holds or `limit` passes.
async fn within<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

mod on_postgresql {
    use super::*;

    #[tokio::test]
    async fn two_nodes_deliver_each_lifecycle_event_exactly_once() {
        if postgres_base_url().is_none() {
            countersign_test_support::skip::skip(
                "PostgreSQL: set COUNTERSIGN_TEST_POSTGRES_URL=postgres://USER@HOST:PORT/DB",
            );
            return;
        }
        let (url, _database) = fresh_database().await;
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("countersign.toml");
        std::fs::write(&config, CONFIG).unwrap();
        assert!(
            command(&url, &config)
                .arg("init")
                .status()
                .unwrap()
                .success()
        );
        let a = start_node(&url, &config).await;
        let b = start_node(&url, &config).await;
        let store = Store::connect(&StoreConfig {
            url: url.clone(),
            max_connections: 1,
        })
        .await
        .unwrap();
        let client = reqwest::Client::new();
        let login = call(
            &client,
            &a,
            "",
            "/admin/v1/login",
            json!({"email": ADMIN, "password": ADMIN_PASSWORD}),
        )
        .await;
        let admin = login["token"].as_str().unwrap().to_owned();
        let receiver = WebhookReceiver::start().await;
        call(
            &client,
            &a,
            &admin,
            "/admin/v1/webhooks",
            json!({"url": receiver.url, "events": ["api_user.expiring", "api_user.revoked"]}),
        )
        .await;
        let in_days = |days: i64| {
            (time::OffsetDateTime::now_utc() + time::Duration::days(days))
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap()
        };
        // Ten API users past their 7-day mark (noticed by the lease holder), and four revoked,
        // two through each node (recorded by the node that revokes).
        for n in 0..10 {
            let node = if n % 2 == 0 { &a } else { &b };
            call(
                &client,
                node,
                &admin,
                "/admin/v1/api-users",
                json!({"username": format!("soon-{n}"), "scope": {"type": "organization"},
                       "expires_at": in_days(5)}),
            )
            .await;
        }
        for n in 0..4 {
            let node = if n % 2 == 0 { &a } else { &b };
            let created = call(
                &client,
                node,
                &admin,
                "/admin/v1/api-users",
                json!({"username": format!("gone-{n}"), "scope": {"type": "organization"},
                       "expires_at": in_days(100)}),
            )
            .await;
            let id = created["api_user"]["id"].as_str().unwrap();
            call(
                &client,
                node,
                &admin,
                &format!("/admin/v1/api-users/{id}/revoke"),
                json!({}),
            )
            .await;
        }
        let all = within(Duration::from_secs(20), || async {
            receiver.delivered().len() >= 14
        })
        .await;
        assert!(all, "{} delivered", receiver.delivered().len());

        // Kill one node without a graceful stop (its lease, if it held it, lapses), and wait
        // until the survivor has taken or renewed the lease after that and run a whole round.
        drop(a);
        let killed = time::OffsetDateTime::now_utc();
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut renewed_to = None;
        let survivor_round = loop {
            if let Some((_, until)) = store.find_lease("lifecycle").await.unwrap() {
                match renewed_to {
                    // A renewal made more than a second after the kill is the survivor's.
                    None if until > killed + time::Duration::seconds(6) => renewed_to = Some(until),
                    // The next one starts a round after a whole round of the survivor's.
                    Some(first) if until > first => break true,
                    _ => {}
                }
            }
            if Instant::now() >= deadline {
                break false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert!(survivor_round, "the surviving node runs the lifecycle");

        let delivered = receiver.delivered();
        let mut by_id: HashMap<String, usize> = HashMap::new();
        let mut by_event: HashMap<(String, String), usize> = HashMap::new();
        for received in &delivered {
            *by_id
                .entry(received.header("webhook-id").to_owned())
                .or_default() += 1;
            let body = received.json();
            let key = (
                body["type"].as_str().unwrap().to_owned(),
                body["data"]["username"].as_str().unwrap().to_owned(),
            );
            *by_event.entry(key).or_default() += 1;
        }
        assert_eq!(delivered.len(), 14, "{by_event:?}");
        assert!(by_id.values().all(|n| *n == 1), "{by_id:?}");
        assert!(by_event.values().all(|n| *n == 1), "{by_event:?}");
        assert_eq!(
            by_event
                .keys()
                .filter(|(t, _)| t == "api_user.expiring")
                .count(),
            10
        );
        assert!(
            delivered
                .iter()
                .filter(|r| r.json()["type"] == "api_user.expiring")
                .all(|r| r.json()["data"]["warning_days"] == 7)
        );
        assert_eq!(receiver.received().len(), 14, "nothing was sent twice");
        drop(b);
        store.close().await;
    }
}
