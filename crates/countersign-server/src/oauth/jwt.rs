//! The JWT Grant (SPEC §12): an RS256 assertion signed with one of the integrator key's RSA
//! keys (no `kid`: every key of the issuer is tried) becomes an access token acting for `sub`,
//! or for the integration itself without one. The signature is checked by `jsonwebtoken` on
//! ring, accepting RS256 only (`alg: none`, HS256 and every other algorithm are refused before
//! any key is tried); the claims by `countersign_core::oauth::assertion`, in DocuSign's order:
//! issuer and audience, signature, lifetime, scopes, user, consent.

use super::Grant;
use crate::rsa_keys;
use crate::state::AppState;
use crate::throttle::ThrottleKey;
use countersign_core::directory::IntegratorKey;
use countersign_core::oauth::assertion::{self, AssertionClaims, AssertionError};
use countersign_core::oauth::{self, AccessKind, MAX_ASSERTION_LEN};
use countersign_store::StoreError;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use std::sync::Arc;

/// Why a JWT Grant was refused.
#[derive(Debug)]
pub enum JwtRefusal {
    /// The assertion is refused; with the integrator key when it was found (throttle, audit).
    Refused(AssertionError, Option<Arc<IntegratorKey>>),
    /// The assertion is larger than [`MAX_ASSERTION_LEN`].
    TooLarge,
    /// The issuer's integrator key is throttled after failures: wait this many seconds.
    Throttled(u64),
    /// The store failed.
    Store(StoreError),
}

impl From<StoreError> for JwtRefusal {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

/// A granted assertion: the grant and its integrator key.
#[derive(Debug)]
pub struct JwtGrant {
    /// What to issue.
    pub grant: Grant,
    /// The integrator key.
    pub integrator_key: Arc<IntegratorKey>,
}

/// The validation of the signed assertion: RS256 only; claims are checked by core.
fn signed_validation() -> Validation {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation
}

/// Reads the claims without checking the signature, only to learn the issuer (RS256 only:
/// any other `alg` is refused first).
fn unverified_claims(text: &str) -> Result<AssertionClaims, AssertionError> {
    let header = jsonwebtoken::decode_header(text).map_err(|error| match error.kind() {
        // A header that reads as JSON but names an algorithm jsonwebtoken does not have
        // (`none`, say) is a signature this server does not accept.
        ErrorKind::Json(_) => AssertionError::NoValidKeys,
        _ => AssertionError::Malformed,
    })?;
    if header.alg != Algorithm::RS256 {
        return Err(AssertionError::NoValidKeys);
    }
    let mut validation = signed_validation();
    validation.insecure_disable_signature_validation();
    jsonwebtoken::decode::<AssertionClaims>(text, &DecodingKey::from_secret(&[]), &validation)
        .map(|data| data.claims)
        .map_err(|_| AssertionError::Malformed)
}

/// Checks an assertion and decides the grant.
///
/// # Errors
/// Why it is refused; see [`JwtRefusal`].
pub async fn grant(state: &AppState, text: &str) -> Result<JwtGrant, JwtRefusal> {
    if text.len() > MAX_ASSERTION_LEN {
        return Err(JwtRefusal::TooLarge);
    }
    let refused =
        |error, key: Option<&Arc<IntegratorKey>>| JwtRefusal::Refused(error, key.cloned());
    let unverified = unverified_claims(text).map_err(|e| refused(e, None))?;
    let issuer = unverified
        .iss
        .as_deref()
        .ok_or_else(|| refused(AssertionError::IssuerNotFound, None))?;
    if !assertion::audience_matches(unverified.aud.as_ref(), &state.config.oauth_audiences()) {
        return Err(refused(AssertionError::IssuerNotFound, None));
    }
    let integrator_key = state
        .cache
        .integrator_key(&state.store, issuer)
        .await?
        .filter(|key| key.is_active())
        .ok_or_else(|| refused(AssertionError::IssuerNotFound, None))?;
    // Throttled before any signature is checked: failures are counted per integrator key.
    let throttle_key = [ThrottleKey::IntegratorKey(integrator_key.key.clone())];
    if let Some(wait) = state.throttle.check(&throttle_key, state.now()) {
        return Err(JwtRefusal::Throttled(wait));
    }
    let key = Some(&integrator_key);
    let validation = signed_validation();
    let mut verified = None;
    for stored in state.store.list_oauth_rsa_keys(integrator_key.id).await? {
        let Some(decoding) = rsa_keys::decoding_key(&stored.public_key_pem) else {
            continue;
        };
        if let Ok(data) = jsonwebtoken::decode::<AssertionClaims>(text, &decoding, &validation) {
            verified = Some(data.claims);
            break;
        }
    }
    let claims = verified.ok_or_else(|| refused(AssertionError::NoValidKeys, key))?;
    // The verified claims are the unverified ones; read them again from what was signed.
    if claims.iss.as_deref() != Some(integrator_key.key.as_str()) {
        return Err(refused(AssertionError::IssuerNotFound, key));
    }
    let now = state.now().unix_timestamp();
    assertion::check_lifetime(&claims, now).map_err(|e| refused(e, key))?;
    let scopes = assertion::requested_scopes(&claims).map_err(|e| refused(e, key))?;
    let subject = assertion::subject(&claims).map_err(|e| refused(e, key))?;
    let Some(user_id) = subject else {
        return Ok(JwtGrant {
            grant: Grant {
                integrator_key_id: integrator_key.id,
                user_id: None,
                family_id: None,
                kind: AccessKind::Application,
                scopes,
            },
            integrator_key,
        });
    };
    let user = state
        .cache
        .user_by_id(&state.store, user_id)
        .await?
        .filter(|user| oauth::directory_admits(&integrator_key, Some(user)))
        .ok_or_else(|| refused(AssertionError::UserNotFound, key))?;
    let consents = state
        .cache
        .grant_state(&state.store, integrator_key.id, user.id)
        .await?;
    let consented = oauth::consented_scopes(
        consents.user_consent,
        consents.admin_consent.as_ref(),
        user.id,
    );
    if !consented.contains(scopes) {
        return Err(refused(AssertionError::ConsentRequired, key));
    }
    Ok(JwtGrant {
        grant: Grant {
            integrator_key_id: integrator_key.id,
            user_id: Some(user.id),
            family_id: None,
            kind: AccessKind::Jwt,
            scopes,
        },
        integrator_key,
    })
}
