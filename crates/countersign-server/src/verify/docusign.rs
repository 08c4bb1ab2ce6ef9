//! The DocuSign legacy header (SPEC §5): integrator key, username and password (or API
//! password) on every request, and the user it asks to act for (Send-On-Behalf-Of).
//!
//! Because the password arrives with every request, successful verifications are cached under a
//! keyed hash of the header together with the directory epoch: a password change, API-password
//! reset, disabled user, revoked integrator key or organization switch ends every cached
//! verification at once. What the header may then do is decided by
//! `countersign_core::decide::docusign` on these facts.

use super::Verifier;
use super::identity::{AuthMethod, Identity, WireExtras};
use crate::audit::OnBehalfOfAction;
use crate::dialect::docusign::DocuSignError;
use crate::throttle::ThrottleKey;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use countersign_core::decide::{DocuSignGrant, OnBehalfOf};
use countersign_core::directory::{IntegratorKey, IntegratorKeyStatus, Membership, User};
use countersign_core::ids::{OrganizationId, UserId};
use countersign_core::key::digest_key_text;
use countersign_core::legacy::{LegacyCredentials, LegacyHeaderError, parse_header};
use countersign_store::AuditOutcome;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use time::OffsetDateTime;

/// Cached successful verifications: keyed hash of (user, password) → credential version.
pub type VerifiedPasswords = moka::sync::Cache<String, i64>;

/// A user authenticated by a legacy header, before any account or SOBO decision. Cached by a
/// keyed digest of the header while the directory epoch is unchanged (a password change, API
/// password reset, disabled user, revoked integrator key or organization switch all change
/// it), so a repeated header costs one digest and one lookup instead of a parse, several
/// directory lookups and a password check.
#[derive(Debug)]
pub struct LegacyFacts {
    /// The keyed digest of the header the facts were verified from.
    pub digest: [u8; 32],
    /// The user the header asks to act for (`SendOnBehalfOf`), as found in the directory.
    pub on_behalf_of: Option<OnBehalfOfFacts>,
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
    pub fn count_success(&self, verifier: &Verifier) {
        verifier
            .throttle
            .reset_names_since(&self.throttle_keys, &self.reset_seen);
        self.requests.inc();
    }

    /// The user and integrator-key throttle keys.
    pub fn throttle_keys(&self) -> &[ThrottleKey] {
        &self.throttle_keys
    }
}

/// The user a header's `SendOnBehalfOf` names, loaded with the header's facts (at the same
/// directory epoch), before anything is decided about them.
#[derive(Debug)]
pub struct OnBehalfOfFacts {
    /// The name as sent (email or user id).
    pub name: String,
    /// The user; `None` when the name matches nobody in the organization.
    pub user: Option<ActedFor>,
}

/// A user acted for, with their memberships and their identity as the authenticated user acts
/// for them (headers rendered).
#[derive(Debug)]
pub struct ActedFor {
    /// The user.
    pub user: Arc<User>,
    /// Their memberships.
    pub memberships: Arc<Vec<Membership>>,
    /// Their identity, acted for by the authenticated user.
    pub identity: Arc<Identity>,
}

impl LegacyFacts {
    /// The Send-On-Behalf-Of facts as `countersign_core::decide::docusign` takes them.
    pub fn on_behalf_of(&self) -> OnBehalfOf<'_> {
        match &self.on_behalf_of {
            None => OnBehalfOf::Nobody,
            Some(OnBehalfOfFacts { user: None, .. }) => OnBehalfOf::Unknown,
            Some(OnBehalfOfFacts {
                user: Some(ActedFor {
                    user, memberships, ..
                }),
                ..
            }) => OnBehalfOf::User {
                id: user.id,
                is_active: user.is_active(),
                memberships,
            },
        }
    }

    /// The identity of the user acted for (headers rendered), with Send-On-Behalf-Of.
    pub fn on_behalf_of_identity(&self) -> Option<&Arc<Identity>> {
        self.on_behalf_of
            .as_ref()
            .and_then(|facts| facts.user.as_ref())
            .map(|acted_for| &acted_for.identity)
    }
}

