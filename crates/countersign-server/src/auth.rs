//! Authentication and authorization of requests: the API-user token exchange and bearer
//! verification (SPEC §3–4). Handlers in `routes` turn the results into responses.

use crate::dialect::assuresign::AssureSignError;
use crate::identity::{Identity, Verified};
use crate::legacy::WireExtras;
use crate::state::AppState;
use crate::throttle::ThrottleKey;
use countersign_core::access::{self, AccountError, AccountRef, AccountRequest, UserContext};
use countersign_core::api_user::{self, ApiKeyRecord, Scope};
use countersign_core::directory::{Membership, User};
use countersign_core::ids::{ApiUserId, EnvironmentId, OrganizationId, SessionId};
use countersign_core::key::{ApiKey, digest_key_text};
use countersign_core::session;
use countersign_core::token::{self, SessionClaims};
use countersign_store::{ApiUserWithKeys, AuditOutcome, StoreError};
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use uuid::Uuid;

/// How a request authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// A session token from `/authentication/apiUser`.
    ApiUserToken,
    /// The legacy header, acting as the authenticated user.
    LegacyHeader,
    /// The legacy header with Send-On-Behalf-Of.
    LegacyHeaderSobo,
}

impl AuthMethod {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::ApiUserToken => "api_user_token",
            Self::LegacyHeader => "legacy_header",
            Self::LegacyHeaderSobo => "legacy_header_sobo",
        }
    }
}

/// The verified identity of a request (SPEC §6).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Principal {
    /// Organization of the acting user.
    #[schema(value_type = String, format = Uuid)]
    pub organization_id: OrganizationId,
    /// Environment of the effective account.
    #[schema(value_type = String, format = Uuid)]
    pub environment_id: EnvironmentId,
    /// The effective account (context identifier).
    #[schema(value_type = String, format = Uuid)]
    pub account_id: countersign_core::ids::AccountId,
    /// The effective account's numeric number.
    pub account_number: String,
    /// The effective account's name.
    pub account_name: String,
    /// The user the request acts as.
    #[schema(value_type = String, format = Uuid)]
    pub user_id: countersign_core::ids::UserId,
    /// That user's email.
    pub user_email: String,
    /// Who is acting: the API username, or the authenticated user id when acting for someone else.
    pub actor: String,
    /// How the request authenticated.
    pub auth_method: AuthMethod,
    /// The API user behind a token.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub api_user_id: Option<ApiUserId>,
    /// The session's expiry, for tokens.
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<OffsetDateTime>,
}

/// What the request carried beside credentials.
#[derive(Clone, Debug, Default)]
pub struct RequestFacts {
    /// Client address.
    pub source_ip: Option<String>,
    /// `X-AS-UserContext`, parsed.
    pub user_context: Option<UserContext>,
    /// Account named by the (original) request path.
    pub path_account: Option<AccountRef>,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
}

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

