//! Console sign-in, sign-out and the extractors behind every console page: the session cookie,
//! the organization-administrator check and the CSRF check of every posted form.
//!
//! The session itself is the admin API's (`admin_sessions`, stored by digest, with a CSRF token
//! per session); the console only carries its token in a cookie that is `HttpOnly`,
//! `SameSite=Strict`, scoped to `/console`, and `Secure` when the public URL is `https`. The
//! sign-in form, which has no session yet, is protected by a double-submit token: a random value
//! in a short-lived `SameSite=Strict` cookie that the form must echo.

use super::layout::{self, ConsoleError};
pub use super::signed::{CSRF_FIELD, Session, csrf_field};
use crate::admin::AdminError;
use crate::admin::session::{session_for_token, sign_in as open_session};
use crate::ops::Actor;
use crate::request_parts::Peer;
use crate::secrets::random_bytes;
use crate::state::AppState;
use crate::verify::request::client_ip;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use countersign_core::secret::Secret;
use countersign_store::AuditOutcome;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

/// The console's two cookies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cookie {
    /// The console session token.
    Session,
    /// The sign-in form's double-submit token.
    SignIn,
}

impl Cookie {
    /// The cookie's name and path. Over TLS the names carry the `__Host-` prefix, which browsers
    /// accept only with `Secure`, `Path=/` and no `Domain`: no other site, not even a sibling
    /// domain, can set one beside the console's own. Over plain HTTP (development) the plain
    /// names are scoped to their pages.
    pub fn name_and_path(self, secure: bool) -> (&'static str, &'static str) {
        match (self, secure) {
            (Self::Session, true) => ("__Host-countersign_console", "/"),
            (Self::Session, false) => ("countersign_console", "/console"),
            (Self::SignIn, true) => ("__Host-countersign_console_sign_in", "/"),
            (Self::SignIn, false) => ("countersign_console_sign_in", "/console/sign-in"),
        }
    }
}

/// How long the sign-in form's token lives, in seconds.
const SIGN_IN_TOKEN_SECONDS: i64 = 60 * 60;

/// A signed-in organization administrator: the only user the console's pages serve.
#[derive(Debug, Clone)]
pub struct Admin {
    /// The session.
    pub session: Session,
    /// The administrator as the actor of directory operations.
    pub actor: Actor,
}

impl Admin {
    /// A page of the console's `section` for this administrator, answered as `status`.
    pub fn page(
        &self,
        status: StatusCode,
        section: layout::Section,
        title: &str,
        page_id: &str,
        body: maud::Markup,
    ) -> Response {
        layout::html(
            status,
            layout::page(&self.session, Some(section), title, page_id, body),
        )
    }

    /// The page that asks before a destructive action: `message`, then a form posting
    /// `confirm=yes` back to `action` with a danger `button`, and Cancel back to `cancel`.
    pub fn confirm_page(
        &self,
        section: layout::Section,
        title: &str,
        (action, cancel): (&str, &str),
        message: maud::Markup,
        button: &str,
    ) -> Response {
        let body = maud::html! {
            (message)
            form.inline method="post" action=(action) {
                (super::signed::csrf_field(&self.session.csrf_token))
                input type="hidden" name="confirm" value="yes";
                button.danger type="submit" { (button) }
                " "
                a.button.secondary href=(cancel) { "Cancel" }
            }
        };
        self.page(StatusCode::OK, section, title, "confirm", body)
    }
}

/// A cookie's value, when the `Cookie` header carries one value under its name. Two different
/// values (one set for another path, or by a sibling domain over plain HTTP, beside the
/// console's own) are no cookie: taking either could sign the browser in as someone else. So
/// is any cookie when a `Cookie` header is not text: what it hides cannot be checked.
pub fn cookie<'h>(state: &AppState, headers: &'h HeaderMap, which: Cookie) -> Option<&'h str> {
    let (name, _) = which.name_and_path(is_secure(state));
    let lines = headers
        .get_all(header::COOKIE)
        .iter()
        .map(|value| value.to_str().ok())
        .collect::<Option<Vec<&str>>>()?;
    let mut values = lines
        .into_iter()
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(key, _)| *key == name)
        .map(|(_, value)| value.trim());
    let first = values.next()?;
    values.all(|value| value == first).then_some(first)
}

