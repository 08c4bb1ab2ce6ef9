//! The console's page frame (head, navigation, sign-out), shared components (labelled fields
//! with their errors, copy buttons, notices), time formatting and the error pages.

use super::signed::{Session, csrf_field};
use crate::ops::OpError;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use countersign_store::StoreError;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use time::OffsetDateTime;

/// A section of the console, for the navigation's current-page marker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    /// API users.
    ApiUsers,
    /// Environments and their administrators.
    Environments,
    /// Accounts.
    Accounts,
    /// Users and memberships.
    Users,
    /// Integrator keys and the legacy header.
    IntegratorKeys,
    /// The audit log.
    Audit,
    /// Legacy-header use and migration.
    LegacyUsage,
    /// The credential report and policy.
    Credentials,
    /// Webhooks and their deliveries.
    Webhooks,
}

const SECTIONS: [(Section, &str, &str); 9] = [
    (Section::ApiUsers, "/console/api-users", "API users"),
    (
        Section::Environments,
        "/console/environments",
        "Environments",
    ),
    (Section::Accounts, "/console/accounts", "Accounts"),
    (Section::Users, "/console/users", "Users"),
    (
        Section::IntegratorKeys,
        "/console/integrator-keys",
        "Integrator keys",
    ),
    (Section::Audit, "/console/audit", "Audit log"),
    (
        Section::LegacyUsage,
        "/console/legacy-usage",
        "Legacy header",
    ),
    (Section::Credentials, "/console/credentials", "Credentials"),
    (Section::Webhooks, "/console/webhooks", "Webhooks"),
];

/// An HTML response.
pub fn html(status: StatusCode, markup: Markup) -> Response {
    (status, Html(markup.into_string())).into_response()
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="referrer" content="no-referrer";
            title { (title) " · countersign console" }
            link rel="stylesheet" href="/console/static/console.css";
            script src="/console/static/console.js" defer {}
        }
    }
}

/// A page for a signed-in administrator: header with navigation and sign-out, then `body`.
///
/// `page_id` names the page in `data-page` (tests and styling hooks).
pub fn page(
    session: &Session,
    section: Option<Section>,
    title: &str,
    page_id: &str,
    body: Markup,
) -> Markup {
    frame(session, true, section, title, page_id, body)
}

/// A page for a signed-in user who may not use the console: sign-out but no navigation.
pub fn page_without_navigation(
    session: &Session,
    title: &str,
    page_id: &str,
    body: Markup,
) -> Markup {
    frame(session, false, None, title, page_id, body)
}

