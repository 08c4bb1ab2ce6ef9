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
use countersign_core::directory::{EnvironmentKind, Organization, Permissions, UserStatus};
use countersign_core::ids::{
    AccountId, ApiUserId, EnvironmentId, IntegratorKeyId, OrganizationId, UserId,
};
use countersign_core::secret::Secret;
use countersign_server::ops::{Actor, Ops};
use countersign_test_support::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, spawn_app_with};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

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
// The directory model the oracle reads.

struct Environment {
    id: String,
}

struct Account {
    id: String,
    number: String,
    environment: usize,
    label: &'static str,
}

#[derive(Clone, Copy)]
struct Member {
    account: usize,
    permissions: u8,
    is_default: bool,
}

fn member(account: usize, permissions: u8, is_default: bool) -> Member {
    Member {
        account,
        permissions,
        is_default,
    }
}

struct Person {
    label: String,
    id: String,
    email: String,
    organization: usize,
    active: bool,
    password: Option<String>,
    members: Vec<Member>,
}

#[derive(Clone, Copy, Debug)]
enum ScopeModel {
    User(usize),
    Environment(usize),
    Organization,
}

/// What a credential authenticates as, when it authenticates at all.
struct ApiIdentity {
    organization: usize,
    scope: ScopeModel,
    username: String,
}

struct Credential {
    label: String,
    username: String,
    key: String,
    identity: Option<ApiIdentity>,
}

struct IntegratorKeyModel {
    label: &'static str,
    key: String,
    organization: Option<usize>,
    active: bool,
}

#[derive(Default)]
struct Directory {
    organizations: Vec<String>,
    environments: Vec<Environment>,
    accounts: Vec<Account>,
    people: Vec<Person>,
    credentials: Vec<Credential>,
    integrator_keys: Vec<IntegratorKeyModel>,
}

impl Directory {
    /// A user of `organization` by email (case-insensitive, SPEC §1) or, when `by_id`, by id.
    fn find(&self, organization: usize, name: &str, by_id: bool) -> Option<usize> {
        let name = name.trim();
        self.people.iter().position(|p| {
            p.organization == organization
                && (p.email.eq_ignore_ascii_case(name)
                    || (by_id && p.id.eq_ignore_ascii_case(name)))
        })
    }

    fn account_matches(&self, account: usize, reference: &str) -> bool {
        let account = &self.accounts[account];
        account.id.eq_ignore_ascii_case(reference) || account.number == reference
    }

    fn grant(&self, person: usize, account: usize, actor: String, method: &'static str) -> Expect {
        let acting = &self.people[person];
        let chosen = &self.accounts[account];
        Expect::Grant(Box::new(Grant {
            organization_id: self.organizations[acting.organization].clone(),
            environment_id: self.environments[chosen.environment].id.clone(),
            account_id: chosen.id.clone(),
            account_number: chosen.number.clone(),
            user_id: acting.id.clone(),
            actor,
            method: method.to_owned(),
        }))
    }
}

// ---------------------------------------------------------------------------------------------
// Outcomes.

#[derive(Clone, Debug, PartialEq, Eq)]
struct Grant {
    organization_id: String,
    environment_id: String,
    account_id: String,
    account_number: String,
    user_id: String,
    actor: String,
    method: String,
}

#[derive(Clone, Debug)]
enum Expect {
    Grant(Box<Grant>),
    /// `code` is checked only where the SPEC fixes it.
    Refuse {
        status: u16,
        code: Option<&'static str>,
        why: &'static str,
    },
}

fn refuse(status: u16, code: Option<&'static str>, why: &'static str) -> Expect {
    Expect::Refuse { status, code, why }
}

