//! The exhaustive authorization matrix (SPEC §3, §5 and §6.1).
//!
//! One real server holds a directory of two organizations, each with a production and a sandbox
//! environment, several accounts, users with every combination of the `send`, `sobo`,
//! `account_wide` and `admin` permissions (plus a disabled user, a user without any membership, a
//! user without a password and a user whose email exists in both organizations), API users of
//! every scope (plus revoked, expired and rotated-out ones) and integrator keys (active and
//! revoked). The first organization is built through the admin API; the second, which that API
//! cannot reach, through the directory operations the CLI uses.
//!
//! Every combination of credential, context user, `X-AS-UserContext`, account in the original
//! URI and Send-On-Behalf-Of user is then sent to `GET /v1/verify` and the answer compared with
//! an oracle written here from the SPEC's words alone (no call into countersign's own access or
//! scope code): the status, the dialect's `errorCode` where the SPEC fixes it, and for a grant the
//! acting user, account, environment, organization, actor and authentication method.
//!
//! Bearer: every (API-user credential × context username) pair is exchanged once at
//! `/authentication/apiUser` (compared with the oracle too); a refused exchange is the outcome of
//! every request of that pair, otherwise the token is sent with every `X-AS-UserContext` variant
//! × every path account (absent, each account by UUID and by number, unknown ones). Legacy
//! header: for credentials that can authenticate (a user's own password with an active key of the
//! user's organization, by email and by id) every Send-On-Behalf-Of user × every path account;
//! for every other credential (wrong password, revoked, unknown or other-organization key,
//! unknown user) a small grid of Send-On-Behalf-Of users and paths, since the SPEC refuses those
//! before either is looked at. Throttling is lifted: it has its own tests.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use countersign_core::api_user::Scope;
use countersign_core::directory::{EnvironmentKind, Permissions, UserStatus};
use countersign_core::ids::{AccountId, ApiUserId, EnvironmentId, IntegratorKeyId, UserId};
use countersign_core::secret::Secret;
use countersign_server::ops::Actor;
use countersign_test_support::{
    ADMIN_EMAIL, ADMIN_PASSWORD, CreatedAccount, CreatedApiUser, CreatedIntegratorKey, TestApp,
    spawn_app_with,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use time::OffsetDateTime;

mod cases;
mod fixture;
mod oracle;
mod run;
mod specs;

use cases::*;
use fixture::*;
use oracle::*;
use run::*;
use specs::*;

/// Requests in flight at once.
const CONCURRENCY: usize = 16;

// Permissions, as the SPEC names them (bits local to this test).
const SEND: u8 = 1;
const SOBO: u8 = 2;
const ACCOUNT_WIDE: u8 = 4;
const ADMIN: u8 = 8;
const ALL: u8 = SEND | SOBO | ACCOUNT_WIDE | ADMIN;

// Organizations, environments and accounts of the directory, by index.
const ORG_A: usize = 0;
const ORG_B: usize = 1;
const A_PROD: usize = 0;
const A_SANDBOX: usize = 1;
const B_PROD: usize = 2;
const B_SANDBOX: usize = 3;
const A1: usize = 0;
const A2: usize = 1;
const A3: usize = 2;
const A4: usize = 3;
const B1: usize = 4;
const B2: usize = 5;
const B3: usize = 6;

const WRONG_PASSWORD: &str = "wrong-password-123";
const UNKNOWN_USER: &str = "nobody@a.test";
const UNKNOWN_NUMBER: &str = "1234";
const UNKNOWN_ACCOUNT_ID: &str = "0190c0de-0000-7000-8000-000000000000";

fn permission_names(bits: u8) -> Vec<&'static str> {
    [
        (SEND, "send"),
        (SOBO, "sobo"),
        (ACCOUNT_WIDE, "account_wide"),
        (ADMIN, "admin"),
    ]
    .into_iter()
    .filter(|(bit, _)| bits & bit != 0)
    .map(|(_, name)| name)
    .collect()
}

// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_credential_context_and_account_combination_matches_the_spec_oracle() {
    let started = Instant::now();
    // Throttling (SPEC §9) has its own tests; here thousands of deliberate failures from one
    // address must each be judged on their own merits.
    let setup = async {
        let app = spawn_app_with(|config| {
            config.throttle.name_failures = u32::MAX;
            config.throttle.integrator_key_failures = u32::MAX;
            config.throttle.ip_failures_per_minute = u32::MAX;
        })
        .await;
        let dir = build_directory(&app).await;
        (app, dir)
    };
    // Fail loudly rather than hang the suite.
    let (app, dir) = tokio::time::timeout(std::time::Duration::from_secs(120), setup)
        .await
        .expect("the server starts and the directory is built within two minutes");
    let dir = Arc::new(dir);
    // Each request fails loudly after a minute rather than hanging the suite.
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap();
    let built = started.elapsed();

    let (mut cases, exchanges, exchange_mismatches) = bearer_cases(&app, &client, &dir).await;
    let exchanged = started.elapsed();
    cases.extend(legacy_cases(&dir));
    cases.extend(other_cases(&dir));
    let cases = Arc::new(cases);

    let url = app.url("/v1/verify");
    let actuals = run_bounded(cases.clone(), move |cases, index| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let case = &cases[index];
            // Twice: the first request takes the full path; the repeat, with a credential the
            // server has now verified, is answered by the fast path where the worker thread
            // has it — both must match the oracle.
            match (&case.known, &case.request) {
                (Some(known), _) => [known.clone(), known.clone()],
                (None, Some(headers)) => [
                    verify(&client, &url, headers, &case.uri).await,
                    verify(&client, &url, headers, &case.uri).await,
                ],
                (None, None) => unreachable!("a case has a request or a known outcome"),
            }
        }
    })
    .await;

    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    let mut outcomes = std::collections::BTreeMap::<(&str, String), usize>::new();
    let mut tally = std::collections::BTreeMap::<&str, usize>::new();
    let mut requests = 0;
    let mut shown = 0;
    for (case, pair) in cases.iter().zip(&actuals) {
        *counts.entry(case.dialect.name()).or_default() += 1;
        requests += 2 * usize::from(case.request.is_some());
        for (attempt, actual) in pair.iter().enumerate() {
            let outcome = match actual {
                Actual::Grant(grant) => format!("200 {}", grant.method),
                Actual::Refuse { status, code, .. } => format!("{status} {code}"),
            };
            if attempt == 0 {
                *outcomes.entry((case.dialect.name(), outcome)).or_default() += 1;
            }
            let name = match judge(&case.expected, actual) {
                Verdict::Match => continue,
                Verdict::UnexpectedGrant => "unexpected grants",
                Verdict::WrongIdentity => "grants with the wrong identity",
                Verdict::UnexpectedRefusal => "unexpected refusals",
                Verdict::WrongRefusal => "refusals with the wrong status or errorCode",
            };
            *tally.entry(name).or_default() += 1;
            if shown < 20 {
                shown += 1;
                eprintln!(
                    "MISMATCH ({name}, {} request): {}\n    expected {}\n    actual   {}",
                    if attempt == 0 { "first" } else { "repeated" },
                    case.description,
                    show_expect(&dir, &case.expected),
                    show_actual(&dir, actual)
                );
            }
        }
    }
    let count = |dialect: Dialect| counts.get(dialect.name()).copied().unwrap_or(0);
    let mismatches = |name: &str| tally.get(name).copied().unwrap_or(0);
    eprintln!("outcomes (dialect, status and errorCode or auth method: cases):");
    for ((dialect, outcome), n) in &outcomes {
        eprintln!("    {dialect:<6} {outcome:<50} {n:>7}");
    }
    eprintln!(
        "authorization matrix: {} bearer cases ({exchanges} token exchanges), {} legacy cases, {} other cases; {} cases in total, {requests} /v1/verify requests (each case twice), {} answered by the thread cache",
        count(Dialect::Bearer),
        count(Dialect::Legacy),
        count(Dialect::Other),
        cases.len(),
        thread_cache_answers(&app).await
    );
    eprintln!(
        "unexpected grants: {}, grants with the wrong identity: {}, unexpected refusals: {}, refusals with the wrong status or errorCode: {}, token exchange mismatches: {exchange_mismatches}",
        mismatches("unexpected grants"),
        mismatches("grants with the wrong identity"),
        mismatches("unexpected refusals"),
        mismatches("refusals with the wrong status or errorCode"),
    );
    eprintln!(
        "time: directory {:.1} s, token exchanges {:.1} s, everything {:.1} s",
        built.as_secs_f64(),
        (exchanged - built).as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        tally.is_empty() && exchange_mismatches == 0,
        "the server disagrees with the SPEC oracle: {tally:?}, {exchange_mismatches} token exchange mismatches"
    );
}
