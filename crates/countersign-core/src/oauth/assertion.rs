//! The claims of a JWT Grant assertion (SPEC §12) and the checks made on them once the
//! signature is verified: audience, lifetime, scopes and subject. The signature itself is
//! checked by a JOSE library in the server; this module decides everything else, with `now`
//! passed in.

use super::Scopes;
use crate::ids::UserId;
use serde::Deserialize;

/// Clock skew tolerated on `iat` and `exp`, in seconds.
pub const CLOCK_SKEW_SECONDS: i64 = 60;
/// Longest lifetime of an assertion (`exp` − `iat`), in seconds.
pub const MAX_ASSERTION_LIFETIME_SECONDS: i64 = 2 * 3_600;

/// The claims of an assertion as sent; a field of another type, a repeated field or a `null`
/// (`"sub": null` is not an absent `sub`) makes the whole assertion unreadable.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct AssertionClaims {
    /// The integrator key.
    #[serde(default, deserialize_with = "not_null")]
    pub iss: Option<String>,
    /// The user id acted for; absent for an application token.
    #[serde(default, deserialize_with = "not_null")]
    pub sub: Option<String>,
    /// The OAuth host name.
    #[serde(default, deserialize_with = "not_null")]
    pub aud: Option<Audience>,
    /// Issue time, Unix seconds.
    #[serde(default, deserialize_with = "not_null")]
    pub iat: Option<i64>,
    /// Expiry, Unix seconds.
    #[serde(default, deserialize_with = "not_null")]
    pub exp: Option<i64>,
    /// Space-separated scopes.
    #[serde(default, deserialize_with = "not_null")]
    pub scope: Option<String>,
}

/// A claim that may be absent but, when present, must not be null.
fn not_null<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

/// `aud`: one value or several (RFC 7519 §4.1.3).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Audience {
    /// One audience.
    One(String),
    /// Several audiences.
    Many(Vec<String>),
}

/// Why an assertion is refused, in the order the checks run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AssertionError {
    /// A required claim is missing or unreadable.
    #[error("the assertion is malformed")]
    Malformed,
    /// Unknown or revoked integrator key, or an audience that is not this server.
    #[error("issuer not found")]
    IssuerNotFound,
    /// No RSA key of the integrator key verifies the signature (or the algorithm is not RS256).
    #[error("no valid keys or signatures")]
    NoValidKeys,
    /// `exp` has passed, or `iat` is still ahead (beyond the clock skew).
    #[error("the grant has expired")]
    Expired,
    /// `exp` is more than two hours after `iat`, or not after it.
    #[error("invalid lifetime")]
    InvalidLifetime,
    /// An unknown scope, no scope, or a user token without `signature` and `impersonation`.
    #[error("invalid scope")]
    InvalidScope,
    /// `sub` names no active user of the integrator key's organization.
    #[error("user not found")]
    UserNotFound,
    /// Neither the user nor an administrator has consented for the user.
    #[error("consent required")]
    ConsentRequired,
}

/// Whether `aud` names one of this server's OAuth host names (case-insensitive, as host names
/// are).
pub fn audience_matches(aud: Option<&Audience>, audiences: &[String]) -> bool {
    let ours = |value: &String| audiences.iter().any(|a| a.eq_ignore_ascii_case(value));
    match aud {
        Some(Audience::One(value)) => ours(value),
        Some(Audience::Many(values)) => values.iter().any(ours),
        None => false,
    }
}

/// Checks `iat` and `exp` at `now` (Unix seconds).
///
/// # Errors
/// `Malformed` without both, `Expired` when `exp` has passed or `iat` is ahead (60 s skew),
/// `InvalidLifetime` when the assertion would live more than two hours.
pub fn check_lifetime(claims: &AssertionClaims, now: i64) -> Result<(), AssertionError> {
    let (Some(iat), Some(exp)) = (claims.iat, claims.exp) else {
        return Err(AssertionError::Malformed);
    };
    if exp <= now.saturating_sub(CLOCK_SKEW_SECONDS) || iat > now.saturating_add(CLOCK_SKEW_SECONDS)
    {
        return Err(AssertionError::Expired);
    }
    let lifetime = exp.saturating_sub(iat);
    if lifetime <= 0 || lifetime > MAX_ASSERTION_LIFETIME_SECONDS {
        return Err(AssertionError::InvalidLifetime);
    }
    Ok(())
}

/// The scopes an assertion asks for.
///
/// # Errors
/// `InvalidScope` for an unknown scope, none at all, or a user token without both `signature`
/// and `impersonation`.
pub fn requested_scopes(claims: &AssertionClaims) -> Result<Scopes, AssertionError> {
    let scopes = Scopes::parse(claims.scope.as_deref().unwrap_or(""))
        .map_err(|_| AssertionError::InvalidScope)?;
    let needed = if claims.sub.is_some() {
        Scopes::SIGNATURE.with(Scopes::IMPERSONATION)
    } else {
        Scopes::SIGNATURE
    };
    if scopes.is_empty() || !scopes.contains(needed) {
        return Err(AssertionError::InvalidScope);
    }
    Ok(scopes)
}

