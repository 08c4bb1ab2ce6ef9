//! `leaks`: the cost of a secret-scanning leak report (SPEC §14) by its size. Reports of 1, 10,
//! 100 and 1,000 well-formed keys that match nothing (each costs a digest and its share of one
//! batched lookup, like a key that matches) and of 1,000 foreign tokens (refused by the checksum
//! or prefix before any lookup) are sent in turn, round after round, to a server without public
//! keys configured; the median time of each report size and the cost per item are printed.

use anyhow::{Context, Result, bail};
use countersign_core::key::ApiKey;
use serde_json::{Value, json};
use std::time::Instant;

/// 32 random bytes from two v4 UUIDs (the OS CSPRNG, through `uuid`).
fn random_key() -> String {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    ApiKey::from_random(&bytes).expose().to_owned()
}

fn report(tokens: &[String]) -> Vec<u8> {
    let items: Vec<Value> = tokens
        .iter()
        .map(|token| json!({"token": token, "type": "countersign_api_key", "url": "https://github.com/octo/app/blob/main/.env", "source": "content"}))
        .collect();
    serde_json::to_vec(&items).unwrap_or_default()
}

pub(crate) async fn leaks(server: &str, rounds: usize) -> Result<()> {
    let client = reqwest::Client::new();
    let url = format!("{server}/v1/credentials/leaked");
    let mut cases: Vec<(String, usize, Vec<u8>)> = [1usize, 10, 100, 1000]
        .into_iter()
        .map(|n| {
            let keys: Vec<String> = (0..n).map(|_| random_key()).collect();
            (format!("{n} unknown keys"), n, report(&keys))
        })
        .collect();
    let foreign: Vec<String> = (0..1000).map(|n| format!("ghp_{n:036}")).collect();
    cases.push(("1000 foreign tokens".into(), 1000, report(&foreign)));
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    // One warm-up round, not counted.
    for round in 0..=rounds {
        for (index, (name, items, body)) in cases.iter().enumerate() {
            let started = Instant::now();
            let response = client
                .post(&url)
                .header("Content-Type", "application/json")
                .body(body.clone())
                .send()
                .await
                .context("sending a report")?;
            let status = response.status();
            let labels: Vec<Value> = response.json().await.context("reading the labels")?;
            let elapsed = started.elapsed().as_secs_f64() * 1000.0;
            if !status.is_success() || labels.len() != *items {
                bail!("{name}: {status}, {} labels", labels.len());
            }
            if labels.iter().any(|l| l["label"] != "false_positive") {
                bail!("{name}: a generated key matched");
            }
            if round > 0 {
                times[index].push(elapsed);
            }
        }
    }
    println!("leak report cost ({rounds} rounds, median):");
    println!("| report | ms per report | µs per item |");
    println!("|---|---|---|");
    for ((name, items, _), samples) in cases.iter().zip(times.iter_mut()) {
        samples.sort_by(f64::total_cmp);
        let median = samples[samples.len() / 2];
        let per_item = median * 1000.0 / *items as f64;
        println!("| {name} | {median:.2} | {per_item:.1} |");
    }
    Ok(())
}
