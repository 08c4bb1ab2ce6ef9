//! The error shapes of the two wire dialects and of forward auth, and the OAuth 2.0 errors of
//! token introspection (`oauth`).
//!
//! Which error type each layer uses: core's decisions return their reasons (`AccountError`,
//! `DocuSignDenial`, `BearerRefusal`), the store returns `StoreError`, directory operations
//! return `ops::OpError`. Each HTTP surface has exactly one error type, and the `From` impls
//! beside it are the only place those reasons become a status and a body:
//! [`assuresign::AssureSignError`] for the AssureSign dialect and bearer verification,
//! [`docusign::DocuSignError`] for the legacy header, [`oauth::OAuthError`] for introspection,
//! `admin::AdminError` (problem+json) for `/admin/v1` and `console::layout::ConsoleError` (an
//! HTML page) for the console. A handler writes `?` and never picks a status itself; a store
//! failure is logged once, in its `From` impl, and answered as the dialect's 500 without
//! detail. [`Refusal`] carries either dialect's refusal out of verification, and
//! [`Refusal::into_forward_auth_response`] is the one place forward auth's 400 becomes 403.

pub mod assuresign;
pub mod docusign;
pub mod oauth;
pub mod problem;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use docusign::DocuSignResponse;

/// A refusal in whichever dialect the request spoke.
#[derive(Debug)]
pub enum Refusal {
    /// An AssureSign-dialect refusal (bearer tokens).
    AssureSign(assuresign::AssureSignError),
    /// A DocuSign-dialect refusal (legacy header).
    DocuSign(docusign::DocuSignError),
}

impl Refusal {
    /// The response for `/v1/verify` and `/v1/whoami`: only 401 or 403, because nginx
    /// `auth_request` turns any other status into a 500 (SPEC §6.1). The body is unchanged.
    pub fn into_forward_auth_response(self) -> Response {
        let mut response = self.into_response();
        let status = response.status();
        if status != StatusCode::UNAUTHORIZED
            && status != StatusCode::FORBIDDEN
            && status.is_client_error()
        {
            *response.status_mut() = StatusCode::FORBIDDEN;
        }
        response
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Self::AssureSign(error) => error.into_response(),
            Self::DocuSign(error) => error.into_response(),
        }
    }
}

impl From<assuresign::AssureSignError> for Refusal {
    fn from(error: assuresign::AssureSignError) -> Self {
        Self::AssureSign(error)
    }
}

impl From<docusign::DocuSignError> for Refusal {
    fn from(error: docusign::DocuSignError) -> Self {
        Self::DocuSign(error)
    }
}
