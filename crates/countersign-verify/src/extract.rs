//! The axum extractor: `Verified(identity)` in a handler's arguments.

use crate::{Identity, Verifier, VerifyError, VerifyRequest};
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
        let mut response = (status, axum::Json(self.body())).into_response();
        let challenge = match &self {
            VerifyError::MissingCredentials => Some("Bearer realm=\"countersign\""),
            VerifyError::InvalidToken => {
                Some("Bearer realm=\"countersign\", error=\"invalid_token\"")
            }
            _ => None,
        };
        if let Some(challenge) = challenge {
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
        let text = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let request = VerifyRequest {
            authorization: text("authorization"),
            user_context: text("x-as-usercontext"),
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
