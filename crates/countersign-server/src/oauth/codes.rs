//! The Authorization Code Grant (SPEC §12): client authentication (a confidential client's
//! secret, or a public client — a key without secrets — by its id with PKCE), authorization
//! codes (single use, 5 minutes, bound to client, redirect URI and PKCE challenge), and refresh
//! tokens (30 days, rotated on use; presenting a used one again ends the whole family). Codes
//! and refresh tokens are stored only as digests under the pepper.

use super::Grant;
use crate::dialect::oauth::OAuthError;
use crate::secrets::random_bytes;
use crate::state::AppState;
use countersign_core::directory::IntegratorKey;
use countersign_core::ids::OAuthFamilyId;
use countersign_core::introspection::ClientCredentials;
use countersign_core::key::digest_key_text;
use countersign_core::oauth::{
    self, AccessKind, CODE_PREFIX, CODE_SECONDS, CODE_TOKEN_SECONDS, REFRESH_TOKEN_PREFIX,
    REFRESH_TOKEN_SECONDS, Scopes, pkce,
};
use countersign_core::secret::Secret;
use countersign_store::{OAuthCode, OAuthFamily, Redemption, StoreError};
use std::sync::Arc;
use subtle::ConstantTimeEq;
use time::Duration;
use uuid::Uuid;

/// How a token request identifies its client.
#[derive(Debug)]
pub enum ClientPresented {
    /// A client id and secret (HTTP Basic or form fields).
    Secret(ClientCredentials),
    /// Only a client id (a public client).
    Public(String),
    /// Nothing.
    Nobody,
}

/// An identified client.
#[derive(Debug)]
pub struct Client {
    /// Its integrator key.
    pub integrator_key: Arc<IntegratorKey>,
    /// Whether it is public (no secrets: PKCE instead).
    pub is_public: bool,
}

/// Tokens issued by a redemption.
#[derive(Debug)]
pub struct Tokens {
    /// The access token.
    pub access_token: String,
    /// The refresh token.
    pub refresh_token: Secret,
    /// Seconds the access token lives.
    pub expires_in: i64,
    /// What was granted (audit).
    pub grant: Grant,
}

/// Whether `presented` matches one of `digests`, in constant time per digest; an unknown
/// client is compared against a dummy digest so it costs the same.
fn secret_matches(presented: &Secret, digests: &[String], pepper: &[u8]) -> bool {
    let digest = digest_key_text(presented.expose(), pepper);
    if digests.is_empty() {
        let dummy = "0".repeat(digest.len());
        let _ = digest.as_bytes().ct_eq(dummy.as_bytes());
        return false;
    }
    digests.iter().fold(false, |matched, stored| {
        matched | bool::from(digest.as_bytes().ct_eq(stored.as_bytes()))
    })
}

/// Identifies the client of a token request: a confidential client must present a valid
/// secret; a public client (a key without secrets) presents its id only.
///
/// # Errors
/// `InvalidClient` for no client, an unknown or revoked key, a wrong secret, or a key with
/// secrets that presents none.
pub async fn client(state: &AppState, presented: ClientPresented) -> Result<Client, OAuthError> {
    let (client_id, secret) = match presented {
        ClientPresented::Nobody => return Err(OAuthError::InvalidClient),
        ClientPresented::Secret(credentials) => (credentials.client_id, Some(credentials.secret)),
        ClientPresented::Public(client_id) => (client_id, None),
    };
    let key = state
        .cache
        .integrator_key(&state.store, &client_id)
        .await?
        .filter(|key| key.is_active());
    let digests = match &key {
        Some(key) => state.store.list_oauth_secret_digests(key.id).await?,
        None => Vec::new(),
    };
    match (key, secret) {
        (Some(key), Some(secret)) if secret_matches(&secret, &digests, &state.secrets.pepper) => {
            Ok(Client {
                integrator_key: key,
                is_public: false,
            })
        }
        (None, Some(secret)) => {
            // Same work as a wrong secret.
            secret_matches(&secret, &[], &state.secrets.pepper);
            Err(OAuthError::InvalidClient)
        }
        (Some(key), None) if digests.is_empty() => Ok(Client {
            integrator_key: key,
            is_public: true,
        }),
        _ => Err(OAuthError::InvalidClient),
    }
}

/// Issues an authorization code for a user's consent: a new token family, the code stored by
/// digest and bound to the redirect URI and the PKCE challenge. Returns the code text.
///
/// # Errors
/// The store's error.
pub async fn issue_code(
    state: &AppState,
    integrator_key: &IntegratorKey,
    user: countersign_core::ids::UserId,
    scopes: Scopes,
    redirect_uri: &str,
    code_challenge: Option<&str>,
) -> Result<Secret, StoreError> {
    let now = state.now();
    let code = oauth::opaque(CODE_PREFIX, &random_bytes::<32>());
    let record = OAuthCode {
        family: OAuthFamily {
            id: OAuthFamilyId(Uuid::now_v7()),
            integrator_key_id: integrator_key.id,
            user_id: user,
            scopes,
            created_at: now,
            revoked_at: None,
        },
        redirect_uri: redirect_uri.to_owned(),
        code_challenge: code_challenge.map(str::to_owned),
        expires_at: now + Duration::seconds(CODE_SECONDS),
    };
    state
        .store
        .insert_oauth_code(
            &digest_key_text(code.expose(), &state.secrets.pepper),
            &record,
            now,
        )
        .await?;
    Ok(code)
}

