//! The browser side of the Authorization Code Grant (SPEC §12): `GET /oauth/auth` checks the
//! request and hands over to the console (the session cookie is scoped to `/console`); the
//! console's sign-in, with the request as its return path; the consent page naming the
//! integration and the scopes; and the answer at the client's redirect URI — `code` and
//! `state`, `error=access_denied`, or for the implicit grant the token in the fragment.
//!
//! The hand-over from `/oauth/auth` and the return after sign-in are pages that move on by
//! themselves (`<meta http-equiv="refresh">`, with a link): a navigation started by the page
//! itself is same-site, so the `SameSite=Strict` session cookie is sent even when the user
//! came from the integration's site, and a redirect to the client never follows the sign-in
//! form (whose `form-action 'self'` would block it). The consent page allows its own form to
//! answer at the registered redirect URI's origin and nowhere else.

use super::layout::{self, bare_page};
use super::session::{Cookie, Posted, cookie};
use super::signed::{Session, csrf_field};
use crate::admin::session::session_for_token;
use crate::oauth::authorize::{self, Checked, Refusal, ResponseType, form_action_source};
use crate::oauth::{Grant, access_token, codes};
use crate::routes::oauth::TokenForm;
use crate::state::AppState;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use countersign_core::oauth::{self, AccessKind, IMPLICIT_TOKEN_SECONDS};
use countersign_store::AuditOutcome;
use maud::{Markup, html};

pub use super::handover::{AUTHORIZE_PATH, continue_page};

fn refusal_page(message: &str) -> Response {
    layout::html(
        StatusCode::BAD_REQUEST,
        bare_page(
            "Authorization refused",
            "oauth-refused",
            html! {
                p role="alert" { (message) }
                p { "You were not sent back to the application. If you followed a link from it, "
                    "tell its developers: the request does not match what is registered for it." }
            },
        ),
    )
}

/// A 302 to the client (never cached: it may carry a code or a token).
fn found(location: &str) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The query's parameters; `None` when one is repeated, a part is empty or one does not decode
/// to text.
fn parameters(query: Option<&str>) -> Option<Vec<(String, String)>> {
    TokenForm::parse(query.unwrap_or("").as_bytes())
        .ok()
        .map(TokenForm::into_pairs)
}

const UNREADABLE: &str = "The request is unreadable: a parameter is repeated, a part is empty (a stray `&`), or one does not decode to text.";

/// The answer to a refused authorization request.
fn refused(refusal: Refusal) -> Response {
    match refusal {
        Refusal::Page(message) => refusal_page(message),
        Refusal::Redirect(location) => found(&location),
    }
}

/// `GET /oauth/auth`: checks the request, then continues in the console.
#[utoipa::path(
    get,
    path = "/oauth/auth",
    tag = "oauth",
    params(
        ("response_type" = String, Query, description = "code, or token where the integration allows the implicit grant"),
        ("scope" = String, Query, description = "Scopes joined by space, + or %20"),
        ("client_id" = String, Query, description = "The integrator key"),
        ("redirect_uri" = String, Query, description = "A redirect URI registered for the key, exactly"),
        ("state" = Option<String>, Query, description = "Carried back to the client"),
        ("code_challenge" = Option<String>, Query, description = "PKCE S256 challenge (required of public clients)"),
        ("code_challenge_method" = Option<String>, Query, description = "S256"),
        ("prompt" = Option<String>, Query, description = "login forces sign-in; consent forces the consent page"),
    ),
    responses(
        (status = 200, description = "Continues to the console's sign-in and consent page"),
        (status = 302, description = "Back to the redirect URI with error=…"),
        (status = 400, description = "Unknown client or unregistered redirect_uri: a page, no redirect"),
    )
)]
pub async fn entry(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let Some(parameters) = parameters(query.as_deref()) else {
        return refusal_page(UNREADABLE);
    };
    match authorize::check(&state, &parameters).await {
        Ok(checked) => continue_page(
            "Continue to sign in",
            "oauth-continue",
            &format!("{AUTHORIZE_PATH}?{}", query_of(&checked, true)),
        ),
        Err(refusal) => refused(refusal),
    }
}

fn query_of(checked: &Checked, with_login: bool) -> String {
    let query = checked.request.to_query();
    if with_login && checked.request.prompt_login {
        format!("{query}&prompt=login")
    } else {
        query
    }
}

