//! Sustained load: `soak` (a fixed request rate while the directory changes), `scale-load` (a
//! large directory through the store) and `tokens` (many distinct token pairs).

use crate::memory::{percentile, resident_kib};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::path::PathBuf;

pub(crate) async fn soak(
    server: &str,
    creds: &PathBuf,
    admin_email: &str,
    admin_password: &str,
    pid: u32,
    rate: u64,
    seconds: u64,
) -> Result<()> {
    let creds: Value =
        serde_json::from_slice(&std::fs::read(creds).context("reading credentials")?)?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let login: Value = client
        .post(format!("{server}/admin/v1/login"))
        .json(&json!({"email": admin_email, "password": admin_password}))
        .send()
        .await?
        .json()
        .await?;
    let admin = login["token"].as_str().context("admin sign-in")?.to_owned();
    let tokens: Vec<String> = creds["tokens"]
        .as_array()
        .context("tokens")?
        .iter()
        .filter_map(|t| t.as_str().map(str::to_owned))
        .collect();
    let legacy = creds["legacy_header"]
        .as_str()
        .context("legacy header")?
        .to_owned();
    let issue_body = json!({"request": {"apiUsername": creds["api_username"], "key": creds["api_key"], "contextUsername": creds["context_username"]}});
    let rss_start = resident_kib(pid);
    let latencies = std::sync::Arc::new(std::sync::Mutex::new(Vec::<f64>::new()));
    let errors = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(512));
    let mut ticker =
        tokio::time::interval(std::time::Duration::from_nanos(1_000_000_000 / rate.max(1)));
    let end = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    let mut sent: u64 = 0;
    let mut handles = Vec::new();
    // Memory is compared between the end of the warm-up (a tenth of the run, once connections and
    // caches are established) and the end of the run.
    let warm_at = std::time::Instant::now() + std::time::Duration::from_secs(seconds.div_ceil(10));
    let mut rss_warm = None;
    while std::time::Instant::now() < end {
        if rss_warm.is_none() && std::time::Instant::now() >= warm_at {
            rss_warm = Some(resident_kib(pid));
        }
        ticker.tick().await;
        sent += 1;
        let permit = limit.clone().acquire_owned().await?;
        let (client, server, admin) = (client.clone(), server.to_owned(), admin.clone());
        let (latencies, errors) = (latencies.clone(), errors.clone());
        let token = tokens[(sent as usize) % tokens.len()].clone();
        let legacy = legacy.clone();
        let issue_body = issue_body.clone();
        let n = sent;
        handles.push(tokio::spawn(async move {
            let started = std::time::Instant::now();
            let result =
                match n % 10 {
                    0..=3 => {
                        client
                            .get(format!("{server}/v1/verify"))
                            .bearer_auth(&token)
                            .send()
                            .await
                    }
                    4..=6 => {
                        client
                            .get(format!("{server}/v1/verify"))
                            .header("X-DocuSign-Authentication", &legacy)
                            .send()
                            .await
                    }
                    7 | 8 => {
                        client
                            .post(format!("{server}/api/v3.5/authentication/apiUser"))
                            .json(&issue_body)
                            .send()
                            .await
                    }
                    _ => client
                        .post(format!("{server}/admin/v1/users"))
                        .bearer_auth(&admin)
                        .json(&json!({"email": format!("soak-{n}@bench.example"), "name": "soak"}))
                        .send()
                        .await,
                };
            let ok = matches!(&result, Ok(response) if response.status().is_success());
            if !ok {
                errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            if let Ok(mut all) = latencies.lock() {
                all.push(started.elapsed().as_secs_f64() * 1000.0);
            }
            drop(permit);
        }));
        if handles.len() > 10_000 {
            for handle in handles.drain(..) {
                let _ = handle.await;
            }
        }
    }
    for handle in handles {
        let _ = handle.await;
    }
    let rss_end = resident_kib(pid);
    let mut latencies = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    latencies.sort_by(f64::total_cmp);
    let errors = errors.load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "soak: {sent} requests in {seconds} s at {rate}/s (40% bearer verify, 30% legacy verify, 20% token issuance, 10% admin writes)\nerrors: {errors}\nlatency ms: p50 {:.2}, p95 {:.2}, p99 {:.2}, max {:.2}\nresident memory KiB: before load {rss_start}, after warm-up {}, end {rss_end}",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.95),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(0.0),
        rss_warm.unwrap_or(0),
    );
    if errors > 0 {
        bail!("{errors} requests failed");
    }
    Ok(())
}

