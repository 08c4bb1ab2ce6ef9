//! OAuth 2.0 errors of `POST /v1/introspect`: `{"error", "error_description"}` as RFC 6749
//! §5.2 defines them, which is what introspection libraries read.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An OAuth-shaped refusal of an introspection request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthError {
    /// No client authentication, an unknown client, a wrong secret or a deleted client, all
    /// alike (401 `invalid_client`, `WWW-Authenticate: Basic`).
    InvalidClient,
    /// The request is malformed: no token, an unreadable form, two authentication methods.
    InvalidRequest(&'static str),
    /// An administrator session of someone who does not administer the whole organization.
    AccessDenied,
    /// An internal failure (logged, never described).
    Internal,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    error_description: &'a str,
}

impl OAuthError {
    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Self::InvalidClient => (
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "Client authentication failed.",
            ),
            Self::InvalidRequest(description) => {
                (StatusCode::BAD_REQUEST, "invalid_request", description)
            }
            Self::AccessDenied => (
                StatusCode::FORBIDDEN,
                "access_denied",
                "Only an administrator of every environment of the organization may introspect.",
            ),
            Self::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "An internal error occurred.",
            ),
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
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"countersign\""),
            );
        }
        response
    }
}