/// The session of the request's cookie, if any and live.
async fn session_of(state: &AppState, headers: &HeaderMap) -> Option<Session> {
    let token = cookie(state, headers, Cookie::Session).filter(|t| !t.is_empty())?;
    let (user, digest, session) = session_for_token(state, token).await.ok()?;
    Some(Session {
        user,
        digest,
        csrf_token: session.csrf_token,
        source_ip: None,
        leak_reports: Vec::new(),
    })
}

/// Whether the user's consents cover the request's scopes.
async fn has_consent(
    state: &AppState,
    checked: &Checked,
    session: &Session,
) -> Result<bool, countersign_store::StoreError> {
    let consents = state
        .cache
        .grant_state(&state.store, checked.integrator_key.id, session.user.id)
        .await?;
    Ok(oauth::consented_scopes(
        consents.user_consent,
        consents.admin_consent.as_ref(),
        session.user.id,
    )
    .contains(checked.request.scopes))
}

/// `GET /console/oauth/authorize`: sign-in when needed, then the consent page (or straight
/// back to the client when the user has consented already).
pub async fn authorize_page(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let Some(parameters) = parameters(query.as_deref()) else {
        return refusal_page(UNREADABLE);
    };
    let checked = match authorize::check(&state, &parameters).await {
        Ok(checked) => checked,
        Err(refusal) => return refused(refusal),
    };
    let session = session_of(&state, &headers).await;
    let Some(session) = session.filter(|_| !checked.request.prompt_login) else {
        let back = format!("{AUTHORIZE_PATH}?{}", query_of(&checked, false));
        let path = "/console/sign-in?";
        let mut target = url::form_urlencoded::Serializer::for_suffix(path.to_owned(), path.len());
        target.append_pair("return", &back);
        if checked.request.prompt_login {
            target.append_pair("prompt", "login");
        }
        return super::session::see_other(&target.finish());
    };
    if session.user.organization_id != checked.integrator_key.organization_id {
        return found(&checked.request.error(
            "access_denied",
            "the signed-in user is not of this integration's organization",
        ));
    }
    if !checked.request.prompt_consent {
        match has_consent(&state, &checked, &session).await {
            Ok(true) => return answer(&state, &checked, &session, true).await,
            Ok(false) => {}
            Err(error) => return super::layout::ConsoleError::from(error).into_response(),
        }
    }
    consent_page(&checked, &session)
}

fn scope_description(name: &str) -> &'static str {
    match name {
        "signature" => "Send, sign and manage documents with the eSignature API as you.",
        "impersonation" => "Act for you when you are not present (JWT Grant).",
        "extended" => "Keep access without asking you again.",
        "openid" => "Know who you are: your name and email.",
        _ => "",
    }
}

fn consent_page(checked: &Checked, session: &Session) -> Response {
    let request = &checked.request;
    let key = &checked.integrator_key;
    let destination = form_action_source(&request.redirect_uri).unwrap_or_default();
    let title = format!("Allow {} to use your account?", key.name);
    let body: Markup = html! {
        p { strong #oauth-integration { (key.name) } " (integration " code { (key.key) } ") asks for access to your account "
            strong { (session.user.email) } ":" }
        ul #oauth-scopes {
            @for name in request.scopes.names() {
                li { strong { (name) } " — " (scope_description(name)) }
            }
        }
        p.hint { "If you allow it, you will return to " code { (destination) } ". "
            "You can withdraw this consent at any time under " a href="/console/consents" { "Your consents" } "." }
        form method="post" action=(AUTHORIZE_PATH) #oauth-consent {
            (csrf_field(&session.csrf_token))
            input type="hidden" name="response_type" value=(match request.response_type { ResponseType::Code => "code", ResponseType::Token => "token" });
            input type="hidden" name="scope" value=(request.scopes.text());
            input type="hidden" name="client_id" value=(request.client_id);
            input type="hidden" name="redirect_uri" value=(request.redirect_uri);
            @if let Some(state) = &request.state { input type="hidden" name="state" value=(state); }
            @if let Some(challenge) = &request.code_challenge {
                input type="hidden" name="code_challenge" value=(challenge);
                input type="hidden" name="code_challenge_method" value="S256";
            }
            div.actions {
                button.primary type="submit" name="decision" value="accept" #oauth-accept { "Allow" }
                button type="submit" name="decision" value="deny" #oauth-deny { "Deny" }
            }
        }
    };
    let mut response = layout::html(
        StatusCode::OK,
        layout::page_without_navigation(session, &title, "oauth-consent", body),
    );
    // The form answers with a redirect to the client: allow its origin, and only it.
    let policy = super::CONTENT_SECURITY_POLICY.replace(
        "form-action 'self'",
        &format!("form-action 'self' {destination}"),
    );
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

