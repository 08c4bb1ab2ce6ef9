//! OAuth access tokens: like session tokens, a versioned binary payload authenticated with
//! HMAC-SHA256 under a server signing key, rendered as `cso_` + base64url. The payload names
//! only identities (token, integrator key, user, token family), how the token was obtained, its
//! scopes and its issue and expiry times; every authorization fact is re-read from the directory
//! on each request. Its first byte differs from a session token's, so neither can pass as the
//! other.

use super::{AccessKind, Scopes};
use crate::ids::{IntegratorKeyId, OAuthFamilyId, OAuthTokenId, UserId};
use crate::signed::{self, FIELDS_AT, Writer};
pub use crate::token::TokenError;
use uuid::Uuid;

/// The prefix of every OAuth access token.
pub const ACCESS_TOKEN_PREFIX: &str = "cso_";
/// Longest accepted token text; anything longer is refused before decoding.
pub const MAX_TOKEN_LEN: usize = 512;

const VERSION: u8 = 0xA1;
const PAYLOAD_LEN: usize = FIELDS_AT + 16 * 4 + 1 + 1 + 8 + 8;

/// What an OAuth access token asserts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessClaims {
    /// A unique id of this token.
    pub token_id: OAuthTokenId,
    /// The integrator key (OAuth client) it was issued to.
    pub integrator_key_id: IntegratorKeyId,
    /// The user it acts for; `None` for an application token.
    pub user_id: Option<UserId>,
    /// The family of an Authorization Code Grant token (ended as a whole on reuse).
    pub family_id: Option<OAuthFamilyId>,
    /// How it was obtained.
    pub kind: AccessKind,
    /// The scopes granted.
    pub scopes: Scopes,
    /// Issue time, Unix seconds.
    pub issued_at: i64,
    /// Expiry time, Unix seconds.
    pub expires_at: i64,
}

/// Signs claims under signing key `kid`, returning the token text.
pub fn sign(claims: &AccessClaims, kid: u32, secret: &[u8]) -> String {
    let mut payload = Writer::new(VERSION, kid);
    payload
        .uuid(claims.token_id.0)
        .uuid(claims.integrator_key_id.0)
        .uuid(claims.user_id.map_or(Uuid::nil(), |user| user.0))
        .uuid(claims.family_id.map_or(Uuid::nil(), |family| family.0))
        .byte(claims.kind.byte())
        .byte(claims.scopes.byte())
        .int(claims.issued_at)
        .int(claims.expires_at);
    payload.sign(ACCESS_TOKEN_PREFIX, secret)
}

/// Whether `text` is meant as an OAuth access token (its prefix), before any verification.
pub fn is_access_token(text: &str) -> bool {
    text.starts_with(ACCESS_TOKEN_PREFIX)
}

/// Verifies a token's format, signature and expiry at `now` (Unix seconds).
///
/// `secret_for` returns the signing secret of a key id, if known.
///
/// # Errors
/// Returns why the token is refused; a payload whose parts contradict each other (an
/// application token naming a user, a user token naming none) is `Malformed`.
pub fn verify<'a>(
    token: &str,
    now: i64,
    secret_for: impl FnOnce(u32) -> Option<&'a [u8]>,
) -> Result<AccessClaims, TokenError> {
    let fields = signed::open(
        token,
        ACCESS_TOKEN_PREFIX,
        MAX_TOKEN_LEN,
        VERSION,
        PAYLOAD_LEN,
        secret_for,
    )?;
    let kind = AccessKind::from_byte(fields.byte(FIELDS_AT + 64)).ok_or(TokenError::Malformed)?;
    let user = fields.uuid(FIELDS_AT + 32);
    let user_id = (!user.is_nil()).then_some(UserId(user));
    if (kind == AccessKind::Application) != user_id.is_none() {
        return Err(TokenError::Malformed);
    }
    let family = fields.uuid(FIELDS_AT + 48);
    let claims = AccessClaims {
        token_id: OAuthTokenId(fields.uuid(FIELDS_AT)),
        integrator_key_id: IntegratorKeyId(fields.uuid(FIELDS_AT + 16)),
        user_id,
        family_id: (!family.is_nil()).then_some(OAuthFamilyId(family)),
        kind,
        scopes: Scopes(fields.byte(FIELDS_AT + 65) & 0x0f),
        issued_at: fields.int(FIELDS_AT + 66),
        expires_at: fields.int(FIELDS_AT + 74),
    };
    if claims.expires_at <= now {
        return Err(TokenError::Expired);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn claims(kind: AccessKind) -> AccessClaims {
        AccessClaims {
            token_id: OAuthTokenId(Uuid::from_u128(1)),
            integrator_key_id: IntegratorKeyId(Uuid::from_u128(2)),
            user_id: (kind != AccessKind::Application).then_some(UserId(Uuid::from_u128(3))),
            family_id: (kind == AccessKind::Code).then_some(OAuthFamilyId(Uuid::from_u128(4))),
            kind,
            scopes: Scopes::SIGNATURE.with(Scopes::IMPERSONATION),
            issued_at: 1_000,
            expires_at: 4_600,
        }
    }

    #[test]
    fn every_kind_round_trips() {
        for kind in [AccessKind::Jwt, AccessKind::Code, AccessKind::Application] {
            let token = sign(&claims(kind), 7, b"secret");
            assert!(is_access_token(&token));
            assert!(token.len() < MAX_TOKEN_LEN);
            let verified = verify(&token, 2_000, |kid| (kid == 7).then_some(&b"secret"[..]));
            assert_eq!(verified, Ok(claims(kind)));
        }
    }

    #[test]
    fn expired_or_foreign_tokens_are_refused() {
        let token = sign(&claims(AccessKind::Jwt), 7, b"secret");
        assert_eq!(
            verify(&token, 4_600, |_| Some(&b"secret"[..])),
            Err(TokenError::Expired)
        );
        assert_eq!(
            verify(&token, 2_000, |_| Some(&b"other"[..])),
            Err(TokenError::BadSignature)
        );
        assert_eq!(verify(&token, 2_000, |_| None), Err(TokenError::UnknownKey));
    }

    #[test]
    fn a_session_token_is_not_an_access_token() {
        let session = crate::token::sign(
            &crate::token::SessionClaims {
                session_id: crate::ids::SessionId(Uuid::from_u128(1)),
                api_user_id: crate::ids::ApiUserId(Uuid::from_u128(2)),
                key_id: crate::ids::ApiKeyId(Uuid::from_u128(3)),
                user_id: UserId(Uuid::from_u128(4)),
                issued_at: 1_000,
                expires_at: 4_600,
            },
            7,
            b"secret",
        );
        let disguised = session.replacen("cst_", ACCESS_TOKEN_PREFIX, 1);
        assert_eq!(
            verify(&disguised, 2_000, |_| Some(&b"secret"[..])),
            Err(TokenError::Malformed)
        );
    }

    proptest! {
        #[test]
        fn any_tampering_is_refused(position in 4usize..170, replacement in 0u8..64) {
            let token = sign(&claims(AccessKind::Code), 7, b"secret");
            let tampered = crate::signed::tampered(&token, position, replacement);
            prop_assume!(tampered.is_some());
            let tampered = tampered.unwrap_or_default();
            prop_assert!(verify(&tampered, 2_000, |_| Some(&b"secret"[..])).is_err());
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,600}") {
            let _ = verify(&text, 0, |_| Some(&b"secret"[..]));
        }
    }
}
