//! The directory model the oracle reads, the outcomes it compares, and the oracle itself,
//! written from SPEC §3, §4, §5 and §6.1 alone (no call into countersign's access or scope code).

use super::*;

// ---------------------------------------------------------------------------------------------
// The directory model the oracle reads.

pub(crate) struct Environment {
    pub(crate) id: String,
}

pub(crate) struct Account {
    pub(crate) id: String,
    pub(crate) number: String,
    pub(crate) environment: usize,
    pub(crate) label: &'static str,
}

#[derive(Clone, Copy)]
pub(crate) struct Member {
    pub(crate) account: usize,
    pub(crate) permissions: u8,
    pub(crate) is_default: bool,
}

pub(crate) fn member(account: usize, permissions: u8, is_default: bool) -> Member {
    Member {
        account,
        permissions,
        is_default,
    }
}

pub(crate) struct Person {
    pub(crate) label: String,
    pub(crate) id: String,
    pub(crate) email: String,
    pub(crate) organization: usize,
    pub(crate) active: bool,
    pub(crate) password: Option<String>,
    pub(crate) members: Vec<Member>,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum ScopeModel {
    User(usize),
    Environment(usize),
    Organization,
}

/// What a credential authenticates as, when it authenticates at all.
pub(crate) struct ApiIdentity {
    pub(crate) organization: usize,
    pub(crate) scope: ScopeModel,
    pub(crate) username: String,
}

pub(crate) struct Credential {
    pub(crate) label: String,
    pub(crate) username: String,
    pub(crate) key: String,
    pub(crate) identity: Option<ApiIdentity>,
}

pub(crate) struct IntegratorKeyModel {
    pub(crate) label: &'static str,
    pub(crate) key: String,
    pub(crate) organization: Option<usize>,
    pub(crate) active: bool,
}

#[derive(Default)]
pub(crate) struct Directory {
    pub(crate) organizations: Vec<String>,
    pub(crate) environments: Vec<Environment>,
    pub(crate) accounts: Vec<Account>,
    pub(crate) people: Vec<Person>,
    pub(crate) credentials: Vec<Credential>,
    pub(crate) integrator_keys: Vec<IntegratorKeyModel>,
}

impl Directory {
    /// A user of `organization` by email (case-insensitive, SPEC §1) or, when `by_id`, by id.
    pub(crate) fn find(&self, organization: usize, name: &str, by_id: bool) -> Option<usize> {
        let name = name.trim();
        self.people.iter().position(|p| {
            p.organization == organization
                && (p.email.eq_ignore_ascii_case(name)
                    || (by_id && p.id.eq_ignore_ascii_case(name)))
        })
    }

    pub(crate) fn account_matches(&self, account: usize, reference: &str) -> bool {
        let account = &self.accounts[account];
        account.id.eq_ignore_ascii_case(reference) || account.number == reference
    }

    pub(crate) fn grant(
        &self,
        person: usize,
        account: usize,
        actor: String,
        method: &'static str,
    ) -> Expect {
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
pub(crate) struct Grant {
    pub(crate) organization_id: String,
    pub(crate) environment_id: String,
    pub(crate) account_id: String,
    pub(crate) account_number: String,
    pub(crate) user_id: String,
    pub(crate) actor: String,
    pub(crate) method: String,
}

#[derive(Clone, Debug)]
pub(crate) enum Expect {
    Grant(Box<Grant>),
    /// `code` is checked only where the SPEC fixes it.
    Refuse {
        status: u16,
        code: Option<&'static str>,
        why: &'static str,
    },
}

pub(crate) fn refuse(status: u16, code: Option<&'static str>, why: &'static str) -> Expect {
    Expect::Refuse { status, code, why }
}

#[derive(Clone, Debug)]
pub(crate) enum Actual {
    Grant(Grant),
    Refuse {
        status: u16,
        code: String,
        stage: &'static str,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Match,
    UnexpectedGrant,
    WrongIdentity,
    UnexpectedRefusal,
    WrongRefusal,
}

pub(crate) fn judge(expected: &Expect, actual: &Actual) -> Verdict {
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

pub(crate) fn show_grant(dir: &Directory, grant: &Grant) -> String {
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

pub(crate) fn show_expect(dir: &Directory, expected: &Expect) -> String {
    match expected {
        Expect::Grant(grant) => show_grant(dir, grant),
        Expect::Refuse { status, code, why } => format!(
            "{status} {} because {why}",
            code.unwrap_or("(any errorCode)")
        ),
    }
}

pub(crate) fn show_actual(dir: &Directory, actual: &Actual) -> String {
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
pub(crate) fn oracle_exchange(
    dir: &Directory,
    credential: &Credential,
    name: &str,
) -> Result<usize, Expect> {
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
pub(crate) fn oracle_bearer(
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
pub(crate) fn oracle_legacy(
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
