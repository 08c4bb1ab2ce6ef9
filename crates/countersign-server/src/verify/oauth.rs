//! OAuth access tokens (SPEC §12) on every path a session token takes: the token's signature
//! and expiry, then the directory facts behind it — integrator key, user and memberships,
//! consents, cut-off, token family — loaded by `countersign_directory::oauth` through the
//! epoch-stamped caches and cached as a whole by identity while the directory epoch is
//! unchanged. What the request may do is decided by `countersign_core::decide::oauth_user` or
//! `oauth_application`; refusals speak the DocuSign dialect.

use super::Verifier;
use super::identity::{AuthMethod, Identity};
use crate::dialect::docusign::DocuSignError;
use countersign_core::ids::{IntegratorKeyId, OAuthFamilyId, UserId};
use countersign_core::oauth::AccessKind;
use countersign_core::oauth::token::{self, AccessClaims};
use countersign_directory::oauth::OAuthFacts;
use std::sync::Arc;

/// An access token's identity: key, user, family and kind. Many tokens share one entry.
pub type OAuthKey = (
    IntegratorKeyId,
    Option<UserId>,
    Option<OAuthFamilyId>,
    AccessKind,
);

/// The key of an access token's facts.
pub fn key_of(claims: &AccessClaims) -> OAuthKey {
    (
        claims.integrator_key_id,
        claims.user_id,
        claims.family_id,
        claims.kind,
    )
}

/// The auth method an access token's kind shows in `X-Countersign-Auth-Method`.
pub fn auth_method(kind: AccessKind) -> AuthMethod {
    match kind {
        AccessKind::Jwt => AuthMethod::OauthJwt,
        AccessKind::Code => AuthMethod::OauthCode,
        AccessKind::Application => AuthMethod::OauthApplication,
    }
}

/// The directory facts behind an access token's identity with its rendered identity.
#[derive(Debug)]
pub struct OAuthTokenFacts {
    /// The directory facts.
    pub facts: OAuthFacts,
    /// The identity, headers rendered (actor: the integrator key).
    pub identity: Arc<Identity>,
    /// The directory epoch read before the facts were loaded.
    pub epoch: u64,
}

impl OAuthTokenFacts {
    /// Whether a token with (verified) `claims` stands on these facts now.
    pub fn admits(&self, claims: &AccessClaims) -> bool {
        self.facts.admits(claims)
    }
}

/// A valid access token: its signed claims and the facts behind them.
#[derive(Debug)]
pub struct OAuthSession {
    /// The signed claims.
    pub claims: AccessClaims,
    /// The facts, current at the time of the request.
    pub facts: Arc<OAuthTokenFacts>,
}

async fn load_facts(
    verifier: &Verifier,
    claims: &AccessClaims,
    epoch: u64,
) -> Result<Option<OAuthTokenFacts>, DocuSignError> {
    let Some(facts) =
        countersign_directory::oauth::load(&verifier.cache, &verifier.store, claims).await?
    else {
        return Ok(None);
    };
    let actor = facts.integrator_key.key.clone();
    let method = auth_method(claims.kind);
    let identity = match &facts.user {
        Some(user) => Identity::new(user, facts.memberships.clone(), actor, method),
        None => Identity::application(facts.integrator_key.organization_id, actor, method),
    };
    Ok(Some(OAuthTokenFacts {
        facts,
        identity: Arc::new(identity),
        epoch,
    }))
}

/// Verifies an access token and re-checks everything SPEC §3 and §12 require at the time of
/// the request.
///
/// # Errors
/// `InvalidToken` (401) for a malformed, expired or forged token, a revoked key, a disabled
/// user, a withdrawn consent or an ended family; `Internal` on store failure.
pub async fn verify_access_token(
    verifier: &Verifier,
    token_text: &str,
) -> Result<OAuthSession, DocuSignError> {
    let now = verifier.now();
    let claims = token::verify(token_text, now.unix_timestamp(), |kid| {
        verifier.secrets.signing.get(&kid).map(Vec::as_slice)
    })
    .map_err(|_| DocuSignError::InvalidToken)?;
    let key = key_of(&claims);
    let facts = match verifier.oauth_facts.get(&key) {
        Some(facts) => facts,
        None => {
            // The epoch is read before loading: a change committed meanwhile leaves the entry
            // stale rather than serving it.
            let epoch = verifier.cache.epoch();
            let facts = Arc::new(
                load_facts(verifier, &claims, epoch)
                    .await?
                    .ok_or(DocuSignError::InvalidToken)?,
            );
            verifier.oauth_facts.insert(key, epoch, facts.clone());
            facts
        }
    };
    if !facts.admits(&claims) {
        return Err(DocuSignError::InvalidToken);
    }
    Ok(OAuthSession { claims, facts })
}