/// The user an assertion acts for: `None` when `sub` is absent (an application token).
///
/// # Errors
/// `UserNotFound` for a `sub` that is not a user id (an empty one included).
pub fn subject(claims: &AssertionClaims) -> Result<Option<UserId>, AssertionError> {
    claims
        .sub
        .as_deref()
        .map(|sub| UserId::parse(sub).ok_or(AssertionError::UserNotFound))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_null_claim_is_unreadable_not_absent() {
        let absent: AssertionClaims = serde_json::from_str(r#"{"iss": "key"}"#).unwrap_or_default();
        assert_eq!(absent.sub, None);
        assert_eq!(absent.iss.as_deref(), Some("key"));
        for null in ["sub", "iss", "aud", "iat", "exp", "scope"] {
            let text = format!(r#"{{"{null}": null}}"#);
            assert!(
                serde_json::from_str::<AssertionClaims>(&text).is_err(),
                "{text}"
            );
        }
    }

    fn claims() -> AssertionClaims {
        AssertionClaims {
            iss: Some("key".into()),
            sub: Some("00000000-0000-0000-0000-000000000003".into()),
            aud: Some(Audience::One("auth.example.com".into())),
            iat: Some(1_000),
            exp: Some(4_600),
            scope: Some("signature impersonation".into()),
        }
    }

    #[test]
    fn audience_is_one_of_ours_case_insensitively() {
        let ours = vec!["Auth.Example.com".to_owned(), "127.0.0.1:8443".to_owned()];
        assert!(audience_matches(claims().aud.as_ref(), &ours));
        let many = Audience::Many(vec!["other".into(), "127.0.0.1:8443".into()]);
        assert!(audience_matches(Some(&many), &ours));
        assert!(!audience_matches(
            Some(&Audience::One("https://auth.example.com".into())),
            &ours
        ));
        assert!(!audience_matches(None, &ours));
    }

    #[test]
    fn lifetime_rules_with_sixty_seconds_of_skew() {
        let c = claims();
        assert_eq!(check_lifetime(&c, 2_000), Ok(()));
        assert_eq!(check_lifetime(&c, 4_600 + 59), Ok(()));
        assert_eq!(check_lifetime(&c, 4_600 + 60), Err(AssertionError::Expired));
        assert_eq!(check_lifetime(&c, 1_000 - 60), Ok(()));
        assert_eq!(check_lifetime(&c, 1_000 - 61), Err(AssertionError::Expired));
        let long = AssertionClaims {
            exp: Some(1_000 + 7_201),
            ..claims()
        };
        assert_eq!(
            check_lifetime(&long, 2_000),
            Err(AssertionError::InvalidLifetime)
        );
        let backwards = AssertionClaims {
            exp: Some(1_000),
            iat: Some(1_001),
            ..claims()
        };
        assert_eq!(
            check_lifetime(&backwards, 990),
            Err(AssertionError::InvalidLifetime)
        );
        let no_iat = AssertionClaims {
            iat: None,
            ..claims()
        };
        assert_eq!(
            check_lifetime(&no_iat, 2_000),
            Err(AssertionError::Malformed)
        );
    }

    #[test]
    fn a_user_token_needs_signature_and_impersonation() {
        assert!(requested_scopes(&claims()).is_ok());
        let only_signature = AssertionClaims {
            scope: Some("signature".into()),
            ..claims()
        };
        assert_eq!(
            requested_scopes(&only_signature),
            Err(AssertionError::InvalidScope)
        );
        let application = AssertionClaims {
            sub: None,
            ..only_signature
        };
        assert_eq!(requested_scopes(&application), Ok(Scopes::SIGNATURE));
        let unknown = AssertionClaims {
            scope: Some("signature impersonation root".into()),
            ..claims()
        };
        assert_eq!(
            requested_scopes(&unknown),
            Err(AssertionError::InvalidScope)
        );
        let none = AssertionClaims {
            scope: None,
            sub: None,
            ..claims()
        };
        assert_eq!(requested_scopes(&none), Err(AssertionError::InvalidScope));
    }

    #[test]
    fn an_empty_or_garbled_subject_is_nobody_not_an_application() {
        assert!(subject(&claims()).expect("user").is_some());
        assert_eq!(
            subject(&AssertionClaims {
                sub: None,
                ..claims()
            }),
            Ok(None)
        );
        for sub in ["", "bob@example.com", "not-a-uuid"] {
            let c = AssertionClaims {
                sub: Some(sub.into()),
                ..claims()
            };
            assert_eq!(subject(&c), Err(AssertionError::UserNotFound));
        }
    }

    #[test]
    fn repeated_or_mistyped_claims_are_unreadable() {
        let repeated = r#"{"iss":"a","iss":"b"}"#;
        assert!(serde_json::from_str::<AssertionClaims>(repeated).is_err());
        let float = r#"{"exp":1.5}"#;
        assert!(serde_json::from_str::<AssertionClaims>(float).is_err());
        let list = r#"{"aud":["a","b"],"iss":"k"}"#;
        assert!(serde_json::from_str::<AssertionClaims>(list).is_ok());
    }
}
