//! Crash safety: writes acknowledged with 2xx survive `kill -9`, issued tokens still verify,
//! revoked ones stay revoked; graceful shutdown flushes the audit batch.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

mod support;

use countersign_test_support::{Call as _, Read as _};
use serde_json::{Value, json};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use support::{admin_token, countersign, kill_hard, start, terminate};

#[tokio::test]
async fn acknowledged_writes_survive_sigkill_and_revocations_stay() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        countersign(dir.path())
            .arg("init")
            .output()
            .unwrap()
            .status
            .success()
    );
    let mut server = start(dir.path(), &[], Stdio::null()).await;
    let base = server.base.clone();
    let client = reqwest::Client::new();
    let admin = admin_token(&client, &base).await;
    let accounts: Value = client
        .get(format!("{base}/admin/v1/accounts"))
        .bearer_auth(&admin)
        .call()
        .await
        .value()
        .await;
    let account = accounts["items"][0]["id"].as_str().unwrap().to_owned();
    let bob: Value = client
        .post(format!("{base}/admin/v1/users"))
        .bearer_auth(&admin)
        .json(&json!({"email": "bob@example.com", "name": "Bob"}))
        .call()
        .await
        .value()
        .await;
    let bob = bob["id"].as_str().unwrap().to_owned();
    client
        .put(format!("{base}/admin/v1/users/{bob}/memberships/{account}"))
        .bearer_auth(&admin)
        .json(&json!({"permissions": ["send"], "is_default": true}))
        .call()
        .await;
    let acknowledged_users = Arc::new(Mutex::new(Vec::<String>::new()));
    let acknowledged_memberships = Arc::new(Mutex::new(Vec::<String>::new()));
    let tokens = Arc::new(Mutex::new(Vec::<(String, bool)>::new()));
    let expires = (time::OffsetDateTime::now_utc() + time::Duration::days(9))
        .date()
        .to_string();
    let mut workers = Vec::new();
    for worker in 0..4 {
        let (client, base, admin, account, expires) = (
            client.clone(),
            base.clone(),
            admin.clone(),
            account.clone(),
            expires.clone(),
        );
        let (users, memberships, tokens) = (
            acknowledged_users.clone(),
            acknowledged_memberships.clone(),
            tokens.clone(),
        );
        workers.push(tokio::spawn(async move {
            for i in 0.. {
                let username = format!("bot-{worker}-{i}");
                let Ok(response) = client
                    .post(format!("{base}/admin/v1/api-users"))
                    .bearer_auth(&admin)
                    .json(&json!({"username": username, "scope": {"type": "organization"}, "expires_at": expires}))
                    .send()
                    .await
                else {
                    break;
                };
                if !response.status().is_success() {
                    break;
                }
                let Ok(created) = response.json::<Value>().await else { break };
                let id = created["api_user"]["id"].as_str().unwrap().to_owned();
                users.lock().unwrap().push(id.clone());
                let key = created["key"].as_str().unwrap().to_owned();
                let Ok(exchanged) = client
                    .post(format!("{base}/api/v3.5/authentication/apiUser"))
                    .json(&json!({"request": {"apiUsername": username, "key": key, "contextUsername": "bob@example.com"}}))
                    .send()
                    .await
                else {
                    break;
                };
                let Ok(body) = exchanged.json::<Value>().await else { break };
                let token = body["token"].as_str().unwrap_or_default().to_owned();
                let revoke = i % 3 == 0;
                if revoke {
                    match client.post(format!("{base}/admin/v1/api-users/{id}/revoke")).bearer_auth(&admin).send().await {
                        Ok(r) if r.status().is_success() => tokens.lock().unwrap().push((token, false)),
                        _ => break,
                    }
                } else {
                    tokens.lock().unwrap().push((token, true));
                }
                let email = format!("user-{worker}-{i}@example.com");
                let Ok(user) = client.post(format!("{base}/admin/v1/users")).bearer_auth(&admin).json(&json!({"email": email, "name": "u"})).send().await else { break };
                let Ok(user) = user.json::<Value>().await else { break };
                let user_id = user["id"].as_str().unwrap_or_default().to_owned();
                match client
                    .put(format!("{base}/admin/v1/users/{user_id}/memberships/{account}"))
                    .bearer_auth(&admin)
                    .json(&json!({"permissions": ["send"], "is_default": true}))
                    .send()
                    .await
                {
                    Ok(r) if r.status().is_success() => memberships.lock().unwrap().push(user_id),
                    _ => break,
                }
            }
        }));
    }
    // Let the load run, then kill the process without warning.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while acknowledged_memberships.lock().unwrap().len() < 40
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    kill_hard(&mut server);
    for worker in workers {
        let _ = worker.await;
    }
    let users = acknowledged_users.lock().unwrap().clone();
    let memberships = acknowledged_memberships.lock().unwrap().clone();
    let tokens = tokens.lock().unwrap().clone();
    assert!(
        memberships.len() >= 40,
        "load ran: {} memberships",
        memberships.len()
    );
    let restarted = start(dir.path(), &[], Stdio::null()).await;
    let base = restarted.base.clone();
    let admin = admin_token(&client, &base).await;
    for id in &users {
        let response = client
            .get(format!("{base}/admin/v1/api-users/{id}"))
            .bearer_auth(&admin)
            .call()
            .await;
        assert_eq!(
            response.status(),
            reqwest::StatusCode::OK,
            "acknowledged API user {id} is present"
        );
    }
    for user in &memberships {
        let body: Value = client
            .get(format!("{base}/admin/v1/users/{user}"))
            .bearer_auth(&admin)
            .call()
            .await
            .value()
            .await;
        assert_eq!(
            body["memberships"].as_array().unwrap().len(),
            1,
            "acknowledged membership of {user} is present"
        );
    }
    for (token, valid) in &tokens {
        let status = client
            .get(format!("{base}/v1/verify"))
            .bearer_auth(token)
            .call()
            .await
            .status();
        if *valid {
            assert_eq!(
                status,
                reqwest::StatusCode::OK,
                "issued, unrevoked token still verifies"
            );
        } else {
            assert_eq!(
                status,
                reqwest::StatusCode::UNAUTHORIZED,
                "revoked stays revoked"
            );
        }
    }
    eprintln!(
        "after SIGKILL: {} API users, {} memberships, {} tokens checked",
        users.len(),
        memberships.len(),
        tokens.len()
    );
}

