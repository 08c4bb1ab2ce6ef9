//! Public documentation pages served beside the API: `/docs/legacy-migration`, where the
//! `Link: rel="sunset"` header of a legacy-header answer points (SPEC §11).

use crate::state::AppState;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};

/// The page the `Link: rel="sunset"` header points at.
#[utoipa::path(get, path = "/docs/legacy-migration", tag = "docusign", responses((status = 200, description = "HTML")))]
pub async fn legacy_migration_page(State(state): State<AppState>) -> Response {
    let base = &state.config.public_url;
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
<title>Moving off X-DocuSign-Authentication</title></head><body style=\"font-family:sans-serif;max-width:46em;margin:2em auto;padding:0 1em;line-height:1.5\">\
<h1>Moving off the X-DocuSign-Authentication header</h1>\
<p>This service is retiring the legacy <code>X-DocuSign-Authentication</code> header, which sends a password with every request. \
Answers to requests that still use it carry a <code>Sunset</code> header with the date after which it is refused.</p>\
<h2>What to do</h2><ol>\
<li>Ask your administrator for an API user (they can create one scoped exactly to what your integration does today) and its key.</li>\
<li>Exchange the key for a session token:<pre>POST {base}/api/v3.7/authentication/apiUser\nContent-Type: application/json\n\n\
{{\"request\": {{\"apiUsername\": \"…\", \"key\": \"csk_…\", \"contextUsername\": \"user@example.com\", \"sessionLengthInMinutes\": 60}}}}</pre></li>\
<li>Send <code>Authorization: bearer &lt;token&gt;</code> instead of the legacy header, and <code>X-AS-UserContext: user@example.com:&lt;account id&gt;</code> \
where you used <code>SendOnBehalfOf</code>.</li></ol>\
<p>Tokens expire; request a new one when a call answers 401.</p></body></html>"
    );
    Html(page).into_response()
}
