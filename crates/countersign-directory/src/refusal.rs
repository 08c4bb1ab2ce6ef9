//! Each dialect's refusals in one table — status, `errorCode` and its text — answered alike by
//! the server and by `countersign-verify`, which each render them in their own framework: the
//! AssureSign dialect's (bearer session tokens, `{"errorCode", "summary", "details"}`) and the
//! DocuSign dialect's (the legacy header and OAuth access tokens, `{"errorCode", "message"}`).

use countersign_core::access::AccountError;
use countersign_core::decide::DocuSignDenial;

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
    /// `X-AS-UserContext` was sent twice, is not text or is too long (400): read as absent, the
    /// default account would be chosen instead of the one meant.
    UnreadableUserContext,
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
            Self::AmbiguousAccount | Self::UnreadableUserContext => 400,
            Self::Unavailable => 503,
        }
    }

    /// The stable `errorCode`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoCredentials | Self::InvalidToken => "UNAUTHORIZED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::AmbiguousAccount | Self::UnreadableUserContext => "BAD_REQUEST",
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
            Self::UnreadableUserContext => "The request is invalid.",
            Self::Unavailable => "Verification is unavailable.",
        }
    }

    /// The `details` list.
    pub fn details(&self) -> &'static [&'static str] {
        match self {
            Self::UnreadableUserContext => &["'X-AS-UserContext' is invalid."],
            _ => &[],
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

/// A DocuSign-dialect refusal: of the legacy header (SPEC §5) or of an OAuth access token on the
/// protected API (SPEC §12), rendered as `{"errorCode", "message"}` in
/// `application/json; charset=utf-8`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocuSignRefusal {
    /// The header is missing or unparseable.
    NoIntegratorKey,
    /// The integrator key is unknown or revoked.
    IntegratorKeyDisabled,
    /// The legacy header is switched off for this key or organization; the text names the date
    /// and the way forward.
    LegacyHeaderRetired(String),
    /// Wrong username or password, or a disabled user.
    UserAuthenticationFailed,
    /// An OAuth access token that is malformed, expired, revoked or no longer backed by the
    /// directory (401 with `WWW-Authenticate: Bearer error="invalid_token"`).
    InvalidToken,
    /// The account in the path is not available to the user.
    NotInAccount,
    /// Several accounts qualify and none was chosen.
    AmbiguousAccount,
    /// Any Send-On-Behalf-Of failure.
    LacksPermissions,
    /// The user has no account at all.
    NoAccount,
    /// A malformed request parameter.
    InvalidRequest(&'static str),
    /// Too many failures; retry after this many seconds.
    TooManyRequests(u64),
    /// An internal failure (logged, never described).
    Internal,
}

impl DocuSignRefusal {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Self::NoIntegratorKey
            | Self::IntegratorKeyDisabled
            | Self::LegacyHeaderRetired(_)
            | Self::UserAuthenticationFailed
            | Self::InvalidToken
            | Self::LacksPermissions => 401,
            Self::NotInAccount | Self::AmbiguousAccount | Self::InvalidRequest(_) => 400,
            Self::NoAccount => 403,
            Self::TooManyRequests(_) => 429,
            Self::Internal => 500,
        }
    }

    /// The stable `errorCode`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoIntegratorKey | Self::IntegratorKeyDisabled | Self::LegacyHeaderRetired(_) => {
                "PARTNER_AUTHENTICATION_FAILED"
            }
            Self::UserAuthenticationFailed => "USER_AUTHENTICATION_FAILED",
            Self::InvalidToken => "AUTHORIZATION_INVALID_TOKEN",
            Self::NotInAccount => "USER_DOES_NOT_BELONG_TO_SPECIFIED_ACCOUNT",
            Self::AmbiguousAccount => "ACCOUNT_NOT_SPECIFIED",
            Self::LacksPermissions => "USER_LACKS_PERMISSIONS",
            Self::NoAccount => "USER_HAS_NO_ACCOUNT",
            Self::InvalidRequest(_) => "INVALID_REQUEST_PARAMETER",
            Self::TooManyRequests(_) => "HOURLY_APIINVOCATION_LIMIT_EXCEEDED",
            Self::Internal => "UNSPECIFIED_ERROR",
        }
    }

    /// The `message`.
    pub fn message(&self) -> &str {
        match self {
            Self::NoIntegratorKey => {
                "The specified Integrator Key was not found or is disabled. An Integrator key was not specified."
            }
            Self::IntegratorKeyDisabled => {
                "The specified Integrator Key was not found or is disabled."
            }
            Self::LegacyHeaderRetired(message) => message,
            Self::UserAuthenticationFailed => "One or both of Username and Password are invalid.",
            Self::InvalidToken => "The access token provided is expired, revoked or malformed.",
            Self::NotInAccount => "The specified User is not a member of the specified Account.",
            Self::AmbiguousAccount => {
                "The user belongs to several accounts and has no default account."
            }
            Self::LacksPermissions => {
                "This user lacks sufficient permissions to access this resource."
            }
            Self::NoAccount => "The user is not a member of any account.",
            Self::InvalidRequest(message) => message,
            Self::TooManyRequests(_) => "Too many failed attempts; retry later.",
            Self::Internal => "An unexpected error occurred.",
        }
    }

    /// The `WWW-Authenticate` value (RFC 6750), for an invalid access token.
    pub fn www_authenticate(&self) -> Option<&'static str> {
        (*self == Self::InvalidToken)
            .then_some("Bearer realm=\"countersign\", error=\"invalid_token\"")
    }

    /// The `Retry-After` seconds of a throttled request.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::TooManyRequests(seconds) => Some(*seconds),
            _ => None,
        }
    }
}

impl From<AccountError> for DocuSignRefusal {
    /// An account decision's refusal (SPEC §5's table).
    fn from(error: AccountError) -> Self {
        match error {
            AccountError::NoAccountInScope => Self::NoAccount,
            AccountError::Ambiguous => Self::AmbiguousAccount,
            AccountError::PathAccountNotAvailable
            | AccountError::PathRefused(_)
            | AccountError::ContextAccountNotAvailable
            | AccountError::ContextUserMismatch => Self::NotInAccount,
        }
    }
}

impl From<DocuSignDenial> for DocuSignRefusal {
    /// What a legacy header may not do, in SPEC §5's table.
    fn from(denial: DocuSignDenial) -> Self {
        match denial {
            DocuSignDenial::OnBehalfOf => Self::LacksPermissions,
            DocuSignDenial::Account(error) => error.into(),
        }
    }
}

impl From<countersign_store::StoreError> for DocuSignRefusal {
    /// A store failure while answering in this dialect: logged with its causes, answered 500
    /// `UNSPECIFIED_ERROR` without detail.
    fn from(error: countersign_store::StoreError) -> Self {
        tracing::error!(error = %error, source = ?std::error::Error::source(&error), "store failure (DocuSign dialect)");
        Self::Internal
    }
}
