//! Webhooks in the Standard Webhooks format (SPEC §13): the event types, the `whsec_` secret,
//! and the `webhook-signature` value, `v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`
//! keyed with the secret's decoded bytes, as the Standard Webhooks specification defines it.

use crate::ids::{OrganizationId, WebhookId};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Prefix of a webhook signing secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// Bytes of a generated signing secret (Standard Webhooks asks for 24 to 64).
pub const SECRET_BYTES: usize = 32;
/// Longest accepted webhook URL.
pub const MAX_URL_LEN: usize = 2048;
/// Webhooks one organization may register (every one is listed on one console page).
pub const MAX_WEBHOOKS: u32 = 100;

/// A registered webhook endpoint (never its secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Webhook {
    /// The endpoint's id.
    pub id: WebhookId,
    /// The organization whose events it receives.
    pub organization_id: OrganizationId,
    /// Where events are POSTed.
    pub url: String,
    /// The event types it receives.
    pub events: Vec<EventType>,
    /// When it was registered.
    pub created_at: time::OffsetDateTime,
    /// Who registered it.
    pub created_by: String,
}

/// The outcome of one delivery attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Not attempted yet (due, or waiting for its back-off).
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Anything else: another status, a timeout, a refused address.
    Failed,
}

impl Outcome {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    /// Parses the wire name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(Self::Pending),
            "delivered" => Some(Self::Delivered),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// A lifecycle event a webhook may subscribe to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    /// An expiry warning mark was passed.
    ApiUserExpiring,
    /// An API user expired.
    ApiUserExpired,
    /// An API user was revoked (by an administrator, the policy or a leak report).
    ApiUserRevoked,
    /// An API user's key was rotated.
    ApiUserRotated,
    /// A live key of an API user was reported leaked.
    ApiUserKeyLeaked,
    /// An integrator key's legacy-header sunset was reached.
    IntegratorKeySunsetReached,
}

impl EventType {
    /// Every event type.
    pub const ALL: [Self; 6] = [
        Self::ApiUserExpiring,
        Self::ApiUserExpired,
        Self::ApiUserRevoked,
        Self::ApiUserRotated,
        Self::ApiUserKeyLeaked,
        Self::IntegratorKeySunsetReached,
    ];

    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::ApiUserExpiring => "api_user.expiring",
            Self::ApiUserExpired => "api_user.expired",
            Self::ApiUserRevoked => "api_user.revoked",
            Self::ApiUserRotated => "api_user.rotated",
            Self::ApiUserKeyLeaked => "api_user.key_leaked",
            Self::IntegratorKeySunsetReached => "integrator_key.sunset_reached",
        }
    }

    /// Parses the wire name (exactly).
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

/// Parses a subscription list: at least one event, each known, none repeated; returned in
/// the canonical order of [`EventType::ALL`].
///
/// # Errors
/// A sentence naming what is wrong.
pub fn parse_events<S: AsRef<str>>(events: &[S]) -> Result<Vec<EventType>, String> {
    if events.is_empty() {
        return Err("events must name at least one event type".into());
    }
    let mut parsed = Vec::with_capacity(events.len());
    for event in events {
        let event = event.as_ref();
        let Some(kind) = EventType::parse(event) else {
            return Err(format!(
                "unknown event type; known: {}",
                EventType::ALL.map(|t| t.as_str()).join(", ")
            ));
        };
        if parsed.contains(&kind) {
            return Err("events must not repeat an event type".into());
        }
        parsed.push(kind);
    }
    parsed.sort_by_key(|t| EventType::ALL.iter().position(|a| a == t));
    Ok(parsed)
}

/// Formats secret bytes as `whsec_` + base64.
pub fn format_secret(bytes: &[u8]) -> String {
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

/// The key bytes of a `whsec_` secret; `None` when it is not one.
pub fn secret_key(secret: &str) -> Option<Vec<u8>> {
    STANDARD.decode(secret.strip_prefix(SECRET_PREFIX)?).ok()
}

/// The `webhook-signature` header value for a message.
pub fn signature(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// When attempt `attempt` (1-based) failed, how long until the next one, or `None` when it
/// was the last: `base` doubled per attempt, `max_attempts` in all.
pub fn retry_delay(attempt: u32, base_seconds: f64, max_attempts: u32) -> Option<f64> {
    if attempt >= max_attempts {
        return None;
    }
    Some(base_seconds.max(0.0) * f64::from(2u32.saturating_pow(attempt.saturating_sub(1))))
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification's reference libraries.
        let key = secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            signature(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_round_trip() {
        let text = format_secret(&[7u8; SECRET_BYTES]);
        assert!(text.starts_with("whsec_"));
        assert_eq!(secret_key(&text).unwrap(), vec![7u8; SECRET_BYTES]);
        assert_eq!(secret_key("nope"), None);
    }

    #[test]
    fn events_are_known_and_distinct() {
        assert_eq!(
            parse_events(&["api_user.revoked", "api_user.expiring"]).unwrap(),
            vec![EventType::ApiUserExpiring, EventType::ApiUserRevoked]
        );
        assert!(parse_events::<&str>(&[]).is_err());
        assert!(parse_events(&["api_user.nope"]).is_err());
        assert!(parse_events(&["api_user.expired", "api_user.expired"]).is_err());
    }

    #[test]
    fn retries_back_off_exponentially() {
        assert_eq!(retry_delay(1, 30.0, 8), Some(30.0));
        assert_eq!(retry_delay(2, 30.0, 8), Some(60.0));
        assert_eq!(retry_delay(7, 30.0, 8), Some(1920.0));
        assert_eq!(retry_delay(8, 30.0, 8), None);
        // Eight attempts 30 s apart, doubling, span more than an hour.
        let total: f64 = (1..8).filter_map(|a| retry_delay(a, 30.0, 8)).sum();
        assert!(total >= 3600.0);
    }
}
