//! problem+json (RFC 9457) as countersign writes it for the admin API and the leak-report
//! endpoint: `type`, `title`, `status`, `detail`, a stable `code`, the `field` at fault when
//! there is one, the challenge of a 401 and the `Retry-After` of a 429.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Serialize)]
struct Body<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    title: &'a str,
    status: u16,
    detail: &'a str,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

/// One problem: what the body says.
pub struct Problem<'a> {
    /// The status.
    pub status: StatusCode,
    /// The stable code clients match on.
    pub code: &'a str,
    /// The sentence for people.
    pub detail: &'a str,
    /// The request field at fault, if one is.
    pub field: Option<&'a str>,
}

impl Problem<'_> {
    /// The response: the body as `application/problem+json`, with `challenge` as
    /// `WWW-Authenticate` on a 401 and `retry_after` seconds as `Retry-After` when given.
    pub fn respond(&self, challenge: &'static str, retry_after: Option<u64>) -> Response {
        let body = Body {
            kind: "about:blank",
            title: self.status.canonical_reason().unwrap_or("Error"),
            status: self.status.as_u16(),
            detail: self.detail,
            code: self.code,
            field: self.field,
        };
        let mut response = (self.status, Json(&body)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        if let Some(seconds) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
