//! The AssureSign dialect's refusals of a bearer-verified request — status, `errorCode` and
//! `summary` in one table — answered alike by the server and by `countersign-verify`, which
//! each render them in their own framework.

use countersign_core::access::AccountError;

/// A refusal of a bearer-verified request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BearerRefusal {
    /// No bearer credentials were sent (401, no `error` in `WWW-Authenticate`).
    NoCredentials,
    /// The token is invalid, expired, revoked or no longer backed by the directory (401).
    InvalidToken,
    /// Authenticated, but the account is not available (403; the summary says why).
    Forbidden(&'static str),
    /// Several accounts qualify; `X-AS-UserContext` must choose one (400).
    AmbiguousAccount,
    /// Verification is unavailable (the database failed).
    Unavailable,
}

impl From<AccountError> for BearerRefusal {
    fn from(error: AccountError) -> Self {
        match error {
            AccountError::Ambiguous => Self::AmbiguousAccount,
            other => Self::Forbidden(other.message()),
        }
    }
}

impl BearerRefusal {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Self::NoCredentials | Self::InvalidToken => 401,
            Self::Forbidden(_) => 403,
            Self::AmbiguousAccount => 400,
            Self::Unavailable => 503,
        }
    }

    /// The stable `errorCode`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoCredentials | Self::InvalidToken => "UNAUTHORIZED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::AmbiguousAccount => "BAD_REQUEST",
            Self::Unavailable => "SERVICE_UNAVAILABLE",
        }
    }

    /// The `summary`.
    pub fn summary(&self) -> &'static str {
        match self {
            Self::NoCredentials => "Authorization is required: send Authorization: bearer {token}.",
            Self::InvalidToken => "The token is invalid or has expired.",
            Self::Forbidden(summary) => summary,
            Self::AmbiguousAccount => {
                "The user belongs to several accounts; send X-AS-UserContext: {username}:{accountContextId}."
            }
            Self::Unavailable => "Verification is unavailable.",
        }
    }

    /// The `WWW-Authenticate` value of a 401 (RFC 6750).
    pub fn www_authenticate(&self) -> Option<&'static str> {
        match self {
            Self::NoCredentials => Some("Bearer realm=\"countersign\""),
            Self::InvalidToken => Some("Bearer realm=\"countersign\", error=\"invalid_token\""),
            _ => None,
        }
    }
}
