//! The hand-over between the console's sign-in and an OAuth authorization request: where the
//! request continues, and the page that moves the browser on to it (same site, so the
//! `SameSite=Strict` session cookie is sent). Both `session` and `oauth` use it.

use super::layout;
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;

/// Where the console continues an authorization request.
pub const AUTHORIZE_PATH: &str = "/console/oauth/authorize";

/// A page that moves on to `target` (same site) by itself, with a link for when it does not.
pub fn continue_page(title: &str, page_id: &str, target: &str) -> Response {
    let markup = html! {
        (maud::DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                meta http-equiv="refresh" content=(format!("0; url={target}"));
                title { (title) " · countersign" }
                link rel="stylesheet" href="/console/static/console.css";
            }
            body data-page=(page_id) {
                main #main.narrow {
                    h1 { (title) }
                    p { a.button.primary #continue href=(target) { "Continue" } }
                }
            }
        }
    };
    layout::html(StatusCode::OK, markup)
}
