//! The axum extractor: `Verified(identity)` in a handler's arguments.

use crate::{HeaderText, Identity, Verifier, VerifyError, VerifyRequest};
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A verified request; refused requests never reach the handler.
#[derive(Clone, Debug)]
pub struct Verified(pub Identity);

impl IntoResponse for VerifyError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::UNAUTHORIZED);
        let body = serde_json::to_vec(&self.body()).unwrap_or_default();
        let mut response = (status, body).into_response();
        // As a node answers in either dialect.
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        if let Some(challenge) = self.www_authenticate() {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

impl<S> FromRequestParts<S> for Verified
where
    Verifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = VerifyError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, VerifyError> {
        let verifier = Verifier::from_ref(state);
        let request = VerifyRequest {
            authorization: HeaderText::of(&parts.headers, "authorization"),
            user_context: HeaderText::of(&parts.headers, "x-as-usercontext"),
            path: Some(
                parts
                    .uri
                    .path_and_query()
                    .map_or(parts.uri.path(), |p| p.as_str()),
            ),
        };
        verifier.verify(request).await.map(Verified)
    }
}
