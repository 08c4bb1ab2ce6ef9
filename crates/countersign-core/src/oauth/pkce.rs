//! PKCE (RFC 7636) with the `S256` method only: the challenge an authorization request carries
//! and the verifier its code is redeemed with.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Whether `challenge` is an `S256` challenge: base64url without padding of 32 bytes.
pub fn is_valid_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `verifier` has the form RFC 7636 §4.1 requires: 43 to 128 unreserved characters.
pub fn is_valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// The `S256` challenge of a verifier.
pub fn challenge_of(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Whether `verifier` matches `challenge` (`S256`), compared in constant time.
pub fn verifier_matches(verifier: &str, challenge: &str) -> bool {
    is_valid_verifier(verifier)
        && bool::from(
            challenge_of(verifier)
                .as_bytes()
                .ct_eq(challenge.as_bytes()),
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc_7636_appendix_b_example_matches() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert_eq!(challenge_of(verifier), challenge);
        assert!(is_valid_challenge(challenge));
        assert!(verifier_matches(verifier, challenge));
        assert!(!verifier_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj",
            challenge
        ));
    }

    #[test]
    fn malformed_verifiers_never_match() {
        let short = "abc";
        assert!(!verifier_matches(short, &challenge_of(short)));
        let spaced = "a".repeat(42) + " ";
        assert!(!verifier_matches(&spaced, &challenge_of(&spaced)));
        assert!(!is_valid_challenge("plain-text-challenge"));
    }

    proptest! {
        #[test]
        fn every_valid_verifier_matches_its_own_challenge(verifier in "[A-Za-z0-9._~-]{43,128}") {
            prop_assert!(verifier_matches(&verifier, &challenge_of(&verifier)));
            prop_assert!(is_valid_challenge(&challenge_of(&verifier)));
        }
    }
}
