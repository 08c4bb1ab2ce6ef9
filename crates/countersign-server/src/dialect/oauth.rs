//! OAuth 2.0 errors: `{"error", "error_description"?}` as RFC 6749 §5.2 defines them, which is
//! what OAuth libraries and the DocuSign SDKs read — answered by `POST /v1/introspect` and by
//! `POST /oauth/token` (SPEC §12: DocuSign's own `error` and `error_description` values).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use countersign_core::oauth::assertion::AssertionError;
use serde::Serialize;

/// An OAuth-shaped refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthError {
    /// No client authentication, an unknown client, a wrong secret or a deleted client, all
    /// alike (401 `invalid_client`, `WWW-Authenticate: Basic`).
    InvalidClient,
    /// The request is malformed: a missing or repeated parameter, an unreadable form, two
    /// authentication methods, an oversized assertion.
    InvalidRequest(&'static str),
    /// An administrator session of someone who does not administer the whole organization.
    AccessDenied,
    /// A grant that is not valid (400 `invalid_grant`), with DocuSign's `error_description`:
    /// `user_not_found`, `issuer_not_found`, `no_valid_keys_or_signatures`, `expired_grant`,
    /// `invalid_lifetime`, or a description of a bad code or refresh token.
    InvalidGrant(&'static str),
    /// Neither the user nor an administrator has consented (400 `consent_required`).
    ConsentRequired,
    /// An unknown scope, or a user token without `impersonation` (400 `invalid_scope`).
    InvalidScope,
    /// A `grant_type` this server does not serve (400 `unsupported_grant_type`).
    UnsupportedGrantType,
    /// Too many failures from this address or for this client (429, `Retry-After`).
    TooManyRequests(u64),
    /// An internal failure (logged, never described).
    Internal,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_description: Option<&'a str>,
}

impl OAuthError {
    fn parts(&self) -> (StatusCode, &'static str, Option<&'static str>) {
        match self {
            Self::InvalidClient => (
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                Some("Client authentication failed."),
            ),
            Self::InvalidRequest(description) => (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                Some(description),
            ),
            Self::AccessDenied => (
                StatusCode::FORBIDDEN,
                "access_denied",
                Some(
                    "Only an administrator of every environment of the organization may introspect.",
                ),
            ),
            Self::InvalidGrant(description) => {
                (StatusCode::BAD_REQUEST, "invalid_grant", Some(description))
            }
            Self::ConsentRequired => (StatusCode::BAD_REQUEST, "consent_required", None),
            Self::InvalidScope => (StatusCode::BAD_REQUEST, "invalid_scope", None),
            Self::UnsupportedGrantType => (StatusCode::BAD_REQUEST, "unsupported_grant_type", None),
            Self::TooManyRequests(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "temporarily_unavailable",
                Some("Too many failed attempts; retry later."),
            ),
            Self::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                Some("An internal error occurred."),
            ),
        }
    }

    /// The `error` code.
    pub fn code(&self) -> &'static str {
        self.parts().1
    }
}

impl From<countersign_store::StoreError> for OAuthError {
    /// A store failure at an OAuth endpoint: logged with its causes, answered 500
    /// (`server_error`) without detail.
    fn from(error: countersign_store::StoreError) -> Self {
        tracing::error!(error = %error, source = ?std::error::Error::source(&error), "store failure (OAuth)");
        Self::Internal
    }
}

impl From<crate::ops::OpError> for OAuthError {
    /// An operation that failed where the OAuth endpoint has no refusal of its own to give:
    /// logged, answered 500.
    fn from(error: crate::ops::OpError) -> Self {
        tracing::error!(error = %error, source = ?std::error::Error::source(&error), "operation failure (OAuth)");
        Self::Internal
    }
}

impl From<AssertionError> for OAuthError {
    /// A refused JWT Grant assertion, in DocuSign's table (SPEC §12).
    fn from(error: AssertionError) -> Self {
        match error {
            AssertionError::Malformed => Self::InvalidRequest(
                "The assertion is not a JWT with the claims iss, aud, iat and exp.",
            ),
            AssertionError::IssuerNotFound => Self::InvalidGrant("issuer_not_found"),
            AssertionError::NoValidKeys => Self::InvalidGrant("no_valid_keys_or_signatures"),
            AssertionError::Expired => Self::InvalidGrant("expired_grant"),
            AssertionError::InvalidLifetime => Self::InvalidGrant("invalid_lifetime"),
            AssertionError::InvalidScope => Self::InvalidScope,
            AssertionError::UserNotFound => Self::InvalidGrant("user_not_found"),
            AssertionError::ConsentRequired => Self::ConsentRequired,
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let (status, error, error_description) = self.parts();
        let mut response = (
            status,
            Json(Body {
                error,
                error_description,
            }),
        )
            .into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"countersign\""),
            );
        }
        if let Self::TooManyRequests(seconds) = self {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        response
    }
}
