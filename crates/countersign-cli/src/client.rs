//! Helpers for integrators, run against a server rather than the database: `token` exchanges an
//! API user's key for a session token; `header` prints an X-DocuSign-Authentication value.

use crate::args::{Format, HeaderArgs, TokenArgs};
use crate::stdin::read_line_stdin;
use anyhow::{Context, Result, bail};
use countersign_core::legacy::{HeaderFormat, build_header};
use countersign_core::secret::Secret;
use serde_json::{Value, json};

/// `countersign token`: picks the key from standard input, flag or variable, then exchanges it.
pub async fn run_token(args: TokenArgs, json_mode: bool) -> Result<()> {
    let key = match (args.key, args.key_stdin) {
        (_, true) => read_line_stdin("key")?,
        (Some(key), false) => Secret::new(key),
        (None, false) => {
            bail!("give the key with COUNTERSIGN_API_KEY, --key-stdin or --key")
        }
    };
    token(
        &args.server,
        &args.api_version,
        &args.api_username,
        key,
        &args.context_username,
        args.session_minutes,
        json_mode,
    )
    .await
}

/// `countersign header`: prints the legacy header value.
pub fn header(args: &HeaderArgs) {
    let format = match args.format {
        Format::Xml => HeaderFormat::Xml,
        Format::Json => HeaderFormat::Json,
    };
    println!(
        "{}",
        build_header(
            format,
            &args.username,
            &args.password,
            &args.integrator_key,
            args.send_on_behalf_of.as_deref()
        )
    );
}

async fn token(
    server: &str,
    version: &str,
    api_username: &str,
    key: Secret,
    context_username: &str,
    session_minutes: Option<i64>,
    json_mode: bool,
) -> Result<()> {
    let mut request = json!({"apiUsername": api_username, "key": key.expose(), "contextUsername": context_username});
    if let Some(minutes) = session_minutes {
        request["sessionLengthInMinutes"] = json!(minutes);
    }
    let url = format!(
        "{}/api/{version}/authentication/apiUser",
        server.trim_end_matches('/')
    );
    let response = reqwest::Client::new()
        .post(&url)
        .json(&json!({"request": request}))
        .send()
        .await
        .with_context(|| format!("posting to {url}"))?;
    let status = response.status();
    let body: Value = response.json().await.context("reading the response")?;
    if !status.is_success() {
        bail!(
            "token exchange refused ({status}): {} {}",
            body["errorCode"].as_str().unwrap_or("?"),
            body["summary"].as_str().unwrap_or("")
        );
    }
    if json_mode {
        println!("{}", serde_json::to_string_pretty(&body)?);
    } else {
        println!("{}", body["token"].as_str().unwrap_or_default());
    }
    Ok(())
}
