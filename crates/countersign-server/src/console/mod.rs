//! The administrator console at `/console` (SPEC §7): server-rendered HTML pages over the same
//! directory operations as the admin API.
//!
//! Pages are built with `maud` (compiled into the binary, escaped by default); the stylesheet and
//! the small script are embedded with `include_str!` and served from `/console/static/`. Every
//! form works without JavaScript; the script only adds copy buttons and native confirmation
//! dialogs. Every response carries a strict Content-Security-Policy (no inline script or style),
//! `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer` and, for pages, `Cache-Control:
//! no-store` (pages may show a key once, and every page is specific to the signed-in user).

pub mod accounts;
pub mod api_users;
pub mod audit;
pub mod consents;
pub mod credentials;
pub mod directory;
pub mod environments;
mod handover;
pub mod integrator_keys;
pub mod layout;
mod me;
mod migration;
pub mod oauth;
pub mod oauth_clients;
pub mod session;
pub mod signed;
pub mod users;
pub mod webhooks;

use crate::admin::session::session_for_token;
use crate::state::AppState;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

/// Largest form body the console accepts, in bytes.
pub const FORM_BODY_LIMIT: usize = 64 * 1024;

/// The Content-Security-Policy of every console response: only same-origin script, style and
/// form targets; no framing, no inline code.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

const STYLESHEET: &str = include_str!("static/console.css");
const SCRIPT: &str = include_str!("static/console.js");

/// The console's routes, to be merged into the server's router.
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/console", get(home))
        .route("/console/", get(home))
        .route(
            "/console/sign-in",
            get(session::sign_in_page).post(session::sign_in),
        )
        .route("/console/sign-out", post(session::sign_out))
        .route("/oauth/auth", get(oauth::entry))
        .route(
            oauth::AUTHORIZE_PATH,
            get(oauth::authorize_page).post(oauth::decide),
        )
        .route("/console/consents", get(consents::consents_page))
        .route("/console/consents/{id}/withdraw", post(consents::withdraw))
        .route("/console/legacy-usage", get(migration::usage_page))
        .route("/console/legacy-usage/{id}", get(migration::plan_page))
        .route(
            "/console/legacy-usage/{id}/migrate",
            post(migration::migrate),
        )
        .route(
            "/console/legacy-usage/{id}/migrate-jwt",
            post(migration::migrate_to_jwt),
        )
        .route("/console/static/console.css", get(stylesheet))
        .route("/console/static/console.js", get(script))
        .route(
            "/console/api-users",
            get(api_users::list_page).post(api_users::create),
        )
        .route("/console/api-users/{id}/revoke", post(api_users::revoke))
        .route("/console/api-users/{id}/delete", post(api_users::delete))
        .route(
            "/console/api-users/{id}/rotate",
            get(api_users::rotate_page).post(api_users::rotate),
        )
        .route(
            "/console/environments",
            get(environments::environments_page).post(environments::create_environment),
        )
        .route(
            "/console/environments/{id}/admins",
            post(environments::add_environment_admin),
        )
        .route(
            "/console/environments/{id}/admins/{user_id}/remove",
            post(environments::remove_environment_admin),
        )
        .route(
            "/console/accounts",
            get(accounts::accounts_page).post(accounts::create_account),
        )
        .route(
            "/console/users",
            get(users::users_page).post(users::create_user),
        )
        .route("/console/users/{id}", get(users::user_page))
        .route("/console/users/{id}/status", post(users::set_user_status))
        .route("/console/users/{id}/password", post(users::set_password))
        .route(
            "/console/users/{id}/api-passwords/reset",
            post(users::reset_api_passwords),
        )
        .route(
            "/console/users/{id}/memberships/{account_id}",
            post(users::save_membership),
        )
        .route(
            "/console/users/{id}/memberships/{account_id}/remove",
            post(users::remove_membership),
        )
        .route(
            "/console/integrator-keys",
            get(integrator_keys::integrator_keys_page).post(integrator_keys::create_integrator_key),
        )
        .route(
            "/console/integrator-keys/{id}/revoke",
            post(integrator_keys::revoke_integrator_key),
        )
        .route(
            "/console/integrator-keys/{id}/sunset",
            post(integrator_keys::set_integrator_key_sunset),
        )
        .route(
            "/console/integrator-keys/{id}/oauth",
            get(oauth_clients::oauth_page),
        )
        .route(
            "/console/integrator-keys/{id}/oauth/client",
            post(oauth_clients::save_client),
        )
        .route(
            "/console/integrator-keys/{id}/oauth/secrets",
            post(oauth_clients::add_secret),
        )
        .route(
            "/console/integrator-keys/{id}/oauth/secrets/{secret_id}/delete",
            post(oauth_clients::delete_secret),
        )
        .route(
            "/console/integrator-keys/{id}/oauth/rsa-keys",
            post(oauth_clients::add_rsa_key),
        )
        .route(
            "/console/integrator-keys/{id}/oauth/rsa-keys/{key_id}/delete",
            post(oauth_clients::delete_rsa_key),
        )
        .route(
            "/console/integrator-keys/{id}/oauth/consent",
            post(oauth_clients::save_consent),
        )
        .route(
            "/console/organization/legacy-header",
            post(integrator_keys::set_legacy_header),
        )
        .route("/console/audit", get(audit::audit_page))
        .route("/console/me/activity", get(me::activity_page))
        .route("/console/me/sessions/end", post(me::end_my_sessions))
        .route(
            "/console/users/{id}/sessions/end",
            post(me::end_user_sessions),
        )
        .route(
            "/console/leak-reports/dismiss",
            post(me::dismiss_leak_reports),
        )
        .route("/console/credentials", get(credentials::credentials_page))
        .route(
            "/console/credential-report.csv",
            get(credentials::report_csv),
        )
        .route(
            "/console/organization/policy",
            post(credentials::save_policy),
        )
        .route(
            "/console/webhooks",
            get(webhooks::webhooks_page).post(webhooks::create_webhook),
        )
        .route("/console/webhooks/{id}", get(webhooks::deliveries_page))
        .route(
            "/console/webhooks/{id}/delete",
            post(webhooks::delete_webhook),
        )
        .layer(DefaultBodyLimit::max(FORM_BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(state, frame_errors))
        .layer(axum::middleware::map_response(security_headers))
}

/// Gives error pages the signed-in user's navigation and sign-out, so every page offers
/// sign-out; without a live session the bare page stays.
async fn frame_errors(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let token =
        session::cookie(&state, request.headers(), session::Cookie::Session).map(str::to_owned);
    let mut response = next.run(request).await;
    let Some(error) = response.extensions_mut().remove::<layout::ErrorPage>() else {
        return response;
    };
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return response;
    };
    let Ok((user, digest, stored)) = session_for_token(&state, &token).await else {
        return response;
    };
    let session = session::Session {
        user,
        digest,
        csrf_token: stored.csrf_token,
        source_ip: None,
        leak_reports: Vec::new(),
    };
    layout::html(response.status(), error.framed(&session))
}

/// `/console`: the API-users page is the console's home.
async fn home() -> Redirect {
    Redirect::to("/console/api-users")
}

async fn stylesheet() -> Response {
    static_asset(STYLESHEET, "text/css; charset=utf-8")
}

async fn script() -> Response {
    static_asset(SCRIPT, "text/javascript; charset=utf-8")
}

fn static_asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            // Revalidate on every use so a new release's assets are picked up at once.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// Adds the console's security headers to a response; pages default to `no-store`.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    // A page may narrow-widen only its form targets (the OAuth consent page answers at the
    // client's registered redirect URI); every other page gets the console's policy.
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
