//! Memory under load: `distinct` (many distinct tokens), `failures` (failed names remembered
//! by the throttle) and `burst` (concurrent wrong passwords), read from `/proc/PID/status`.

use anyhow::{Context, Result};
use countersign_core::legacy::{HeaderFormat, build_header};
use serde_json::{Value, json};
use std::path::PathBuf;

pub(crate) async fn distinct(
    server: &str,
    creds: &PathBuf,
    signing_key_file: &PathBuf,
    pid: u32,
    total: u64,
    concurrency: u64,
) -> Result<()> {
    use countersign_core::ids::SessionId;
    use countersign_core::token::{self, SessionClaims};
    use std::sync::atomic::{AtomicU64, Ordering};
    let key = hex::decode(std::fs::read_to_string(signing_key_file)?.trim())
        .context("signing key file: hex expected")?;
    let creds: Value = serde_json::from_slice(&std::fs::read(creds)?)?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let identities: Vec<SessionClaims> = creds["tokens"]
        .as_array()
        .context("tokens")?
        .iter()
        .filter_map(Value::as_str)
        .filter_map(|t| token::verify(t, now, |_| Some(key.as_slice())).ok())
        .collect();
    anyhow::ensure!(
        !identities.is_empty(),
        "no populated token verifies with this signing key"
    );
    let client = reqwest::Client::new();
    let url = format!("{server}/v1/verify");
    let next = std::sync::Arc::new(AtomicU64::new(0));
    let refused = std::sync::Arc::new(AtomicU64::new(0));
    let identities = std::sync::Arc::new(identities);
    let key = std::sync::Arc::new(key);
    let started = std::time::Instant::now();
    let before = resident_kib(pid);
    println!("resident before: {:.1} MiB", before as f64 / 1024.0);
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (client, url, next, refused, identities, key) = (
            client.clone(),
            url.clone(),
            next.clone(),
            refused.clone(),
            identities.clone(),
            key.clone(),
        );
        workers.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    break;
                }
                let identity = &identities[(n as usize) % identities.len()];
                let claims = SessionClaims {
                    session_id: SessionId(uuid::Uuid::new_v4()),
                    issued_at: now,
                    expires_at: now + 3600,
                    ..identity.clone()
                };
                let text = token::sign(&claims, 1, &key);
                let ok = client
                    .get(&url)
                    .bearer_auth(text)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if !ok {
                    refused.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let mut samples = Vec::new();
    while workers.iter().any(|w| !w.is_finished()) {
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        let done = next.load(Ordering::Relaxed).min(total);
        let rss = resident_kib(pid);
        samples.push(rss);
        println!(
            "{:>6.0} s  {done:>9} distinct tokens verified  resident {:.1} MiB",
            started.elapsed().as_secs_f64(),
            rss as f64 / 1024.0
        );
    }
    for worker in workers {
        worker.await?;
    }
    let after = resident_kib(pid);
    println!(
        "{total} distinct tokens in {:.0} s ({:.0}/s), {} refused; resident {:.1} MiB before, {:.1} MiB at the end, {:.1} MiB at most",
        started.elapsed().as_secs_f64(),
        total as f64 / started.elapsed().as_secs_f64(),
        refused.load(Ordering::Relaxed),
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        samples.iter().copied().max().unwrap_or(after) as f64 / 1024.0,
    );
    Ok(())
}

pub(crate) async fn failures(
    server: &str,
    pid: u32,
    total: u64,
    name_bytes: usize,
    concurrency: u64,
) -> Result<()> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    let client = reqwest::Client::new();
    let url = format!("{server}/api/v3.7/authentication/apiUser");
    let next = Arc::new(AtomicU64::new(0));
    let statuses = Arc::new(std::sync::Mutex::new(
        std::collections::BTreeMap::<u16, u64>::new(),
    ));
    let started = std::time::Instant::now();
    let before = resident_kib(pid);
    println!("resident before: {:.1} MiB", before as f64 / 1024.0);
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (client, url, next, statuses) =
            (client.clone(), url.clone(), next.clone(), statuses.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    break;
                }
                let prefix = format!("bench-failure-{n}-");
                let username = format!("{prefix}{}", "x".repeat(name_bytes.saturating_sub(prefix.len())));
                let body = json!({"request": {"apiUsername": username, "key": "csk_wrong", "contextUsername": "nobody@bench.example"}});
                let status = client
                    .post(&url)
                    .json(&body)
                    .send()
                    .await
                    .map_or(0, |r| r.status().as_u16());
                *statuses
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .entry(status)
                    .or_default() += 1;
            }
        }));
    }
    let mut peak = before;
    while workers.iter().any(|w| !w.is_finished()) {
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        let rss = resident_kib(pid);
        peak = peak.max(rss);
        println!(
            "{:>6.0} s  {:>9} failed exchanges  resident {:.1} MiB",
            started.elapsed().as_secs_f64(),
            next.load(Ordering::Relaxed).min(total),
            rss as f64 / 1024.0
        );
    }
    for worker in workers {
        worker.await?;
    }
    let after = resident_kib(pid);
    peak = peak.max(after);
    println!(
        "{total} failed exchanges with distinct {name_bytes}-byte usernames in {:.0} s; statuses {:?}; resident {:.1} MiB before, {:.1} MiB after, {:.1} MiB at most: growth {:.1} MiB",
        started.elapsed().as_secs_f64(),
        statuses
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        peak as f64 / 1024.0,
        (peak.saturating_sub(before)) as f64 / 1024.0,
    );
    Ok(())
}

