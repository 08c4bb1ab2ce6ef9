//! DocuSign errors — of the legacy header and of OAuth access tokens on the protected API:
//! `{"errorCode", "message"}` in `application/json; charset=utf-8`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use countersign_core::access::AccountError;
use countersign_core::decide::DocuSignDenial;
use serde::Serialize;

/// A DocuSign-dialect error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocuSignError {
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

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    error_code: &'a str,
    message: &'a str,
}

impl DocuSignError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NoIntegratorKey
            | Self::IntegratorKeyDisabled
            | Self::LegacyHeaderRetired(_)
            | Self::UserAuthenticationFailed
            | Self::InvalidToken
            | Self::LacksPermissions => StatusCode::UNAUTHORIZED,
            Self::NotInAccount | Self::AmbiguousAccount | Self::InvalidRequest(_) => {
                StatusCode::BAD_REQUEST
            }
            Self::NoAccount => StatusCode::FORBIDDEN,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
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

    fn message(&self) -> &str {
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
}

impl IntoResponse for DocuSignError {
    fn into_response(self) -> Response {
        let body = Body {
            error_code: self.code(),
            message: self.message(),
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let mut response = (self.status(), bytes).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        if let Self::TooManyRequests(seconds) = &self {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(*seconds));
        }
        if self == Self::InvalidToken {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"countersign\", error=\"invalid_token\""),
            );
        }
        response
    }
}

impl From<DocuSignDenial> for DocuSignError {
    /// What a legacy header may not do, in SPEC §5's table.
    fn from(denial: DocuSignDenial) -> Self {
        match denial {
            DocuSignDenial::OnBehalfOf => Self::LacksPermissions,
            DocuSignDenial::Account(AccountError::NoAccountInScope) => Self::NoAccount,
            DocuSignDenial::Account(AccountError::Ambiguous) => Self::AmbiguousAccount,
            DocuSignDenial::Account(
                AccountError::PathAccountNotAvailable
                | AccountError::PathRefused(_)
                | AccountError::ContextAccountNotAvailable
                | AccountError::ContextUserMismatch,
            ) => Self::NotInAccount,
        }
    }
}

impl From<crate::passwords::Busy> for DocuSignError {
    /// A full password pool is answered like a throttle in force: retry in a second (SPEC §9).
    fn from(_: crate::passwords::Busy) -> Self {
        Self::TooManyRequests(1)
    }
}

impl From<countersign_store::StoreError> for DocuSignError {
    /// A store failure while answering in this dialect: logged with its causes (the request's
    /// span names the route), answered 500 `UNSPECIFIED_ERROR` without detail.
    fn from(error: countersign_store::StoreError) -> Self {
        tracing::error!(error = %error, source = ?std::error::Error::source(&error), "store failure (DocuSign dialect)");
        Self::Internal
    }
}
