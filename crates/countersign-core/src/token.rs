//! Session tokens: a versioned binary payload authenticated with HMAC-SHA256 under a server
//! signing key, rendered as `cst_` + base64url.
//!
//! The token carries only identity (session, API user, key, acting user, issue and expiry time).
//! Every authorization fact is re-read from the directory on each request, so nothing the
//! directory no longer grants is frozen into a token.

use crate::ids::{ApiKeyId, ApiUserId, SessionId, UserId};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

/// The prefix of every session token.
pub const TOKEN_PREFIX: &str = "cst_";
/// Longest accepted token text; anything longer is refused before decoding.
pub const MAX_TOKEN_LEN: usize = 512;

const VERSION: u8 = 1;
const PAYLOAD_LEN: usize = 1 + 4 + 16 * 4 + 8 + 8;
const MAC_LEN: usize = 32;

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

/// Why a token was refused. Callers answer all of them the same way on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token of this format.
    #[error("malformed token")]
    Malformed,
    /// Signed with a key this server does not know.
    #[error("unknown signing key")]
    UnknownKey,
    /// The signature does not match.
    #[error("bad signature")]
    BadSignature,
    /// The token has expired.
    #[error("token expired")]
    Expired,
}

/// Signs claims under signing key `kid`, returning the token text.
pub fn sign(claims: &SessionClaims, kid: u32, secret: &[u8]) -> String {
    let mut buffer = Vec::with_capacity(PAYLOAD_LEN + MAC_LEN);
    buffer.push(VERSION);
    buffer.extend_from_slice(&kid.to_be_bytes());
    for id in [
        claims.session_id.0,
        claims.api_user_id.0,
        claims.key_id.0,
        claims.user_id.0,
    ] {
        buffer.extend_from_slice(id.as_bytes());
    }
    buffer.extend_from_slice(&claims.issued_at.to_be_bytes());
    buffer.extend_from_slice(&claims.expires_at.to_be_bytes());
    let mac = mac(secret, &buffer);
    buffer.extend_from_slice(&mac);
    let mut text = String::with_capacity(TOKEN_PREFIX.len() + (buffer.len() * 4).div_ceil(3));
    text.push_str(TOKEN_PREFIX);
    URL_SAFE_NO_PAD.encode_string(&buffer, &mut text);
    text
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
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Malformed);
    }
    let body = token
        .strip_prefix(TOKEN_PREFIX)
        .ok_or(TokenError::Malformed)?;
    let mut raw = [0u8; PAYLOAD_LEN + MAC_LEN];
    let decoded = URL_SAFE_NO_PAD
        .decode_slice(body.as_bytes(), &mut raw)
        .map_err(|_| TokenError::Malformed)?;
    if decoded != raw.len() || raw[0] != VERSION {
        return Err(TokenError::Malformed);
    }
    let (payload, tag) = raw.split_at(PAYLOAD_LEN);
    let kid = u32::from_be_bytes([payload[1], payload[2], payload[3], payload[4]]);
    let secret = secret_for(kid).ok_or(TokenError::UnknownKey)?;
    #[expect(clippy::expect_used, reason = "HMAC accepts keys of any length")]
    let mut check = Hmac::<Sha256>::new_from_slice(secret).expect("hmac takes any key length");
    check.update(payload);
    check
        .verify_slice(tag)
        .map_err(|_| TokenError::BadSignature)?;
    let uuid_at = |offset: usize| {
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&payload[offset..offset + 16]);
        Uuid::from_bytes(bytes)
    };
    let int_at = |offset: usize| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&payload[offset..offset + 8]);
        i64::from_be_bytes(bytes)
    };
    let claims = SessionClaims {
        session_id: SessionId(uuid_at(5)),
        api_user_id: ApiUserId(uuid_at(21)),
        key_id: ApiKeyId(uuid_at(37)),
        user_id: UserId(uuid_at(53)),
        issued_at: int_at(69),
        expires_at: int_at(77),
    };
    if claims.expires_at <= now {
        return Err(TokenError::Expired);
    }
    Ok(claims)
}

fn mac(secret: &[u8], payload: &[u8]) -> [u8; MAC_LEN] {
    #[expect(clippy::expect_used, reason = "HMAC accepts keys of any length")]
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("hmac takes any key length");
    mac.update(payload);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
            prop_assume!(position < token.len());
            let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            let mut bytes = token.into_bytes();
            let new = alphabet[replacement as usize];
            prop_assume!(bytes[position] != new);
            bytes[position] = new;
            let tampered = String::from_utf8(bytes).expect("ascii");
            prop_assert!(verify(&tampered, 2_000, |_| Some(&b"secret"[..])).is_err());
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,600}") {
            let _ = verify(&text, 0, |_| Some(&b"secret"[..]));
        }
    }
}
