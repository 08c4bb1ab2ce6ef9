//! AssureSign DocumentNOW v3 answers: errors as flat `{"errorCode", "summary", "details"}` JSON,
//! and every JSON body, success or error, in `application/json; charset=utf-8` (SPEC §4).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use countersign_core::access::AccountError;
use serde::Serialize;

/// The content type of every dialect-A JSON answer.
pub const JSON_UTF8: &str = "application/json; charset=utf-8";

/// A dialect-A success body: JSON in `application/json; charset=utf-8`.
#[derive(Debug, Clone)]
pub struct AssureSignJson<T>(pub T);

impl<T: Serialize> IntoResponse for AssureSignJson<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => json_utf8(StatusCode::OK, body),
            Err(error) => {
                tracing::error!(%error, "serializing an AssureSign answer failed");
                AssureSignError::Internal.into_response()
            }
        }
    }
}

/// A response with a JSON body and the dialect's content type.
fn json_utf8(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
    response
}

/// The summary of every key failure, identical for all causes so nothing leaks.
pub const INVALID_KEY_SUMMARY: &str = "The provided key for the API User was not valid";

/// An AssureSign-dialect error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssureSignError {
    /// Malformed or incomplete request; the details say what to fix.
    BadRequest(Vec<String>),
    /// The body is not `application/json`.
    UnsupportedMediaType,
    /// The body exceeds the limit.
    PayloadTooLarge,
    /// Unknown API user, wrong key, revoked, deleted or expired API user.
    InvalidKey,
    /// No bearer credentials were sent.
    NoCredentials,
    /// The bearer token is invalid, expired or no longer backed by a usable API user.
    InvalidToken,
    /// Authenticated but not allowed; the summary says why.
    Forbidden(&'static str),
    /// Several accounts qualify; `X-AS-UserContext` must choose one.
    AmbiguousAccount,
    /// Too many failures; retry after this many seconds.
    TooManyRequests(u64),
    /// An internal failure (logged, never described to the client).
    Internal,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    error_code: &'a str,
    summary: &'a str,
    details: &'a [String],
}

impl AssureSignError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) | Self::AmbiguousAccount => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::InvalidKey | Self::NoCredentials | Self::InvalidToken => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable `errorCode`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) | Self::AmbiguousAccount => "BAD_REQUEST",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::InvalidKey | Self::NoCredentials | Self::InvalidToken => "UNAUTHORIZED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::TooManyRequests(_) => "TOO_MANY_REQUESTS",
            Self::Internal => "INTERNAL_ERROR",
        }
    }

    fn summary(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "The request is invalid.",
            Self::AmbiguousAccount => {
                "The user belongs to several accounts; send X-AS-UserContext: {username}:{accountContextId}."
            }
            Self::UnsupportedMediaType => "Content-Type must be application/json.",
            Self::PayloadTooLarge => "The request body is too large.",
            Self::InvalidKey => INVALID_KEY_SUMMARY,
            Self::NoCredentials => "Authorization is required: send Authorization: bearer {token}.",
            Self::InvalidToken => "The token is invalid or has expired.",
            Self::Forbidden(summary) => summary,
            Self::TooManyRequests(_) => "Too many failed attempts; retry later.",
            Self::Internal => "An internal error occurred.",
        }
    }
}

impl IntoResponse for AssureSignError {
    fn into_response(self) -> Response {
        let details = match &self {
            Self::BadRequest(details) => details.clone(),
            _ => Vec::new(),
        };
        let body = Body {
            error_code: self.code(),
            summary: self.summary(),
            details: &details,
        };
        // A struct of strings always serializes; the fallback keeps the status regardless.
        let bytes = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
        let mut response = json_utf8(self.status(), bytes);
        let headers = response.headers_mut();
        match &self {
            Self::NoCredentials => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"countersign\""),
                );
            }
            Self::InvalidToken => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(
                        "Bearer realm=\"countersign\", error=\"invalid_token\"",
                    ),
                );
            }
            Self::TooManyRequests(seconds) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*seconds));
            }
            _ => {}
        }
        response
    }
}

impl From<AccountError> for AssureSignError {
    /// No effective account: 400 when `X-AS-UserContext` must choose one, 403 otherwise.
    fn from(error: AccountError) -> Self {
        match error {
            AccountError::Ambiguous => Self::AmbiguousAccount,
            other => Self::Forbidden(other.message()),
        }
    }
}
