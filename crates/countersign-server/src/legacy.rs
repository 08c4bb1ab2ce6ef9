//! The DocuSign legacy header on the server side (SPEC §5): integrator key, username and
//! password (or API password) on every request, Send-On-Behalf-Of, `login_information`, API
//! passwords, and sunset notices.
//!
//! Because the password arrives with every request, successful verifications are cached under a
//! keyed hash of (user, password) together with the user's credential version: a password
//! change or API-password reset bumps the version and ends every cached verification at once.

use crate::auth::{AuthMethod, RequestFacts};
use crate::dialect::docusign::DocuSignError;
use crate::identity::{Identity, Verified};
use crate::passwords;
use crate::routes::{Peer, client_ip};
use crate::state::{AppState, random_bytes};
use crate::throttle::ThrottleKey;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use countersign_core::access::{self, AccountError, AccountRequest};
use countersign_core::api_user::Scope;
use countersign_core::directory::{
    IntegratorKey, IntegratorKeyStatus, Membership, Permissions, User,
};
use countersign_core::ids::{OrganizationId, UserId};
use countersign_core::key::digest_key_text;
use countersign_core::legacy::{
    LegacyCredentials, LegacyHeaderError, MAX_HEADER_LEN, parse_header,
};
use countersign_store::{AuditOutcome, StoreError};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use time::OffsetDateTime;

/// The header name (matched case-insensitively by the HTTP layer).
pub const HEADER: &str = "x-docusign-authentication";

/// Cached successful verifications: keyed hash of (user, password) → credential version.
pub type VerifiedPasswords = moka::sync::Cache<String, i64>;

/// Response headers added to legacy-authenticated answers (sunset notices).
#[derive(Clone, Debug, Default)]
pub struct WireExtras {
    headers: Option<Arc<[(HeaderName, HeaderValue)]>>,
}

impl WireExtras {
    /// Adds the extra headers to a response.
    pub fn apply(&self, out: &mut HeaderMap) {
        for (name, value) in self.headers.iter().flat_map(|h| h.iter()) {
            out.insert(name.clone(), value.clone());
        }
    }

    /// The `Sunset`, `Deprecation` and `Link` headers of a key with a future sunset (RFC 8594,
    /// RFC 9745).
    fn for_key(key: &IntegratorKey, public_url: &str) -> Self {
        let mut headers = Vec::new();
        if let Some(sunset) = key.legacy_sunset_at {
            let when = std::time::SystemTime::UNIX_EPOCH
                + std::time::Duration::from_secs(sunset.unix_timestamp().max(0).unsigned_abs());
            if let Ok(value) = HeaderValue::from_str(&httpdate::fmt_http_date(when)) {
                headers.push((HeaderName::from_static("sunset"), value));
            }
            let deprecated = key.deprecated_at.unwrap_or(key.created_at).unix_timestamp();
            if let Ok(value) = HeaderValue::from_str(&format!("@{deprecated}")) {
                headers.push((HeaderName::from_static("deprecation"), value));
            }
            if let Ok(value) = HeaderValue::from_str(&format!(
                "<{public_url}/docs/legacy-migration>; rel=\"sunset\""
            )) {
                headers.push((header::LINK, value));
            }
        }
        Self {
            headers: (!headers.is_empty()).then(|| headers.into()),
        }
    }
}

/// A user authenticated by a legacy header, before any account or SOBO decision. Cached by a
/// keyed digest of the header while the directory epoch is unchanged (a password change, API
/// password reset, disabled user, revoked integrator key or organization switch all change
/// it), so a repeated header costs one digest and one lookup instead of a parse, several
/// directory lookups and a password check.
#[derive(Debug)]
pub struct LegacyFacts {
    /// The username as sent (email or user id).
    pub username: String,
    /// The user to act for, as sent.
    pub send_on_behalf_of: Option<String>,
    /// The integrator key used.
    pub integrator_key: Arc<IntegratorKey>,
    /// The authenticated user.
    pub user: Arc<User>,
    /// The authenticated user's memberships.
    pub memberships: Arc<Vec<Membership>>,
    /// The authenticated user acting as themself, headers rendered.
    pub identity: Arc<Identity>,
    /// Sunset notices to add to the answer.
    pub extras: WireExtras,
    /// The directory epoch read before the facts were loaded.
    pub epoch: u64,
    /// The user and integrator-key throttle keys, reset after a success.
    throttle_keys: [ThrottleKey; 2],
    /// The throttle's name-failure count at the last reset.
    reset_seen: AtomicU64,
    /// The integrator key's legacy-request counter.
    requests: crate::striped::StripedCounter,
}

