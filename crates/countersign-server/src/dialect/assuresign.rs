//! AssureSign DocumentNOW v3 answers: errors as flat `{"errorCode", "summary", "details"}` JSON,
//! and every JSON body, success or error, in `application/json; charset=utf-8` (SPEC §4).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use countersign_core::access::AccountError;
use countersign_directory::refusal::BearerRefusal;
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
    /// The body did not arrive in time.
    RequestTimeout,
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
    /// `X-AS-UserContext` was sent twice, is not text or is too long.
    UnreadableUserContext,
    /// Too many failures; retry after this many seconds.
    TooManyRequests(u64),
    /// An internal failure (logged, never described to the client).
    Internal,
}

impl crate::path_id::PathRefusal for AssureSignError {
    fn unreadable(detail: String) -> Self {
        Self::BadRequest(vec![detail])
    }
    fn internal() -> Self {
        Self::Internal
    }
}

crate::path_id::path_extractor! {
    /// Path parameters of an AssureSign route.
    AssureSignPath, AssureSignError
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    error_code: &'a str,
    summary: &'a str,
    details: &'a [String],
}

impl AssureSignError {
    /// The refusal of a bearer-verified request this error is, whose status, code and summary
    /// come from the table `countersign-verify` answers with too.
    fn bearer_refusal(&self) -> Option<BearerRefusal> {
        match self {
            Self::NoCredentials => Some(BearerRefusal::NoCredentials),
            Self::InvalidToken => Some(BearerRefusal::InvalidToken),
            Self::Forbidden(summary) => Some(BearerRefusal::Forbidden(summary)),
            Self::AmbiguousAccount => Some(BearerRefusal::AmbiguousAccount),
            Self::UnreadableUserContext => Some(BearerRefusal::UnreadableUserContext),
            _ => None,
        }
    }

    /// The dialect's table: status, stable `errorCode` and `summary` of every error.
    fn row(&self) -> (StatusCode, &'static str, &'static str) {
        if let Some(refusal) = self.bearer_refusal() {
            let status =
                StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return (status, refusal.code(), refusal.summary());
        }
        match self {
            Self::BadRequest(_) => (
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                "The request is invalid.",
            ),
            Self::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "Content-Type must be application/json.",
            ),
            Self::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                "The request body is too large.",
            ),
            Self::RequestTimeout => (
                StatusCode::REQUEST_TIMEOUT,
                "REQUEST_TIMEOUT",
                "The request body did not arrive in time.",
            ),
            Self::InvalidKey => (
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                INVALID_KEY_SUMMARY,
            ),
            Self::TooManyRequests(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "TOO_MANY_REQUESTS",
                "Too many failed attempts; retry later.",
            ),
            Self::NoCredentials
            | Self::InvalidToken
            | Self::Forbidden(_)
            | Self::AmbiguousAccount
            | Self::UnreadableUserContext
            | Self::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL_ERROR",
                "An internal error occurred.",
            ),
        }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        self.row().0
    }

    /// The stable `errorCode`.
    pub fn code(&self) -> &'static str {
        self.row().1
    }

    fn summary(&self) -> &'static str {
        self.row().2
    }
}

impl IntoResponse for AssureSignError {
    fn into_response(self) -> Response {
        let details = match &self {
            Self::BadRequest(details) => details.clone(),
            other => other.bearer_refusal().map_or_else(Vec::new, |refusal| {
                refusal.details().iter().map(|d| (*d).to_owned()).collect()
            }),
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
        if let Some(challenge) = self.bearer_refusal().and_then(|r| r.www_authenticate()) {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        if let Self::TooManyRequests(seconds) = &self {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(*seconds));
        }
        response
    }
}

impl From<AccountError> for AssureSignError {
    /// No effective account: 400 when `X-AS-UserContext` must choose one, 403 otherwise.
    fn from(error: AccountError) -> Self {
        match BearerRefusal::from(error) {
            BearerRefusal::AmbiguousAccount => Self::AmbiguousAccount,
            BearerRefusal::Forbidden(summary) => Self::Forbidden(summary),
            _ => Self::Internal,
        }
    }
}

impl From<countersign_store::StoreError> for AssureSignError {
    /// A store failure while answering in this dialect: logged with its causes (the request's
    /// span names the route), answered 500 without detail.
    fn from(error: countersign_store::StoreError) -> Self {
        tracing::error!(error = %error, source = ?std::error::Error::source(&error), "store failure (AssureSign dialect)");
        Self::Internal
    }
}