#[derive(Clone, Debug)]
enum Actual {
    Grant(Grant),
    Refuse {
        status: u16,
        code: String,
        stage: &'static str,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Match,
    UnexpectedGrant,
    WrongIdentity,
    UnexpectedRefusal,
    WrongRefusal,
}

fn judge(expected: &Expect, actual: &Actual) -> Verdict {
    match (expected, actual) {
        (Expect::Grant(e), Actual::Grant(a)) if **e == *a => Verdict::Match,
        (Expect::Grant(_), Actual::Grant(_)) => Verdict::WrongIdentity,
        (Expect::Grant(_), Actual::Refuse { .. }) => Verdict::UnexpectedRefusal,
        (Expect::Refuse { .. }, Actual::Grant(_)) => Verdict::UnexpectedGrant,
        (
            Expect::Refuse {
                status: expected_status,
                code: expected_code,
                ..
            },
            Actual::Refuse { status, code, .. },
        ) => {
            if expected_status == status && expected_code.is_none_or(|c| c == code) {
                Verdict::Match
            } else {
                Verdict::WrongRefusal
            }
        }
    }
}

fn show_grant(dir: &Directory, grant: &Grant) -> String {
    let user = dir
        .people
        .iter()
        .find(|p| p.id == grant.user_id)
        .map_or("?", |p| p.label.as_str());
    let account = dir
        .accounts
        .iter()
        .find(|a| a.id == grant.account_id)
        .map_or("?", |a| a.label);
    format!(
        "200 as {user} ({}) in {account} ({} / {}), environment {}, organization {}, actor {:?}, method {:?}",
        grant.user_id,
        grant.account_id,
        grant.account_number,
        grant.environment_id,
        grant.organization_id,
        grant.actor,
        grant.method
    )
}

fn show_expect(dir: &Directory, expected: &Expect) -> String {
    match expected {
        Expect::Grant(grant) => show_grant(dir, grant),
        Expect::Refuse { status, code, why } => format!(
            "{status} {} because {why}",
            code.unwrap_or("(any errorCode)")
        ),
    }
}

fn show_actual(dir: &Directory, actual: &Actual) -> String {
    match actual {
        Actual::Grant(grant) => show_grant(dir, grant),
        Actual::Refuse {
            status,
            code,
            stage,
        } => format!("{status} {code:?} from the {stage}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The oracle, from SPEC §3, §4, §5 and §6.1.

/// Token exchange (§4): the context user, or the refusal.
fn oracle_exchange(dir: &Directory, credential: &Credential, name: &str) -> Result<usize, Expect> {
    let Some(identity) = &credential.identity else {
        return Err(refuse(
            401,
            Some("UNAUTHORIZED"),
            "unknown, revoked or expired API user, or wrong key",
        ));
    };
    // A user of another organization is unknown to this API user.
    let Some(person) = dir.find(identity.organization, name, false) else {
        return Err(refuse(
            403,
            Some("FORBIDDEN"),
            "context user unknown in the API user's organization",
        ));
    };
    if !dir.people[person].active {
        return Err(refuse(403, Some("FORBIDDEN"), "context user disabled"));
    }
    let admitted = match identity.scope {
        ScopeModel::User(only) => only == person,
        ScopeModel::Environment(environment) => dir.people[person]
            .members
            .iter()
            .any(|m| dir.accounts[m.account].environment == environment),
        ScopeModel::Organization => true,
    };
    if !admitted {
        return Err(refuse(
            403,
            Some("FORBIDDEN"),
            "context user outside the API user's scope",
        ));
    }
    Ok(person)
}

/// Bearer verification (§3, §6.1) of a token acting as `person`.
fn oracle_bearer(
    dir: &Directory,
    identity: &ApiIdentity,
    person: usize,
    user_context: Option<&str>,
    uri: &UriMeaning,
) -> Expect {
    let acting = &dir.people[person];
    let in_scope: Vec<Member> = acting
        .members
        .iter()
        .copied()
        .filter(|m| match identity.scope {
            ScopeModel::Environment(environment) => {
                dir.accounts[m.account].environment == environment
            }
            ScopeModel::User(_) | ScopeModel::Organization => true,
        })
        .collect();
    let forbidden = |why| refuse(403, Some("FORBIDDEN"), why);
    // §3: an original URI that cannot be read safely is refused, never "no account".
    let names = match uri {
        UriMeaning::Refused(why) => return forbidden(why),
        UriMeaning::Names(names) => names,
    };
    let mut by_context = None;
    if let Some(raw) = user_context {
        let (username, context_id) = match raw.split_once(':') {
            Some((username, rest)) => (username, Some(rest)),
            None => (raw, None),
        };
        if !username.trim().eq_ignore_ascii_case(&acting.email) {
            return forbidden("X-AS-UserContext names another user");
        }
        if let Some(context_id) = context_id.map(str::trim).filter(|c| !c.is_empty()) {
            let Some(m) = in_scope
                .iter()
                .find(|m| dir.accounts[m.account].id.eq_ignore_ascii_case(context_id))
            else {
                return forbidden("contextId is not an in-scope account of the user");
            };
            by_context = Some(m.account);
        }
    }
    let actor = identity.username.clone();
    // §3: every accounts/{id} pair must name an in-scope account; the first one named is the
    // effective account.
    let mut by_path = None;
    for reference in names {
        let Some(m) = in_scope
            .iter()
            .find(|m| dir.account_matches(m.account, reference))
        else {
            return forbidden("a path account is not an in-scope account of the user");
        };
        by_path.get_or_insert(m.account);
    }
    if let Some(account) = by_path {
        if by_context.is_some_and(|a| a != account) {
            return forbidden("path account differs from the contextId");
        }
        return dir.grant(person, account, actor, "api_user_token");
    }
    if let Some(account) = by_context {
        return dir.grant(person, account, actor, "api_user_token");
    }
    match in_scope.as_slice() {
        [] => forbidden("no in-scope account"),
        [only] => dir.grant(person, only.account, actor, "api_user_token"),
        several => match several.iter().find(|m| m.is_default) {
            Some(m) => dir.grant(person, m.account, actor, "api_user_token"),
            // The dialect's 400 asking for X-AS-UserContext, as 403 on /v1/verify.
            None => refuse(
                403,
                Some("BAD_REQUEST"),
                "several in-scope accounts and no in-scope default",
            ),
        },
    }
}

/// The legacy header (§5, §6.1).
fn oracle_legacy(
    dir: &Directory,
    username: &str,
    password: &str,
    integrator_key: &IntegratorKeyModel,
    send_on_behalf_of: Option<&str>,
    uri: &UriMeaning,
) -> Expect {
    let partner = |why| refuse(401, Some("PARTNER_AUTHENTICATION_FAILED"), why);
    let user_failed = |why| refuse(401, Some("USER_AUTHENTICATION_FAILED"), why);
    let lacks = |why| refuse(401, Some("USER_LACKS_PERMISSIONS"), why);
    let Some(organization) = integrator_key
        .organization
        .filter(|_| integrator_key.active)
    else {
        return partner("unknown or revoked integrator key");
    };
    let Some(person) = dir.find(organization, username, true) else {
        return user_failed("user unknown in the integrator key's organization");
    };
    let user = &dir.people[person];
    if user.password.as_deref() != Some(password) {
        return user_failed("wrong password");
    }
    if !user.active {
        return user_failed("disabled user");
    }
    let not_in_account = |why| refuse(403, Some("USER_DOES_NOT_BELONG_TO_SPECIFIED_ACCOUNT"), why);
    let names = match uri {
        UriMeaning::Refused(why) => return not_in_account(why),
        UriMeaning::Names(names) => names,
    };
    let mut by_path = None;
    for reference in names {
        let Some(m) = user
            .members
            .iter()
            .find(|m| dir.account_matches(m.account, reference))
        else {
            return not_in_account("a path account is not one of the user's accounts");
        };
        by_path.get_or_insert(*m);
    }
    let effective = match by_path {
        Some(m) => m,
        None => match user.members.as_slice() {
            [] => return refuse(403, None, "the user has no account"),
            [only] => *only,
            several => match several.iter().find(|m| m.is_default) {
                Some(m) => *m,
                None => return refuse(403, None, "several accounts and no default"),
            },
        },
    };
    let Some(sobo_name) = send_on_behalf_of else {
        return dir.grant(person, effective.account, user.id.clone(), "legacy_header");
    };
    if effective.permissions & (SOBO | ACCOUNT_WIDE) != SOBO | ACCOUNT_WIDE {
        return lacks("authenticated user lacks sobo and account_wide in the account");
    }
    let Some(target) = dir.find(organization, sobo_name, true) else {
        return lacks("SOBO user unknown in the organization");
    };
    let sobo_user = &dir.people[target];
    if !sobo_user.active {
        return lacks("SOBO user disabled");
    }
    if !sobo_user
        .members
        .iter()
        .any(|m| m.account == effective.account && m.permissions & SEND != 0)
    {
        return lacks("SOBO user is not a member of the account with send");
    }
    dir.grant(
        target,
        effective.account,
        user.id.clone(),
        "legacy_header_sobo",
    )
}

// ---------------------------------------------------------------------------------------------
// Building the directory: the admin API for the first organization, `ops` for the second.

enum ScopeIds {
    User(String),
    Environment(String),
    Organization,
}

enum Admin<'a> {
    Http(&'a TestApp),
    Ops(&'a Ops, &'a Actor),
}

impl Admin<'_> {
    async fn environment(&self, name: &str, kind: EnvironmentKind) -> String {
        match self {
            Self::Http(app) => app.create_environment(name, kind.as_str()).await,
            Self::Ops(ops, actor) => ops
                .create_environment(actor, name, kind)
                .await
                .unwrap()
                .id
                .to_string(),
        }
    }

    async fn account(&self, environment: &str, name: &str) -> (String, String) {
        match self {
            Self::Http(app) => app.create_account(environment, name).await,
            Self::Ops(ops, actor) => {
                let account = ops
                    .create_account(actor, EnvironmentId::parse(environment).unwrap(), name)
                    .await
                    .unwrap();
                (account.id.to_string(), account.number)
            }
        }
    }

    async fn user(&self, email: &str, password: Option<&str>) -> String {
        match self {
            Self::Http(app) => app.create_user(email, password).await,
            Self::Ops(ops, actor) => ops
                .create_user(actor, email, email, password.map(Secret::new))
                .await
                .unwrap()
                .id
                .to_string(),
        }
    }

    async fn membership(&self, user: &str, account: &str, permissions: u8, is_default: bool) {
        match self {
            Self::Http(app) => {
                app.put_membership(user, account, &permission_names(permissions), is_default)
                    .await;
            }
            Self::Ops(ops, actor) => {
                ops.put_membership(
                    actor,
                    UserId::parse(user).unwrap(),
                    AccountId::parse(account).unwrap(),
                    Permissions::from_bits(i64::from(permissions)),
                    is_default,
                )
                .await
                .unwrap();
            }
        }
    }

    async fn disable(&self, user: &str) {
        match self {
            Self::Http(app) => {
                let response = app
                    .admin(Method::PATCH, &format!("/admin/v1/users/{user}"))
                    .json(&json!({"status": "disabled"}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), StatusCode::OK, "disable {user}");
            }
            Self::Ops(ops, actor) => {
                ops.update_user(
                    actor,
                    UserId::parse(user).unwrap(),
                    None,
                    Some(UserStatus::Disabled),
                )
                .await
                .unwrap();
            }
        }
    }

    async fn integrator_key(&self, name: &str, key: Option<&str>) -> (String, String) {
        match self {
            Self::Http(app) => {
                let mut body = json!({"name": name});
                if let Some(key) = key {
                    body["key"] = json!(key);
                }
                let response = app.admin_post("/admin/v1/integrator-keys", body).await;
                assert_eq!(
                    response.status(),
                    StatusCode::CREATED,
                    "integrator key {name}"
                );
                let body: Value = response.json().await.unwrap();
                (
                    body["id"].as_str().unwrap().to_owned(),
                    body["key"].as_str().unwrap().to_owned(),
                )
            }
            Self::Ops(ops, actor) => {
                let record = ops.create_integrator_key(actor, name, key).await.unwrap();
                (record.id.to_string(), record.key)
            }
        }
    }

    async fn revoke_integrator_key(&self, id: &str) {
        match self {
            Self::Http(app) => {
                let response = app
                    .admin(
                        Method::POST,
                        &format!("/admin/v1/integrator-keys/{id}/revoke"),
                    )
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), StatusCode::OK, "revoke integrator key");
            }
            Self::Ops(ops, actor) => {
                ops.revoke_integrator_key(actor, IntegratorKeyId::parse(id).unwrap())
                    .await
                    .unwrap();
            }
        }
    }

    async fn api_user(
        &self,
        username: &str,
        scope: &ScopeIds,
        expires_at: OffsetDateTime,
    ) -> (String, String) {
        match self {
            Self::Http(app) => {
                let scope = match scope {
                    ScopeIds::User(id) => json!({"type": "user", "user_id": id}),
                    ScopeIds::Environment(id) => {
                        json!({"type": "environment", "environment_id": id})
                    }
                    ScopeIds::Organization => json!({"type": "organization"}),
                };
                let response = app
                    .admin_post(
                        "/admin/v1/api-users",
                        json!({"username": username, "scope": scope,
                               "expires_at": expires_at.format(&Rfc3339).unwrap()}),
                    )
                    .await;
                assert_eq!(
                    response.status(),
                    StatusCode::CREATED,
                    "api user {username}"
                );
                let body: Value = response.json().await.unwrap();
                (
                    body["api_user"]["id"].as_str().unwrap().to_owned(),
                    body["key"].as_str().unwrap().to_owned(),
                )
            }
            Self::Ops(ops, actor) => {
                let scope = match scope {
                    ScopeIds::User(id) => Scope::User(UserId::parse(id).unwrap()),
                    ScopeIds::Environment(id) => {
                        Scope::Environment(EnvironmentId::parse(id).unwrap())
                    }
                    ScopeIds::Organization => Scope::Organization,
                };
                let issued = ops
                    .create_api_user(actor, username, scope, expires_at, None)
                    .await
                    .unwrap();
                (
                    issued.api_user.id.to_string(),
                    issued.key.expose().to_owned(),
                )
            }
        }
    }

    async fn revoke_api_user(&self, id: &str) {
        match self {
            Self::Http(app) => {
                let response = app
                    .admin(Method::POST, &format!("/admin/v1/api-users/{id}/revoke"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), StatusCode::OK, "revoke api user");
            }
            Self::Ops(ops, actor) => {
                ops.revoke_api_user(actor, ApiUserId::parse(id).unwrap())
                    .await
                    .unwrap();
            }
        }
    }

    /// Rotates with no grace period; returns the new key.
    async fn rotate_api_user(&self, id: &str) -> String {
        match self {
            Self::Http(app) => {
                let response = app
                    .admin_post(
                        &format!("/admin/v1/api-users/{id}/rotate"),
                        json!({"grace_minutes": 0}),
                    )
                    .await;
                assert_eq!(response.status(), StatusCode::OK, "rotate api user");
                let body: Value = response.json().await.unwrap();
                body["key"].as_str().unwrap().to_owned()
            }
            Self::Ops(ops, actor) => ops
                .rotate_api_user(actor, ApiUserId::parse(id).unwrap(), 0, None)
                .await
                .unwrap()
                .key
                .expose()
                .to_owned(),
        }
    }
}

struct PersonSpec {
    label: String,
    email: String,
    organization: usize,
    password: Option<String>,
    members: Vec<Member>,
    disabled: bool,
}

fn user_spec(
    label: &str,
    email: &str,
    organization: usize,
    password: Option<&str>,
    members: Vec<Member>,
) -> PersonSpec {
    PersonSpec {
        label: label.to_owned(),
        email: email.to_owned(),
        organization,
        password: password.map(str::to_owned),
        members,
        disabled: false,
    }
}

/// The users besides the bootstrap administrator.
fn person_specs() -> Vec<PersonSpec> {
    let mut specs = Vec::new();
    // Every one of the 16 permission combinations in A1, each user with one of four membership
    // layouts: A1 alone (default or not); A1 default + A2; A1 + sandbox A3 without a default;
    // A1 + A2 default + sandbox A4.
    for bits in 0..16u8 {
        let other = (bits * 7 + 5) % 16;
        let third = (bits * 3 + 1) % 16;
        let members = match bits % 4 {
            0 => vec![member(A1, bits, bits % 8 == 0)],
            1 => vec![member(A1, bits, true), member(A2, other, false)],
            2 => vec![member(A1, bits, false), member(A3, other, false)],
            _ => vec![
                member(A1, bits, false),
                member(A2, other, true),
                member(A4, third, false),
            ],
        };
        let label = format!("p{bits:02} [{}]", permission_names(bits).join(","));
        specs.push(user_spec(
            &label,
            &format!("p{bits}@a.test"),
            ORG_A,
            Some(&format!("password-of-p{bits}")),
            members,
        ));
    }
    let sobo_rights = SEND | SOBO | ACCOUNT_WIDE;
    specs.extend([
        user_spec(
            "sandbox-only",
            "sandbox.only@a.test",
            ORG_A,
            Some("password-sandbox-only"),
            vec![member(A3, sobo_rights, false)],
        ),
        user_spec(
            "two-sandbox-accounts",
            "two.sandbox@a.test",
            ORG_A,
            Some("password-two-sandbox"),
            vec![member(A3, SEND, false), member(A4, sobo_rights, false)],
        ),
        PersonSpec {
            disabled: true,
            ..user_spec(
                "disabled (A)",
                "disabled@a.test",
                ORG_A,
                Some("password-disabled-a"),
                vec![member(A1, ALL, true), member(A2, ALL, false)],
            )
        },
        user_spec(
            "no membership (A)",
            "nomember@a.test",
            ORG_A,
            Some("password-nomember-a"),
            vec![],
        ),
        user_spec(
            "no password",
            "nopassword@a.test",
            ORG_A,
            None,
            vec![member(A1, SEND, true)],
        ),
        user_spec(
            "shared email (A)",
            "shared@example.test",
            ORG_A,
            Some("shared-password-A"),
            vec![member(A1, sobo_rights, false), member(A4, SEND, true)],
        ),
        user_spec(
            "mixed-case email, special password",
            "Mixed.Case@A.test",
            ORG_A,
            Some("p&ss<w>\"rd'x!"),
            vec![member(A2, ALL, true)],
        ),
        user_spec(
            "b0",
            "b0@b.test",
            ORG_B,
            Some("password-b0"),
            vec![member(B1, ALL, true), member(B2, SEND, false)],
        ),
        user_spec(
            "b1",
            "b1@b.test",
            ORG_B,
            Some("password-b1"),
            vec![member(B1, SEND, false)],
        ),
        user_spec(
            "b2",
            "b2@b.test",
            ORG_B,
            Some("password-b2"),
            vec![
                member(B1, SOBO | ACCOUNT_WIDE, false),
                member(B3, SEND, false),
            ],
        ),
        user_spec(
            "b3",
            "b3@b.test",
            ORG_B,
            Some("password-b3"),
            vec![member(B3, sobo_rights, false)],
        ),
        user_spec(
            "b4",
            "b4@b.test",
            ORG_B,
            Some("password-b4"),
            vec![
                member(B1, SEND | ACCOUNT_WIDE, false),
                member(B2, sobo_rights | ADMIN, true),
            ],
        ),
        user_spec(
            "b5 (no permissions)",
            "b5@b.test",
            ORG_B,
            Some("password-b5"),
            vec![member(B2, 0, false)],
        ),
        user_spec(
            "shared email (B)",
            "shared@example.test",
            ORG_B,
            Some("shared-password-B"),
            vec![member(B1, sobo_rights, true)],
        ),
        PersonSpec {
            disabled: true,
            ..user_spec(
                "disabled (B)",
                "disabled@b.test",
                ORG_B,
                Some("password-disabled-b"),
                vec![member(B1, ALL, true)],
            )
        },
        user_spec(
            "no membership (B)",
            "nomember@b.test",
            ORG_B,
            Some("password-nomember-b"),
            vec![],
        ),
    ]);
    specs
}

#[derive(Clone, Copy)]
enum ScopeSpec {
    /// The user with this email in the API user's organization.
    User(&'static str),
    Environment(usize),
    Organization,
}

struct ApiUserSpec {
    username: &'static str,
    /// What the integration sends (SPEC §2: usernames match in any case).
    sent: &'static str,
    organization: usize,
    scope: ScopeSpec,
    short_lived: bool,
    revoked: bool,
    rotated: bool,
}

fn api_user(username: &'static str, organization: usize, scope: ScopeSpec) -> ApiUserSpec {
    ApiUserSpec {
        username,
        sent: username,
        organization,
        scope,
        short_lived: false,
        revoked: false,
        rotated: false,
    }
}

fn api_user_specs() -> Vec<ApiUserSpec> {
    vec![
        api_user("a-user-multi", ORG_A, ScopeSpec::User("p3@a.test")),
        api_user("a-user-nomember", ORG_A, ScopeSpec::User("nomember@a.test")),
        api_user("a-user-disabled", ORG_A, ScopeSpec::User("disabled@a.test")),
        api_user("a-env-prod", ORG_A, ScopeSpec::Environment(A_PROD)),
        api_user("a-env-sandbox", ORG_A, ScopeSpec::Environment(A_SANDBOX)),
        api_user("a-org", ORG_A, ScopeSpec::Organization),
        ApiUserSpec {
            revoked: true,
            ..api_user("a-revoked", ORG_A, ScopeSpec::Environment(A_SANDBOX))
        },
        ApiUserSpec {
            short_lived: true,
            ..api_user("a-expired", ORG_A, ScopeSpec::Organization)
        },
        ApiUserSpec {
            rotated: true,
            ..api_user("a-rotated", ORG_A, ScopeSpec::User("shared@example.test"))
        },
        api_user("b-user-multi", ORG_B, ScopeSpec::User("b0@b.test")),
        api_user("b-env-prod", ORG_B, ScopeSpec::Environment(B_PROD)),
        api_user("b-env-sandbox", ORG_B, ScopeSpec::Environment(B_SANDBOX)),
        ApiUserSpec {
            sent: "B-Org",
            ..api_user("b-org", ORG_B, ScopeSpec::Organization)
        },
        ApiUserSpec {
            revoked: true,
            ..api_user("b-revoked", ORG_B, ScopeSpec::Organization)
        },
        ApiUserSpec {
            short_lived: true,
            ..api_user("b-expired", ORG_B, ScopeSpec::Environment(B_PROD))
        },
    ]
}

async fn build_directory(app: &TestApp) -> Directory {
    let mut dir = Directory::default();
    // The second organization, created directly: the admin API is per organization.
    let org_b = OrganizationId(uuid::Uuid::now_v7());
    app.store
        .insert_organization(
            &Organization {
                id: org_b,
                name: "Second organization".into(),
                legacy_header_enabled: true,
            },
            app.now(),
        )
        .await
        .unwrap();
    dir.organizations = vec![app.organization_id.clone(), org_b.to_string()];
    let ops = app.server().state().ops();
    let actor_b = Actor {
        organization_id: org_b,
        user_id: None,
        name: "test".into(),
        source_ip: None,
    };
    let admins = [Admin::Http(app), Admin::Ops(&ops, &actor_b)];

    // Environments: the bootstrap production environment, then the others.
    dir.environments.push(Environment {
        id: app.environment_id.clone(),
    });
    for (organization, name, kind) in [
        (ORG_A, "A sandbox", EnvironmentKind::Sandbox),
        (ORG_B, "B production", EnvironmentKind::Production),
        (ORG_B, "B sandbox", EnvironmentKind::Sandbox),
    ] {
        let id = admins[organization].environment(name, kind).await;
        dir.environments.push(Environment { id });
    }

    // Accounts: the bootstrap account A1, then the others.
    let a1_number = app
        .admin_get(&format!("/admin/v1/accounts/{}", app.account_id))
        .await
        .json::<Value>()
        .await
        .unwrap()["number"]
        .as_str()
        .unwrap()
        .to_owned();
    dir.accounts.push(Account {
        id: app.account_id.clone(),
        number: a1_number,
        environment: A_PROD,
        label: "A1 (A prod)",
    });
    for (organization, environment, label) in [
        (ORG_A, A_PROD, "A2 (A prod)"),
        (ORG_A, A_SANDBOX, "A3 (A sandbox)"),
        (ORG_A, A_SANDBOX, "A4 (A sandbox)"),
        (ORG_B, B_PROD, "B1 (B prod)"),
        (ORG_B, B_PROD, "B2 (B prod)"),
        (ORG_B, B_SANDBOX, "B3 (B sandbox)"),
    ] {
        let (id, number) = admins[organization]
            .account(&dir.environments[environment].id, label)
            .await;
        dir.accounts.push(Account {
            id,
            number,
            environment,
            label,
        });
    }

    // The bootstrap administrator, as the store has it.
    let admin_members = app
        .store
        .list_memberships(UserId::parse(&app.admin_user_id).unwrap())
        .await
        .unwrap()
        .into_iter()
        .map(|m| {
            let account = dir
                .accounts
                .iter()
                .position(|a| a.id == m.account_id.to_string())
                .unwrap();
            member(
                account,
                u8::try_from(m.permissions.bits()).unwrap(),
                m.is_default,
            )
        })
        .collect();
    dir.people.push(Person {
        label: "bootstrap administrator".into(),
        id: app.admin_user_id.clone(),
        email: ADMIN_EMAIL.into(),
        organization: ORG_A,
        active: true,
        password: Some(ADMIN_PASSWORD.into()),
        members: admin_members,
    });

    for spec in person_specs() {
        let admin = &admins[spec.organization];
        let id = admin.user(&spec.email, spec.password.as_deref()).await;
        for m in &spec.members {
            admin
                .membership(
                    &id,
                    &dir.accounts[m.account].id,
                    m.permissions,
                    m.is_default,
                )
                .await;
        }
        if spec.disabled {
            admin.disable(&id).await;
        }
        dir.people.push(Person {
            label: spec.label,
            id,
            email: spec.email,
            organization: spec.organization,
            active: !spec.disabled,
            password: spec.password,
            members: spec.members,
        });
    }

    // Integrator keys: one active and one revoked per organization, and one nobody issued.
    for (organization, label, import) in [
        (
            ORG_A,
            "A active",
            Some("YDMN-339fa93c-fcf0-4390-8141-2e0f071ffa2e"),
        ),
        (ORG_A, "A revoked", None),
        (ORG_B, "B active", None),
        (ORG_B, "B revoked", None),
    ] {
        let admin = &admins[organization];
        let (id, key) = admin.integrator_key(label, import).await;
        let active = label.ends_with("active");
        if !active {
            admin.revoke_integrator_key(&id).await;
        }
        dir.integrator_keys.push(IntegratorKeyModel {
            label,
            key,
            organization: Some(organization),
            active,
        });
    }
    dir.integrator_keys.push(IntegratorKeyModel {
        label: "unknown",
        key: "YDMN-00000000-0000-0000-0000-000000000000".into(),
        organization: None,
        active: false,
    });

    // API users.
    let now = app.now();
    let mut issued = Vec::new();
    for spec in api_user_specs() {
        let admin = &admins[spec.organization];
        let (scope_ids, scope) = match spec.scope {
            ScopeSpec::User(email) => {
                let person = dir.find(spec.organization, email, false).unwrap();
                (
                    ScopeIds::User(dir.people[person].id.clone()),
                    ScopeModel::User(person),
                )
            }
            ScopeSpec::Environment(environment) => (
                ScopeIds::Environment(dir.environments[environment].id.clone()),
                ScopeModel::Environment(environment),
            ),
            ScopeSpec::Organization => (ScopeIds::Organization, ScopeModel::Organization),
        };
        let expires_at = if spec.short_lived {
            now + time::Duration::minutes(1)
        } else {
            now + time::Duration::days(30)
        };
        let (id, key) = admin.api_user(spec.username, &scope_ids, expires_at).await;
        issued.push((spec, scope, id, key));
    }
    let mut keys_by_name = std::collections::HashMap::new();
    for (spec, scope, id, key) in issued {
        let admin = &admins[spec.organization];
        let identity = || ApiIdentity {
            organization: spec.organization,
            scope,
            username: spec.username.to_owned(),
        };
        keys_by_name.insert(spec.username, key.clone());
        if spec.revoked {
            admin.revoke_api_user(&id).await;
        }
        if spec.rotated {
            let new_key = admin.rotate_api_user(&id).await;
            dir.credentials.push(Credential {
                label: format!("{} (key rotated out, no grace)", spec.username),
                username: spec.sent.to_owned(),
                key,
                identity: None,
            });
            dir.credentials.push(Credential {
                label: format!("{} (new key)", spec.username),
                username: spec.sent.to_owned(),
                key: new_key,
                identity: Some(identity()),
            });
            continue;
        }
        let usable = !spec.revoked && !spec.short_lived;
        dir.credentials.push(Credential {
            label: format!(
                "{}{}",
                spec.username,
                if spec.revoked {
                    " (revoked)"
                } else if spec.short_lived {
                    " (expired)"
                } else {
                    ""
                }
            ),
            username: spec.sent.to_owned(),
            key,
            identity: usable.then(identity),
        });
    }
    let a_org_key = keys_by_name["a-org"].clone();
    let b_org_key = keys_by_name["b-org"].clone();
    dir.credentials.extend([
        Credential {
            label: "unknown API username".into(),
            username: "no-such-api-user".into(),
            key: a_org_key.clone(),
            identity: None,
        },
        Credential {
            label: "a-org with b-org's key".into(),
            username: "a-org".into(),
            key: b_org_key,
            identity: None,
        },
        Credential {
            label: "a-org with a malformed key".into(),
            username: "a-org".into(),
            key: "csk_notakey".into(),
            identity: None,
        },
        Credential {
            label: "a-org with a truncated key".into(),
            username: "a-org".into(),
            key: a_org_key[..a_org_key.len() - 1].to_owned(),
            identity: None,
        },
    ]);
    // Let the short-lived API users expire (well within the admin session's 12 hours).
    app.advance(time::Duration::minutes(2));
    dir
}

// ---------------------------------------------------------------------------------------------
// Running requests with bounded concurrency.

async fn run_bounded<T, R, F, Fut>(items: Arc<Vec<T>>, work: F) -> Vec<R>
where
    T: Send + Sync + 'static,
    R: Send + 'static,
    F: Fn(Arc<Vec<T>>, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
{
    let next = Arc::new(AtomicUsize::new(0));
    let work = Arc::new(work);
    let mut workers = Vec::new();
    for _ in 0..CONCURRENCY {
        let (items, next, work) = (items.clone(), next.clone(), work.clone());
        workers.push(tokio::spawn(async move {
            let mut done = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= items.len() {
                    return done;
                }
                done.push((index, work(items.clone(), index).await));
            }
        }));
    }
    let mut results: Vec<Option<R>> = (0..items.len()).map(|_| None).collect();
    for worker in workers {
        for (index, result) in worker.await.unwrap() {
            results[index] = Some(result);
        }
    }
    results.into_iter().map(Option::unwrap).collect()
}

/// Requests the server answered from a worker thread's cache, from its metrics.
async fn thread_cache_answers(app: &TestApp) -> u64 {
    let text = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|line| line.starts_with("countersign_thread_cache_answers_total"))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|value| value.parse().ok())
        .unwrap_or(0)
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

async fn refusal_of(response: reqwest::Response, stage: &'static str) -> Actual {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    Actual::Refuse {
        status,
        code: body["errorCode"].as_str().unwrap_or_default().to_owned(),
        stage,
    }
}