impl LegacyFacts {
    /// Whether the header may still be used at `now` (its integrator key's sunset is ahead).
    pub fn before_sunset(&self, now: OffsetDateTime) -> bool {
        self.integrator_key
            .legacy_sunset_at
            .is_none_or(|sunset| sunset > now)
    }

    /// Counts a request authenticated from cache: resets the name throttles if a failure was
    /// recorded since the last reset, and counts the integrator key's request.
    pub fn count_success(&self, state: &AppState) {
        state
            .throttle
            .reset_names_since(&self.throttle_keys, &self.reset_seen);
        self.requests.inc();
    }

    /// The user and integrator-key throttle keys.
    pub fn throttle_keys(&self) -> &[ThrottleKey] {
        &self.throttle_keys
    }
}

/// A legacy-authenticated user.
pub type LegacyAuth = Arc<LegacyFacts>;

/// Digests legacy headers under a key derived from the pepper, for the verified-header cache:
/// the cache never holds the header (and its password) or an unkeyed hash of it.
#[derive(Clone)]
pub struct HeaderDigester(Hmac<Sha256>);

impl std::fmt::Debug for HeaderDigester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HeaderDigester([redacted])")
    }
}

impl HeaderDigester {
    /// A digester keyed by `pepper`, separated from every other use of it.
    pub fn new(pepper: &[u8]) -> Self {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(pepper)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(b"countersign legacy header\0");
        Self(mac)
    }

    /// The keyed digest of a raw header value.
    pub fn digest(&self, raw: &[u8]) -> [u8; 32] {
        let mut mac = self.0.clone();
        mac.update(raw);
        mac.finalize().into_bytes().into()
    }
}

fn internal(error: &StoreError) -> DocuSignError {
    tracing::error!(error = %error, source = ?std::error::Error::source(error), "store failure during legacy authentication");
    DocuSignError::Internal
}

