//! The OAuth 2.0 authorization server of SPEC §12, without HTTP: the JWT Grant (`jwt`), the
//! Authorization Code Grant with its codes, PKCE, refresh tokens and client authentication
//! (`codes`), and the access tokens all of them issue (here). The
//! handlers in `routes::oauth` and the console's consent page call these.

pub mod authorize;
pub mod codes;
pub mod jwt;

use crate::state::AppState;
use countersign_core::ids::{IntegratorKeyId, OAuthFamilyId, OAuthTokenId, UserId};
use countersign_core::oauth::token::{self, AccessClaims};
use countersign_core::oauth::{AccessKind, Scopes};
use uuid::Uuid;

/// What a grant allows: the token to issue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grant {
    /// The integrator key (client).
    pub integrator_key_id: IntegratorKeyId,
    /// The user acted for; `None` for an application token.
    pub user_id: Option<UserId>,
    /// The family of an Authorization Code Grant.
    pub family_id: Option<OAuthFamilyId>,
    /// How it was obtained.
    pub kind: AccessKind,
    /// The scopes granted.
    pub scopes: Scopes,
}

/// Signs an access token for a grant, living `lifetime` seconds from now; returns the token
/// text.
pub fn access_token(state: &AppState, grant: &Grant, lifetime: i64) -> String {
    let now = state.now().unix_timestamp();
    let claims = AccessClaims {
        token_id: OAuthTokenId(Uuid::now_v7()),
        integrator_key_id: grant.integrator_key_id,
        user_id: grant.user_id,
        family_id: grant.family_id,
        kind: grant.kind,
        scopes: grant.scopes,
        issued_at: now,
        expires_at: now + lifetime,
    };
    let kid = state.secrets.signing_kid;
    let secret = state
        .secrets
        .signing
        .get(&kid)
        .map_or(&[][..], Vec::as_slice);
    token::sign(&claims, kid, secret)
}
