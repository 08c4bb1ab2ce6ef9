//! Moving an integration off the legacy header (SPEC §11): the narrowest API-user scope that
//! covers its recorded usage, and a dry run of that scope over the recorded requests.

use crate::api_user::Scope;
use crate::directory::Membership;
use crate::ids::{AccountId, EnvironmentId, UserId};
use std::collections::BTreeSet;

/// Recorded legacy requests acting as one user, in one account (or in none, e.g.
/// `login_information`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedUse {
    /// The user acted as (the Send-On-Behalf-Of user, else the authenticated user).
    pub user_id: UserId,
    /// The account used, with its environment.
    pub account: Option<(AccountId, EnvironmentId)>,
    /// How many requests.
    pub requests: i64,
}

/// The narrowest scope covering every recorded use: one user → `user`; several users whose
/// accounts all lie in one environment → `environment`; otherwise `organization`. `None` when
/// nothing is recorded.
pub fn narrowest_scope(uses: &[RecordedUse]) -> Option<Scope> {
    let users: BTreeSet<UserId> = uses
        .iter()
        .filter(|u| u.requests > 0)
        .map(|u| u.user_id)
        .collect();
    let mut users = users.into_iter();
    let first = users.next()?;
    if users.next().is_none() {
        return Some(Scope::User(first));
    }
    let environments: BTreeSet<EnvironmentId> = uses
        .iter()
        .filter_map(|u| u.account.map(|(_, env)| env))
        .collect();
    let unattributed = uses.iter().any(|u| u.account.is_none() && u.requests > 0);
    match (environments.len(), unattributed) {
        (1, false) => environments.into_iter().next().map(Scope::Environment),
        _ => Some(Scope::Organization),
    }
}

/// Why a recorded use would not be allowed under a scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Uncovered {
    /// The user no longer exists or is disabled.
    UserInactive,
    /// The scope does not admit the user.
    UserOutsideScope,
    /// The user is no longer a member of the account, or the account lies outside the scope.
    AccountNotAvailable,
}

impl Uncovered {
    /// A short explanation.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::UserInactive => "the user no longer exists or is disabled",
            Self::UserOutsideScope => "the scope does not admit the user",
            Self::AccountNotAvailable => {
                "the account is not available to the user within the scope"
            }
        }
    }
}

/// The outcome of a dry run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Requests the scope would have allowed.
    pub covered: i64,
    /// All recorded requests.
    pub total: i64,
    /// Uses it would not have allowed, with why.
    pub uncovered: Vec<(RecordedUse, Uncovered)>,
}

/// Replays the recorded uses against a scope, with each user's current state: `facts(user)`
/// returns whether the user is active and their memberships, or `None` when the user is gone.
pub fn dry_run<'f>(
    scope: &Scope,
    uses: &[RecordedUse],
    facts: impl Fn(UserId) -> Option<(bool, &'f [Membership])>,
) -> Coverage {
    let mut coverage = Coverage::default();
    for recorded in uses {
        coverage.total += recorded.requests;
        let verdict = match facts(recorded.user_id) {
            None | Some((false, _)) => Err(Uncovered::UserInactive),
            Some((true, memberships)) if !scope.admits_user(recorded.user_id, memberships) => {
                Err(Uncovered::UserOutsideScope)
            }
            Some((true, memberships)) => match recorded.account {
                None => Ok(()),
                Some((account, _)) => {
                    let usable = memberships
                        .iter()
                        .any(|m| m.account_id == account && scope.admits_account(m));
                    if usable {
                        Ok(())
                    } else {
                        Err(Uncovered::AccountNotAvailable)
                    }
                }
            },
        };
        match verdict {
            Ok(()) => coverage.covered += recorded.requests,
            Err(why) => coverage.uncovered.push((recorded.clone(), why)),
        }
    }
    coverage
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::Permissions;
    use uuid::Uuid;

    fn user(n: u128) -> UserId {
        UserId(Uuid::from_u128(n))
    }

    fn used(u: u128, account: u128, env: u128, requests: i64) -> RecordedUse {
        RecordedUse {
            user_id: user(u),
            account: Some((
                AccountId(Uuid::from_u128(account)),
                EnvironmentId(Uuid::from_u128(env)),
            )),
            requests,
        }
    }

    fn member(u: u128, account: u128, env: u128) -> Membership {
        Membership {
            user_id: user(u),
            account_id: AccountId(Uuid::from_u128(account)),
            account_number: "1".into(),
            account_name: "a".into(),
            environment_id: EnvironmentId(Uuid::from_u128(env)),
            permissions: Permissions::SEND,
            is_default: true,
        }
    }

    #[test]
    fn one_user_gives_user_scope() {
        assert_eq!(
            narrowest_scope(&[used(1, 10, 100, 5), used(1, 11, 101, 2)]),
            Some(Scope::User(user(1)))
        );
    }

    #[test]
    fn several_users_in_one_environment_give_environment_scope() {
        let scope = narrowest_scope(&[used(1, 10, 100, 5), used(2, 11, 100, 2)]);
        assert_eq!(
            scope,
            Some(Scope::Environment(EnvironmentId(Uuid::from_u128(100))))
        );
    }

    #[test]
    fn several_environments_give_organization_scope() {
        assert_eq!(
            narrowest_scope(&[used(1, 10, 100, 5), used(2, 11, 101, 2)]),
            Some(Scope::Organization)
        );
        assert_eq!(narrowest_scope(&[]), None);
    }

    #[test]
    fn dry_run_counts_covered_and_explains_the_rest() {
        let memberships_1 = vec![member(1, 10, 100)];
        let memberships_2 = vec![member(2, 11, 100)];
        let uses = [
            used(1, 10, 100, 5),
            used(2, 11, 100, 3),
            used(2, 12, 100, 1),
            used(3, 10, 100, 4),
        ];
        let scope = Scope::Environment(EnvironmentId(Uuid::from_u128(100)));
        let coverage = dry_run(&scope, &uses, |u| {
            if u == user(1) {
                Some((true, memberships_1.as_slice()))
            } else if u == user(2) {
                Some((true, memberships_2.as_slice()))
            } else {
                Some((false, &[][..]))
            }
        });
        assert_eq!(coverage.total, 13);
        assert_eq!(coverage.covered, 8);
        assert_eq!(coverage.uncovered.len(), 2);
        assert_eq!(coverage.uncovered[0].1, Uncovered::AccountNotAvailable);
        assert_eq!(coverage.uncovered[1].1, Uncovered::UserInactive);
    }
}