fn format_date(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// An API password: 32 random bytes, base64; the first 8 bytes (hex) identify its stored hash.
fn api_password_id(password: &str) -> Option<String> {
    let mut raw = [0u8; 33];
    match STANDARD.decode_slice(password.as_bytes(), &mut raw) {
        Ok(32) => Some(hex::encode(&raw[..8])),
        _ => None,
    }
}

/// Finds a user named by email or user id within an organization.
async fn find_user(
    state: &AppState,
    organization: OrganizationId,
    name: &str,
) -> Result<Option<Arc<User>>, DocuSignError> {
    if let Some(id) = UserId::parse(name) {
        let user = state
            .cache
            .user_by_id(&state.store, id)
            .await
            .map_err(|e| internal(&e))?;
        return Ok(user.filter(|u| u.organization_id == organization));
    }
    state
        .cache
        .user_by_email(&state.store, organization, name)
        .await
        .map_err(|e| internal(&e))
}

/// Verifies a password or API password. A miss always costs two argon2 verifications, whether
/// the user is unknown, has no password, or sent a wrong one, so timing tells nothing.
async fn verify_password(
    state: &AppState,
    user: Option<&User>,
    password: &str,
) -> Result<bool, DocuSignError> {
    let Some(user) = user else {
        state
            .verify_password(password, state.dummy_password_hash.clone())
            .await?;
        state
            .verify_password(password, state.dummy_password_hash.clone())
            .await?;
        return Ok(false);
    };
    let cache_key = digest_key_text(
        &format!("legacy\u{0}{}\u{0}{password}", user.id),
        &state.secrets.pepper,
    );
    if state.verified_passwords.get(&cache_key) == Some(user.credential_version) {
        return Ok(true);
    }
    let hashes = state
        .store
        .fetch_password_hashes(user.id)
        .await
        .map_err(|e| internal(&e))?;
    let first = hashes
        .password_hash
        .unwrap_or_else(|| state.dummy_password_hash.clone());
    let mut verified = state.verify_password(password, first).await?;
    if !verified {
        let stored = match api_password_id(password) {
            Some(id) => state
                .store
                .find_api_password(user.id, &id)
                .await
                .map_err(|e| internal(&e))?,
            None => None,
        };
        let second = stored.unwrap_or_else(|| state.dummy_password_hash.clone());
        verified = state.verify_password(password, second).await?;
    }
    if verified {
        state
            .verified_passwords
            .insert(cache_key, user.credential_version);
    }
    Ok(verified)
}

/// Authenticates the integrator key, the user and the password of a legacy header.
///
/// # Errors
/// The DocuSign-dialect refusal of SPEC §5.
pub async fn authenticate_user(
    state: &AppState,
    headers: &HeaderMap,
    facts: &RequestFacts,
) -> Result<LegacyAuth, DocuSignError> {
    let source_ip = facts.source_ip.as_deref();
    let now = state.now();
    let ip_keys: Vec<ThrottleKey> = source_ip
        .map(|ip| ThrottleKey::SourceIp(ip.to_owned()))
        .into_iter()
        .collect();
    if let Some(wait) = state.throttle.check(&ip_keys, now) {
        return Err(DocuSignError::TooManyRequests(wait));
    }
    let raw = headers
        .get(HEADER)
        .map(HeaderValue::as_bytes)
        .ok_or(DocuSignError::NoIntegratorKey)?;
    if raw.len() > MAX_HEADER_LEN {
        state.throttle.record_failure(&ip_keys, now);
        return Err(DocuSignError::NoIntegratorKey);
    }
    let digest = state.header_digester.digest(raw);
    if let Some(cached) = state.cache.legacy(&digest)
        && cached.before_sunset(now)
    {
        // The same checks as below, on facts the directory still grants: only a throttle
        // in force (rare, one atomic load otherwise) and the sunset (above) can have changed.
        if state.throttle.any_blocked(now) {
            let mut keys = cached.throttle_keys.to_vec();
            keys.extend(ip_keys.iter().cloned());
            if let Some(wait) = state.throttle.check(&keys, now) {
                return Err(DocuSignError::TooManyRequests(wait));
            }
        }
        cached.count_success(state);
        crate::hot::remember_legacy(state, digest, &cached);
        return Ok(cached);
    }
    let epoch = state.cache.epoch();
    let credentials = match parse_header(raw) {
        Ok(credentials) => credentials,
        Err(LegacyHeaderError::MissingCredentials) => {
            state.throttle.record_failure(&ip_keys, now);
            state
                .audit_event(
                    None,
                    "[legacy header]",
                    "legacy.authenticate",
                    "-",
                    source_ip,
                    AuditOutcome::Failure,
                )
                .await;
            return Err(DocuSignError::UserAuthenticationFailed);
        }
        Err(_) => {
            state.throttle.record_failure(&ip_keys, now);
            return Err(DocuSignError::NoIntegratorKey);
        }
    };
    let name_keys = [
        ThrottleKey::user(&credentials.username),
        ThrottleKey::IntegratorKey(credentials.integrator_key.clone()),
    ];
    let mut key_keys = vec![name_keys[1].clone()];
    key_keys.extend(ip_keys.iter().cloned());
    let mut all_keys = name_keys.to_vec();
    all_keys.extend(ip_keys.iter().cloned());
    if let Some(wait) = state.throttle.check(&all_keys, now) {
        return Err(DocuSignError::TooManyRequests(wait));
    }
    let key = state
        .cache
        .integrator_key(&state.store, &credentials.integrator_key)
        .await
        .map_err(|e| internal(&e))?;
    let Some(key) = key.filter(|k| k.status == IntegratorKeyStatus::Active) else {
        state.throttle.record_failure(&key_keys, now);
        state
            .audit_event(
                None,
                &credentials.username,
                "legacy.authenticate",
                "integrator key",
                source_ip,
                AuditOutcome::Failure,
            )
            .await;
        return Err(DocuSignError::IntegratorKeyDisabled);
    };
    let organization = state
        .cache
        .organization(&state.store, key.organization_id)
        .await
        .map_err(|e| internal(&e))?;
    let migrate_hint = || {
        format!(
            "Exchange an API user key for a token at POST /api/v3.x/authentication/apiUser instead; see {}/docs/legacy-migration.",
            state.config.public_url
        )
    };
    if !organization.legacy_header_enabled {
        state
            .audit_event(
                Some(organization.id),
                &credentials.username,
                "legacy.authenticate",
                &key.id.to_string(),
                source_ip,
                AuditOutcome::Denied,
            )
            .await;
        return Err(DocuSignError::LegacyHeaderRetired(format!(
            "The X-DocuSign-Authentication header is turned off for this organization. {}",
            migrate_hint()
        )));
    }
    if let Some(sunset) = key.legacy_sunset_at
        && sunset <= now
    {
        state
            .audit_event(
                Some(organization.id),
                &credentials.username,
                "legacy.authenticate",
                &key.id.to_string(),
                source_ip,
                AuditOutcome::Denied,
            )
            .await;
        return Err(DocuSignError::LegacyHeaderRetired(format!(
            "The X-DocuSign-Authentication header was retired for this integrator key on {}. {}",
            format_date(sunset),
            migrate_hint()
        )));
    }
    let user = find_user(state, organization.id, &credentials.username).await?;
    let verified = verify_password(state, user.as_deref(), credentials.password.expose()).await?;
    let user = match user {
        Some(user) if verified && user.is_active() => user,
        _ => {
            state.throttle.record_failure(&all_keys, now);
            state
                .audit_event(
                    Some(organization.id),
                    &credentials.username,
                    "legacy.authenticate",
                    &key.id.to_string(),
                    source_ip,
                    AuditOutcome::Failure,
                )
                .await;
            return Err(DocuSignError::UserAuthenticationFailed);
        }
    };
    let seen = state.throttle.name_failure_count();
    state.throttle.record_success(&all_keys);
    let requests = state.metrics.legacy_counter(&key.id.to_string());
    requests.inc();
    let memberships = state
        .cache
        .memberships(&state.store, user.id)
        .await
        .map_err(|e| internal(&e))?;
    let identity = Arc::new(Identity::new(
        &user,
        memberships.clone(),
        user.id.to_string(),
        AuthMethod::LegacyHeader,
    ));
    let extras = WireExtras::for_key(&key, &state.config.public_url);
    let LegacyCredentials {
        username,
        send_on_behalf_of,
        ..
    } = credentials;
    let facts = Arc::new(LegacyFacts {
        username,
        send_on_behalf_of,
        integrator_key: key,
        user,
        memberships,
        identity,
        extras,
        epoch,
        throttle_keys: name_keys,
        reset_seen: AtomicU64::new(seen),
        requests,
    });
    state.cache.insert_legacy(digest, epoch, facts.clone());
    crate::hot::remember_legacy(state, digest, &facts);
    Ok(facts)
}

/// Authenticates a legacy-header request, chooses its account and applies Send-On-Behalf-Of.
///
/// # Errors
/// The DocuSign-dialect refusal of SPEC §5.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    facts: &RequestFacts,
) -> Result<Verified, DocuSignError> {
    let auth = authenticate_user(state, headers, facts).await?;
    let request = AccountRequest {
        user_context: None,
        path_account: facts.path_account.as_ref(),
    };
    let membership = access::effective_account(
        &Scope::Organization,
        &auth.user.email,
        &auth.memberships,
        &request,
    )
    .map_err(|error| match error {
        AccountError::PathAccountNotAvailable
        | AccountError::ContextAccountNotAvailable
        | AccountError::ContextUserMismatch => DocuSignError::NotInAccount,
        AccountError::NoAccountInScope => DocuSignError::NoAccount,
        AccountError::Ambiguous => DocuSignError::AmbiguousAccount,
    })?;
    let Some(sobo_name) = auth.send_on_behalf_of.as_deref() else {
        record_use(state, &auth, None, Some(membership.account_id), facts);
        return Verified::new(
            auth.identity.clone(),
            membership,
            None,
            None,
            auth.extras.clone(),
        )
        .ok_or(DocuSignError::Internal);
    };
    let source_ip = facts.source_ip.as_deref();
    let acting = send_on_behalf_of(state, &auth, membership, sobo_name).await?;
    let Some((sobo_user, sobo_memberships)) = acting else {
        state
            .audit_event(
                Some(auth.user.organization_id),
                &auth.user.email,
                "legacy.sobo",
                sobo_name,
                source_ip,
                AuditOutcome::Denied,
            )
            .await;
        return Err(DocuSignError::LacksPermissions);
    };
    state
        .audit_event(
            Some(auth.user.organization_id),
            &auth.user.email,
            "legacy.sobo",
            &sobo_user.id.to_string(),
            source_ip,
            AuditOutcome::Success,
        )
        .await;
    record_use(
        state,
        &auth,
        Some(sobo_user.id),
        Some(membership.account_id),
        facts,
    );
    let identity = Arc::new(Identity::new(
        &sobo_user,
        sobo_memberships,
        auth.user.id.to_string(),
        AuthMethod::LegacyHeaderSobo,
    ));
    let sobo_membership = identity
        .memberships
        .iter()
        .find(|m| m.account_id == membership.account_id)
        .cloned()
        .ok_or(DocuSignError::LacksPermissions)?;
    Verified::new(identity, &sobo_membership, None, None, auth.extras.clone())
        .ok_or(DocuSignError::Internal)
}

