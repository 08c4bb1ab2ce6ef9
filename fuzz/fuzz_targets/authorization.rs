//! `Authorization` header and session tokens: `countersign_core::access::bearer_token` on
//! arbitrary text, then `countersign_core::token::verify` on the token it yields (and on the
//! whole text) with a fixed signing key `k`.
//!
//! Invariants: a bearer token is non-empty, trimmed, a substring of the header, and the scheme is
//! `bearer` in any case; a token that verifies is re-signed byte for byte from its claims (so the
//! encoding is canonical and the tag covers everything) and has not expired.
#![no_main]

use countersign_core::access::bearer_token;
use countersign_core::token::{self, MAX_TOKEN_LEN, TOKEN_PREFIX, TokenError};
use libfuzzer_sys::fuzz_target;

/// A fixed "now" (2023-11-14T22:13:20Z); the seed tokens expire long after it.
const NOW: i64 = 1_700_000_000;
const KEY: &[u8] = b"k";

fn check_token(text: &str) {
    let result = token::verify(text, NOW, |_| Some(KEY));
    assert_eq!(result, token::verify(text, NOW, |_| Some(KEY)), "not deterministic");
    match result {
        Ok(claims) => {
            assert!(claims.expires_at > NOW);
            assert!(text.len() <= MAX_TOKEN_LEN && text.starts_with(TOKEN_PREFIX));
            // The key id is bytes 1..5 of the payload; recover it by asking verify.
            let mut kid = None;
            let _ = token::verify(text, NOW, |k| {
                kid = Some(k);
                Some(KEY)
            });
            let kid = kid.expect("verify asked for the signing key");
            assert_eq!(token::sign(&claims, kid, KEY), text, "non-canonical token accepted");
            // The same token under another key, or no key, is refused.
            assert_eq!(
                token::verify(text, NOW, |_| Some(&b"other"[..])),
                Err(TokenError::BadSignature)
            );
            assert_eq!(token::verify(text, NOW, |_| None), Err(TokenError::UnknownKey));
        }
        Err(TokenError::Expired) => {}
        Err(TokenError::Malformed | TokenError::UnknownKey | TokenError::BadSignature) => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let header: &str = &text;

    if let Some(bearer) = bearer_token(header) {
        assert!(!bearer.is_empty());
        assert_eq!(bearer, bearer.trim());
        assert!(header.contains(bearer));
        let scheme = header.trim_start().get(..6).unwrap_or_default();
        assert!(scheme.eq_ignore_ascii_case("bearer"), "scheme {scheme:?} in {header:?}");
        check_token(bearer);
    }
    check_token(header);
});
