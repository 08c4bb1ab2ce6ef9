//! OAuth access tokens for the benchmark (SPEC §10, §12): an integrator key with a generated
//! RSA pair and the organization's consent for every user, and one JWT Grant token per user,
//! obtained as the DocuSign SDKs obtain them (an RS256 assertion posted to `/oauth/token`).

use anyhow::{Context, Result, bail};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use serde_json::{Value, json};

/// JWT Grant access tokens acting for each of `users` (ids), through `server`.
pub async fn access_tokens(
    client: &reqwest::Client,
    server: &str,
    admin: &str,
    users: &[String],
) -> Result<Vec<String>> {
    let key: Value = client
        .post(format!("{server}/admin/v1/integrator-keys"))
        .bearer_auth(admin)
        .json(&json!({"name": "bench-oauth"}))
        .send()
        .await?
        .json()
        .await?;
    let key_id = key["id"].as_str().context("integrator key")?;
    let client_id = key["key"].as_str().context("integrator key")?;
    let rsa: Value = client
        .post(format!(
            "{server}/admin/v1/integrator-keys/{key_id}/rsa-keys"
        ))
        .bearer_auth(admin)
        .json(&json!({"generate": true}))
        .send()
        .await?
        .json()
        .await?;
    let private = rsa["private_key_pem"].as_str().context("rsa key")?;
    let consent = client
        .put(format!(
            "{server}/admin/v1/integrator-keys/{key_id}/consent"
        ))
        .bearer_auth(admin)
        .json(&json!({"scopes": ["signature", "impersonation"], "user_ids": "all"}))
        .send()
        .await?;
    if !consent.status().is_success() {
        bail!("consent failed: {}", consent.status());
    }
    let der = rsa::RsaPrivateKey::from_pkcs1_pem(private)?.to_pkcs1_der()?;
    let signing = jsonwebtoken::EncodingKey::from_rsa_der(der.as_bytes());
    // The OAuth host name: the server's host:port (it runs with that public URL).
    let audience = server.split_once("://").map_or(server, |(_, host)| host);
    let mut tokens = Vec::new();
    for user in users {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let claims = json!({"iss": client_id, "sub": user, "aud": audience, "iat": now,
            "exp": now + 3600, "scope": "signature impersonation"});
        let assertion = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
            &claims,
            &signing,
        )?;
        let answer: Value = client
            .post(format!("{server}/oauth/token"))
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
            ])
            .send()
            .await?
            .json()
            .await?;
        let token = answer["access_token"]
            .as_str()
            .with_context(|| format!("JWT Grant refused: {answer}"))?;
        tokens.push(token.to_owned());
    }
    Ok(tokens)
}