fn frame(
    session: &Session,
    navigation: bool,
    section: Option<Section>,
    title: &str,
    page_id: &str,
    body: Markup,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body data-page=(page_id) {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    div.brand { a href="/console" { "countersign" } " console" }
                    @if navigation {
                        nav aria-label="Console sections" {
                            ul {
                                @for (entry, href, label) in SECTIONS {
                                    li {
                                        @if section == Some(entry) {
                                            a href=(href) aria-current="page" { (label) }
                                        } @else {
                                            a href=(href) { (label) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    div.account {
                        span.who { "Signed in as " strong { (session.user.email) } }
                        a.my-activity href="/console/me/activity" { "My activity" }
                        form method="post" action="/console/sign-out" {
                            (csrf_field(&session.csrf_token))
                            button.link type="submit" { "Sign out" }
                        }
                    }
                }
                @if !session.leak_reports.is_empty() {
                    (leak_banner(session))
                }
                main #main tabindex="-1" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// The banner of keys reported leaked (SPEC §14), until an administrator dismisses it.
fn leak_banner(session: &Session) -> Markup {
    html! {
        section.leak-banner role="alert" aria-labelledby="leak-banner-title" {
            h2 #leak-banner-title { "API keys were reported leaked" }
            ul {
                @for report in &session.leak_reports {
                    li {
                        "The key of API user " strong { (report.api_username) } " was found "
                        @if let Some(url) = &report.url { "at " span.wrap { (url) } " " }
                        "on " (when_html(report.reported_at)) "; "
                        @match report.response {
                            countersign_store::LeakResponseTaken::Revoked => { "the API user is revoked. Issue a new API user for the integration." }
                            countersign_store::LeakResponseTaken::Notified => { "the API user still works (organization policy: notify). Rotate or revoke it now." }
                        }
                    }
                }
            }
            form method="post" action="/console/leak-reports/dismiss" {
                (csrf_field(&session.csrf_token))
                button.secondary type="submit" { "Dismiss" }
            }
        }
    }
}

/// A page without a session (sign-in, errors before sign-in).
pub fn bare_page(title: &str, page_id: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body data-page=(page_id) {
                header.top {
                    div.brand { a href="/console" { "countersign" } " console" }
                }
                main #main.narrow tabindex="-1" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// The sign-in form.
pub fn sign_in(
    token: &str,
    email: &str,
    notice: Option<&str>,
    error: Option<&str>,
    return_to: Option<&str>,
) -> Markup {
    bare_page(
        "Sign in",
        "sign-in",
        html! {
            @if let Some(notice) = notice { p.notice role="status" { (notice) } }
            @if let Some(error) = error { p.error-summary role="alert" #sign-in-error { (error) } }
            form.stack method="post" action="/console/sign-in" {
                (csrf_field(token))
                @if let Some(path) = return_to { input type="hidden" name="return" value=(path); }
                div.field {
                    label for="email" { "Email" }
                    input #email type="email" name="email" value=(email) required
                        autocomplete="username" autofocus
                        aria-describedby=[error.map(|_| "sign-in-error")];
                }
                div.field {
                    label for="password" { "Password" }
                    input #password type="password" name="password" required
                        autocomplete="current-password";
                }
                div.actions { button.primary type="submit" { "Sign in" } }
            }
            p.hint { "Only administrators of every environment of an organization can manage it here." }
        },
    )
}

/// A status message shown after an action (`role=status` so screen readers announce it).
pub fn notice(text: Option<&str>) -> Markup {
    html! {
        @if let Some(text) = text { p.notice role="status" { (text) } }
    }
}

/// A copy button for the text of the element `target` (revealed by the script; the text stays
/// selectable without it).
pub fn copy_button(target: &str, label: &str) -> Markup {
    html! {
        button.copy type="button" data-copy=(target) hidden aria-label=(label) { "Copy" }
    }
}

/// The message under a field, when it has an error.
pub fn field_error(id: &str, error: Option<&str>) -> Markup {
    html! {
        @if let Some(error) = error { p.field-error id=(format!("{id}-error")) { (error) } }
    }
}

/// The `aria-describedby` of a field with an optional error and hint.
pub fn described_by(id: &str, error: Option<&str>, has_hint: bool) -> Option<String> {
    let mut ids = Vec::new();
    if error.is_some() {
        ids.push(format!("{id}-error"));
    }
    if has_hint {
        ids.push(format!("{id}-hint"));
    }
    (!ids.is_empty()).then(|| ids.join(" "))
}

/// A labelled single-line input with its error and hint.
pub struct TextField<'a> {
    /// Element id and form name.
    pub name: &'a str,
    /// Visible label.
    pub label: &'a str,
    /// Input type (`text`, `email`, `password`, `date`).
    pub kind: &'a str,
    /// Current value.
    pub value: &'a str,
    /// Error shown next to the field.
    pub error: Option<&'a str>,
    /// Hint shown under the label.
    pub hint: Option<Markup>,
    /// Whether the field is required.
    pub required: bool,
}

impl TextField<'_> {
    /// Renders the field.
    pub fn render(&self) -> Markup {
        self.render_with(None, html! {})
    }

    /// Renders the field with suggestions: `list` names a `<datalist>` given in `after`.
    pub fn render_with(&self, list: Option<&str>, after: Markup) -> Markup {
        let described = described_by(self.name, self.error, self.hint.is_some());
        let autocomplete = match self.kind {
            "password" => Some("new-password"),
            "email" | "text" | "date" => Some("off"),
            _ => None,
        };
        html! {
            div.field.invalid[self.error.is_some()] {
                label for=(self.name) { (self.label) }
                @if let Some(hint) = &self.hint { p.hint id=(format!("{}-hint", self.name)) { (hint) } }
                (field_error(self.name, self.error))
                input id=(self.name) name=(self.name) type=(self.kind) value=(self.value)
                    required[self.required] autocomplete=[autocomplete] list=[list]
                    aria-invalid=[self.error.map(|_| "true")]
                    aria-describedby=[described];
                (after)
            }
        }
    }
}

/// A page's form as it is shown: fresh (200, with the notice of what was just done, if
/// anything), or sent back with the errors of what was posted (422).
pub struct FormView<'a, D> {
    /// The notice of what was just done.
    pub done: Option<&'a str>,
    /// What the form's fields hold.
    pub draft: &'a D,
    /// The errors to show beside the fields.
    pub errors: &'a FieldErrors,
    /// The status of the answer.
    pub status: StatusCode,
}

/// No field errors.
static NO_ERRORS: FieldErrors = FieldErrors(Vec::new());

impl<'a, D> FormView<'a, D> {
    /// The form on a page answered 200, after `done` if something was.
    pub fn fresh(done: Option<&'a str>, draft: &'a D) -> Self {
        Self {
            done,
            draft,
            errors: &NO_ERRORS,
            status: StatusCode::OK,
        }
    }

    /// What the page needs: the notice, the fields, their errors and the status.
    pub fn parts(self) -> (Option<&'a str>, &'a D, &'a FieldErrors, StatusCode) {
        (self.done, self.draft, self.errors, self.status)
    }

    /// The form sent back with what was posted and its errors (422).
    pub fn refused(draft: &'a D, errors: &'a FieldErrors) -> Self {
        Self {
            done: None,
            draft,
            errors,
            status: StatusCode::UNPROCESSABLE_ENTITY,
        }
    }
}

/// Field errors of a form, keyed by field name.
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<(&'static str, String)>);

impl FieldErrors {
    /// Records an error for a field.
    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.push((field, message.into()));
    }

    /// The error of a field.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(name, _)| *name == field)
            .map(|(_, message)| message.as_str())
    }

    /// Whether there is no error.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A summary at the top of the form.
    pub fn summary(&self) -> Markup {
        html! {
            @if !self.is_empty() {
                div.error-summary role="alert" {
                    p { "The form has " (self.0.len()) @if self.0.len() == 1 { " problem" } @else { " problems" } ":" }
                    ul { @for (field, message) in &self.0 { li { a href=(format!("#{field}")) { (message) } } } }
                }
            }
        }
    }
}

/// Formats an instant as `YYYY-MM-DD HH:MM UTC`.
pub fn when(at: OffsetDateTime) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    at.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_default()
}

/// An instant for a table cell: the date and the time each stay on one line, and the cell may
/// break between them.
pub fn when_html(at: OffsetDateTime) -> Markup {
    let text = when(at);
    let (day, time) = text.split_once(' ').unwrap_or((text.as_str(), ""));
    html! { span.when { span { (day) } " " span { (time) } } }
}

/// Formats a date as `YYYY-MM-DD` (the value of `<input type=date>`).
pub fn date(date: time::Date) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    date.format(&format).unwrap_or_default()
}

/// Parses a `YYYY-MM-DD` date.
pub fn parse_date(text: &str) -> Option<time::Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text.trim(), &format).ok()
}

/// Why a console request failed; each renders a page, never a stack of details.
#[derive(Debug)]
pub enum ConsoleError {
    /// The thing does not exist in the caller's organization (404).
    NotFound(&'static str),
    /// The request cannot be understood (400).
    BadRequest(&'static str),
    /// A posted form did not arrive within the request's deadline (408).
    TooSlow,
    /// A posted form is larger than a console form can be (413).
    TooLarge,
    /// A uniqueness rule refused the change (409), as the admin API answers it.
    Conflict,
    /// A form's CSRF token is missing or wrong (403); nothing was changed.
    Csrf,
    /// The signed-in user does not administer every environment (403).
    NotAdmin(Box<Session>),
    /// Something failed on the server (500); logged, never described.
    Internal,
}

impl crate::path_id::PathRefusal for ConsoleError {
    fn unreadable(_: String) -> Self {
        Self::BadRequest("the address is malformed")
    }
    fn internal() -> Self {
        Self::Internal
    }
}

crate::path_id::id_extractor! {
    /// The id of a console path; the console's not-found page when it is not one.
    ConsoleId, ConsoleError
}

/// The path ids of a posted form: read before the form, answered after its session and CSRF
/// checks (`let ConsoleId(id) = id?;` once `Posted` is in hand), so a forged form is 403
/// whatever its path.
pub type PostedId<T> = Result<ConsoleId<T>, ConsoleError>;

impl From<StoreError> for ConsoleError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound { entity } => Self::NotFound(entity),
            StoreError::Conflict { .. } => Self::Conflict,
            other => {
                tracing::error!(error = %other, source = ?std::error::Error::source(&other), "store failure in console");
                Self::Internal
            }
        }
    }
}

impl From<OpError> for ConsoleError {
    fn from(error: OpError) -> Self {
        match error {
            OpError::NotFound(entity) => Self::NotFound(entity),
            OpError::Store(error) => error.into(),
            OpError::Conflict { .. } => Self::Conflict,
            OpError::Invalid { .. } => Self::BadRequest("the form has an invalid value"),
            OpError::Refused { .. } => {
                Self::BadRequest("the form breaks the organization's credential policy")
            }
            OpError::Unreadable { .. } => {
                Self::BadRequest("a name holds an invisible or direction-changing character")
            }
        }
    }
}

/// An error page's content, attached to the response so the console's middleware can frame it
/// with the navigation and sign-out of the signed-in user (the `frame_errors` middleware).
#[derive(Clone, Debug)]
pub struct ErrorPage {
    /// The page's heading and title.
    pub title: &'static str,
    /// The page's `data-page`.
    pub page_id: &'static str,
    /// The rendered body.
    pub body: String,
}

impl ErrorPage {
    /// The page for a session, with navigation and sign-out.
    pub fn framed(&self, session: &Session) -> Markup {
        page(
            session,
            None,
            self.title,
            self.page_id,
            PreEscaped(self.body.clone()),
        )
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let back = html! { p { a href="/console" { "Go back to the console" } } };
        let (status, title, page_id, body) = match self {
            Self::NotAdmin(session) => {
                return html(
                    StatusCode::FORBIDDEN,
                    page_without_navigation(
                        &session,
                        "You need to administer every environment",
                        "not-admin",
                        html! {
                            p { "You are signed in as " strong { (session.user.email) } ", but the console is only for "
                                "organization administrators: users who are an administrator of "
                                strong { "every" } " environment of the organization." }
                            p { "Ask an organization administrator to add you as an administrator of each environment, "
                                "then sign in again. Nothing was changed." }
                            p { "You can still see what was done in your name, and end the sessions acting as you: "
                                a href="/console/me/activity" { "My activity" } "." }
                            p { "You can still review and withdraw the integrations you allowed to act for you under "
                                a href="/console/consents" { "Your consents" } "." }
                        },
                    ),
                );
            }
            Self::Csrf => (
                StatusCode::FORBIDDEN,
                "Form refused",
                "forbidden",
                html! {
                    p { "This form was refused because it did not carry a valid security token "
                        "(it may have been sent from another site, or from a page left open after signing out). "
                        strong { "Nothing was changed." } }
                    p { a href="/console" { "Go back to the console" } ", reload the page and try again." }
                },
            ),
            Self::NotFound(entity) => (
                StatusCode::NOT_FOUND,
                "Not found",
                "not-found",
                html! { p { "No such " (entity) " in your organization." } (back) },
            ),
            Self::Conflict => (
                StatusCode::CONFLICT,
                "Already exists",
                "conflict",
                html! { p { "The change was refused: something with this name already exists. Nothing was changed." } (back) },
            ),
            Self::BadRequest(detail) => (
                StatusCode::BAD_REQUEST,
                "Request refused",
                "bad-request",
                html! { p { "The request was refused: " (detail) ". Nothing was changed." } (back) },
            ),
            Self::TooSlow => (
                StatusCode::REQUEST_TIMEOUT,
                "Request refused",
                "request-timeout",
                html! { p { "The form did not arrive in time. Nothing was changed." } (back) },
            ),
            Self::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request refused",
                "payload-too-large",
                html! { p { "The form is larger than the console accepts. Nothing was changed." } (back) },
            ),
            Self::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "internal-error",
                html! { p { "The server could not complete the request. Try again in a moment." } (back) },
            ),
        };
        let mut response = html(status, bare_page(title, page_id, body.clone()));
        response.extensions_mut().insert(ErrorPage {
            title,
            page_id,
            body: body.into_string(),
        });
        response
    }
}

/// The result of a console handler.
pub type Reply = Result<Response, ConsoleError>;

/// The form's message for a name with an invisible or direction-changing character.
pub const UNREADABLE_NAME: &str = "Use visible characters only: no invisible, formatting or \
     direction-changing characters, and no spaces at either end.";