/// Counts a successful legacy authentication for the migration telemetry.
fn record_use(
    state: &AppState,
    auth: &LegacyFacts,
    on_behalf_of: Option<UserId>,
    account_id: Option<countersign_core::ids::AccountId>,
    facts: &RequestFacts,
) {
    record_use_from(
        state,
        auth,
        on_behalf_of,
        account_id,
        facts.source_ip.as_deref(),
        facts.user_agent.as_deref(),
    );
}

/// [`record_use`] with the client's address and user agent as text.
pub(crate) fn record_use_from(
    state: &AppState,
    auth: &LegacyFacts,
    on_behalf_of: Option<UserId>,
    account_id: Option<countersign_core::ids::AccountId>,
    source_ip: Option<&str>,
    user_agent: Option<&str>,
) {
    if !state.config.legacy_usage_enabled {
        return;
    }
    state.legacy_usage.record(
        crate::legacy_usage::LegacyUse {
            integrator_key_id: auth.integrator_key.id,
            user_id: auth.user.id,
            on_behalf_of,
            account_id,
            source_ip,
            user_agent,
        },
        state.now(),
    );
}

/// Applies SPEC §5's Send-On-Behalf-Of rules: the user acted for and their memberships, or
/// `None` when any rule fails.
async fn send_on_behalf_of(
    state: &AppState,
    auth: &LegacyFacts,
    membership: &Membership,
    sobo_name: &str,
) -> Result<Option<(Arc<User>, Arc<Vec<Membership>>)>, DocuSignError> {
    let rights = Permissions::SOBO.with(Permissions::ACCOUNT_WIDE);
    if !membership.permissions.contains(rights) {
        return Ok(None);
    }
    let Some(sobo_user) = find_user(state, auth.user.organization_id, sobo_name).await? else {
        return Ok(None);
    };
    if !sobo_user.is_active() {
        return Ok(None);
    }
    let sobo_memberships = state
        .cache
        .memberships(&state.store, sobo_user.id)
        .await
        .map_err(|e| internal(&e))?;
    let may_send = sobo_memberships.iter().any(|m| {
        m.account_id == membership.account_id && m.permissions.contains(Permissions::SEND)
    });
    Ok(may_send.then_some((sobo_user, sobo_memberships)))
}

