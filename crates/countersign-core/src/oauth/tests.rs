//! Unit tests of the OAuth rules in `oauth/mod.rs`.

use super::*;
use crate::directory::{IntegratorKeyStatus, UserStatus};
use crate::ids::{IntegratorKeyId, OAuthTokenId, OrganizationId};
use proptest::prelude::*;
use time::macros::datetime;
use uuid::Uuid;

fn key() -> IntegratorKey {
    IntegratorKey {
        id: IntegratorKeyId(Uuid::from_u128(1)),
        organization_id: OrganizationId(Uuid::from_u128(2)),
        key: "k".into(),
        name: "App".into(),
        status: IntegratorKeyStatus::Active,
        legacy_sunset_at: None,
        deprecated_at: None,
        created_at: datetime!(2026-01-01 0:00 UTC),
        redirect_uris: Vec::new(),
        allow_implicit: false,
    }
}

fn user() -> User {
    User {
        id: UserId(Uuid::from_u128(3)),
        organization_id: OrganizationId(Uuid::from_u128(2)),
        email: "bob@example.com".into(),
        name: "Bob".into(),
        status: UserStatus::Active,
        credential_version: 1,
        has_password: true,
    }
}

fn claims(kind: AccessKind, issued_at: i64) -> AccessClaims {
    AccessClaims {
        token_id: OAuthTokenId(Uuid::from_u128(9)),
        integrator_key_id: IntegratorKeyId(Uuid::from_u128(1)),
        user_id: (kind != AccessKind::Application).then_some(UserId(Uuid::from_u128(3))),
        family_id: None,
        kind,
        scopes: Scopes::SIGNATURE.with(Scopes::IMPERSONATION),
        issued_at,
        expires_at: issued_at + 3_600,
    }
}

const BOTH: Scopes = Scopes::SIGNATURE.with(Scopes::IMPERSONATION);

#[test]
fn scopes_parse_known_names_only() {
    assert_eq!(Scopes::parse("signature  impersonation"), Ok(BOTH));
    assert_eq!(Scopes::parse(""), Ok(Scopes::none()));
    assert_eq!(Scopes::parse("signature admin"), Err(UnknownScope));
    assert_eq!(BOTH.text(), "signature impersonation");
    assert_eq!(Scopes::from_bits(BOTH.bits()), BOTH);
    assert_eq!(Scopes::from_bits(0xff).names().len(), 4);
}

#[test]
fn opaque_credentials_have_their_shape() {
    let code = opaque(CODE_PREFIX, &[5; 32]);
    assert!(is_opaque(CODE_PREFIX, code.expose()));
    assert!(!is_opaque(REFRESH_TOKEN_PREFIX, code.expose()));
    assert!(!is_opaque(CODE_PREFIX, &code.expose()[..20]));
    assert!(!is_opaque(
        CODE_PREFIX,
        &format!("{}!", &code.expose()[..46])
    ));
}

#[test]
fn admin_consent_covers_listed_users_or_all() {
    let bob = UserId(Uuid::from_u128(3));
    let eve = UserId(Uuid::from_u128(4));
    let listed = AdminConsent {
        scopes: BOTH,
        users: ConsentUsers::Listed(vec![bob]),
    };
    assert_eq!(consented_scopes(None, Some(&listed), bob), BOTH);
    assert_eq!(consented_scopes(None, Some(&listed), eve), Scopes::none());
    let all = AdminConsent {
        scopes: BOTH,
        users: ConsentUsers::All,
    };
    assert_eq!(consented_scopes(None, Some(&all), eve), BOTH);
    assert_eq!(
        consented_scopes(Some(Scopes::SIGNATURE), None, eve),
        Scopes::SIGNATURE
    );
}

#[test]
fn a_token_stands_only_while_key_user_and_consent_stand() {
    let key = key();
    let user = user();
    let view = GrantView {
        integrator_key: &key,
        user: Some(&user),
        consented: BOTH,
        not_before: None,
    };
    assert!(still_valid(&view, &claims(AccessKind::Jwt, 1_000)));
    let narrower = GrantView {
        consented: Scopes::SIGNATURE,
        ..view
    };
    assert!(
        !still_valid(&narrower, &claims(AccessKind::Jwt, 1_000)),
        "consent narrowed"
    );
    let withdrawn = GrantView {
        not_before: Some(1_000),
        ..view
    };
    assert!(
        !still_valid(&withdrawn, &claims(AccessKind::Jwt, 1_000)),
        "issued in the second of withdrawal"
    );
    assert!(
        still_valid(&withdrawn, &claims(AccessKind::Jwt, 1_001)),
        "issued after"
    );
    let mut revoked = key.clone();
    revoked.status = IntegratorKeyStatus::Revoked;
    let on_revoked = GrantView {
        integrator_key: &revoked,
        ..view
    };
    assert!(!still_valid(&on_revoked, &claims(AccessKind::Jwt, 1_000)));
    let mut disabled = user.clone();
    disabled.status = UserStatus::Disabled;
    let for_disabled = GrantView {
        user: Some(&disabled),
        ..view
    };
    assert!(!still_valid(&for_disabled, &claims(AccessKind::Jwt, 1_000)));
    let mut stranger = user.clone();
    stranger.organization_id = OrganizationId(Uuid::from_u128(99));
    assert!(!directory_admits(&key, Some(&stranger)));
}

#[test]
fn an_application_token_needs_no_user_and_no_consent() {
    let key = key();
    let view = GrantView {
        integrator_key: &key,
        user: None,
        consented: Scopes::none(),
        not_before: None,
    };
    assert!(still_valid(&view, &claims(AccessKind::Application, 1_000)));
    let user = user();
    let with_user = GrantView {
        user: Some(&user),
        ..view
    };
    assert!(
        !still_valid(&with_user, &claims(AccessKind::Application, 1_000)),
        "facts of another identity"
    );
}

proptest! {
    #[test]
    fn scope_parsing_never_panics(text in ".{0,200}") {
        let _ = Scopes::parse(&text);
    }
}