async fn verify(
    client: &reqwest::Client,
    url: &str,
    headers: &[(&'static str, String)],
    uri: &UriHeaders,
) -> Actual {
    let mut request = client.get(url);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    for (name, value) in uri {
        request = request.header(
            *name,
            reqwest::header::HeaderValue::from_bytes(value).unwrap(),
        );
    }
    let response = request.send().await.unwrap();
    if response.status() != StatusCode::OK {
        return refusal_of(response, "verify").await;
    }
    Actual::Grant(Grant {
        organization_id: header(&response, "x-countersign-organization"),
        environment_id: header(&response, "x-countersign-environment"),
        account_id: header(&response, "x-countersign-account"),
        account_number: header(&response, "x-countersign-account-number"),
        user_id: header(&response, "x-countersign-user-id"),
        actor: header(&response, "x-countersign-actor"),
        method: header(&response, "x-countersign-auth-method"),
    })
}

/// The outcome of a token exchange: the token, or the refusal.
async fn exchange(
    client: &reqwest::Client,
    base: &str,
    version: usize,
    credential: (&str, &str),
    context_username: &str,
) -> Result<String, Actual> {
    let response = client
        .post(format!("{base}/api/v3.{version}/authentication/apiUser"))
        .json(
            &json!({"request": {"apiUsername": credential.0, "key": credential.1,
                                  "contextUsername": context_username}}),
        )
        .send()
        .await
        .unwrap();
    if response.status() != StatusCode::OK {
        return Err(refusal_of(response, "token exchange").await);
    }
    let body: Value = response.json().await.unwrap();
    Ok(body["token"].as_str().unwrap().to_owned())
}

// ---------------------------------------------------------------------------------------------
// Cases.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dialect {
    Bearer,
    Legacy,
    Other,
}

impl Dialect {
    fn name(self) -> &'static str {
        match self {
            Self::Bearer => "bearer",
            Self::Legacy => "legacy",
            Self::Other => "other",
        }
    }
}