pub(crate) async fn scale_load(
    database: &str,
    users: usize,
    sample: usize,
    out: &PathBuf,
) -> Result<()> {
    use countersign_core::api_user::{ApiUser, Scope};
    use countersign_core::ids::{ApiKeyId, ApiUserId, UserId};
    use countersign_core::key::ApiKey;
    let store = countersign_store::Store::connect(&countersign_store::StoreConfig {
        url: database.to_owned(),
        max_connections: 4,
    })
    .await?;
    let organization = store
        .list_organizations()
        .await?
        .into_iter()
        .next()
        .context("run countersign init first")?;
    let account = store
        .list::<countersign_core::directory::Account>(organization.id, None, 1)
        .await?
        .items
        .into_iter()
        .next()
        .context("no account")?;
    let pepper = hex::decode(
        store
            .find_secret("key_pepper")
            .await?
            .context("no pepper: start the server once")?,
    )?;
    let now = time::OffsetDateTime::now_utc();
    let started = std::time::Instant::now();
    let mut pairs = Vec::new();
    const BATCH: usize = 20_000;
    for batch_start in (0..users).step_by(BATCH) {
        let end = (batch_start + BATCH).min(users);
        let batch: Vec<(UserId, String)> = (batch_start..end)
            .map(|i| {
                (
                    UserId(uuid::Uuid::now_v7()),
                    format!("scale{i}@scale.example"),
                )
            })
            .collect();
        store
            .insert_users_bulk(organization.id, account.id, &batch, now)
            .await?;
        let mut api_users = Vec::with_capacity(batch.len());
        for (offset, (user_id, email)) in batch.iter().enumerate() {
            let i = batch_start + offset;
            let mut random = [0u8; 32];
            random[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
            random[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
            let key = ApiKey::from_random(&random);
            let username = format!("scale-bot-{i}");
            if pairs.len() < sample && i % (users / sample.max(1)).max(1) == 0 {
                pairs.push(json!({"api_username": username, "key": key.expose(), "context_username": email}));
            }
            api_users.push(countersign_store::NewApiUser {
                api_user: ApiUser {
                    id: ApiUserId(uuid::Uuid::now_v7()),
                    organization_id: organization.id,
                    username,
                    scope: Scope::User(*user_id),
                    expires_at: now + time::Duration::days(300),
                    description: None,
                    created_at: now,
                    created_by: "scale".into(),
                    revoked_at: None,
                    revoked_by: None,
                    last_used_at: None,
                },
                key_id: ApiKeyId(uuid::Uuid::now_v7()),
                key_digest: key.digest(&pepper),
            });
        }
        store.insert_api_users_bulk(&api_users).await?;
        if end.is_multiple_of(100_000) || end == users {
            println!(
                "loaded {end} users and API users in {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    std::fs::write(out, serde_json::to_vec(&json!({"pairs": pairs}))?)?;
    Ok(())
}

pub(crate) async fn tokens(server: &str, pairs: &PathBuf, out: &PathBuf) -> Result<()> {
    let pairs: Value = serde_json::from_slice(&std::fs::read(pairs)?)?;
    let client = reqwest::Client::new();
    let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(32));
    let mut handles = Vec::new();
    for pair in pairs["pairs"].as_array().context("pairs")?.clone() {
        let (client, server, limit) = (client.clone(), server.to_owned(), limit.clone());
        handles.push(tokio::spawn(async move {
            let _permit = limit.acquire().await.ok()?;
            let body = json!({"request": {"apiUsername": pair["api_username"], "key": pair["key"], "contextUsername": pair["context_username"], "sessionLengthInMinutes": 1440}});
            let response: Value = client.post(format!("{server}/api/v3.5/authentication/apiUser")).json(&body).send().await.ok()?.json().await.ok()?;
            response["token"].as_str().map(str::to_owned)
        }));
    }
    let mut tokens = Vec::new();
    for handle in handles {
        if let Ok(Some(token)) = handle.await {
            tokens.push(token);
        }
    }
    println!("{} tokens", tokens.len());
    std::fs::write(out, serde_json::to_vec(&json!({"tokens": tokens}))?)?;
    Ok(())
}