/// One account of `login_information`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginAccount {
    /// Account name.
    name: String,
    /// Numeric account id.
    account_id: String,
    /// `{public_url}/restapi/v2[.1]/accounts/{accountId}`.
    base_url: String,
    /// `"true"` or `"false"`.
    is_default: String,
    /// The user's name.
    user_name: String,
    /// The user's id.
    user_id: String,
    /// The user's email.
    email: String,
    /// Always empty.
    site_description: String,
    /// The account's UUID, with `include_account_id_guid=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    account_id_guid: Option<String>,
    /// With `login_settings=all`.
    #[serde(skip_serializing_if = "Option::is_none")]
    login_account_settings: Option<Vec<NameValue>>,
    /// With `login_settings=all`.
    #[serde(skip_serializing_if = "Option::is_none")]
    login_user_settings: Option<Vec<NameValue>>,
}

/// A setting.
#[derive(Serialize, utoipa::ToSchema)]
pub struct NameValue {
    /// Name.
    name: String,
    /// Value (`"true"`/`"false"`).
    value: String,
}

/// The `login_information` response.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginInformation {
    /// The user's accounts, default first.
    login_accounts: Vec<LoginAccount>,
    /// A new API password, with `api_password=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    api_password: Option<String>,
}

/// Options of `login_information`, from a query string whose values match in any case.
#[derive(Debug, Default)]
struct LoginOptions {
    api_password: bool,
    include_account_id_guid: bool,
    login_settings: bool,
}

