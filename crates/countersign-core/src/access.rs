//! Who may act as whom, and in which account (SPEC §3): the `X-AS-UserContext` header, the
//! account named in a request path, and the choice of the effective account.

use crate::api_user::Scope;
use crate::directory::Membership;
use crate::ids::AccountId;

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

/// An account named in a request path, by UUID or by numeric number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountRef {
    /// The account context identifier.
    Id(AccountId),
    /// The numeric DocuSign account id.
    Number(String),
    /// Something that is neither; it can never name an available account.
    Invalid,
}

impl AccountRef {
    /// Classifies a path segment.
    pub fn parse(segment: &str) -> Self {
        if !segment.is_empty() && segment.len() <= 32 && segment.bytes().all(|b| b.is_ascii_digit())
        {
            Self::Number(segment.to_owned())
        } else if let Some(id) = AccountId::parse(segment) {
            Self::Id(id)
        } else {
            Self::Invalid
        }
    }

    /// Whether the reference names this membership's account.
    pub fn names(&self, membership: &Membership) -> bool {
        match self {
            Self::Id(id) => membership.account_id == *id,
            Self::Number(number) => membership.account_number == *number,
            Self::Invalid => false,
        }
    }
}

/// Finds the account a request path names as `/accounts/{id}` (DocuSign style).
///
/// The query string is ignored, segments are percent-decoded, and `accounts` matches in any
/// case, so an encoded or re-cased path cannot slip past the rule.
pub fn account_in_path(uri: &str) -> Option<AccountRef> {
    let path = uri.split(['?', '#']).next().unwrap_or_default();
    let mut segments = path.split('/').map(percent_decode);
    while let Some(segment) = segments.next() {
        if segment.eq_ignore_ascii_case("accounts") {
            return match segments.next() {
                Some(id) if !id.is_empty() => Some(AccountRef::parse(&id)),
                _ => None,
            };
        }
    }
    None
}

fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' && index + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).ok();
            if let Some(value) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(value);
                index += 3;
                continue;
            }
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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
            Self::NoAccountInScope => "The user has no account within the API user's scope.",
            Self::Ambiguous => "Several accounts are available; choose one with X-AS-UserContext.",
        }
    }
}

/// What the request asked for.
#[derive(Clone, Debug, Default)]
pub struct AccountRequest<'a> {
    /// The parsed `X-AS-UserContext`, when sent.
    pub user_context: Option<&'a UserContext>,
    /// The account named by the request path, when any.
    pub path_account: Option<&'a AccountRef>,
}

/// Chooses the effective account of a request acting as a user.
///
/// `acting_email` is the acting user's email; `memberships` are the acting user's; only those
/// the scope admits are usable.
///
/// # Errors
/// Returns why the request may not proceed; see [`AccountError`].
pub fn effective_account<'m>(
    scope: &Scope,
    acting_email: &str,
    memberships: &'m [Membership],
    request: &AccountRequest<'_>,
) -> Result<&'m Membership, AccountError> {
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
    if let Some(path_account) = request.path_account {
        let membership = usable()
            .find(|m| path_account.names(m))
            .ok_or(AccountError::PathAccountNotAvailable)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::Permissions;
    use crate::ids::{EnvironmentId, UserId};
    use proptest::prelude::*;
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
            path_account: None,
        };
        assert_eq!(
            effective_account(&scope, "bob@x.com", &memberships, &request),
            Err(AccountError::ContextUserMismatch)
        );
        let other_env = context(&format!("BOB@x.com:{}", Uuid::from_u128(11)));
        let request = AccountRequest {
            user_context: Some(&other_env),
            path_account: None,
        };
        assert_eq!(
            effective_account(&scope, "bob@x.com", &memberships, &request),
            Err(AccountError::ContextAccountNotAvailable)
        );
        let own = context(&format!("BOB@x.com:{}", Uuid::from_u128(10)));
        let request = AccountRequest {
            user_context: Some(&own),
            path_account: None,
        };
        assert!(effective_account(&scope, "bob@x.com", &memberships, &request).is_ok());
        let garbage = context("bob@x.com:not-a-uuid");
        let request = AccountRequest {
            user_context: Some(&garbage),
            path_account: None,
        };
        assert_eq!(
            effective_account(&scope, "bob@x.com", &memberships, &request),
            Err(AccountError::ContextAccountNotAvailable)
        );
    }

    #[test]
    fn path_account_must_be_available() {
        let memberships = [membership(10, 1, false), membership(11, 1, false)];
        let by_number = AccountRef::Number("1011".into());
        let request = AccountRequest {
            user_context: None,
            path_account: Some(&by_number),
        };
        let chosen = effective_account(&Scope::Organization, "b", &memberships, &request);
        assert_eq!(
            chosen.map(|m| m.account_id),
            Ok(AccountId(Uuid::from_u128(11)))
        );
        let foreign = AccountRef::Number("9999".into());
        let request = AccountRequest {
            user_context: None,
            path_account: Some(&foreign),
        };
        assert_eq!(
            effective_account(&Scope::Organization, "b", &memberships, &request),
            Err(AccountError::PathAccountNotAvailable)
        );
    }

    #[test]
    fn path_accounts_are_found_in_any_spelling() {
        let id = Uuid::from_u128(10);
        assert_eq!(
            account_in_path("/restapi/v2/accounts/1234/envelopes?x=1"),
            Some(AccountRef::Number("1234".into()))
        );
        assert_eq!(
            account_in_path(&format!("/x/Accounts/{id}")),
            Some(AccountRef::Id(AccountId(id)))
        );
        assert_eq!(
            account_in_path("/restapi/v2/accounts/%31%32/x"),
            Some(AccountRef::Number("12".into()))
        );
        assert_eq!(
            account_in_path("/restapi/v2/accounts/zz/x"),
            Some(AccountRef::Invalid)
        );
        assert_eq!(account_in_path("/api/v3.5/users/bob/accounts"), None);
        assert_eq!(account_in_path("/restapi/v2/login_information"), None);
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

        #[test]
        fn path_parser_never_panics(raw in ".{0,200}") {
            let _ = account_in_path(&raw);
        }
    }
}
