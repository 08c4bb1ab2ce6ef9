//! Micro-benchmarks of the verification hot paths: session token verification, legacy header
//! parsing (JSON and XML), the API key digest, and the effective-account decision.
//!
//! `cargo bench -p countersign-core`
#![expect(clippy::unwrap_used, missing_docs, reason = "benchmark harness")]

use countersign_core::access::{AccountRequest, effective_account, parse_user_context};
use countersign_core::api_user::Scope;
use countersign_core::directory::{Membership, Permissions};
use countersign_core::ids::{AccountId, ApiKeyId, ApiUserId, EnvironmentId, SessionId, UserId};
use countersign_core::key::ApiKey;
use countersign_core::legacy::{HeaderFormat, build_header, parse_header};
use countersign_core::token::{SessionClaims, sign, verify};
use countersign_core::uri::PathAccounts;
use criterion::{Criterion, black_box, criterion_group, criterion_main};
use uuid::Uuid;

fn hot_paths(c: &mut Criterion) {
    let claims = SessionClaims {
        session_id: SessionId(Uuid::from_u128(1)),
        api_user_id: ApiUserId(Uuid::from_u128(2)),
        key_id: ApiKeyId(Uuid::from_u128(3)),
        user_id: UserId(Uuid::from_u128(4)),
        issued_at: 1_000,
        expires_at: 9_999_999_999,
    };
    let secret = [7u8; 32];
    let token = sign(&claims, 1, &secret);
    c.bench_function("token_verify", |b| {
        b.iter(|| verify(black_box(&token), 2_000, |_| Some(&secret[..])).unwrap())
    });
    c.bench_function("token_sign", |b| {
        b.iter(|| sign(black_box(&claims), 1, &secret))
    });

    let json = build_header(
        HeaderFormat::Json,
        "service@example.com",
        "/A5hpPhSczID+JNEKZbg5mYf7+7=",
        "YDMN-339fa93c-fcf0-4390-8141-2e0f071ffa2e",
        Some("user@example.com"),
    );
    let xml = build_header(
        HeaderFormat::Xml,
        "service@example.com",
        "/A5hpPhSczID+JNEKZbg5mYf7+7=",
        "YDMN-339fa93c-fcf0-4390-8141-2e0f071ffa2e",
        Some("user@example.com"),
    );
    c.bench_function("legacy_header_parse_json", |b| {
        b.iter(|| parse_header(black_box(json.as_bytes())).unwrap())
    });
    c.bench_function("legacy_header_parse_xml", |b| {
        b.iter(|| parse_header(black_box(xml.as_bytes())).unwrap())
    });

    let key = ApiKey::from_random(&[9u8; 32]);
    c.bench_function("api_key_parse", |b| {
        b.iter(|| ApiKey::parse(black_box(key.expose())).unwrap())
    });
    c.bench_function("api_key_digest", |b| {
        b.iter(|| black_box(&key).digest(&secret))
    });

    let memberships: Vec<Membership> = (0..5u128)
        .map(|i| Membership {
            user_id: UserId(Uuid::from_u128(4)),
            account_id: AccountId(Uuid::from_u128(100 + i)),
            account_number: format!("1000000{i}"),
            account_name: "account".into(),
            environment_id: EnvironmentId(Uuid::from_u128(i % 2)),
            permissions: Permissions::SEND,
            is_default: i == 3,
        })
        .collect();
    let context = parse_user_context(&format!("bob@example.com:{}", Uuid::from_u128(102)));
    c.bench_function("effective_account", |b| {
        b.iter(|| {
            let request = AccountRequest {
                user_context: Some(&context),
                ..AccountRequest::default()
            };
            effective_account(
                &Scope::Organization,
                black_box("bob@example.com"),
                &memberships,
                &request,
            )
            .unwrap()
            .account_id
        })
    });
    c.bench_function("original_uri_plain", |b| {
        b.iter(|| {
            PathAccounts::from_original_uri(black_box(
                b"/restapi/v2.1/accounts/1234567/envelopes?from_date=2026-01-01",
            ))
        })
    });
    c.bench_function("original_uri_encoded_dots", |b| {
        b.iter(|| {
            PathAccounts::from_original_uri(black_box(
                b"/restapi/v2.1/accounts/1234567/envelopes/%2e%2e/x;y/../envelopes?a=%2F",
            ))
        })
    });
}

criterion_group!(benches, hot_paths);
criterion_main!(benches);
