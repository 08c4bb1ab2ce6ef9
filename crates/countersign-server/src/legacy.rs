//! The DocuSign legacy header on the server side.

use crate::auth::{Principal, RequestFacts};
use crate::dialect::docusign::DocuSignError;
use crate::state::AppState;
use axum::http::HeaderMap;

/// The header name (matched case-insensitively by the HTTP layer).
pub const HEADER: &str = "x-docusign-authentication";

/// Response headers added to legacy-authenticated answers (sunset notices).
#[derive(Clone, Debug, Default)]
pub struct WireExtras {
    headers: Vec<(axum::http::HeaderName, axum::http::HeaderValue)>,
}

impl WireExtras {
    /// Adds the extra headers to a response.
    pub fn apply(self, out: &mut HeaderMap) {
        for (name, value) in self.headers {
            out.insert(name, value);
        }
    }
}

/// Authenticates a legacy-header request.
///
/// # Errors
/// Returns the DocuSign-dialect refusal.
pub async fn authenticate(
    _state: &AppState,
    _headers: &HeaderMap,
    _facts: &RequestFacts,
) -> Result<(Principal, WireExtras), DocuSignError> {
    Err(DocuSignError::NoIntegratorKey)
}
