//! The one decision per dialect (SPEC §3, §5): given the directory facts of a verified
//! credential and the parsed request, which account the request acts in and as whom — or why
//! it may not. Every verifier (the server's full path, its per-thread fast path, the
//! in-process `countersign-verify`) calls these functions; none re-implements them, and caches
//! hold facts or these functions' outcomes, never their rules.

use crate::access::{AccountError, AccountRequest, effective_account};
use crate::api_user::Scope;
use crate::directory::{Membership, Permissions};
use crate::ids::UserId;
use crate::uri::PathAccounts;

/// A session token (or any credential with a scope) acting as a user: the effective account.
///
/// # Errors
/// Why no account may be used; see [`AccountError`].
pub fn bearer<'m>(
    scope: &Scope,
    acting_email: &str,
    memberships: &'m [Membership],
    request: &AccountRequest<'_>,
) -> Result<&'m Membership, AccountError> {
    effective_account(scope, acting_email, memberships, request)
}

/// An OAuth access token acting as a user (SPEC §12): DocuSign semantics — every account of
/// the user may be used, the request path names the account (every account it names must be
/// the user's), and without one the user's only or default account is the effective account.
///
/// # Errors
/// Why no account may be used; see [`AccountError`].
pub fn oauth_user<'m>(
    acting_email: &str,
    memberships: &'m [Membership],
    path: &PathAccounts,
) -> Result<&'m Membership, AccountError> {
    let request = AccountRequest {
        user_context: None,
        path,
    };
    effective_account(&Scope::Organization, acting_email, memberships, &request)
}

/// An OAuth application token (no user) acts in no account: a request path naming any account
/// is refused, as is one that cannot be read safely.
///
/// # Errors
/// `PathAccountNotAvailable` for a named account, `PathRefused` for an unreadable URI.
pub fn oauth_application(path: &PathAccounts) -> Result<(), AccountError> {
    match path {
        PathAccounts::Refused(refusal) => Err(AccountError::PathRefused(*refusal)),
        PathAccounts::Named(accounts) if !accounts.is_empty() => {
            Err(AccountError::PathAccountNotAvailable)
        }
        PathAccounts::Named(_) | PathAccounts::None => Ok(()),
    }
}

/// The user a legacy header asks to act for (`SendOnBehalfOf`), as found in the directory.
#[derive(Clone, Copy, Debug)]
pub enum OnBehalfOf<'a> {
    /// No `SendOnBehalfOf` was sent: the authenticated user acts as themself.
    Nobody,
    /// `SendOnBehalfOf` names nobody in the actor's organization.
    Unknown,
    /// The user named.
    User {
        /// Their id.
        id: UserId,
        /// Whether their status is active.
        is_active: bool,
        /// Their memberships.
        memberships: &'a [Membership],
    },
}

/// What a legacy header may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DocuSignGrant<'a> {
    /// The authenticated user's membership of the effective account.
    pub actor_account: &'a Membership,
    /// With Send-On-Behalf-Of: the acted-for user's membership of that same account.
    pub on_behalf_of: Option<&'a Membership>,
}

/// Why a legacy header may not proceed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DocuSignDenial {
    /// No effective account (path, ambiguity, no account).
    #[error(transparent)]
    Account(#[from] AccountError),
    /// Any Send-On-Behalf-Of failure: the actor lacks `sobo` + `account_wide` in the account,
    /// or the user acted for is unknown, inactive or lacks `send` there.
    #[error("send-on-behalf-of is not permitted")]
    OnBehalfOf,
}

/// The rights an actor needs in an account to send on behalf of others there.
const SOBO_RIGHTS: Permissions = Permissions::SOBO.with(Permissions::ACCOUNT_WIDE);

/// Whether an actor's membership lets them act for a user with `target` membership of the
/// same account.
fn may_act_for(actor: &Membership, target: &Membership) -> bool {
    actor.account_id == target.account_id
        && actor.permissions.contains(SOBO_RIGHTS)
        && target.permissions.contains(Permissions::SEND)
}

/// A legacy header's request: the effective account of the authenticated user (a legacy user
/// has organization scope and no `X-AS-UserContext`), then Send-On-Behalf-Of in that account.
///
/// # Errors
/// Why the header may not act; see [`DocuSignDenial`].
pub fn docusign<'m>(
    actor_email: &str,
    actor_memberships: &'m [Membership],
    path: &PathAccounts,
    on_behalf_of: OnBehalfOf<'m>,
) -> Result<DocuSignGrant<'m>, DocuSignDenial> {
    let request = AccountRequest {
        user_context: None,
        path,
    };
    let actor_account = effective_account(
        &Scope::Organization,
        actor_email,
        actor_memberships,
        &request,
    )?;
    let on_behalf_of = match on_behalf_of {
        OnBehalfOf::Nobody => None,
        OnBehalfOf::Unknown => return Err(DocuSignDenial::OnBehalfOf),
        OnBehalfOf::User {
            is_active,
            memberships,
            ..
        } => {
            let target = memberships
                .iter()
                .find(|m| m.account_id == actor_account.account_id)
                .filter(|target| is_active && may_act_for(actor_account, target))
                .ok_or(DocuSignDenial::OnBehalfOf)?;
            Some(target)
        }
    };
    Ok(DocuSignGrant {
        actor_account,
        on_behalf_of,
    })
}

