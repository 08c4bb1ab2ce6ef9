//! DocuSign errors — of the legacy header and of OAuth access tokens on the protected API:
//! `{"errorCode", "message"}` in `application/json; charset=utf-8`. The table (status, code,
//! message) is `countersign_directory::refusal::DocuSignRefusal`, shared with
//! `countersign-verify`; this module renders it for axum.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
pub use countersign_directory::refusal::DocuSignRefusal as DocuSignError;
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    error_code: &'a str,
    message: &'a str,
}

/// The response of a DocuSign-dialect refusal (the table lives in another crate, so this is a
/// trait of this crate rather than `IntoResponse`).
pub trait DocuSignResponse {
    /// The answer: status, JSON body, `Retry-After` and `WWW-Authenticate` where they apply.
    fn into_response(self) -> Response;
}

impl DocuSignResponse for DocuSignError {
    fn into_response(self) -> Response {
        let body = Body {
            error_code: self.code(),
            message: self.message(),
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let status =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, bytes).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        if let Some(seconds) = self.retry_after() {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(challenge) = self.www_authenticate() {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

impl From<crate::passwords::Busy> for DocuSignError {
    /// A full password pool is answered like a throttle in force: retry in a second (SPEC §9).
    fn from(_: crate::passwords::Busy) -> Self {
        Self::TooManyRequests(1)
    }
}