fn internal(error: &StoreError) -> AssureSignError {
    tracing::error!(error = %error, source = ?std::error::Error::source(error), "store failure during authentication");
    AssureSignError::Internal
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
        .await
        .map_err(|e| internal(&e))?;
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
        .await
        .map_err(|e| internal(&e))?;
    let outcome = match &user {
        None => Err(denied("The context user was not found.")),
        Some(user) if !user.is_active() => Err(denied("The context user is disabled.")),
        Some(user) => {
            let memberships = state
                .cache
                .memberships(&state.store, user.id)
                .await
                .map_err(|e| internal(&e))?;
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
    let claims = SessionClaims {
        session_id: SessionId(Uuid::new_v4()),
        api_user_id: record.id,
        key_id: key.id,
        user_id: user.id,
        issued_at: now.unix_timestamp(),
        expires_at: expires_at.unix_timestamp(),
    };
    let kid = state.secrets.signing_kid;
    let secret = state
        .secrets
        .signing
        .get(&kid)
        .ok_or(AssureSignError::Internal)?;
    let text = token::sign(&claims, kid, secret);
    state.last_used.record(record.id, now);
    state
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

/// The directory facts behind a session identity (API user, key, acting user), loaded through
/// the directory caches and kept while the directory epoch is unchanged. What can lapse with
/// time alone (the API user's and key's expiry) is re-checked on every request.
#[derive(Debug)]
pub struct BearerFacts {
    /// The API user with its keys.
    pub api_user: Arc<ApiUserWithKeys>,
    /// The acting user.
    pub user: Arc<User>,
    /// The acting user's memberships.
    pub memberships: Arc<Vec<Membership>>,
    /// The acting user's identity, headers rendered.
    pub identity: Arc<Identity>,
    /// The directory epoch read before the facts were loaded.
    pub epoch: u64,
    /// When this identity last noted a use of its API user (Unix seconds).
    last_used: AtomicI64,
}

impl BearerFacts {
    /// Whether a session with `claims` (already verified) is granted at `now`: the API user is
    /// neither revoked nor expired and the session's key is still valid (rotation grace).
    pub fn admits(&self, claims: &SessionClaims, now: OffsetDateTime) -> bool {
        session::still_valid(&self.api_user.api_user, &self.api_user.keys, claims, now)
    }

    /// Notes a use of the API user for `last_used_at`, at most once a minute per identity
    /// before the (per API user) tracker is even asked.
    pub fn note_use(&self, state: &AppState, now: OffsetDateTime) {
        let seconds = now.unix_timestamp();
        let last = self.last_used.load(Ordering::Relaxed);
        if seconds - last >= 60
            && self
                .last_used
                .compare_exchange(last, seconds, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            state.last_used.record(self.api_user.api_user.id, now);
        }
    }
}

/// A valid session: its signed claims and the directory facts behind them.
#[derive(Debug)]
pub struct Session {
    /// The signed claims.
    pub claims: SessionClaims,
    /// The facts, current at the time of the request.
    pub facts: Arc<BearerFacts>,
}

impl Session {
    /// The API user's username.
    pub fn api_username(&self) -> &str {
        &self.facts.api_user.api_user.username
    }

    /// The API user's scope.
    pub fn scope(&self) -> &Scope {
        &self.facts.api_user.api_user.scope
    }

    /// The acting user.
    pub fn user(&self) -> &User {
        &self.facts.user
    }

    /// The acting user's memberships.
    pub fn memberships(&self) -> &[Membership] {
        &self.facts.memberships
    }
}

/// Loads (through the directory caches) and checks the directory facts of a session identity;
/// `None` when the directory no longer grants it.
async fn load_bearer_facts(
    state: &AppState,
    claims: &SessionClaims,
    epoch: u64,
) -> Result<Option<BearerFacts>, AssureSignError> {
    let Some(api_user) = state
        .cache
        .api_user_by_id(&state.store, claims.api_user_id)
        .await
        .map_err(|e| internal(&e))?
    else {
        return Ok(None);
    };
    let Some(user) = state
        .cache
        .user_by_id(&state.store, claims.user_id)
        .await
        .map_err(|e| internal(&e))?
    else {
        return Ok(None);
    };
    let record = &api_user.api_user;
    let memberships = state
        .cache
        .memberships(&state.store, user.id)
        .await
        .map_err(|e| internal(&e))?;
    if !session::directory_admits(record, &user, &memberships) {
        return Ok(None);
    }
    let identity = Arc::new(Identity::new(
        &user,
        memberships.clone(),
        record.username.clone(),
        AuthMethod::ApiUserToken,
    ));
    Ok(Some(BearerFacts {
        api_user,
        user,
        memberships,
        identity,
        epoch,
        last_used: AtomicI64::new(i64::MIN / 2),
    }))
}

/// Verifies a bearer token and re-checks everything SPEC §3 requires at the time of the request.
///
/// # Errors
/// `InvalidToken` (401) for a bad, expired, revoked, deleted or rotated-out token, a disabled
/// user or one now outside the scope; `Internal` on store failure.
pub async fn verify_token(state: &AppState, token_text: &str) -> Result<Session, AssureSignError> {
    let now = state.now();
    let claims = token::verify(token_text, now.unix_timestamp(), |kid| {
        state.secrets.signing.get(&kid).map(Vec::as_slice)
    })
    .map_err(|_| AssureSignError::InvalidToken)?;
    let key = (claims.api_user_id, claims.key_id, claims.user_id);
    let facts = match state.cache.bearer(&key) {
        Some(facts) => facts,
        None => {
            // The epoch is read before loading: a change committed meanwhile leaves the entry
            // stale rather than serving it.
            let epoch = state.cache.epoch();
            let facts = Arc::new(
                load_bearer_facts(state, &claims, epoch)
                    .await?
                    .ok_or(AssureSignError::InvalidToken)?,
            );
            state.cache.insert_bearer(key, epoch, facts.clone());
            facts
        }
    };
    if !facts.admits(&claims, now) {
        return Err(AssureSignError::InvalidToken);
    }
    crate::hot::remember_bearer(state, token_text, &claims, &facts);
    facts.note_use(state, now);
    Ok(Session { claims, facts })
}

/// Chooses the effective account of a verified session.
///
/// # Errors
/// `Forbidden` (403) for a mismatched or unavailable context or path account, or no account in
/// scope; `AmbiguousAccount` (400) when `X-AS-UserContext` is needed.
pub fn authorize_session(
    session: &Session,
    facts: &RequestFacts,
) -> Result<Verified, AssureSignError> {
    let request = AccountRequest {
        user_context: facts.user_context.as_ref(),
        path_account: facts.path_account.as_ref(),
    };
    let membership = access::effective_account(
        session.scope(),
        &session.user().email,
        session.memberships(),
        &request,
    )
    .map_err(|error| match error {
        AccountError::Ambiguous => AssureSignError::AmbiguousAccount,
        other => AssureSignError::Forbidden(other.message()),
    })?;
    Verified::new(
        session.facts.identity.clone(),
        membership,
        Some(session.claims.api_user_id),
        OffsetDateTime::from_unix_timestamp(session.claims.expires_at).ok(),
        WireExtras::default(),
    )
    .ok_or(AssureSignError::Internal)
}
