//! Secret hygiene: a full scenario with trace-level logging, then every key, password, API
//! password and token used is searched for in the logs, the audit log, the metrics and the raw
//! database files (a full dump): zero hits.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

mod support;

use countersign_core::legacy::{HeaderFormat, build_header};
use countersign_test_support::{Call as _, Read as _};
use serde_json::{Value, json};
use std::process::Stdio;
use support::{ADMIN_PASSWORD, admin_token, countersign, start, terminate};

#[tokio::test]
async fn no_secret_reaches_logs_audit_metrics_or_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let master = dir.path().join("master.key");
    std::fs::write(&master, "7f".repeat(32)).unwrap();
    let master_path = master.display().to_string();
    let init = countersign(dir.path())
        .arg("init")
        .env("COUNTERSIGN_MASTER_KEY_FILE", &master_path)
        .output()
        .unwrap();
    assert!(init.status.success());
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut server = start(
        dir.path(),
        &[
            ("RUST_LOG", "trace"),
            ("COUNTERSIGN_MASTER_KEY_FILE", &master_path),
        ],
        Stdio::from(log),
    )
    .await;
    let base = server.base.clone();
    let client = reqwest::Client::new();
    let admin = admin_token(&client, &base).await;
    let mut secrets = vec![ADMIN_PASSWORD.to_owned(), admin.clone()];
    let post = |path: &str, body: Value| {
        client
            .post(format!("{base}{path}"))
            .bearer_auth(&admin)
            .json(&body)
            .send()
    };
    let user_password = "user-password-<&\"'>";
    secrets.push(user_password.to_owned());
    let user: Value = post(
        "/admin/v1/users",
        json!({"email": "bob@example.com", "name": "Bob", "password": user_password}),
    )
    .await
    .unwrap()
    .value()
    .await;
    let user_id = user["id"].as_str().unwrap();
    let accounts: Value = client
        .get(format!("{base}/admin/v1/accounts"))
        .bearer_auth(&admin)
        .call()
        .await
        .value()
        .await;
    let account = accounts["items"][0]["id"].as_str().unwrap();
    client
        .put(format!(
            "{base}/admin/v1/users/{user_id}/memberships/{account}"
        ))
        .bearer_auth(&admin)
        .json(&json!({"permissions": ["send", "sobo", "account_wide"], "is_default": true}))
        .call()
        .await;
    let expires = (time::OffsetDateTime::now_utc() + time::Duration::days(9))
        .date()
        .to_string();
    let created: Value = post("/admin/v1/api-users", json!({"username": "hygiene-bot", "scope": {"type": "organization"}, "expires_at": expires})).await.unwrap().value().await;
    let key = created["key"].as_str().unwrap().to_owned();
    secrets.push(key.clone());
    let exchange: Value = client
        .post(format!("{base}/api/v3.5/authentication/apiUser"))
        .json(&json!({"request": {"apiUsername": "hygiene-bot", "key": key, "contextUsername": "bob@example.com"}}))
        .call().await
        .value().await;
    let token = exchange["token"].as_str().unwrap().to_owned();
    secrets.push(token.clone());
    assert!(
        client
            .get(format!("{base}/v1/verify"))
            .bearer_auth(&token)
            .call()
            .await
            .status()
            .is_success()
    );
    // A wrong key and a wrong password are failures that get logged and audited.
    client
        .post(format!("{base}/api/v3.5/authentication/apiUser"))
        .json(&json!({"request": {"apiUsername": "hygiene-bot", "key": "csk_not-the-key-secret", "contextUsername": "bob@example.com"}}))
        .call().await;
    secrets.push("csk_not-the-key-secret".to_owned());
    let integrator: Value = post("/admin/v1/integrator-keys", json!({"name": "erp"}))
        .await
        .unwrap()
        .value()
        .await;
    let integrator_key = integrator["key"].as_str().unwrap();
    let header = build_header(
        HeaderFormat::Xml,
        "bob@example.com",
        user_password,
        integrator_key,
        None,
    );
    let login: Value = client
        .get(format!(
            "{base}/restapi/v2/login_information?api_password=true"
        ))
        .header("X-DocuSign-Authentication", &header)
        .call()
        .await
        .value()
        .await;
    let api_password = login["apiPassword"].as_str().unwrap().to_owned();
    secrets.push(api_password.clone());
    let with_api_password = build_header(
        HeaderFormat::Json,
        "bob@example.com",
        &api_password,
        integrator_key,
        None,
    );
    assert!(
        client
            .get(format!("{base}/v1/verify"))
            .header("X-DocuSign-Authentication", with_api_password)
            .call()
            .await
            .status()
            .is_success()
    );
    let wrong = build_header(
        HeaderFormat::Json,
        "bob@example.com",
        "wrong-password-secret",
        integrator_key,
        None,
    );
    client
        .get(format!("{base}/v1/verify"))
        .header("X-DocuSign-Authentication", wrong)
        .call()
        .await;
    secrets.push("wrong-password-secret".to_owned());
    let id = created["api_user"]["id"].as_str().unwrap();
    let rotated: Value = post(
        &format!("/admin/v1/api-users/{id}/rotate"),
        json!({"grace_minutes": 5}),
    )
    .await
    .unwrap()
    .value()
    .await;
    secrets.push(rotated["key"].as_str().unwrap().to_owned());
    client
        .put(format!("{base}/admin/v1/users/{user_id}/password"))
        .bearer_auth(&admin)
        .json(&json!({"password": "second-user-password"}))
        .call()
        .await;
    secrets.push("second-user-password".to_owned());
    let metrics = client
        .get(format!("{base}/metrics"))
        .call()
        .await
        .body()
        .await;
    // The audit writer batches; read the log back through the API until the change is there.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let audit = loop {
        let audit = client
            .get(format!("{base}/admin/v1/audit?limit=1000"))
            .bearer_auth(&admin)
            .call()
            .await
            .body()
            .await;
        if audit.contains("api_user.create") || std::time::Instant::now() > deadline {
            break audit;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(
        audit.contains("api_user.create"),
        "the audit log is populated"
    );
    assert!(terminate(&mut server).success());
    let logs = std::fs::read(&log_path).unwrap();
    assert!(logs.len() > 10_000, "trace logging produced output");
    let mut database = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("cs.db")
        {
            database.extend(std::fs::read(path).unwrap());
        }
    }
    assert!(!database.is_empty());
    let mut hits = Vec::new();
    for secret in &secrets {
        for (place, haystack) in [
            ("logs", &logs),
            ("database", &database),
            ("audit", &audit.as_bytes().to_vec()),
            ("metrics", &metrics.as_bytes().to_vec()),
        ] {
            if haystack
                .windows(secret.len())
                .any(|w| w == secret.as_bytes())
            {
                hits.push(format!("{place}: {}…", &secret[..6.min(secret.len())]));
            }
        }
    }
    // With a master key, neither the pepper nor the signing key is in the database.
    let master_derived = countersign_core::key::digest_key_text("token_signing_key_1", &[0x7f; 32]);
    assert!(
        !database
            .windows(master_derived.len())
            .any(|w| w == master_derived.as_bytes())
    );
    assert!(
        !String::from_utf8_lossy(&database).contains("token_signing_key_1"),
        "no signing key row is stored"
    );
    assert!(hits.is_empty(), "secrets found: {hits:?}");
}