fn login_options(query: Option<&str>) -> Result<LoginOptions, DocuSignError> {
    let mut options = LoginOptions::default();
    let Some(query) = query else {
        return Ok(options);
    };
    if query.len() > 2048 {
        return Err(DocuSignError::InvalidRequest(
            "The query string is too long.",
        ));
    }
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = value.to_ascii_lowercase();
        match name.to_ascii_lowercase().as_str() {
            "api_password" => options.api_password = value == "true",
            "include_account_id_guid" => options.include_account_id_guid = value == "true",
            "login_settings" => options.login_settings = value == "all",
            _ => {}
        }
    }
    Ok(options)
}

async fn login_information_for(
    state: AppState,
    version: &'static str,
    peer: Peer,
    headers: HeaderMap,
    query: Option<String>,
) -> Response {
    let result = async {
        let options = login_options(query.as_deref())?;
        let facts = RequestFacts {
            source_ip: client_ip(&headers, peer.0, state.config.trust_forwarded_for),
            user_agent: headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            ..RequestFacts::default()
        };
        let auth = authenticate_user(&state, &headers, &facts).await?;
        let (user, memberships) = if auth.send_on_behalf_of.is_some() {
            let verified = authenticate(&state, &headers, &facts).await?;
            let user = state
                .cache
                .user_by_id(&state.store, verified.identity.user_id)
                .await
                .map_err(|e| internal(&e))?
                .ok_or(DocuSignError::LacksPermissions)?;
            (user, verified.identity.memberships.clone())
        } else {
            record_use(&state, &auth, None, None, &facts);
            (auth.user.clone(), auth.memberships.clone())
        };
        let api_password = if options.api_password {
            Some(new_api_password(&state, &user).await?)
        } else {
            None
        };
        let public_url = &state.config.public_url;
        let login_accounts = memberships
            .iter()
            .map(|m| {
                let settings = options.login_settings.then(|| {
                    let flag = |p: Permissions| {
                        if m.permissions.contains(p) {
                            "true"
                        } else {
                            "false"
                        }
                        .to_owned()
                    };
                    vec![
                        NameValue {
                            name: "canSendEnvelope".into(),
                            value: flag(Permissions::SEND),
                        },
                        NameValue {
                            name: "allowSendOnBehalfOf".into(),
                            value: flag(Permissions::SOBO),
                        },
                        NameValue {
                            name: "allowAccountWide".into(),
                            value: flag(Permissions::ACCOUNT_WIDE),
                        },
                        NameValue {
                            name: "canManageAccount".into(),
                            value: flag(Permissions::ADMIN),
                        },
                    ]
                });
                LoginAccount {
                    name: m.account_name.clone(),
                    account_id: m.account_number.clone(),
                    base_url: format!(
                        "{public_url}/restapi/{version}/accounts/{}",
                        m.account_number
                    ),
                    is_default: m.is_default.to_string(),
                    user_name: user.name.clone(),
                    user_id: user.id.to_string(),
                    email: user.email.clone(),
                    site_description: String::new(),
                    account_id_guid: options
                        .include_account_id_guid
                        .then(|| m.account_id.to_string()),
                    login_account_settings: options.login_settings.then(Vec::new),
                    login_user_settings: settings,
                }
            })
            .collect();
        Ok::<_, DocuSignError>((
            LoginInformation {
                login_accounts,
                api_password,
            },
            auth.extras.clone(),
        ))
    }
    .await;
    match result {
        Ok((body, extras)) => {
            let bytes = serde_json::to_vec(&body).unwrap_or_default();
            let mut response = bytes.into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
            extras.apply(response.headers_mut());
            response
        }
        Err(error) => error.into_response(),
    }
}

