//! Benchmark harness helpers, driven by `bench/run.sh`:
//! - `ceiling`: a plain axum endpoint with no authentication, the ceiling every figure is
//!   compared with;
//! - `populate`: fills a running countersign with a directory and writes the credentials the
//!   load scripts use;
//! - `report`: turns wrk outputs into a table (Markdown and JSON) and an SVG chart.
#![expect(
    clippy::print_stdout,
    reason = "a command-line tool prints its results"
)]

mod oauth;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use countersign_core::legacy::{HeaderFormat, build_header};
use serde_json::{Value, json};
use std::path::PathBuf;

#[derive(Debug, Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the ceiling: `GET /v1/verify` answering 200 without authenticating.
    Ceiling {
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: String,
    },
    /// Populate a running server and write credentials as JSON.
    Populate {
        #[arg(long)]
        server: String,
        #[arg(long)]
        admin_email: String,
        #[arg(long)]
        admin_password: String,
        /// Users to create (each a member of the main account).
        #[arg(long, default_value_t = 200)]
        users: usize,
        #[arg(long)]
        out: PathBuf,
    },
    /// Mixed load at a fixed rate for a bounded time: token issuance, bearer and legacy
    /// verification, and admin writes; reports errors, latency percentiles and the server's
    /// resident memory at start and end.
    Soak {
        #[arg(long)]
        server: String,
        /// Credentials written by `populate`.
        #[arg(long)]
        creds: PathBuf,
        #[arg(long)]
        admin_email: String,
        #[arg(long)]
        admin_password: String,
        /// Server process id (for resident memory).
        #[arg(long)]
        pid: u32,
        /// Requests per second.
        #[arg(long, default_value_t = 500)]
        rate: u64,
        /// Seconds.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
    /// Bulk-load users (each with a membership) and user-scoped API users straight into the
    /// database, keeping a sample of API usernames and keys for token exchanges.
    ScaleLoad {
        #[arg(long)]
        database: String,
        #[arg(long, default_value_t = 1_000_000)]
        users: usize,
        #[arg(long, default_value_t = 10_000)]
        sample: usize,
        #[arg(long)]
        out: PathBuf,
    },
    /// Exchange the sampled keys for tokens and write them as `populate` does.
    Tokens {
        #[arg(long)]
        server: String,
        #[arg(long)]
        pairs: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify a stream of distinct valid tokens (minted with the server's signing key from the
    /// claims of the populated tokens, each with a fresh session id) and sample the server's
    /// resident memory: the memory bound under millions of distinct tokens.
    Distinct {
        #[arg(long)]
        server: String,
        /// `populate` output (its tokens name the identities to mint for).
        #[arg(long)]
        creds: PathBuf,
        /// File with the server's signing key (hex), as given to `serve --signing-key-file`.
        #[arg(long)]
        signing_key_file: PathBuf,
        /// The server's process id (resident memory).
        #[arg(long)]
        pid: u32,
        /// Distinct tokens to verify.
        #[arg(long, default_value_t = 2_000_000)]
        tokens: u64,
        /// Requests in flight.
        #[arg(long, default_value_t = 32)]
        concurrency: u64,
    },
    /// Failed token exchanges with distinct long API usernames while the server's resident
    /// memory is sampled (the throttle's failure memory, SPEC §9).
    Failures {
        #[arg(long)]
        server: String,
        /// The server's process id (resident memory).
        #[arg(long)]
        pid: u32,
        /// Failed exchanges, each with a distinct username.
        #[arg(long, default_value_t = 500_000)]
        attempts: u64,
        /// Bytes per username.
        #[arg(long, default_value_t = 1024)]
        name_bytes: usize,
        /// Requests in flight.
        #[arg(long, default_value_t = 32)]
        concurrency: u64,
    },
    /// A burst of concurrent wrong-password legacy headers (each for a distinct unknown user,
    /// so no name is throttled) while `/healthz` is timed and resident memory sampled.
    Burst {
        #[arg(long)]
        server: String,
        /// The server's process id (resident memory).
        #[arg(long)]
        pid: u32,
        /// Credentials written by `populate` (for the integrator key).
        #[arg(long)]
        creds: PathBuf,
        /// Concurrent requests.
        #[arg(long, default_value_t = 500)]
        requests: usize,
    },
    /// Build the report from `name=ceiling_file=subject_file` triples of wrk outputs.
    Report {
        /// Scenario results: `NAME=CEILING_WRK_OUTPUT=SUBJECT_WRK_OUTPUT`.
        #[arg(long = "scenario")]
        scenarios: Vec<String>,
        /// Markdown table output.
        #[arg(long)]
        markdown: PathBuf,
        /// JSON output.
        #[arg(long)]
        json: PathBuf,
        /// SVG chart output.
        #[arg(long)]
        svg: PathBuf,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Ceiling { listen } => ceiling(&listen).await,
        Command::Populate {
            server,
            admin_email,
            admin_password,
            users,
            out,
        } => populate(&server, &admin_email, &admin_password, users, &out).await,
        Command::Report {
            scenarios,
            markdown,
            json,
            svg,
        } => report(&scenarios, &markdown, &json, &svg),
        Command::ScaleLoad {
            database,
            users,
            sample,
            out,
        } => scale_load(&database, users, sample, &out).await,
        Command::Tokens { server, pairs, out } => tokens(&server, &pairs, &out).await,
        Command::Distinct {
            server,
            creds,
            signing_key_file,
            pid,
            tokens,
            concurrency,
        } => distinct(&server, &creds, &signing_key_file, pid, tokens, concurrency).await,
        Command::Failures {
            server,
            pid,
            attempts,
            name_bytes,
            concurrency,
        } => failures(&server, pid, attempts, name_bytes, concurrency).await,
        Command::Burst {
            server,
            pid,
            creds,
            requests,
        } => burst(&server, pid, &creds, requests).await,
        Command::Soak {
            server,
            creds,
            admin_email,
            admin_password,
            pid,
            rate,
            seconds,
        } => {
            soak(
                &server,
                &creds,
                &admin_email,
                &admin_password,
                pid,
                rate,
                seconds,
            )
            .await
        }
    }
}

async fn ceiling(listen: &str) -> Result<()> {
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

async fn populate(
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
    let oauth_tokens =
        oauth::access_tokens(&client, server, &admin, &user_ids[..user_ids.len().min(100)])
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

/// Figures parsed from one wrk run (`wrk --latency`).
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
struct Figures {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    non_2xx: u64,
}

fn parse_duration_ms(text: &str) -> f64 {
    let text = text.trim();
    let (number, factor) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (text, 1.0)
    };
    number.parse::<f64>().unwrap_or(f64::NAN) * factor
}

fn parse_wrk(path: &str) -> Result<Figures> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    let mut figures = Figures::default();
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("Requests/sec:") {
            figures.requests_per_second = rest.trim().parse().unwrap_or(0.0);
        } else if let Some(rest) = line.strip_prefix("50%") {
            figures.p50_ms = parse_duration_ms(rest);
        } else if let Some(rest) = line.strip_prefix("99%") {
            figures.p99_ms = parse_duration_ms(rest);
        } else if let Some(rest) = line.strip_prefix("Non-2xx or 3xx responses:") {
            figures.non_2xx = rest.trim().parse().unwrap_or(0);
        }
    }
    Ok(figures)
}

fn report(
    scenarios: &[String],
    markdown: &PathBuf,
    json_path: &PathBuf,
    svg: &PathBuf,
) -> Result<()> {
    let mut rows = Vec::new();
    let mut round_ratios = Vec::new();
    for scenario in scenarios {
        let parts: Vec<&str> = scenario.splitn(3, '=').collect();
        let [name, ceilings, subjects] = parts.as_slice() else {
            bail!("scenario must be NAME=CEILING[,CEILING…]=SUBJECT[,SUBJECT…]")
        };
        // Rounds alternate ceiling and countersign; the round with the median ratio is
        // reported, with every round's ratio beside it.
        let mut rounds = ceilings
            .split(',')
            .zip(subjects.split(','))
            .map(|(c, s)| Ok((parse_wrk(c)?, parse_wrk(s)?)))
            .collect::<Result<Vec<(Figures, Figures)>>>()?;
        if rounds.is_empty() {
            bail!("scenario {name} has no rounds");
        }
        let ratio = |(c, s): &(Figures, Figures)| {
            if c.requests_per_second > 0.0 {
                s.requests_per_second / c.requests_per_second
            } else {
                0.0
            }
        };
        rounds.sort_by(|a, b| ratio(a).total_cmp(&ratio(b)));
        round_ratios.push(
            rounds
                .iter()
                .map(|r| format!("{:.2}", ratio(r)))
                .collect::<Vec<_>>()
                .join(", "),
        );
        let (ceiling, subject) = rounds.swap_remove(rounds.len() / 2);
        rows.push((name.to_string(), ceiling, subject));
    }
    let mut table = String::from(
        "| scenario | countersign req/s | p50 | p99 | non-2xx | ceiling req/s | ratio | ratio of each round |\n|---|---|---|---|---|---|---|---|\n",
    );
    for ((name, ceiling, subject), rounds) in rows.iter().zip(&round_ratios) {
        let ratio = if ceiling.requests_per_second > 0.0 {
            subject.requests_per_second / ceiling.requests_per_second
        } else {
            0.0
        };
        table.push_str(&format!(
            "| {name} | {:.0} | {:.2} ms | {:.2} ms | {} | {:.0} | {ratio:.2} | {rounds} |\n",
            subject.requests_per_second,
            subject.p50_ms,
            subject.p99_ms,
            subject.non_2xx,
            ceiling.requests_per_second
        ));
    }
    std::fs::write(markdown, &table)?;
    let value = json!(rows.iter().map(|(name, ceiling, subject)| json!({"scenario": name, "ceiling": ceiling, "countersign": subject})).collect::<Vec<_>>());
    std::fs::write(json_path, serde_json::to_vec_pretty(&value)?)?;
    std::fs::write(svg, chart(&rows))?;
    println!("{table}");
    Ok(())
}

/// A grouped bar chart: ceiling and countersign requests/s per scenario.
fn chart(rows: &[(String, Figures, Figures)]) -> String {
    let width = 760.0;
    let bar_area = 560.0;
    let row_height = 56.0;
    let height = 60.0 + row_height * rows.len() as f64;
    let max = rows
        .iter()
        .flat_map(|(_, c, s)| [c.requests_per_second, s.requests_per_second])
        .fold(1.0, f64::max);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\
<rect width=\"100%\" height=\"100%\" fill=\"white\"/><text x=\"10\" y=\"20\" font-size=\"14\">requests/s on one machine (grey: ceiling, no authentication; blue: countersign)</text>"
    );
    for (i, (name, ceiling, subject)) in rows.iter().enumerate() {
        let y = 40.0 + row_height * i as f64;
        let ceiling_width = bar_area * ceiling.requests_per_second / max;
        let subject_width = bar_area * subject.requests_per_second / max;
        let ratio = if ceiling.requests_per_second > 0.0 {
            subject.requests_per_second / ceiling.requests_per_second
        } else {
            0.0
        };
        svg.push_str(&format!(
            "<text x=\"10\" y=\"{:.0}\">{}</text>\
<rect x=\"180\" y=\"{:.0}\" width=\"{ceiling_width:.1}\" height=\"16\" fill=\"#bbb\"/><text x=\"{:.0}\" y=\"{:.0}\">{:.0}</text>\
<rect x=\"180\" y=\"{:.0}\" width=\"{subject_width:.1}\" height=\"16\" fill=\"#2a6fdb\"/><text x=\"{:.0}\" y=\"{:.0}\">{:.0} ({ratio:.2}×)</text>",
            y + 20.0,
            escape(name),
            y,
            184.0 + ceiling_width,
            y + 12.0,
            ceiling.requests_per_second,
            y + 20.0,
            184.0 + subject_width,
            y + 32.0,
            subject.requests_per_second,
        ));
    }
    svg.push_str("</svg>\n");
    svg
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

async fn distinct(
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
    println!("resident before: {:.1} MB", before as f64 / 1024.0);
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
            "{:>6.0} s  {done:>9} distinct tokens verified  resident {:.1} MB",
            started.elapsed().as_secs_f64(),
            rss as f64 / 1024.0
        );
    }
    for worker in workers {
        worker.await?;
    }
    let after = resident_kib(pid);
    println!(
        "{total} distinct tokens in {:.0} s ({:.0}/s), {} refused; resident {:.1} MB before, {:.1} MB at the end, {:.1} MB at most",
        started.elapsed().as_secs_f64(),
        total as f64 / started.elapsed().as_secs_f64(),
        refused.load(Ordering::Relaxed),
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        samples.iter().copied().max().unwrap_or(after) as f64 / 1024.0,
    );
    Ok(())
}

async fn failures(
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
    println!("resident before: {:.1} MB", before as f64 / 1024.0);
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
            "{:>6.0} s  {:>9} failed exchanges  resident {:.1} MB",
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
        "{total} failed exchanges with distinct {name_bytes}-byte usernames in {:.0} s; statuses {:?}; resident {:.1} MB before, {:.1} MB after, {:.1} MB at most: growth {:.1} MB",
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

async fn burst(server: &str, pid: u32, creds: &PathBuf, requests: usize) -> Result<()> {
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
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let after = resident_kib(pid);
    println!(
        "{requests} concurrent wrong-password legacy requests answered in {elapsed:.1} s; (status, Retry-After) counts {statuses:?}"
    );
    println!(
        "resident {:.1} MB before, {:.1} MB at most, {:.1} MB 2 s after: growth {:.1} MB",
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
    Ok(())
}

/// Resident memory of a process in KiB (Linux).
fn resident_kib(pid: u32) -> u64 {
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

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

async fn soak(
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

async fn scale_load(database: &str, users: usize, sample: usize, out: &PathBuf) -> Result<()> {
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
        .list_accounts(organization.id, None, 1)
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

async fn tokens(server: &str, pairs: &PathBuf, out: &PathBuf) -> Result<()> {
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