/// Whether a family may still be issued tokens: not ended, its key active, its user active
/// and of the key's organization, its scopes still consented to.
async fn family_stands(
    state: &AppState,
    family: &OAuthFamily,
    client: &IntegratorKey,
) -> Result<bool, OAuthError> {
    if family.revoked_at.is_some() || family.integrator_key_id != client.id {
        return Ok(false);
    }
    let Some(user) = state.cache.user_by_id(&state.store, family.user_id).await? else {
        return Ok(false);
    };
    if !oauth::directory_admits(client, Some(&user)) {
        return Ok(false);
    }
    let consents = state
        .cache
        .grant_state(&state.store, client.id, user.id)
        .await?;
    Ok(oauth::consented_scopes(
        consents.user_consent,
        consents.admin_consent.as_ref(),
        user.id,
    )
    .contains(family.scopes))
}

/// A new access token and refresh token of a family.
async fn issue_pair(state: &AppState, family: &OAuthFamily) -> Result<Tokens, OAuthError> {
    let grant = Grant {
        integrator_key_id: family.integrator_key_id,
        user_id: Some(family.user_id),
        family_id: Some(family.id),
        kind: AccessKind::Code,
        scopes: family.scopes,
    };
    let now = state.now();
    let refresh_token = oauth::opaque(REFRESH_TOKEN_PREFIX, &random_bytes::<32>());
    state
        .store
        .insert_oauth_refresh_token(
            family.id,
            &digest_key_text(refresh_token.expose(), &state.secrets.pepper),
            now,
            now + Duration::seconds(REFRESH_TOKEN_SECONDS),
        )
        .await?;
    Ok(Tokens {
        access_token: super::access_token(state, &grant, CODE_TOKEN_SECONDS),
        refresh_token,
        expires_in: CODE_TOKEN_SECONDS,
        grant,
    })
}

/// Ends a family presented a second time, everywhere at once.
async fn end_family(state: &AppState, family: OAuthFamilyId, client: &IntegratorKey, what: &str) {
    if let Err(error) = state.ops().end_oauth_family(client, family, what).await {
        tracing::error!(%error, "could not end a token family after reuse");
    }
}

/// Redeems an authorization code for an access token and a refresh token.
///
/// # Errors
/// `InvalidGrant` for an unknown, used, expired or foreign code, a redirect URI or PKCE
/// verifier that does not match, or a grant the directory no longer backs.
pub async fn redeem_code(
    state: &AppState,
    client: &Client,
    code: &str,
    redirect_uri: Option<&str>,
    verifier: Option<&str>,
) -> Result<Tokens, OAuthError> {
    const INVALID: OAuthError =
        OAuthError::InvalidGrant("The authorization code is invalid, expired or already used.");
    if !oauth::is_opaque(CODE_PREFIX, code) {
        return Err(INVALID);
    }
    let now = state.now();
    let digest = digest_key_text(code, &state.secrets.pepper);
    let redeemed = state.store.redeem_oauth_code(&digest, now).await?;
    let record = match redeemed {
        Redemption::Unknown => return Err(INVALID),
        Redemption::Reused(family) => {
            end_family(state, family, &client.integrator_key, "authorization code").await;
            return Err(INVALID);
        }
        Redemption::Redeemed(record) => record,
    };
    if record.family.integrator_key_id != client.integrator_key.id || record.expires_at <= now {
        return Err(INVALID);
    }
    if redirect_uri.is_some_and(|uri| uri != record.redirect_uri) {
        return Err(OAuthError::InvalidGrant(
            "The redirect_uri differs from the authorization request's.",
        ));
    }
    let pkce_holds = match (&record.code_challenge, verifier) {
        (Some(challenge), Some(verifier)) => pkce::verifier_matches(verifier, challenge),
        (None, None) => !client.is_public,
        _ => false,
    };
    if !pkce_holds {
        return Err(OAuthError::InvalidGrant(
            "The code_verifier does not match the code_challenge.",
        ));
    }
    if !family_stands(state, &record.family, &client.integrator_key).await? {
        return Err(INVALID);
    }
    issue_pair(state, &record.family).await
}

/// Rotates a refresh token: a new access token and refresh token of the same family.
///
/// # Errors
/// `InvalidGrant` for an unknown, used, expired or foreign refresh token, or a family the
/// directory no longer backs; a used one also ends its family.
pub async fn refresh(
    state: &AppState,
    client: &Client,
    refresh_token: &str,
) -> Result<Tokens, OAuthError> {
    const INVALID: OAuthError =
        OAuthError::InvalidGrant("The refresh token is invalid, expired or already used.");
    if !oauth::is_opaque(REFRESH_TOKEN_PREFIX, refresh_token) {
        return Err(INVALID);
    }
    let now = state.now();
    let digest = digest_key_text(refresh_token, &state.secrets.pepper);
    let redeemed = state.store.redeem_oauth_refresh_token(&digest, now).await?;
    let (family, expires_at) = match redeemed {
        Redemption::Unknown => return Err(INVALID),
        Redemption::Reused(family) => {
            end_family(state, family, &client.integrator_key, "refresh token").await;
            return Err(INVALID);
        }
        Redemption::Redeemed(found) => found,
    };
    if expires_at <= now || !family_stands(state, &family, &client.integrator_key).await? {
        return Err(INVALID);
    }
    issue_pair(state, &family).await
}
