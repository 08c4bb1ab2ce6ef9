//! `ceiling` (the unauthenticated endpoint every figure is compared with) and `populate` (a
//! directory in a running countersign, and the credentials the load scripts use).

use anyhow::{Context, Result, bail};
use countersign_core::legacy::{HeaderFormat, build_header};
use serde_json::{Value, json};
use std::path::PathBuf;

pub(crate) async fn ceiling(listen: &str) -> Result<()> {
    use axum::routing::{get, post};
    let app = axum::Router::new()
        .route("/v1/verify", get(|| async { "" }))
        .route(
            "/api/{version}/authentication/apiUser",
            post(|| async { "{}" }),
        );
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .context("binding the ceiling")?;
    axum::serve(listener, app)
        .await
        .context("serving the ceiling")
}

pub(crate) async fn populate(
    server: &str,
    email: &str,
    password: &str,
    users: usize,
    out: &PathBuf,
) -> Result<()> {
    let client = reqwest::Client::new();
    let login: Value = client
        .post(format!("{server}/admin/v1/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await?
        .json()
        .await?;
    let admin = login["token"]
        .as_str()
        .context("admin sign-in failed")?
        .to_owned();
    let get = |path: String| {
        client
            .get(format!("{server}{path}"))
            .bearer_auth(&admin)
            .send()
    };
    let accounts: Value = get("/admin/v1/accounts".into()).await?.json().await?;
    let account = accounts["items"][0]["id"]
        .as_str()
        .context("no account")?
        .to_owned();
    let key: Value = client
        .post(format!("{server}/admin/v1/integrator-keys"))
        .bearer_auth(&admin)
        .json(&json!({"name": "bench"}))
        .send()
        .await?
        .json()
        .await?;
    let integrator_key = key["key"].as_str().context("integrator key")?.to_owned();
    let mut service_id = String::new();
    let mut user_ids = Vec::new();
    for i in 0..users.max(2) {
        let email = format!("user{i}@bench.example");
        let body = json!({"email": email, "name": email, "password": "bench-password-1"});
        let created: Value = client
            .post(format!("{server}/admin/v1/users"))
            .bearer_auth(&admin)
            .json(&body)
            .send()
            .await?
            .json()
            .await?;
        let id = created["id"].as_str().context("user")?.to_owned();
        let permissions = if i == 0 {
            json!(["send", "sobo", "account_wide"])
        } else {
            json!(["send"])
        };
        let response = client
            .put(format!(
                "{server}/admin/v1/users/{id}/memberships/{account}"
            ))
            .bearer_auth(&admin)
            .json(&json!({"permissions": permissions, "is_default": true}))
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("membership failed: {}", response.status());
        }
        if i == 0 {
            service_id.clone_from(&id);
        }
        user_ids.push(id);
    }
    let expires = (time::OffsetDateTime::now_utc() + time::Duration::days(60))
        .date()
        .to_string();
    let created: Value = client
        .post(format!("{server}/admin/v1/api-users"))
        .bearer_auth(&admin)
        .json(&json!({"username": "bench-bot", "scope": {"type": "organization"}, "expires_at": expires}))
        .send()
        .await?
        .json()
        .await?;
    let api_key = created["key"].as_str().context("api user")?.to_owned();
    let mut tokens = Vec::new();
    for i in 0..users.clamp(2, 100) {
        let body = json!({"request": {"apiUsername": "bench-bot", "key": api_key, "contextUsername": format!("user{i}@bench.example"), "sessionLengthInMinutes": 1440}});
        let exchanged: Value = client
            .post(format!("{server}/api/v3.5/authentication/apiUser"))
            .json(&body)
            .send()
            .await?
            .json()
            .await?;
        tokens.push(exchanged["token"].as_str().context("token")?.to_owned());
    }
    // 1,000 distinct tokens: 10 API users × 100 users (SPEC §10).
    let mut distinct_tokens = Vec::new();
    for bot in 0..10 {
        let username = format!("bench-fleet-{bot}");
        let created: Value = client
            .post(format!("{server}/admin/v1/api-users"))
            .bearer_auth(&admin)
            .json(&json!({"username": username, "scope": {"type": "organization"}, "expires_at": expires}))
            .send()
            .await?
            .json()
            .await?;
        let key = created["key"]
            .as_str()
            .context("fleet api user")?
            .to_owned();
        for i in 0..users.clamp(2, 100) {
            let body = json!({"request": {"apiUsername": username, "key": key, "contextUsername": format!("user{i}@bench.example"), "sessionLengthInMinutes": 1440}});
            let exchanged: Value = client
                .post(format!("{server}/api/v3.5/authentication/apiUser"))
                .json(&body)
                .send()
                .await?
                .json()
                .await?;
            distinct_tokens.push(exchanged["token"].as_str().context("token")?.to_owned());
        }
    }
    let legacy = build_header(
        HeaderFormat::Json,
        "user0@bench.example",
        "bench-password-1",
        &integrator_key,
        None,
    );
    let sobo = build_header(
        HeaderFormat::Json,
        "user0@bench.example",
        "bench-password-1",
        &integrator_key,
        Some("user1@bench.example"),
    );
    let oauth_tokens = crate::oauth::access_tokens(
        &client,
        server,
        &admin,
        &user_ids[..user_ids.len().min(100)],
    )
    .await?;
    let output = json!({
        "tokens": tokens,
        "oauth_tokens": oauth_tokens,
        "distinct_tokens": distinct_tokens,
        "legacy_header": legacy,
        "legacy_sobo_header": sobo,
        "integrator_key": integrator_key,
        "api_username": "bench-bot",
        "api_key": api_key,
        "context_username": "user1@bench.example",
        "service_user_id": service_id,
    });
    std::fs::write(out, serde_json::to_vec_pretty(&output)?).context("writing credentials")?;
    println!(
        "populated {} users, {} tokens, {} distinct fleet tokens",
        users.max(2),
        tokens.len(),
        distinct_tokens.len()
    );
    Ok(())
}