/// The accounts `login_information` lists under Send-On-Behalf-Of: those of the acted-for user
/// where the actor holds `sobo` + `account_wide` and the acted-for user holds `send` — never
/// further than the actor's own rights (SPEC §5). Empty when the user is unknown or inactive.
pub fn on_behalf_of_accounts<'m>(
    actor_memberships: &[Membership],
    on_behalf_of: OnBehalfOf<'m>,
) -> Vec<&'m Membership> {
    let OnBehalfOf::User {
        is_active: true,
        memberships,
        ..
    } = on_behalf_of
    else {
        return Vec::new();
    };
    memberships
        .iter()
        .filter(|target| actor_memberships.iter().any(|a| may_act_for(a, target)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::AccountRef;
    use crate::ids::{AccountId, EnvironmentId};
    use crate::uri::UriRefusal;
    use uuid::Uuid;

    fn membership(
        user: u128,
        account: u128,
        permissions: Permissions,
        default: bool,
    ) -> Membership {
        Membership {
            user_id: UserId(Uuid::from_u128(user)),
            account_id: AccountId(Uuid::from_u128(account)),
            account_number: format!("{}", 1000 + account),
            account_name: format!("account {account}"),
            environment_id: EnvironmentId(Uuid::from_u128(1)),
            permissions,
            is_default: default,
        }
    }

    const ALL: Permissions = Permissions::SEND
        .with(Permissions::SOBO)
        .with(Permissions::ACCOUNT_WIDE);

    fn target(memberships: &[Membership]) -> OnBehalfOf<'_> {
        OnBehalfOf::User {
            id: UserId(Uuid::from_u128(2)),
            is_active: true,
            memberships,
        }
    }

    #[test]
    fn sobo_needs_both_rights_of_the_actor_and_send_of_the_target() {
        let actor = [membership(1, 10, ALL, true)];
        let sender = [membership(2, 10, Permissions::SEND, true)];
        let grant = docusign("a", &actor, &PathAccounts::None, target(&sender));
        assert_eq!(grant.map(|g| g.on_behalf_of), Ok(Some(&sender[0])));
        let weak_actor = [membership(
            1,
            10,
            Permissions::SEND.with(Permissions::SOBO),
            true,
        )];
        assert_eq!(
            docusign("a", &weak_actor, &PathAccounts::None, target(&sender)),
            Err(DocuSignDenial::OnBehalfOf)
        );
        let viewer = [membership(2, 10, Permissions::none(), true)];
        assert_eq!(
            docusign("a", &actor, &PathAccounts::None, target(&viewer)),
            Err(DocuSignDenial::OnBehalfOf)
        );
        let elsewhere = [membership(2, 11, Permissions::SEND, true)];
        assert_eq!(
            docusign("a", &actor, &PathAccounts::None, target(&elsewhere)),
            Err(DocuSignDenial::OnBehalfOf)
        );
        assert_eq!(
            docusign("a", &actor, &PathAccounts::None, OnBehalfOf::Unknown),
            Err(DocuSignDenial::OnBehalfOf)
        );
        let disabled = OnBehalfOf::User {
            id: UserId(Uuid::from_u128(2)),
            is_active: false,
            memberships: &sender,
        };
        assert_eq!(
            docusign("a", &actor, &PathAccounts::None, disabled),
            Err(DocuSignDenial::OnBehalfOf)
        );
    }

    #[test]
    fn the_path_decides_before_sobo() {
        let actor = [membership(1, 10, ALL, true)];
        let sender = [membership(2, 10, Permissions::SEND, true)];
        let foreign = PathAccounts::Named(vec![AccountRef::Number("1011".into())]);
        assert_eq!(
            docusign("a", &actor, &foreign, target(&sender)),
            Err(DocuSignDenial::Account(
                AccountError::PathAccountNotAvailable
            ))
        );
        let refused = PathAccounts::Refused(UriRefusal::EncodedSeparator);
        assert_eq!(
            docusign("a", &actor, &refused, OnBehalfOf::Nobody),
            Err(DocuSignDenial::Account(AccountError::PathRefused(
                UriRefusal::EncodedSeparator
            )))
        );
    }

    #[test]
    fn oauth_tokens_take_the_account_from_the_path_or_none_at_all() {
        let user = [
            membership(1, 10, Permissions::SEND, false),
            membership(1, 11, Permissions::SEND, true),
        ];
        assert_eq!(
            oauth_user("a", &user, &PathAccounts::None).map(|m| m.account_id),
            Ok(AccountId(Uuid::from_u128(11)))
        );
        let tenth = PathAccounts::Named(vec![AccountRef::Number("1010".into())]);
        assert_eq!(
            oauth_user("a", &user, &tenth).map(|m| m.account_id),
            Ok(AccountId(Uuid::from_u128(10)))
        );
        let foreign = PathAccounts::Named(vec![AccountRef::Number("1012".into())]);
        assert_eq!(
            oauth_user("a", &user, &foreign),
            Err(AccountError::PathAccountNotAvailable)
        );
        assert_eq!(oauth_application(&PathAccounts::None), Ok(()));
        assert_eq!(
            oauth_application(&tenth),
            Err(AccountError::PathAccountNotAvailable)
        );
        let refused = PathAccounts::Refused(UriRefusal::NotUtf8);
        assert_eq!(
            oauth_application(&refused),
            Err(AccountError::PathRefused(UriRefusal::NotUtf8))
        );
    }

    #[test]
    fn login_accounts_under_sobo_stop_at_the_actors_rights() {
        // The actor may act in 10 only; the target is also an admin in a private account 12.
        let actor = [
            membership(1, 10, ALL, true),
            membership(1, 11, Permissions::SEND, false),
        ];
        let sender = [
            membership(2, 10, Permissions::SEND, true),
            membership(2, 11, Permissions::SEND, false),
            membership(2, 12, Permissions::SEND.with(Permissions::ADMIN), false),
        ];
        let listed = on_behalf_of_accounts(&actor, target(&sender));
        assert_eq!(listed, vec![&sender[0]]);
        assert!(on_behalf_of_accounts(&actor, OnBehalfOf::Unknown).is_empty());
    }
}
