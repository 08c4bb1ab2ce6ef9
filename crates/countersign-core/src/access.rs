//! Who may act as whom, and in which account (SPEC §3): the `X-AS-UserContext` header, the
//! account named in a request path, and the choice of the effective account.

use crate::api_user::Scope;
use crate::directory::Membership;
use crate::ids::AccountId;
pub use crate::uri::AccountRef;
use crate::uri::{PathAccounts, UriRefusal};

/// Longest accepted `X-AS-UserContext` value.
pub const MAX_USER_CONTEXT_LEN: usize = 512;

/// A parsed `X-AS-UserContext: {username}:{contextId}` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserContext {
    /// The username half, trimmed.
    pub username: String,
    /// The context id half, trimmed; `None` when missing or empty.
    pub context_id: Option<String>,
}

/// Parses `X-AS-UserContext`: split on the first `:`, trim both halves.
pub fn parse_user_context(raw: &str) -> UserContext {
    let (username, context) = match raw.split_once(':') {
        Some((username, context)) => (username, Some(context)),
        None => (raw, None),
    };
    let context_id = context
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    UserContext {
        username: username.trim().to_owned(),
        context_id,
    }
}

/// Why no effective account could be chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    /// `X-AS-UserContext` names another user than the session's.
    #[error("the user context does not match the token's user")]
    ContextUserMismatch,
    /// The context id is not an account of the user within scope.
    #[error("the requested account is not available to the user")]
    ContextAccountNotAvailable,
    /// The account in the request path is not available to the user.
    #[error("the account in the path is not available to the user")]
    PathAccountNotAvailable,
    /// The original URI cannot be read safely (SPEC §3: the check fails closed).
    #[error("the original URI was refused: {0}")]
    PathRefused(UriRefusal),
    /// The user has no account within the credential's scope.
    #[error("the user has no account within the credential's scope")]
    NoAccountInScope,
    /// Several accounts qualify and none is chosen.
    #[error("several accounts are available; choose one with X-AS-UserContext")]
    Ambiguous,
}

impl AccountError {
    /// The refusal's message for the AssureSign dialect and forward auth (the 403 answers;
    /// `Ambiguous` answers 400 with its own message).
    pub fn message(&self) -> &'static str {
        match self {
            Self::ContextUserMismatch => "X-AS-UserContext names a different user than the token.",
            Self::ContextAccountNotAvailable => {
                "The account in X-AS-UserContext is not available to this user."
            }
            Self::PathAccountNotAvailable => {
                "The account in the request path is not available to this user."
            }
            Self::PathRefused(_) => {
                "The original request URI cannot be read safely, so its account cannot be checked."
            }
            Self::NoAccountInScope => "The user has no account within the API user's scope.",
            Self::Ambiguous => "Several accounts are available; choose one with X-AS-UserContext.",
        }
    }
}

/// What the request asked for.
#[derive(Clone, Debug)]
pub struct AccountRequest<'a> {
    /// The parsed `X-AS-UserContext`, when sent.
    pub user_context: Option<&'a UserContext>,
    /// The accounts named by the original request URI (or why it was refused).
    pub path: &'a PathAccounts,
}

impl Default for AccountRequest<'_> {
    fn default() -> Self {
        const NONE: &PathAccounts = &PathAccounts::None;
        Self {
            user_context: None,
            path: NONE,
        }
    }
}

/// Chooses the effective account of a request acting as a user (SPEC §3).
///
/// `acting_email` is the acting user's email; `memberships` are the acting user's; only those
/// the scope admits are usable. Every account the original URI names must be usable; the first
/// one it names is the effective account, and a context account must be that one.
///
/// # Errors
/// Returns why the request may not proceed; see [`AccountError`].
pub fn effective_account<'m>(
    scope: &Scope,
    acting_email: &str,
    memberships: &'m [Membership],
    request: &AccountRequest<'_>,
) -> Result<&'m Membership, AccountError> {
    if let PathAccounts::Refused(refusal) = request.path {
        return Err(AccountError::PathRefused(*refusal));
    }
    let usable = || memberships.iter().filter(|m| scope.admits_account(m));
    let mut chosen_by_context = None;
    if let Some(context) = request.user_context {
        if context.username.to_lowercase() != acting_email.to_lowercase() {
            return Err(AccountError::ContextUserMismatch);
        }
        if let Some(context_id) = &context.context_id {
            let id =
                AccountId::parse(context_id).ok_or(AccountError::ContextAccountNotAvailable)?;
            let membership = usable()
                .find(|m| m.account_id == id)
                .ok_or(AccountError::ContextAccountNotAvailable)?;
            chosen_by_context = Some(membership);
        }
    }
    let mut chosen_by_path = None;
    for path_account in request.path.accounts() {
        let membership = usable()
            .find(|m| path_account.names(m))
            .ok_or(AccountError::PathAccountNotAvailable)?;
        chosen_by_path.get_or_insert(membership);
    }
    if let Some(membership) = chosen_by_path {
        if let Some(by_context) = chosen_by_context
            && by_context.account_id != membership.account_id
        {
            return Err(AccountError::PathAccountNotAvailable);
        }
        return Ok(membership);
    }
    if let Some(membership) = chosen_by_context {
        return Ok(membership);
    }
    let mut candidates = usable();
    let first = candidates.next().ok_or(AccountError::NoAccountInScope)?;
    if candidates.next().is_none() {
        return Ok(first);
    }
    usable()
        .find(|m| m.is_default)
        .ok_or(AccountError::Ambiguous)
}