pub(crate) async fn burst(server: &str, pid: u32, creds: &PathBuf, requests: usize) -> Result<()> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let creds: Value = serde_json::from_slice(&std::fs::read(creds)?)?;
    let integrator_key = creds["integrator_key"]
        .as_str()
        .context("integrator_key in the credentials")?
        .to_owned();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(requests)
        .build()?;
    let before = resident_kib(pid);
    let done = Arc::new(AtomicBool::new(false));
    // Resident memory, sampled every 10 ms until the burst is over.
    let sampler = {
        let done = done.clone();
        tokio::spawn(async move {
            let mut peak = 0;
            while !done.load(Ordering::Relaxed) {
                peak = peak.max(resident_kib(pid));
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            peak
        })
    };
    // /healthz, timed one after another on its own connection while the burst runs.
    let prober = {
        let (done, url) = (done.clone(), format!("{server}/healthz"));
        let client = reqwest::Client::new();
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            while !done.load(Ordering::Relaxed) {
                let started = std::time::Instant::now();
                if client
                    .get(&url)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
                {
                    latencies.push(started.elapsed().as_secs_f64() * 1000.0);
                }
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            latencies
        })
    };
    // A valid legacy header, verified once before the burst (so its argon2 result is cached),
    // then sent again and again while the burst runs: it must keep passing (SPEC §9).
    let valid = creds["legacy_header"]
        .as_str()
        .context("legacy_header in the credentials")?
        .to_owned();
    let verify_url = format!("{server}/v1/verify");
    let warm = client
        .get(&verify_url)
        .header("X-DocuSign-Authentication", &valid)
        .send()
        .await?
        .status();
    anyhow::ensure!(
        warm.is_success(),
        "the valid legacy header was refused before the burst"
    );
    let valid_prober = {
        let (done, url) = (done.clone(), verify_url.clone());
        let client = reqwest::Client::new();
        tokio::spawn(async move {
            let (mut sent, mut passed) = (0u64, 0u64);
            while !done.load(Ordering::Relaxed) {
                sent += 1;
                if client
                    .get(&url)
                    .header("X-DocuSign-Authentication", &valid)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
                {
                    passed += 1;
                }
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            (sent, passed)
        })
    };
    let started = std::time::Instant::now();
    let url = format!("{server}/v1/whoami");
    let mut tasks = Vec::new();
    for n in 0..requests {
        let header = build_header(
            HeaderFormat::Json,
            &format!("burst-{n}@bench.example"),
            "a-wrong-password",
            &integrator_key,
            None,
        );
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            client
                .get(&url)
                .header("X-DocuSign-Authentication", header)
                .send()
                .await
                .map(|r| {
                    (
                        r.status().as_u16(),
                        r.headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned),
                    )
                })
                .unwrap_or((0, None))
        }));
    }
    let mut statuses = std::collections::BTreeMap::<(u16, Option<String>), u64>::new();
    for task in tasks {
        *statuses.entry(task.await?).or_default() += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    let peak = sampler.await?;
    let mut latencies = prober.await?;
    latencies.sort_by(f64::total_cmp);
    let (valid_sent, valid_passed) = valid_prober.await?;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let after = resident_kib(pid);
    println!(
        "{requests} concurrent wrong-password legacy requests answered in {elapsed:.1} s; (status, Retry-After) counts {statuses:?}"
    );
    println!(
        "resident {:.1} MiB before, {:.1} MiB at most, {:.1} MiB 2 s after: growth {:.1} MiB",
        before as f64 / 1024.0,
        peak.max(before) as f64 / 1024.0,
        after as f64 / 1024.0,
        peak.saturating_sub(before) as f64 / 1024.0,
    );
    println!(
        "/healthz during the burst: {} probes, median {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(0.0),
    );
    println!(
        "a valid (cached) legacy header during the burst: {valid_passed} of {valid_sent} verifications passed"
    );
    Ok(())
}

/// Resident memory of a process in KiB (Linux).
pub(crate) fn resident_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}