/// Loads the user a header asks to act for, in the authenticated user's organization.
async fn on_behalf_of(
    verifier: &Verifier,
    actor: &User,
    name: String,
) -> Result<OnBehalfOfFacts, DocuSignError> {
    let Some(user) = find_user(verifier, actor.organization_id, &name).await? else {
        return Ok(OnBehalfOfFacts { name, user: None });
    };
    let memberships = verifier.cache.memberships(&verifier.store, user.id).await?;
    let identity = Arc::new(Identity::new(
        &user,
        memberships.clone(),
        actor.id.to_string(),
        AuthMethod::LegacyHeaderSobo,
    ));
    Ok(OnBehalfOfFacts {
        name,
        user: Some(ActedFor {
            user,
            memberships,
            identity,
        }),
    })
}

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
    verifier: &Verifier,
    organization: OrganizationId,
    name: &str,
) -> Result<Option<Arc<User>>, DocuSignError> {
    if let Some(id) = UserId::parse(name) {
        let user = verifier.cache.user_by_id(&verifier.store, id).await?;
        return Ok(user.filter(|u| u.organization_id == organization));
    }
    verifier
        .cache
        .user_by_email(&verifier.store, organization, name)
        .await
        .map_err(Into::into)
}

/// Verifies a password or API password. A miss always costs two argon2 verifications, whether
/// the user is unknown, has no password, or sent a wrong one, so timing tells nothing.
async fn verify_password(
    verifier: &Verifier,
    user: Option<&User>,
    password: &str,
) -> Result<bool, DocuSignError> {
    let Some(user) = user else {
        verifier
            .verify_password(password, verifier.passwords.dummy_hash())
            .await?;
        verifier
            .verify_password(password, verifier.passwords.dummy_hash())
            .await?;
        return Ok(false);
    };
    let cache_key = digest_key_text(
        &format!("legacy\u{0}{}\u{0}{password}", user.id),
        &verifier.secrets.pepper,
    );
    if verifier.verified_passwords.get(&cache_key) == Some(user.credential_version) {
        return Ok(true);
    }
    let hashes = verifier.store.fetch_password_hashes(user.id).await?;
    let first = hashes
        .password_hash
        .unwrap_or_else(|| verifier.passwords.dummy_hash());
    let mut verified = verifier.verify_password(password, first).await?;
    if !verified {
        let stored = match api_password_id(password) {
            Some(id) => verifier.store.find_api_password(user.id, &id).await?,
            None => None,
        };
        let second = stored.unwrap_or_else(|| verifier.passwords.dummy_hash());
        verified = verifier.verify_password(password, second).await?;
    }
    if verified {
        verifier
            .verified_passwords
            .insert(cache_key, user.credential_version);
    }
    Ok(verified)
}