/// Answers the client: a code (or, implicit, a token) when accepted, `access_denied` otherwise.
async fn answer(
    state: &AppState,
    checked: &Checked,
    session: &Session,
    accepted: bool,
) -> Response {
    let request = &checked.request;
    let key = &checked.integrator_key;
    let source_ip = session.source_ip.as_deref();
    if !accepted {
        state
            .verifier
            .audit_event(
                Some(key.organization_id),
                &session.user.email,
                "oauth.authorize",
                &key.id.to_string(),
                source_ip,
                AuditOutcome::Denied,
            )
            .await;
        return found(&request.error("access_denied", "the user denied the request"));
    }
    if let Err(error) = state
        .ops()
        .grant_user_consent(
            &session.user,
            key,
            request.scopes,
            session.source_ip.clone(),
        )
        .await
    {
        tracing::error!(%error, "could not record a consent");
        return super::layout::ConsoleError::Internal.into_response();
    }
    let state_pair = request.state.as_deref().map(|s| ("state", s));
    let location = match request.response_type {
        ResponseType::Code => {
            let code = match codes::issue_code(
                state,
                key,
                session.user.id,
                request.scopes,
                &request.redirect_uri,
                request.code_challenge.as_deref(),
            )
            .await
            {
                Ok(code) => code,
                Err(error) => {
                    tracing::error!(%error, "could not issue an authorization code");
                    return super::layout::ConsoleError::Internal.into_response();
                }
            };
            let pairs: Vec<(&str, &str)> = std::iter::once(("code", code.expose()))
                .chain(state_pair)
                .collect();
            authorize::redirect_to(&request.redirect_uri, false, &pairs)
        }
        ResponseType::Token => {
            let grant = Grant {
                integrator_key_id: key.id,
                user_id: Some(session.user.id),
                family_id: None,
                kind: AccessKind::Code,
                scopes: request.scopes,
            };
            let token = access_token(state, &grant, IMPLICIT_TOKEN_SECONDS);
            let lifetime = IMPLICIT_TOKEN_SECONDS.to_string();
            let pairs: Vec<(&str, &str)> = [
                ("access_token", token.as_str()),
                ("token_type", "bearer"),
                ("expires_in", lifetime.as_str()),
            ]
            .into_iter()
            .chain(state_pair)
            .collect();
            authorize::redirect_to(&request.redirect_uri, true, &pairs)
        }
    };
    state
        .verifier
        .audit_event(
            Some(key.organization_id),
            &session.user.email,
            "oauth.authorize",
            &key.id.to_string(),
            source_ip,
            AuditOutcome::Success,
        )
        .await;
    found(&location)
}

/// `POST /console/oauth/authorize`: the consent form (CSRF-checked); Allow or Deny.
pub async fn decide(State(state): State<AppState>, posted: Posted<Session>) -> Response {
    let session = posted.who;
    let parameters: Vec<(String, String)> = [
        "response_type",
        "scope",
        "client_id",
        "redirect_uri",
        "state",
        "code_challenge",
        "code_challenge_method",
    ]
    .into_iter()
    .filter_map(|name| {
        posted
            .form
            .get(name)
            .map(|value| (name.to_owned(), value.to_owned()))
    })
    .collect();
    let checked = match authorize::check(&state, &parameters).await {
        Ok(checked) => checked,
        Err(refusal) => return refused(refusal),
    };
    if session.user.organization_id != checked.integrator_key.organization_id {
        return found(&checked.request.error(
            "access_denied",
            "the signed-in user is not of this integration's organization",
        ));
    }
    match posted.form.get("decision") {
        Some("accept") => answer(&state, &checked, &session, true).await,
        Some("deny") => answer(&state, &checked, &session, false).await,
        _ => refusal_page("The consent form was sent without a decision."),
    }
}