/// Extracts the token of an `Authorization: Bearer <token>` value (scheme case-insensitive).
///
/// Returns `None` for another scheme or an empty token.
pub fn bearer_token(authorization: &str) -> Option<&str> {
    let value = authorization.trim();
    let (scheme, rest) = value.split_once([' ', '\t'])?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = rest.trim();
    (!token.is_empty()).then_some(token)
}

/// Whether an `Authorization` value names the bearer scheme, case-insensitively after ASCII
/// white space (the token may still be missing or malformed). Read on bytes: a value that is not
/// UTF-8 can still name the scheme, and is then refused in the bearer dialect.
pub fn names_bearer_scheme(authorization: &[u8]) -> bool {
    authorization
        .trim_ascii_start()
        .get(..6)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case(b"bearer"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::Permissions;
    use crate::ids::{EnvironmentId, UserId};
    use proptest::prelude::*;

    #[test]
    fn the_bearer_scheme_is_named_after_ascii_white_space_only() {
        assert!(names_bearer_scheme(b"Bearer cst_x"));
        assert!(names_bearer_scheme(b" \tbEaReR"));
        assert!(names_bearer_scheme(b"bearer \xff\xfe"));
        assert!(!names_bearer_scheme(b"Basic eDp5"));
        assert!(!names_bearer_scheme(b"bear"));
        // A no-break space is not white space in a header: this is not the bearer scheme.
        assert!(!names_bearer_scheme("\u{a0}bearer cst_x".as_bytes()));
    }
    use uuid::Uuid;

    fn membership(account: u128, environment: u128, is_default: bool) -> Membership {
        Membership {
            user_id: UserId(Uuid::from_u128(1)),
            account_id: AccountId(Uuid::from_u128(account)),
            account_number: format!("{}", 1000 + account),
            account_name: format!("account {account}"),
            environment_id: EnvironmentId(Uuid::from_u128(environment)),
            permissions: Permissions::SEND,
            is_default,
        }
    }

    fn context(raw: &str) -> UserContext {
        parse_user_context(raw)
    }

    #[test]
    fn user_context_forms_are_parsed() {
        let id = Uuid::from_u128(10).to_string();
        assert_eq!(
            context(&format!("bob@x.com:{id}")),
            UserContext {
                username: "bob@x.com".into(),
                context_id: Some(id.clone())
            }
        );
        assert_eq!(context(&format!(" bob@x.com : {id} ")).context_id, Some(id));
        assert_eq!(context("bob@x.com").context_id, None);
        assert_eq!(context("bob@x.com:").context_id, None);
        assert_eq!(context("bob@x.com:  ").username, "bob@x.com");
    }

    #[test]
    fn single_account_is_chosen_without_header() {
        let memberships = [membership(10, 1, false)];
        let chosen = effective_account(
            &Scope::Organization,
            "bob@x.com",
            &memberships,
            &AccountRequest::default(),
        );
        assert_eq!(
            chosen.map(|m| m.account_id),
            Ok(AccountId(Uuid::from_u128(10)))
        );
    }

    #[test]
    fn default_account_breaks_ties_and_otherwise_header_is_required() {
        let with_default = [membership(10, 1, false), membership(11, 1, true)];
        let chosen = effective_account(
            &Scope::Organization,
            "b",
            &with_default,
            &AccountRequest::default(),
        );
        assert_eq!(
            chosen.map(|m| m.account_id),
            Ok(AccountId(Uuid::from_u128(11)))
        );
        let without = [membership(10, 1, false), membership(11, 1, false)];
        let chosen = effective_account(
            &Scope::Organization,
            "b",
            &without,
            &AccountRequest::default(),
        );
        assert_eq!(chosen, Err(AccountError::Ambiguous));
    }

    #[test]
    fn default_outside_scope_does_not_count() {
        let scope = Scope::Environment(EnvironmentId(Uuid::from_u128(1)));
        let memberships = [
            membership(10, 1, false),
            membership(11, 1, false),
            membership(12, 2, true),
        ];
        assert_eq!(
            effective_account(&scope, "b", &memberships, &AccountRequest::default()),
            Err(AccountError::Ambiguous)
        );
        let memberships = [membership(10, 1, false), membership(12, 2, true)];
        let chosen = effective_account(&scope, "b", &memberships, &AccountRequest::default());
        assert_eq!(
            chosen.map(|m| m.account_id),
            Ok(AccountId(Uuid::from_u128(10)))
        );
    }

    #[test]
    fn context_must_name_the_sessions_user_and_an_in_scope_account() {
        let memberships = [membership(10, 1, false), membership(11, 2, false)];
        let scope = Scope::Environment(EnvironmentId(Uuid::from_u128(1)));
        let mismatch = context("eve@x.com");
        let request = AccountRequest {
            user_context: Some(&mismatch),
            ..AccountRequest::default()
        };
        assert_eq!(
            effective_account(&scope, "bob@x.com", &memberships, &request),
            Err(AccountError::ContextUserMismatch)
        );
        let other_env = context(&format!("BOB@x.com:{}", Uuid::from_u128(11)));
        let request = AccountRequest {
            user_context: Some(&other_env),
            ..AccountRequest::default()
        };
        assert_eq!(
            effective_account(&scope, "bob@x.com", &memberships, &request),
            Err(AccountError::ContextAccountNotAvailable)
        );
        let own = context(&format!("BOB@x.com:{}", Uuid::from_u128(10)));
        let request = AccountRequest {
            user_context: Some(&own),
            ..AccountRequest::default()
        };
        assert!(effective_account(&scope, "bob@x.com", &memberships, &request).is_ok());
        let garbage = context("bob@x.com:not-a-uuid");
        let request = AccountRequest {
            user_context: Some(&garbage),
            ..AccountRequest::default()
        };
        assert_eq!(
            effective_account(&scope, "bob@x.com", &memberships, &request),
            Err(AccountError::ContextAccountNotAvailable)
        );
    }

    #[test]
    fn path_account_must_be_available() {
        let memberships = [membership(10, 1, false), membership(11, 1, false)];
        let by_number = PathAccounts::Named(vec![AccountRef::Number("1011".into())]);
        let request = AccountRequest {
            user_context: None,
            path: &by_number,
        };
        let chosen = effective_account(&Scope::Organization, "b", &memberships, &request);
        assert_eq!(
            chosen.map(|m| m.account_id),
            Ok(AccountId(Uuid::from_u128(11)))
        );
        let foreign = PathAccounts::Named(vec![AccountRef::Number("9999".into())]);
        let request = AccountRequest {
            user_context: None,
            path: &foreign,
        };
        assert_eq!(
            effective_account(&Scope::Organization, "b", &memberships, &request),
            Err(AccountError::PathAccountNotAvailable)
        );
    }

    #[test]
    fn every_path_account_must_be_available_and_the_first_is_chosen() {
        let memberships = [membership(10, 1, false), membership(11, 1, false)];
        let both = PathAccounts::Named(vec![
            AccountRef::Number("1011".into()),
            AccountRef::Number("1010".into()),
        ]);
        let request = AccountRequest {
            user_context: None,
            path: &both,
        };
        let chosen = effective_account(&Scope::Organization, "b", &memberships, &request);
        assert_eq!(
            chosen.map(|m| m.account_id),
            Ok(AccountId(Uuid::from_u128(11)))
        );
        let one_foreign = PathAccounts::Named(vec![
            AccountRef::Number("1011".into()),
            AccountRef::Number("9999".into()),
        ]);
        let request = AccountRequest {
            user_context: None,
            path: &one_foreign,
        };
        assert_eq!(
            effective_account(&Scope::Organization, "b", &memberships, &request),
            Err(AccountError::PathAccountNotAvailable)
        );
    }

    #[test]
    fn a_refused_path_is_never_read_as_no_account() {
        let memberships = [membership(10, 1, true)];
        let refused = PathAccounts::Refused(UriRefusal::NotUtf8);
        let request = AccountRequest {
            user_context: None,
            path: &refused,
        };
        assert_eq!(
            effective_account(&Scope::Organization, "b", &memberships, &request),
            Err(AccountError::PathRefused(UriRefusal::NotUtf8))
        );
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("BEARER  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Bearer"), None);
    }

    proptest! {
        #[test]
        fn user_context_parser_never_panics_and_trims(raw in ".{0,200}") {
            let parsed = parse_user_context(&raw);
            prop_assert_eq!(parsed.username.trim(), parsed.username.as_str());
            if let Some(id) = parsed.context_id {
                prop_assert!(!id.is_empty());
            }
        }

    }
}