#[tokio::test]
async fn graceful_shutdown_flushes_every_audit_event() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        countersign(dir.path())
            .arg("init")
            .output()
            .unwrap()
            .status
            .success()
    );
    let before = audit_count(dir.path());
    let mut server = start(dir.path(), &[], Stdio::null()).await;
    let client = reqwest::Client::new();
    let mut requests = Vec::new();
    for i in 0..200 {
        let client = client.clone();
        let base = server.base.clone();
        requests.push(tokio::spawn(async move {
            client
                .post(format!("{base}/api/v3.5/authentication/apiUser"))
                .json(&json!({"request": {"apiUsername": format!("ghost-{i}"), "key": "csk_x", "contextUsername": "x@example.com"}}))
                .send()
                .await
                .map(|r| r.status().as_u16())
        }));
    }
    let mut refused = 0;
    for request in requests {
        if request.await.unwrap().unwrap() == 401 {
            refused += 1;
        }
    }
    assert!(terminate(&mut server).success(), "exit 0 on SIGTERM");
    let after = audit_count(dir.path());
    assert_eq!(
        after - before,
        refused,
        "every refused attempt is in the audit log after shutdown"
    );
}

fn audit_count(dir: &std::path::Path) -> i64 {
    let output = countersign(dir)
        .args([
            "audit",
            "list",
            "--all",
            "--action",
            "token.issue",
            "--limit",
            "1000",
            "--json",
        ])
        .output()
        .unwrap();
    let value: Value = serde_json::from_slice(&output.stdout).unwrap();
    value
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "token.issue" && e["outcome"] == "failure")
        .count() as i64
}
