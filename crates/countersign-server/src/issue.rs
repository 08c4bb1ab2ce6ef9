//! The AssureSign token exchange (SPEC §4): an API user's key for a session token acting as a
//! chosen user. Issuance writes nothing to the database on the request path (the audit event
//! and last use are batched); the token is signed, not stored.

use crate::dialect::assuresign::AssureSignError;
use crate::state::AppState;
use crate::throttle::ThrottleKey;
use countersign_core::api_user::{self, ApiKeyRecord};
use countersign_core::ids::SessionId;
use countersign_core::key::{ApiKey, digest_key_text};
use countersign_core::session;
use countersign_core::token::{self, SessionClaims};
use countersign_store::AuditOutcome;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use uuid::Uuid;

/// A token exchange request, after field validation.
#[derive(Debug)]
pub struct TokenRequest {
    /// The API username.
    pub api_username: String,
    /// The key text as sent.
    pub key: countersign_core::secret::Secret,
    /// The user to act for.
    pub context_username: String,
    /// Requested session length.
    pub session_minutes: i64,
}

/// An issued session.
#[derive(Debug)]
pub struct IssuedToken {
    /// The token text.
    pub token: countersign_core::secret::Secret,
    /// When it expires.
    pub expires_at: OffsetDateTime,
}

/// The audit actor for a claimed API username: a username that is itself a key is redacted.
fn claimed_name(username: &str) -> &str {
    if ApiKey::parse(username.trim()).is_ok() {
        "[redacted]"
    } else {
        username
    }
}

/// Finds the key record matching `key`, comparing digests in constant time against every
/// currently valid key; an unknown API user is compared against a dummy digest, so both cost
/// one digest and one comparison per candidate.
pub fn matching_key<'k>(
    keys: Option<&'k [ApiKeyRecord]>,
    key_text: &str,
    pepper: &[u8],
    dummy_digest: &str,
    now: OffsetDateTime,
) -> Option<&'k ApiKeyRecord> {
    let well_formed = ApiKey::parse(key_text).is_ok();
    let digest = digest_key_text(key_text, pepper);
    let Some(keys) = keys else {
        let _ = digest.as_bytes().ct_eq(dummy_digest.as_bytes());
        return None;
    };
    let mut found = None;
    for record in keys {
        let equal: bool = digest.as_bytes().ct_eq(record.digest.as_bytes()).into();
        if equal && record.is_valid(now) && found.is_none() {
            found = Some(record);
        }
    }
    found.filter(|_| well_formed)
}

/// Exchanges an API user's key for a session token acting as `context_username`.
///
/// # Errors
/// `InvalidKey` (401) for any key or API-user failure; `Forbidden` (403) when the context user
/// is unknown, disabled or out of scope; `Internal` on store failure.
pub async fn issue_token(
    state: &AppState,
    request: TokenRequest,
    source_ip: Option<&str>,
) -> Result<IssuedToken, AssureSignError> {
    let now = state.now();
    let mut throttle_keys = vec![ThrottleKey::api_username(&request.api_username)];
    if let Some(ip) = source_ip {
        throttle_keys.push(ThrottleKey::SourceIp(ip.to_owned()));
    }
    if let Some(wait) = state.throttle.check(&throttle_keys, now) {
        return Err(AssureSignError::TooManyRequests(wait));
    }
    let api_user = state
        .cache
        .api_user_by_name(&state.store, &request.api_username)
        .await?;
    let key = matching_key(
        api_user.as_ref().map(|a| a.keys.as_slice()),
        request.key.expose(),
        &state.secrets.pepper,
        &state.dummy_key_digest,
        now,
    )
    .cloned();
    let organization = api_user.as_ref().map(|a| a.api_user.organization_id);
    let (api_user, key) = match (api_user, key) {
        (Some(api_user), Some(key)) if api_user.api_user.is_usable(now) => (api_user, key),
        _ => {
            state.throttle.record_failure(&throttle_keys, now);
            state
                .verifier
                .audit_event(
                    organization,
                    claimed_name(&request.api_username),
                    "token.issue",
                    &request.context_username,
                    source_ip,
                    AuditOutcome::Failure,
                )
                .await;
            return Err(AssureSignError::InvalidKey);
        }
    };
    state.throttle.record_success(&throttle_keys);
    let record = &api_user.api_user;
    let denied = |reason: &'static str| AssureSignError::Forbidden(reason);
    let user = state
        .cache
        .user_by_email(
            &state.store,
            record.organization_id,
            &request.context_username,
        )
        .await?;
    let outcome = match &user {
        None => Err(denied("The context user was not found.")),
        Some(user) if !user.is_active() => Err(denied("The context user is disabled.")),
        Some(user) => {
            let memberships = state.cache.memberships(&state.store, user.id).await?;
            if record.scope.admits_user(user.id, &memberships) {
                Ok(user.clone())
            } else {
                Err(denied("The API user may not act for the context user."))
            }
        }
    };
    let user = match outcome {
        Ok(user) => user,
        Err(error) => {
            state
                .verifier
                .audit_event(
                    Some(record.organization_id),
                    &record.username,
                    "token.issue",
                    &request.context_username,
                    source_ip,
                    AuditOutcome::Denied,
                )
                .await;
            return Err(error);
        }
    };
    let mut expires_at = api_user::session_expiry(now, request.session_minutes, record.expires_at);
    if let Some(until) = key.valid_until {
        expires_at = expires_at.min(until);
    }
    // A session opened in the second the user ended sessions (SPEC §14) is dated at the end,
    // so it stands: tokens carry whole seconds.
    let ends = state.cache.session_ends(&state.store, user.id).await?;
    let issued_at = now
        .unix_timestamp()
        .max(session::not_before(&ends, record.id, key.id));
    let claims = SessionClaims {
        session_id: SessionId(Uuid::new_v4()),
        api_user_id: record.id,
        key_id: key.id,
        user_id: user.id,
        issued_at,
        expires_at: expires_at.unix_timestamp(),
    };
    let kid = state.secrets.signing_kid;
    let secret = state
        .secrets
        .signing
        .get(&kid)
        .ok_or(AssureSignError::Internal)?;
    let text = token::sign(&claims, kid, secret);
    if state.last_used.is_due_at_once(&key, now) {
        crate::last_used::LastUsed::write_now(
            &state.store,
            key.id,
            source_ip.map(str::to_owned),
            now,
        )
        .await;
    }
    state.last_used.record(record.id, key.id, source_ip, now);
    state
        .verifier
        .audit_event(
            Some(record.organization_id),
            &record.username,
            "token.issue",
            &user.id.to_string(),
            source_ip,
            AuditOutcome::Success,
        )
        .await;
    let expires_at = OffsetDateTime::from_unix_timestamp(claims.expires_at)
        .map_err(|_| AssureSignError::Internal)?;
    Ok(IssuedToken {
        token: countersign_core::secret::Secret::new(text),
        expires_at,
    })
}
