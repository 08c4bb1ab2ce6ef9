//! Session tokens: a versioned binary payload authenticated with HMAC-SHA256 under a server
//! signing key, rendered as `cst_` + base64url.
//!
//! The token carries only identity (session, API user, key, acting user, issue and expiry time).
//! Every authorization fact is re-read from the directory on each request, so nothing the
//! directory no longer grants is frozen into a token.

use crate::ids::{ApiKeyId, ApiUserId, SessionId, UserId};
pub use crate::signed::TokenError;
use crate::signed::{self, FIELDS_AT, Writer};

/// The prefix of every session token.
pub const TOKEN_PREFIX: &str = "cst_";
/// Longest accepted token text; anything longer is refused before decoding.
pub const MAX_TOKEN_LEN: usize = 512;

const VERSION: u8 = 1;
const PAYLOAD_LEN: usize = FIELDS_AT + 16 * 4 + 8 + 8;

/// What a session token asserts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionClaims {
    /// A unique id of this session.
    pub session_id: SessionId,
    /// The API user whose key was exchanged.
    pub api_user_id: ApiUserId,
    /// The key that was exchanged (a rotation past its grace period ends the session).
    pub key_id: ApiKeyId,
    /// The user the session acts for.
    pub user_id: UserId,
    /// Issue time, Unix seconds.
    pub issued_at: i64,
    /// Expiry time, Unix seconds.
    pub expires_at: i64,
}

/// Signs claims under signing key `kid`, returning the token text.
pub fn sign(claims: &SessionClaims, kid: u32, secret: &[u8]) -> String {
    let mut payload = Writer::new(VERSION, kid);
    payload
        .uuid(claims.session_id.0)
        .uuid(claims.api_user_id.0)
        .uuid(claims.key_id.0)
        .uuid(claims.user_id.0)
        .int(claims.issued_at)
        .int(claims.expires_at);
    payload.sign(TOKEN_PREFIX, secret)
}

/// Verifies a token's format, signature and expiry at `now` (Unix seconds).
///
/// `secret_for` returns the signing secret of a key id, if known.
///
/// # Errors
/// Returns why the token is refused.
pub fn verify<'a>(
    token: &str,
    now: i64,
    secret_for: impl FnOnce(u32) -> Option<&'a [u8]>,
) -> Result<SessionClaims, TokenError> {
    let fields = signed::open(
        token,
        TOKEN_PREFIX,
        MAX_TOKEN_LEN,
        VERSION,
        PAYLOAD_LEN,
        secret_for,
    )?;
    let claims = SessionClaims {
        session_id: SessionId(fields.uuid(FIELDS_AT)),
        api_user_id: ApiUserId(fields.uuid(FIELDS_AT + 16)),
        key_id: ApiKeyId(fields.uuid(FIELDS_AT + 32)),
        user_id: UserId(fields.uuid(FIELDS_AT + 48)),
        issued_at: fields.int(FIELDS_AT + 64),
        expires_at: fields.int(FIELDS_AT + 72),
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
    use uuid::Uuid;

    fn claims() -> SessionClaims {
        SessionClaims {
            session_id: SessionId(Uuid::from_u128(1)),
            api_user_id: ApiUserId(Uuid::from_u128(2)),
            key_id: ApiKeyId(Uuid::from_u128(3)),
            user_id: UserId(Uuid::from_u128(4)),
            issued_at: 1_000,
            expires_at: 4_600,
        }
    }

    #[test]
    fn signed_token_verifies_with_its_key() {
        let token = sign(&claims(), 7, b"secret");
        assert!(token.starts_with(TOKEN_PREFIX));
        let verified = verify(&token, 2_000, |kid| (kid == 7).then_some(&b"secret"[..]));
        assert_eq!(verified, Ok(claims()));
    }

    #[test]
    fn the_token_layout_is_stable_so_issued_tokens_survive_an_upgrade() {
        // version 1, key id, four ids, issue and expiry time, HMAC-SHA256 (computed apart).
        let known = "cst_AQAAAAcAAAAAAAAAAAAAAAAAAAABAAAAAAAAAAAAAAAAAAAAAgAAAAAAAAAAAAAAAAAAAAMAAAAAAAAAAAAAAAAAAAAEAAAAAAAAA-gAAAAAAAAR-CLU0uaMq-KuKstYysckTXiAAyz2ldU8A76Up7kLyDLM";
        assert_eq!(sign(&claims(), 7, b"secret"), known);
        assert_eq!(
            verify(known, 2_000, |kid| (kid == 7).then_some(&b"secret"[..])),
            Ok(claims())
        );
    }

    #[test]
    fn expired_token_is_refused() {
        let token = sign(&claims(), 7, b"secret");
        assert_eq!(
            verify(&token, 4_600, |_| Some(&b"secret"[..])),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn token_under_another_key_is_refused() {
        let token = sign(&claims(), 7, b"secret");
        assert_eq!(
            verify(&token, 2_000, |_| Some(&b"other"[..])),
            Err(TokenError::BadSignature)
        );
        assert_eq!(verify(&token, 2_000, |_| None), Err(TokenError::UnknownKey));
    }

    proptest! {
        #[test]
        fn any_tampering_is_refused(position in 4usize..160, replacement in 0u8..64) {
            let token = sign(&claims(), 7, b"secret");
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
