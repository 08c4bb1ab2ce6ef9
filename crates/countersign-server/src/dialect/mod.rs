//! The error shapes of the two wire dialects and of forward auth, and the OAuth 2.0 errors of
//! token introspection (`oauth`).

pub mod assuresign;
pub mod docusign;
pub mod oauth;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

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