/// Whether the console is served over TLS (served directly, or its public URL is `https`),
/// so cookies are `Secure`.
pub fn is_secure(state: &AppState) -> bool {
    state.config.serves_tls
        || state
            .config
            .public_url
            .get(..8)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Strict`, `Secure` over TLS.
fn set_cookie(state: &AppState, which: Cookie, value: &str, max_age: i64) -> HeaderValue {
    let secure = is_secure(state);
    let (name, path) = which.name_and_path(secure);
    let secure = if secure { "; Secure" } else { "" };
    let text = format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    );
    // Names, paths and values are ASCII built here (hex tokens), so this cannot fail.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The `Set-Cookie` value that removes the session cookie.
fn clear_session_cookie(state: &AppState) -> HeaderValue {
    set_cookie(state, Cookie::Session, "", 0)
}

/// A 303 redirect (the answer to a posted form, or to a page that needs a session).
pub fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

fn client_address(parts: &Parts, state: &AppState) -> Option<String> {
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0);
    client_ip(&parts.headers, peer, state.config.trust_forwarded_for)
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some(token) = cookie(state, &parts.headers, Cookie::Session).filter(|t| !t.is_empty())
        else {
            return Err(see_other("/console/sign-in"));
        };
        match session_for_token(state, token).await {
            Ok((user, digest, session)) => Ok(Self {
                user,
                digest,
                csrf_token: session.csrf_token,
                source_ip: client_address(parts, state),
                leak_reports: Vec::new(),
            }),
            Err(AdminError::Unauthorized) => {
                // Expired, signed out elsewhere, or the user was disabled: start again.
                let mut response = see_other("/console/sign-in?ended=1");
                response
                    .headers_mut()
                    .insert(header::SET_COOKIE, clear_session_cookie(state));
                Err(response)
            }
            Err(_) => Err(ConsoleError::Internal.into_response()),
        }
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let session = Session::from_request_parts(parts, state).await?;
        let is_admin = state
            .ops()
            .is_organization_admin(session.user.organization_id, session.user.id)
            .await
            .map_err(|error| ConsoleError::from(error).into_response())?;
        if !is_admin {
            return Err(ConsoleError::NotAdmin(Box::new(session)).into_response());
        }
        let mut session = session;
        let actor = session.actor();
        session.leak_reports = state
            .ops()
            .open_leak_reports(&actor)
            .await
            .map_err(|error| ConsoleError::from(error).into_response())?;
        Ok(Self { session, actor })
    }
}

/// Something that holds the CSRF token a form must echo.
pub trait CsrfBound {
    /// The expected token.
    fn csrf_token(&self) -> &str;
}

impl CsrfBound for Session {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

impl CsrfBound for Admin {
    fn csrf_token(&self) -> &str {
        &self.session.csrf_token
    }
}

/// The fields of a posted form, in order (repeated names allowed, e.g. permission checkboxes).
#[derive(Debug, Default)]
pub struct FormData(Vec<(String, String)>);

impl FormData {
    /// The value of a field (sent once: [`read_form`] refuses a repeated one that is not a
    /// list).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The value of a field, or the empty string.
    pub fn text(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    /// Every value of a field.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Whether the user confirmed a destructive action (`confirm=yes`).
    pub fn is_confirmed(&self) -> bool {
        self.get("confirm") == Some("yes")
    }
}

/// At most this many fields in a posted form (a form's body is at most 64 KiB besides).
const MAX_FORM_FIELDS: usize = 4096;

/// The console's list fields: checkboxes and multiple choices, sent once per value. Every
/// other field is sent once; sent twice, which value would be meant?
const LIST_FIELDS: [&str; 4] = ["permission", "scopes", "user_ids", "events"];

/// Whether a field other than a list comes twice.
fn has_repeated_field(fields: &[(String, String)]) -> bool {
    let mut seen = std::collections::HashSet::new();
    fields
        .iter()
        .filter(|(name, _)| !LIST_FIELDS.contains(&name.as_str()))
        .any(|(name, _)| !seen.insert(name.as_str()))
}

/// Reads a urlencoded form body, strictly (see [`countersign_core::form`]): a field that does
/// not decode, or one meant once and sent twice, is refused (400), not read with replacement
/// characters or as one of its values.
async fn read_form(request: Request, state: &AppState) -> Result<FormData, Response> {
    const UNREADABLE: ConsoleError =
        ConsoleError::BadRequest("the form could not be read; reload the page and try again");
    if !crate::request_parts::has_media_type(request.headers(), "application/x-www-form-urlencoded")
    {
        return Err(UNREADABLE.into_response());
    }
    let body = axum::body::Bytes::from_request(request, state)
        .await
        .map_err(|rejection| {
            let refusal = if crate::connections::body_too_slow(&rejection) {
                ConsoleError::TooSlow
            } else if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ConsoleError::TooLarge
            } else {
                UNREADABLE
            };
            refusal.into_response()
        })?;
    std::str::from_utf8(&body)
        .ok()
        .and_then(|text| countersign_core::form::pairs(text, MAX_FORM_FIELDS).ok())
        .filter(|fields| !has_repeated_field(fields))
        .map(FormData)
        .ok_or_else(|| UNREADABLE.into_response())
}

/// Whether `sent` equals `expected`, compared in constant time.
fn tokens_match(sent: Option<&str>, expected: &str) -> bool {
    match sent {
        Some(sent) if !expected.is_empty() => {
            bool::from(sent.as_bytes().ct_eq(expected.as_bytes()))
        }
        _ => false,
    }
}

/// A posted form from `who`, whose CSRF token matched; otherwise the request is refused with 403
/// before any handler runs, so nothing changes.
#[derive(Debug)]
pub struct Posted<T> {
    /// The signed-in user (or administrator).
    pub who: T,
    /// The form's fields.
    pub form: FormData,
}

impl<T> FromRequest<AppState> for Posted<T>
where
    T: FromRequestParts<AppState, Rejection = Response> + CsrfBound + Send,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let who = T::from_request_parts(&mut parts, state).await?;
        let form = read_form(Request::from_parts(parts, body), state).await?;
        if !tokens_match(form.get(CSRF_FIELD), who.csrf_token()) {
            return Err(ConsoleError::Csrf.into_response());
        }
        Ok(Self { who, form })
    }
}

/// Query parameters of a page; a malformed query gets the console's 400 page.
#[derive(Debug)]
pub struct PageQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for PageQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Response> {
        crate::request_parts::strict_query(&parts.uri)
            .map(Self)
            .map_err(|_| ConsoleError::BadRequest("the address is malformed").into_response())
    }
}

/// Query of the sign-in page.
#[derive(Debug, Default, serde::Deserialize)]
pub struct SignInQuery {
    /// Set after sign-out.
    signed_out: Option<String>,
    /// Set when a session cookie no longer names a live session.
    ended: Option<String>,
    /// Where to continue after sign-in: only an OAuth authorization request of the console.
    #[serde(rename = "return")]
    return_to: Option<String>,
    /// `login`: show the form even with a live session (OAuth `prompt=login`).
    prompt: Option<String>,
}

/// A return path the sign-in may continue to: only the console's OAuth authorization step
/// (never another site, never another page), bounded.
pub fn return_path(text: Option<&str>) -> Option<&str> {
    text.filter(|path| {
        path.len() <= 8 * 1024
            && path.starts_with(super::handover::AUTHORIZE_PATH)
            && path[super::handover::AUTHORIZE_PATH.len()..].starts_with('?')
            && path.bytes().all(|b| b.is_ascii_graphic())
    })
}

fn is_sign_in_token(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `GET /console/sign-in`: the sign-in form.
pub async fn sign_in_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageQuery(query): PageQuery<SignInQuery>,
) -> Response {
    let return_to = return_path(query.return_to.as_deref());
    if query.prompt.as_deref() != Some("login")
        && let Some(token) = cookie(&state, &headers, Cookie::Session).filter(|t| !t.is_empty())
        && session_for_token(&state, token).await.is_ok()
    {
        return see_other(return_to.unwrap_or("/console/api-users"));
    }
    let notice = if query.signed_out.is_some() {
        Some("You have signed out.")
    } else if query.ended.is_some() {
        Some("Your session has ended. Sign in again to continue.")
    } else {
        None
    };
    let notice = notice.or_else(|| {
        return_to.map(|_| "Sign in to continue to the application that sent you here.")
    });
    sign_in_response(
        &state,
        &headers,
        StatusCode::OK,
        "",
        notice,
        None,
        return_to,
    )
}

/// Renders the sign-in form, reusing the browser's sign-in token or issuing a new one.
fn sign_in_response(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    email: &str,
    notice: Option<&str>,
    error: Option<&str>,
    return_to: Option<&str>,
) -> Response {
    let token = cookie(state, headers, Cookie::SignIn)
        .filter(|t| is_sign_in_token(t))
        .map_or_else(|| hex::encode(random_bytes::<32>()), str::to_owned);
    let markup = layout::sign_in(&token, email, notice, error, return_to);
    let mut response = layout::html(status, markup);
    response.headers_mut().insert(
        header::SET_COOKIE,
        set_cookie(state, Cookie::SignIn, &token, SIGN_IN_TOKEN_SECONDS),
    );
    response
}

/// `POST /console/sign-in`: checks the form token, the email and the password, opens a session
/// and sets the session cookie.
pub async fn sign_in(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    request: Request,
) -> Response {
    let form = match read_form(request, &state).await {
        Ok(form) => form,
        Err(response) => return response,
    };
    let expected = cookie(&state, &headers, Cookie::SignIn).filter(|t| is_sign_in_token(t));
    if !expected.is_some_and(|expected| tokens_match(form.get(CSRF_FIELD), expected)) {
        return ConsoleError::Csrf.into_response();
    }
    let email = form.text("email").trim();
    let password = form.text("password");
    let return_to = return_path(form.get("return"));
    if email.is_empty() || password.is_empty() {
        return sign_in_response(
            &state,
            &headers,
            StatusCode::UNPROCESSABLE_ENTITY,
            email,
            None,
            Some("Enter your email and password."),
            return_to,
        );
    }
    let source_ip = client_ip(&headers, peer.0, state.config.trust_forwarded_for);
    match open_session(&state, email, Secret::new(password), source_ip.as_deref()).await {
        Ok(Some((_, token, session))) => {
            let max_age = (session.expires_at - state.now()).whole_seconds().max(0);
            // Back to an OAuth authorization request by a page that moves on by itself: a
            // redirect after this form could not reach the application's site (the page's
            // form-action is 'self').
            let mut response = match return_to {
                Some(path) => super::handover::continue_page("Signed in", "signed-in", path),
                None => see_other("/console/api-users"),
            };
            let headers = response.headers_mut();
            headers.append(
                header::SET_COOKIE,
                set_cookie(&state, Cookie::Session, token.expose(), max_age),
            );
            headers.append(
                header::SET_COOKIE,
                set_cookie(&state, Cookie::SignIn, "", 0),
            );
            response
        }
        Ok(None) => sign_in_response(
            &state,
            &headers,
            StatusCode::UNAUTHORIZED,
            email,
            None,
            Some("The email or password is incorrect."),
            return_to,
        ),
        Err(AdminError::TooManyRequests(seconds)) => {
            let message =
                format!("Too many sign-in attempts right now. Try again in {seconds} seconds.");
            let mut response = sign_in_response(
                &state,
                &headers,
                StatusCode::TOO_MANY_REQUESTS,
                email,
                None,
                Some(&message),
                return_to,
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
            response
        }
        Err(_) => ConsoleError::Internal.into_response(),
    }
}

/// `POST /console/sign-out`: deletes the session on the server and the cookie in the browser.
pub async fn sign_out(State(state): State<AppState>, posted: Posted<Session>) -> Response {
    let session = posted.who;
    if let Err(error) = state.store.delete_admin_session(&session.digest).await {
        return ConsoleError::from(error).into_response();
    }
    state
        .verifier
        .audit_event(
            Some(session.user.organization_id),
            &session.user.email,
            "admin.logout",
            &session.user.id.to_string(),
            session.source_ip.as_deref(),
            AuditOutcome::Success,
        )
        .await;
    let mut response = see_other("/console/sign-in?signed_out=1");
    response
        .headers_mut()
        .insert(header::SET_COOKIE, clear_session_cookie(&state));
    response
}