/// Authenticates the integrator key, the user and the password of a legacy header.
///
/// # Errors
/// The DocuSign-dialect refusal of SPEC §5.
pub async fn authenticate_header(
    verifier: &Verifier,
    raw: &[u8],
    source_ip: Option<&str>,
) -> Result<Arc<LegacyFacts>, DocuSignError> {
    let now = verifier.now();
    let ip_keys: Vec<ThrottleKey> = source_ip
        .map(|ip| ThrottleKey::SourceIp(ip.to_owned()))
        .into_iter()
        .collect();
    if let Some(wait) = verifier.throttle.check(&ip_keys, now) {
        return Err(DocuSignError::TooManyRequests(wait));
    }
    let digest = verifier.header_digester.digest(raw);
    if let Some(cached) = verifier.legacy_facts.get(&digest)
        && cached.before_sunset(now)
    {
        // The same checks as below, on facts the directory still grants: only a throttle
        // in force (rare, one atomic load otherwise) and the sunset (above) can have changed.
        if verifier.throttle.any_blocked(now) {
            let mut keys = cached.throttle_keys.to_vec();
            keys.extend(ip_keys.iter().cloned());
            if let Some(wait) = verifier.throttle.check(&keys, now) {
                return Err(DocuSignError::TooManyRequests(wait));
            }
        }
        cached.count_success(verifier);
        return Ok(cached);
    }
    let epoch = verifier.cache.epoch();
    let credentials = match parse_header(raw) {
        Ok(credentials) => credentials,
        Err(LegacyHeaderError::MissingCredentials) => {
            verifier.throttle.record_failure(&ip_keys, now);
            verifier
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
            verifier.throttle.record_failure(&ip_keys, now);
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
    if let Some(wait) = verifier.throttle.check(&all_keys, now) {
        return Err(DocuSignError::TooManyRequests(wait));
    }
    let key = verifier
        .cache
        .integrator_key(&verifier.store, &credentials.integrator_key)
        .await?;
    let Some(key) = key.filter(|k| k.status == IntegratorKeyStatus::Active) else {
        verifier.throttle.record_failure(&key_keys, now);
        verifier
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
    let organization = verifier
        .cache
        .organization(&verifier.store, key.organization_id)
        .await?;
    let migrate_hint = || {
        format!(
            "Exchange an API user key for a token at POST /api/v3.x/authentication/apiUser instead; see {}/docs/legacy-migration.",
            verifier.config.public_url
        )
    };
    let audit_retired = async || {
        verifier
            .audit_event(
                Some(organization.id),
                &credentials.username,
                "legacy.authenticate",
                &key.id.to_string(),
                source_ip,
                AuditOutcome::Denied,
            )
            .await;
    };
    if !organization.legacy_header_enabled {
        audit_retired().await;
        return Err(DocuSignError::LegacyHeaderRetired(format!(
            "The X-DocuSign-Authentication header is turned off for this organization. {}",
            migrate_hint()
        )));
    }
    if let Some(sunset) = key.legacy_sunset_at
        && sunset <= now
    {
        audit_retired().await;
        return Err(DocuSignError::LegacyHeaderRetired(format!(
            "The X-DocuSign-Authentication header was retired for this integrator key on {}. {}",
            format_date(sunset),
            migrate_hint()
        )));
    }
    let user = find_user(verifier, organization.id, &credentials.username).await?;
    let verified =
        verify_password(verifier, user.as_deref(), credentials.password.expose()).await?;
    let user = match user {
        Some(user) if verified && user.is_active() => user,
        _ => {
            verifier.throttle.record_failure(&all_keys, now);
            verifier
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
    let seen = verifier.throttle.name_failure_count();
    verifier.throttle.record_success(&all_keys);
    let requests = verifier.metrics.legacy_counter(&key.id.to_string());
    requests.inc();
    let memberships = verifier.cache.memberships(&verifier.store, user.id).await?;
    let identity = Arc::new(Identity::new(
        &user,
        memberships.clone(),
        user.id.to_string(),
        AuthMethod::LegacyHeader,
    ));
    let extras = WireExtras::for_key(&key, &verifier.config.public_url);
    let LegacyCredentials {
        send_on_behalf_of, ..
    } = credentials;
    let on_behalf_of = match send_on_behalf_of {
        Some(name) => Some(on_behalf_of(verifier, &user, name).await?),
        None => None,
    };
    let facts = Arc::new(LegacyFacts {
        digest,
        on_behalf_of,
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
    verifier.legacy_facts.insert(digest, epoch, facts.clone());
    Ok(facts)
}

/// The identity a granted header acts as, and its effective account's membership: the user
/// acted for with Send-On-Behalf-Of, the authenticated user otherwise.
pub fn acting<'f>(
    facts: &'f LegacyFacts,
    grant: &DocuSignGrant<'f>,
) -> Option<(&'f Arc<Identity>, &'f Membership)> {
    match grant.on_behalf_of {
        Some(membership) => Some((facts.on_behalf_of_identity()?, membership)),
        None => Some((&facts.identity, grant.actor_account)),
    }
}

/// What every granted legacy request records, on the full path and the fast path alike: the
/// migration telemetry, and for Send-On-Behalf-Of the audit roll-up naming the actor.
pub fn granted(
    verifier: &Verifier,
    facts: &LegacyFacts,
    grant: &DocuSignGrant<'_>,
    source_ip: Option<&str>,
    user_agent: Option<&str>,
    now: OffsetDateTime,
) {
    let account = grant.actor_account.account_id;
    let on_behalf_of = grant.on_behalf_of.map(|membership| membership.user_id);
    record_use(
        verifier,
        facts,
        on_behalf_of,
        Some(account),
        source_ip,
        user_agent,
    );
    if let Some(subject) = on_behalf_of {
        verifier.on_behalf_of.record(
            &OnBehalfOfAction {
                organization_id: facts.user.organization_id,
                actor: facts.user.id,
                actor_email: &facts.user.email,
                subject,
                account,
                source_ip: super::source_addr(source_ip),
            },
            now,
        );
    }
}

/// Counts a successful legacy authentication for the migration telemetry.
pub(crate) fn record_use(
    verifier: &Verifier,
    auth: &LegacyFacts,
    on_behalf_of: Option<UserId>,
    account_id: Option<countersign_core::ids::AccountId>,
    source_ip: Option<&str>,
    user_agent: Option<&str>,
) {
    if !verifier.config.legacy_usage_enabled {
        return;
    }
    verifier.legacy_usage.record(
        crate::legacy_usage::LegacyUse {
            integrator_key_id: auth.integrator_key.id,
            user_id: auth.user.id,
            on_behalf_of,
            account_id,
            source_ip,
            user_agent,
        },
        verifier.now(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_password_ids_come_from_the_first_eight_bytes() {
        let password = STANDARD.encode([7u8; 32]);
        assert_eq!(api_password_id(&password), Some("0707070707070707".into()));
        assert_eq!(api_password_id("not base64!"), None);
        assert_eq!(api_password_id(&STANDARD.encode([1u8; 31])), None);
    }
}