struct Case {
    dialect: Dialect,
    description: String,
    expected: Expect,
    /// Headers of the `/v1/verify` request; `None` when the outcome is already known (the token
    /// exchange was refused, so every request of that pair has that outcome).
    request: Option<Vec<(&'static str, String)>>,
    /// The original-URI headers sent with the request.
    uri: UriHeaders,
    known: Option<Actual>,
}

/// What an original URI means under SPEC §3 and §6.1, known by construction: the accounts its
/// `accounts/{id}` pairs name in any reading (as sent, then decoded with dot segments removed;
/// the first as sent is the effective one), or why it must be refused.
#[derive(Clone, Debug)]
enum UriMeaning {
    Names(Vec<String>),
    Refused(&'static str),
}

/// Original-URI headers, as raw bytes.
type UriHeaders = Vec<(&'static str, Vec<u8>)>;

/// The original-URI headers of case `index` naming `account` (SPEC §3, §6.1), in one of the
/// forms a proxy may pass on: each of the three header names, dot segments as sent and
/// percent-encoded, several `accounts/{id}` pairs, headers that agree or disagree — and the
/// forms that must be refused: an encoded slash or NUL, an empty account segment, a byte that is
/// not UTF-8, a dot segment above the root. `anchor` is another account reference the form may
/// mention beside `account`.
fn uri_form(index: usize, account: Option<&str>, anchor: &str) -> (UriHeaders, UriMeaning) {
    let names = |list: &[&str]| UriMeaning::Names(list.iter().map(|s| (*s).to_owned()).collect());
    let one = |name: &'static str, uri: String| vec![(name, uri.into_bytes())];
    let Some(r) = account else {
        return match index % 4 {
            0 => (
                one("X-Original-URI", "/restapi/v2.1/login_information".into()),
                names(&[]),
            ),
            2 => {
                let mut uri = b"/restapi/v2.1/login_information?".to_vec();
                uri.push(0xFF);
                (
                    vec![("X-Forwarded-Uri", uri)],
                    UriMeaning::Refused("the original URI is not UTF-8"),
                )
            }
            _ => (Vec::new(), names(&[])),
        };
    };
    let plain = format!("/restapi/v2.1/accounts/{r}/envelopes");
    match index % 12 {
        0 => (one("X-Original-URI", plain), names(&[r])),
        1 => (one("X-Forwarded-Uri", plain), names(&[r])),
        2 => (one("X-Envoy-Original-Path", plain), names(&[r])),
        3 => (
            one(
                "X-Original-URI",
                format!("/restapi/v2.1/accounts/{anchor}/envelopes/../../{r}/envelopes"),
            ),
            names(&[anchor, r]),
        ),
        4 => (
            one(
                "X-Forwarded-Uri",
                format!("/restapi/v2.1/accounts/{anchor}/%2e%2E/{r}/envelopes"),
            ),
            names(&[anchor, r]),
        ),
        5 => (
            one(
                "X-Original-URI",
                format!("/restapi/v2.1/accounts%2F{r}/envelopes"),
            ),
            UriMeaning::Refused("an encoded slash"),
        ),
        6 => (
            one(
                "X-Original-URI",
                format!("/restapi/v2.1/accounts//{r}/envelopes"),
            ),
            UriMeaning::Refused("an empty segment after accounts"),
        ),
        7 => {
            let mut uri = plain.into_bytes();
            uri.extend_from_slice(b"?\xff");
            (
                vec![("X-Original-URI", uri)],
                UriMeaning::Refused("the original URI is not UTF-8"),
            )
        }
        8 => (
            one(
                "X-Envoy-Original-Path",
                format!("/restapi/v2.1/accounts/{r}/x/accounts/{anchor}/envelopes"),
            ),
            names(&[r, anchor]),
        ),
        9 => {
            let other = format!("/restapi/v2.1/accounts/{anchor}/envelopes");
            let meaning = if other == plain {
                names(&[r])
            } else {
                UriMeaning::Refused("the original-URI headers disagree")
            };
            (
                vec![
                    ("X-Original-URI", plain.into_bytes()),
                    ("X-Forwarded-Uri", other.into_bytes()),
                ],
                meaning,
            )
        }
        10 => (
            one(
                "X-Original-URI",
                format!("/restapi/v2.1/accounts/{r}%00/envelopes"),
            ),
            UriMeaning::Refused("an encoded NUL"),
        ),
        _ => (
            one(
                "X-Forwarded-Uri",
                format!("/../restapi/v2.1/accounts/{r}/envelopes"),
            ),
            UriMeaning::Refused("a dot segment above the root"),
        ),
    }
}

fn show_uri(headers: &UriHeaders) -> String {
    headers
        .iter()
        .map(|(name, value)| format!("{name}: {}", String::from_utf8_lossy(value)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Path-account variants: absent, every account by UUID and by number, unknown ones.
fn path_variants(dir: &Directory) -> Vec<(String, Option<String>)> {
    let mut variants = vec![("absent".to_owned(), None)];
    for account in &dir.accounts {
        variants.push((
            format!("{} by UUID", account.label),
            Some(account.id.clone()),
        ));
        variants.push((
            format!("{} by number", account.label),
            Some(account.number.clone()),
        ));
    }
    variants.push(("unknown number".into(), Some(UNKNOWN_NUMBER.into())));
    variants.push(("unknown UUID".into(), Some(UNKNOWN_ACCOUNT_ID.into())));
    variants
}

/// `X-AS-UserContext` variants for a token acting as `name`.
fn context_variants(dir: &Directory, name: &str, person: Option<usize>) -> Vec<Option<String>> {
    let mut variants = vec![None, Some(name.to_uppercase()), Some(format!("{name}:"))];
    for (index, account) in dir.accounts.iter().enumerate() {
        variants.push(Some(if index % 2 == 0 {
            format!("{name}:{}", account.id)
        } else {
            format!(" {} : {} ", name.to_uppercase(), account.id)
        }));
    }
    // Another user with an account the token's user could use: only the name is wrong.
    let other = if name.eq_ignore_ascii_case(ADMIN_EMAIL) {
        "p1@a.test"
    } else {
        ADMIN_EMAIL
    };
    let account = person
        .and_then(|p| dir.people[p].members.first())
        .map_or(A1, |m| m.account);
    variants.push(Some(format!("{other}:{}", dir.accounts[account].id)));
    variants.push(Some("garbage-user-context".into()));
    variants.push(Some(format!("{name}:not-a-uuid")));
    variants
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// An `X-DocuSign-Authentication` value, JSON or XML (SPEC §5), built here by hand.
fn legacy_header(
    xml: bool,
    username: &str,
    password: &str,
    integrator_key: &str,
    sobo: Option<&str>,
) -> String {
    if xml {
        let sobo = sobo
            .map(|s| format!("<SendOnBehalfOf>{}</SendOnBehalfOf>", xml_escape(s)))
            .unwrap_or_default();
        format!(
            "<DocuSignCredentials><IntegratorKey>{}</IntegratorKey>{sobo}<Username>{}</Username><Password>{}</Password></DocuSignCredentials>",
            xml_escape(integrator_key),
            xml_escape(username),
            xml_escape(password)
        )
    } else {
        let mut value = json!({"Username": username, "Password": password,
                               "IntegratorKey": integrator_key});
        if let Some(sobo) = sobo {
            value["SendOnBehalfOf"] = json!(sobo);
        }
        value.to_string()
    }
}

/// Context usernames for the token exchange: every distinct email, two re-cased, one unknown.
fn context_names(dir: &Directory) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for person in &dir.people {
        if !names.iter().any(|n| n.eq_ignore_ascii_case(&person.email)) {
            names.push(person.email.clone());
        }
    }
    names.push("MIXED.CASE@A.TEST".into());
    names.push("B1@B.TEST".into());
    names.push(UNKNOWN_USER.into());
    names
}

async fn bearer_cases(
    app: &TestApp,
    client: &reqwest::Client,
    dir: &Arc<Directory>,
) -> (Vec<Case>, usize, usize) {
    let names = Arc::new(context_names(dir));
    let pairs: Arc<Vec<(usize, usize)>> = Arc::new(
        (0..dir.credentials.len())
            .flat_map(|c| (0..names.len()).map(move |n| (c, n)))
            .collect(),
    );
    let (client, base) = (client.clone(), app.base.clone());
    let (dir_for_work, names_for_work) = (dir.clone(), names.clone());
    let exchanged = run_bounded(pairs.clone(), move |pairs, index| {
        let (client, base) = (client.clone(), base.clone());
        let (dir, names) = (dir_for_work.clone(), names_for_work.clone());
        async move {
            let (credential, name) = pairs[index];
            let credential = &dir.credentials[credential];
            exchange(
                &client,
                &base,
                index % 10,
                (&credential.username, &credential.key),
                &names[name],
            )
            .await
        }
    })
    .await;

    let paths = path_variants(dir);
    let mut cases = Vec::new();
    let mut exchange_mismatches = 0;
    for (&(c, n), actual) in pairs.iter().zip(exchanged) {
        let credential = &dir.credentials[c];
        let name = &names[n];
        let oracle = oracle_exchange(dir, credential, name);
        let pair = format!(
            "bearer: credential {} (apiUsername {:?}), contextUsername {name:?}",
            credential.label, credential.username
        );
        let exchange_ok = match (&oracle, &actual) {
            (Ok(_), Ok(_)) => true,
            (Err(expected), Err(actual)) => judge(expected, actual) == Verdict::Match,
            _ => false,
        };
        if !exchange_ok {
            exchange_mismatches += 1;
        }
        if !exchange_ok && exchange_mismatches <= 20 {
            eprintln!(
                "TOKEN EXCHANGE MISMATCH: {pair}\n    expected {}\n    actual   {}",
                match &oracle {
                    Ok(person) => format!("a token acting as {}", dir.people[*person].label),
                    Err(refusal) => show_expect(dir, refusal),
                },
                match &actual {
                    Ok(_) => "a token".to_owned(),
                    Err(refusal) => show_actual(dir, refusal),
                }
            );
        }
        let person = oracle.as_ref().ok().copied().or_else(|| {
            credential
                .identity
                .as_ref()
                .and_then(|i| dir.find(i.organization, name, false))
        });
        for context in context_variants(dir, name, person) {
            for (path_label, path) in &paths {
                let index = cases.len();
                let (uri, meaning) = uri_form(index, path.as_deref(), &dir.accounts[A1].number);
                let expected = match &oracle {
                    Err(refusal) => refusal.clone(),
                    Ok(person) => oracle_bearer(
                        dir,
                        credential.identity.as_ref().unwrap(),
                        *person,
                        context.as_deref(),
                        &meaning,
                    ),
                };
                let description = format!(
                    "{pair}, X-AS-UserContext {context:?}, path {path_label} [{}]",
                    show_uri(&uri)
                );
                let (request, known) = match &actual {
                    Err(refusal) => (None, Some(refusal.clone())),
                    Ok(token) => {
                        // The scheme matches in any case (SPEC §4).
                        let scheme = ["Bearer", "bearer", "BEARER"][index % 3];
                        let mut headers = vec![("Authorization", format!("{scheme} {token}"))];
                        if let Some(context) = &context {
                            headers.push(("X-AS-UserContext", context.clone()));
                        }
                        (Some(headers), None)
                    }
                };
                cases.push(Case {
                    dialect: Dialect::Bearer,
                    description,
                    expected,
                    request,
                    uri,
                    known,
                });
            }
        }
    }
    (cases, pairs.len(), exchange_mismatches)
}

fn legacy_cases(dir: &Directory) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut add = |username: &str,
                   password: &str,
                   password_label: &str,
                   key: &IntegratorKeyModel,
                   sobo: Option<&str>,
                   path: Option<(&str, &str)>| {
        let index = cases.len();
        let xml = (index / 3) % 2 == 1;
        let value = legacy_header(xml, username, password, &key.key, sobo);
        let (uri, meaning) = uri_form(
            index,
            path.map(|(_, reference)| reference),
            &dir.accounts[A1].number,
        );
        let description = format!(
            "legacy ({}): Username {username:?}, Password {password_label}, IntegratorKey {}, SendOnBehalfOf {sobo:?}, path {} [{}]",
            if xml { "XML" } else { "JSON" },
            key.label,
            path.map_or("absent", |(label, _)| label),
            show_uri(&uri)
        );
        let expected = oracle_legacy(dir, username, password, key, sobo, &meaning);
        cases.push(Case {
            dialect: Dialect::Legacy,
            description,
            expected,
            request: Some(vec![("X-DocuSign-Authentication", value)]),
            uri,
            known: None,
        });
    };
    let path_labels: Vec<(String, String)> = dir
        .accounts
        .iter()
        .flat_map(|a| {
            [
                (format!("{} by number", a.label), a.number.clone()),
                (format!("{} by UUID", a.label), a.id.clone()),
            ]
        })
        .chain([
            ("unknown number".to_owned(), UNKNOWN_NUMBER.to_owned()),
            ("unknown UUID".to_owned(), UNKNOWN_ACCOUNT_ID.to_owned()),
        ])
        .collect();
    let all_paths: Vec<Option<(&str, &str)>> = std::iter::once(None)
        .chain(
            path_labels
                .iter()
                .map(|(l, r)| Some((l.as_str(), r.as_str()))),
        )
        .collect();
    let mut sobo_names: Vec<String> = Vec::new();
    for person in &dir.people {
        if !sobo_names.contains(&person.email) {
            sobo_names.push(person.email.clone());
        }
    }
    sobo_names.push(UNKNOWN_USER.into());
    let all_sobo: Vec<Option<&str>> = std::iter::once(None)
        .chain(sobo_names.iter().map(|s| Some(s.as_str())))
        .collect();
    let no_password = "no-password-set-1";

    // 1. Credentials that can authenticate (the user's own password, an active key of the user's
    //    organization): every Send-On-Behalf-Of user (by email) × every path account (absent,
    //    each account by number, an unknown one; and by UUID without Send-On-Behalf-Of).
    for key in dir.integrator_keys.iter().filter(|k| k.active) {
        let organization = key.organization.unwrap();
        let mut usernames: Vec<(String, String)> = dir
            .people
            .iter()
            .filter(|p| p.organization == organization)
            .map(|p| {
                (
                    p.email.clone(),
                    p.password.clone().unwrap_or_else(|| no_password.into()),
                )
            })
            .collect();
        if organization == ORG_A {
            usernames.push(("mixed.case@a.test".into(), "p&ss<w>\"rd'x!".into()));
            usernames.push((ADMIN_EMAIL.to_uppercase(), ADMIN_PASSWORD.into()));
        }
        for (username, password) in &usernames {
            for sobo in &all_sobo {
                // Accounts by UUID as well as by number without SOBO; by number with it.
                let paths = all_paths.iter().filter(|p| {
                    sobo.is_none() || p.is_none_or(|(label, _)| !label.contains("UUID"))
                });
                for path in paths {
                    add(username, password, "right", key, *sobo, *path);
                }
            }
        }
        // The same users by id, Send-On-Behalf-Of users by id, with and without a path.
        for person in dir.people.iter().filter(|p| p.organization == organization) {
            let password = person.password.as_deref().unwrap_or(no_password);
            let own = person
                .members
                .first()
                .map_or(&dir.accounts[A1].number, |m| {
                    &dir.accounts[m.account].number
                });
            for sobo in std::iter::once(None).chain(dir.people.iter().map(|p| Some(p.id.as_str())))
            {
                for path in [None, Some(("first own account by number", own.as_str()))] {
                    add(&person.id, password, "right", key, sobo, path);
                }
            }
        }
    }

    // 2. Every other credential: wrong passwords, revoked and unknown integrator keys, keys of
    //    the other organization, unknown users; a few SOBO users and paths each.
    let few_sobo = [None, Some("p1@a.test"), Some("b1@b.test")];
    let few_paths = [
        None,
        Some(("A1 by number", dir.accounts[A1].number.as_str())),
        Some(("B1 by UUID", dir.accounts[B1].id.as_str())),
    ];
    for key in &dir.integrator_keys {
        for person in &dir.people {
            let right = person.password.as_deref().unwrap_or(no_password);
            for username in [&person.email, &person.id] {
                for (password, label) in [(right, "right"), (WRONG_PASSWORD, "wrong")] {
                    let covered = key.active
                        && key.organization == Some(person.organization)
                        && label == "right";
                    if covered {
                        continue;
                    }
                    for sobo in few_sobo {
                        for path in few_paths {
                            add(username, password, label, key, sobo, path);
                        }
                    }
                }
            }
        }
        for sobo in few_sobo {
            for path in few_paths {
                add(UNKNOWN_USER, "any-password-1", "any", key, sobo, path);
            }
        }
    }
    cases
}

/// A hand-written case: label, request headers, expected outcome.
type OtherRow = (&'static str, Vec<(&'static str, String)>, Expect);

/// Refusals without usable credentials (SPEC §4, §5 and the dialect rule of §6.1).
fn other_cases(dir: &Directory) -> Vec<Case> {
    let a1 = &dir.accounts[A1].number;
    let key = &dir.integrator_keys[0].key;
    let unauthorized = || refuse(401, Some("UNAUTHORIZED"), "no or invalid bearer token");
    let partner = || {
        refuse(
            401,
            Some("PARTNER_AUTHENTICATION_FAILED"),
            "legacy header missing or unparseable",
        )
    };
    let restapi = format!("/restapi/v2.1/accounts/{a1}/envelopes");
    let rows: Vec<OtherRow> = vec![
        ("no credentials, no URI", vec![], unauthorized()),
        (
            "no credentials, AssureSign URI",
            vec![("X-Original-URI", "/api/v3.7/documents".into())],
            unauthorized(),
        ),
        (
            "no credentials, DocuSign URI",
            vec![("X-Original-URI", restapi.clone())],
            partner(),
        ),
        (
            "garbage bearer token",
            vec![("Authorization", "Bearer cst_garbage".into())],
            unauthorized(),
        ),
        (
            "garbage bearer token with a DocuSign URI",
            vec![
                ("Authorization", "bearer not-a-token".into()),
                ("X-Original-URI", restapi.clone()),
            ],
            unauthorized(),
        ),
        (
            "unparseable legacy header",
            vec![("X-DocuSign-Authentication", "garbage".into())],
            partner(),
        ),
        (
            "legacy header without an integrator key",
            vec![(
                "X-DocuSign-Authentication",
                json!({"Username": ADMIN_EMAIL, "Password": ADMIN_PASSWORD}).to_string(),
            )],
            partner(),
        ),
        (
            "legacy XML header with an empty integrator key",
            vec![(
                "X-DocuSign-Authentication",
                format!(
                    "<DocuSignCredentials><Username>{ADMIN_EMAIL}</Username><Password>{ADMIN_PASSWORD}</Password><IntegratorKey> </IntegratorKey></DocuSignCredentials>"
                ),
            )],
            partner(),
        ),
        (
            "legacy header with the integrator key only",
            vec![(
                "X-DocuSign-Authentication",
                json!({"IntegratorKey": key}).to_string(),
            )],
            // Username and password missing: the SPEC fixes only the 401.
            refuse(401, None, "legacy header without username or password"),
        ),
    ];
    rows.into_iter()
        .map(|(label, headers, expected)| Case {
            dialect: Dialect::Other,
            description: format!("{label}: {headers:?}"),
            expected,
            request: Some(headers),
            uri: Vec::new(),
            known: None,
        })
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