/// Creates a new API password for a user; it is stored hashed and shown only in this answer.
async fn new_api_password(state: &AppState, user: &User) -> Result<String, DocuSignError> {
    let raw = random_bytes::<32>();
    let password = STANDARD.encode(raw);
    let id = hex::encode(&raw[..8]);
    let hash = passwords::hash(password.clone(), state.config.password_hashing)
        .await
        .map_err(|_| DocuSignError::Internal)?;
    state
        .store
        .insert_api_password(user.id, &id, &hash, state.now())
        .await
        .map_err(|e| internal(&e))?;
    state
        .audit_event(
            Some(user.organization_id),
            &user.email,
            "user.api_password_create",
            &user.id.to_string(),
            None,
            AuditOutcome::Success,
        )
        .await;
    Ok(password)
}

/// DocuSign `login_information` (v2).
#[utoipa::path(
    get,
    path = "/restapi/v2/login_information",
    tag = "docusign",
    params(
        ("X-DocuSign-Authentication" = String, Header, description = "Legacy credentials, XML or JSON"),
        ("api_password" = Option<String>, Query, description = "true: return a new API password"),
        ("include_account_id_guid" = Option<String>, Query, description = "true: add accountIdGuid"),
        ("login_settings" = Option<String>, Query, description = "all: add settings"),
    ),
    responses(
        (status = 200, description = "The user's accounts", body = LoginInformation),
        (status = 401, description = "PARTNER_AUTHENTICATION_FAILED, USER_AUTHENTICATION_FAILED, USER_LACKS_PERMISSIONS"),
    )
)]
pub async fn login_information(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    login_information_for(state, "v2", peer, headers, query).await
}

/// DocuSign `login_information` (v2.1).
#[utoipa::path(
    get,
    path = "/restapi/v2.1/login_information",
    tag = "docusign",
    params(
        ("X-DocuSign-Authentication" = String, Header, description = "Legacy credentials, XML or JSON"),
        ("api_password" = Option<String>, Query, description = "true: return a new API password"),
        ("include_account_id_guid" = Option<String>, Query, description = "true: add accountIdGuid"),
        ("login_settings" = Option<String>, Query, description = "all: add settings"),
    ),
    responses(
        (status = 200, description = "The user's accounts", body = LoginInformation),
        (status = 401, description = "PARTNER_AUTHENTICATION_FAILED, USER_AUTHENTICATION_FAILED, USER_LACKS_PERMISSIONS"),
    )
)]
pub async fn login_information_v21(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    login_information_for(state, "v2.1", peer, headers, query).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_options_match_values_in_any_case() {
        let options = login_options(Some(
            "API_PASSWORD=True&include_account_id_guid=TRUE&login_settings=All",
        ))
        .unwrap_or_default();
        assert!(options.api_password && options.include_account_id_guid && options.login_settings);
        let options = login_options(Some("api_password=false")).unwrap_or_default();
        assert!(!options.api_password);
    }

    #[test]
    fn api_password_ids_come_from_the_first_eight_bytes() {
        let password = STANDARD.encode([7u8; 32]);
        assert_eq!(api_password_id(&password), Some("0707070707070707".into()));
        assert_eq!(api_password_id("not base64!"), None);
        assert_eq!(api_password_id(&STANDARD.encode([1u8; 31])), None);
    }
}
