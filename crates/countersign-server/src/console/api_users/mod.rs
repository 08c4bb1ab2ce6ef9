//! The console's API-users page (SPEC §2, §7): the create form, the list with its "show revoked
//! and expired" toggle, the key shown once after creation and rotation, and revoke, delete and
//! rotate with confirmation.

mod actions;

pub use actions::{delete, revoke, rotate, rotate_page};

use super::directory::all;
use super::layout::{
    self, FieldErrors, Reply, Section, TextField, described_by, field_error, notice, when_html,
};
use super::session::{Admin, FormData, PageQuery, Posted, csrf_field};
use crate::ops::{self, OpError};
use crate::state::AppState;
use actions::key_page;
use axum::extract::State;
use axum::http::StatusCode;
use countersign_core::api_user::{ApiUser, ApiUserStatus, Scope};
use countersign_core::directory::{Environment, User};
use countersign_core::ids::{EnvironmentId, UserId};
use maud::{Markup, html};
use serde::Deserialize;
use time::Duration;

/// API users per page of the list.
const PAGE_SIZE: u32 = 100;

/// Query of the list page.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// Any value shows revoked and expired API users too.
    inactive: Option<String>,
    /// The cursor of the next page.
    cursor: Option<String>,
    /// What was just done (`revoked`, `deleted`), for the notice.
    done: Option<String>,
}

impl ListQuery {
    fn include_inactive(&self) -> bool {
        self.inactive.as_deref().is_some_and(|v| !v.is_empty())
    }
}

/// What the create form holds (kept when it is shown again with errors).
#[derive(Debug, Default)]
struct Draft {
    username: String,
    scope: String,
    user_id: String,
    environment_id: String,
    expires_at: String,
    description: String,
}

impl Draft {
    fn from_form(form: &FormData) -> Self {
        Self {
            username: form.text("username").to_owned(),
            scope: form.text("scope").to_owned(),
            user_id: form.text("user_id").to_owned(),
            environment_id: form.text("environment_id").to_owned(),
            expires_at: form.text("expires_at").to_owned(),
            description: form.text("description").to_owned(),
        }
    }
}

/// The dates the expiry field offers: default, earliest and latest.
struct ExpiryBounds {
    default: String,
    min: String,
    max: String,
    max_days: i64,
}

fn expiry_bounds(state: &AppState) -> ExpiryBounds {
    let now = state.now();
    let max_days = state.config.api_user_max_lifetime_days;
    // A date means 00:00 UTC at its start, so the latest date whose midnight is within the
    // maximum is the date of `now + max`; the earliest is tomorrow.
    let max = (now + Duration::days(max_days)).date();
    let min = now.date() + Duration::days(1);
    let default = (now.date() + Duration::days(365)).min(max).max(min);
    ExpiryBounds {
        default: layout::date(default),
        min: layout::date(min),
        max: layout::date(max),
        max_days,
    }
}

/// `GET /console/api-users`: the create form and the list.
pub async fn list_page(
    State(state): State<AppState>,
    admin: Admin,
    PageQuery(query): PageQuery<ListQuery>,
) -> Reply {
    let draft = Draft {
        scope: String::new(),
        expires_at: expiry_bounds(&state).default,
        ..Draft::default()
    };
    render_list(
        &state,
        &admin,
        &query,
        &draft,
        &FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}

async fn render_list(
    state: &AppState,
    admin: &Admin,
    query: &ListQuery,
    draft: &Draft,
    errors: &FieldErrors,
    status: StatusCode,
) -> Reply {
    let organization = admin.actor.organization_id;
    let users = all::<User>(state, organization).await?;
    let environments = all::<Environment>(state, organization).await?;
    let include_inactive = query.include_inactive();
    let cursor = query
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty() && c.len() <= 64);
    let page = state
        .store
        .list_api_users(
            organization,
            include_inactive,
            state.now(),
            cursor,
            PAGE_SIZE,
        )
        .await?;
    let now = state.now();
    let done = match query.done.as_deref() {
        Some("revoked") => {
            Some("The API user was revoked. Every token issued under it is refused from now on.")
        }
        Some("deleted") => {
            Some("The API user was deleted. Every token issued under it is refused from now on.")
        }
        _ => None,
    };
    let create = html! {
        section aria-labelledby="create-heading" {
            h2 #create-heading { "Create an API user" }
            p.hint { "An API user is a credential for the AssureSign-style token exchange "
                code { "POST /api/v3.x/authentication/apiUser" } ". Its key is shown once, right after saving." }
            (create_form(state, admin, draft, errors, &users, &environments))
        }
    };
    let list = html! {
        section aria-labelledby="list-heading" {
            div.section-head {
                h2 #list-heading { "Existing API users" }
                a.button.primary href="#create-heading" { "Create an API user" }
            }
            form.toggle method="get" action="/console/api-users" {
                div.choice {
                    input #show-inactive type="checkbox" name="inactive" value="1" checked[include_inactive] data-autosubmit;
                    label for="show-inactive" { "Show revoked and expired API users" }
                }
                button.secondary type="submit" data-js-hide { "Update list" }
            }
            @if page.items.is_empty() {
                p.empty { @if include_inactive { "There are no API users yet." } @else { "There are no active API users." } }
            } @else {
                div.table-wrap {
                    table.list #api-users {
                        thead { tr {
                            th scope="col" { "Username" } th scope="col" { "Scope" } th scope="col" { "Expires" }
                            th scope="col" { "Status" } th scope="col" { "Last used" } th scope="col" { "Created by" }
                            th scope="col" { "Actions" }
                        } }
                        tbody {
                            @for api_user in &page.items {
                                (row(admin, api_user, now, &users, &environments))
                            }
                        }
                    }
                }
            }
            @if let Some(next) = &page.next_cursor {
                p.pager { a href=(format!("/console/api-users?cursor={next}{}", if include_inactive { "&inactive=1" } else { "" })) { "Next page" } }
            }
        }
    };
    // A form with errors comes first, so its messages are the first thing read.
    let body = html! {
        (notice(done))
        @if errors.is_empty() { (list) (create) } @else { (create) (list) }
    };
    Ok(admin.page(status, Section::ApiUsers, "API users", "api-users", body))
}

fn scope_target(scope: &Scope, users: &[User], environments: &[Environment]) -> Markup {
    match scope {
        Scope::User(id) => {
            let email = users
                .iter()
                .find(|u| u.id == *id)
                .map_or_else(|| id.to_string(), |u| u.email.clone());
            html! { "User: " a href=(format!("/console/users/{id}")) { (email) } }
        }
        Scope::Environment(id) => {
            let name = environments
                .iter()
                .find(|e| e.id == *id)
                .map_or_else(|| id.to_string(), |e| e.name.clone());
            html! { "Environment: " (name) }
        }
        Scope::Organization => html! { "Organization: every user" },
    }
}

fn status_badge(status: ApiUserStatus) -> Markup {
    let label = match status {
        ApiUserStatus::Active => "Active",
        ApiUserStatus::Expired => "Expired",
        ApiUserStatus::Revoked => "Revoked",
    };
    html! { span class=(format!("status status-{}", status.as_str())) { (label) } }
}

fn row(
    admin: &Admin,
    api_user: &ApiUser,
    now: time::OffsetDateTime,
    users: &[User],
    environments: &[Environment],
) -> Markup {
    let status = api_user.status(now);
    let id = api_user.id;
    html! {
        tr data-username=(api_user.username) {
            td data-label="Username" { strong.username { (api_user.username) }
                @if let Some(description) = &api_user.description { br; span.hint { (description) } } }
            td data-label="Scope" { (scope_target(&api_user.scope, users, environments)) }
            td data-label="Expires" { (when_html(api_user.expires_at)) }
            td data-label="Status" { (status_badge(status))
                @if let (Some(at), Some(by)) = (api_user.revoked_at, &api_user.revoked_by) {
                    br; span.hint { (when_html(at)) " by " (by) }
                } }
            td data-label="Last used" { @match api_user.last_used_at { Some(at) => (when_html(at)), None => span.hint { "Never" } } }
            td data-label="Created by" { (api_user.created_by) br; span.hint { (when_html(api_user.created_at)) } }
            td data-label="Actions" {
                div.row-actions {
                    @if status == ApiUserStatus::Active {
                        a.button.secondary href=(format!("/console/api-users/{id}/rotate")) { "Rotate key…" }
                        form method="post" action=(format!("/console/api-users/{id}/revoke"))
                            data-confirm=(format!("Revoke the API user \u{201c}{}\u{201d}? Every token issued under it stops working at once. This cannot be undone.", api_user.username)) {
                            (csrf_field(&admin.session.csrf_token))
                            button.danger type="submit" { "Revoke…" }
                        }
                    }
                    form method="post" action=(format!("/console/api-users/{id}/delete"))
                        data-confirm=(format!("Delete the API user \u{201c}{}\u{201d}? The record is removed and every token issued under it stops working at once. This cannot be undone.", api_user.username)) {
                        (csrf_field(&admin.session.csrf_token))
                        button.danger type="submit" { "Delete…" }
                    }
                }
            }
        }
    }
}

fn create_form(
    state: &AppState,
    admin: &Admin,
    draft: &Draft,
    errors: &FieldErrors,
    users: &[User],
    environments: &[Environment],
) -> Markup {
    let bounds = expiry_bounds(state);
    let scope_error = errors.get("scope");
    let user_error = errors.get("scope_user");
    let environment_error = errors.get("scope_environment");
    let expiry_error = errors.get("expires_at");
    html! {
        (errors.summary())
        form.stack #create-api-user method="post" action="/console/api-users" {
            (csrf_field(&admin.session.csrf_token))
            (TextField { name: "username", label: "Username", kind: "text", value: &draft.username,
                error: errors.get("username"), required: true,
                hint: Some(html! { "Unique across the installation, 3–128 characters. It is not a user and need not be an email, though it may look like one." }) }.render())
            fieldset #scope.scope.invalid[scope_error.is_some() || user_error.is_some() || environment_error.is_some()]
                aria-describedby=[described_by("scope", scope_error, true)] {
                legend { "Scope" }
                p.hint #scope-hint { "Whom the API user may act for." }
                (field_error("scope", scope_error))
                div.choice {
                    input #scope-user type="radio" name="scope" value="user" required checked[draft.scope == "user"];
                    label for="scope-user" { strong { "User" } ": may act only as one user" }
                }
                div.picker.picker-user {
                    label for="scope_user" { "User" }
                    (field_error("scope_user", user_error))
                    select #scope_user name="user_id" aria-invalid=[user_error.map(|_| "true")]
                        aria-describedby=[described_by("scope_user", user_error, false)] {
                        option value="" { "Choose a user…" }
                        @for user in users {
                            option value=(user.id) selected[draft.user_id == user.id.to_string()] {
                                (user.email) @if !user.is_active() { " (disabled)" }
                            }
                        }
                    }
                }
                div.choice {
                    input #scope-environment type="radio" name="scope" value="environment" required checked[draft.scope == "environment"];
                    label for="scope-environment" { strong { "Environment" } ": may act as members of that environment's accounts" }
                }
                div.picker.picker-environment {
                    label for="scope_environment" { "Environment" }
                    (field_error("scope_environment", environment_error))
                    select #scope_environment name="environment_id" aria-invalid=[environment_error.map(|_| "true")]
                        aria-describedby=[described_by("scope_environment", environment_error, false)] {
                        option value="" { "Choose an environment…" }
                        @for environment in environments {
                            option value=(environment.id) selected[draft.environment_id == environment.id.to_string()] {
                                (environment.name) " (" (environment.kind.as_str()) ")"
                            }
                        }
                    }
                }
                div.choice {
                    input #scope-organization type="radio" name="scope" value="organization" required checked[draft.scope == "organization"];
                    label for="scope-organization" { strong { "Organization" } ": may act as any user, in every environment" }
                }
            }
            div.field.invalid[expiry_error.is_some()] {
                label for="expires_at" { "Expiration date" }
                p.hint #expires_at-hint {
                    "Default " (bounds.default) ", latest " (bounds.max) " (" (bounds.max_days) " days). "
                    "The API user stops working at 00:00 UTC at the start of this date."
                }
                (field_error("expires_at", expiry_error))
                input #expires_at type="date" name="expires_at" value=(draft.expires_at)
                    min=(bounds.min) max=(bounds.max) required
                    aria-invalid=[expiry_error.map(|_| "true")]
                    aria-describedby=[described_by("expires_at", expiry_error, true)];
            }
            (TextField { name: "description", label: "Description (optional)", kind: "text", value: &draft.description,
                error: errors.get("description"), required: false,
                hint: Some(html! { "What uses it, who owns it." }) }.render())
            div.actions { button.primary type="submit" { "Create API user" } }
        }
    }
}

/// The message shown next to a field for an operation's validation error.
fn field_message(state: &AppState, field: &str, detail: &str) -> (&'static str, String) {
    match field {
        "username" => (
            "username",
            "Use 3 to 128 printable characters, without spaces at either end.".into(),
        ),
        "expires_at" if detail.contains("future") => (
            "expires_at",
            "The expiration date must be in the future (tomorrow or later).".into(),
        ),
        "expires_at" => {
            let bounds = expiry_bounds(state);
            (
                "expires_at",
                format!(
                    "The expiration date can be at most {} days away: {} or earlier.",
                    bounds.max_days, bounds.max
                ),
            )
        }
        "description" => (
            "description",
            "The description can be at most 1000 characters.".into(),
        ),
        "scope.user_id" => ("scope_user", "Choose a user of your organization.".into()),
        "scope.environment_id" => (
            "scope_environment",
            "Choose an environment of your organization.".into(),
        ),
        _ => ("username", "The form has an invalid value.".into()),
    }
}

/// `POST /console/api-users`: creates an API user and shows its key once.
pub async fn create(State(state): State<AppState>, posted: Posted<Admin>) -> Reply {
    let admin = posted.who;
    let draft = Draft::from_form(&posted.form);
    let mut errors = FieldErrors::default();
    if draft.username.trim().is_empty() {
        errors.add("username", "Enter a username.");
    }
    let scope = match draft.scope.as_str() {
        "user" => {
            let user = UserId::parse(&draft.user_id).map(Scope::User);
            if user.is_none() {
                errors.add("scope_user", "Choose the user this API user may act as.");
            }
            user
        }
        "environment" => {
            let environment = EnvironmentId::parse(&draft.environment_id).map(Scope::Environment);
            if environment.is_none() {
                errors.add(
                    "scope_environment",
                    "Choose the environment this API user may act in.",
                );
            }
            environment
        }
        "organization" => Some(Scope::Organization),
        _ => {
            errors.add(
                "scope",
                "Choose a scope: User, Environment or Organization.",
            );
            None
        }
    };
    let expires_at = if draft.expires_at.trim().is_empty() {
        errors.add("expires_at", "Choose an expiration date.");
        None
    } else {
        match ops::parse_expiry(&draft.expires_at) {
            Ok(at) => Some(at),
            Err(_) => {
                errors.add("expires_at", "Enter the date as YYYY-MM-DD.");
                None
            }
        }
    };
    let mut status = StatusCode::UNPROCESSABLE_ENTITY;
    if let (true, Some(scope), Some(expires_at)) = (errors.is_empty(), scope, expires_at) {
        let description = Some(draft.description.trim()).filter(|d| !d.is_empty());
        match state
            .ops()
            .create_api_user(
                &admin.actor,
                &draft.username,
                scope,
                expires_at,
                description,
            )
            .await
        {
            Ok(issued) => {
                return Ok(key_page(&state, &admin, "API user created", &issued, None));
            }
            Err(OpError::Conflict { .. }) => {
                status = StatusCode::CONFLICT;
                errors.add(
                    "username",
                    "An API user with this username, or one that looks like it, already exists. \
                     Choose another username.",
                );
            }
            Err(OpError::Unreadable { .. }) => {
                status = StatusCode::BAD_REQUEST;
                errors.add("username", layout::UNREADABLE_NAME);
            }
            Err(OpError::Invalid { field, detail }) => {
                let (field, message) = field_message(&state, field, &detail);
                errors.add(field, message);
            }
            Err(OpError::Refused { .. }) => {
                let server_max = state.config.api_user_max_lifetime_days;
                let days = state
                    .ops()
                    .policy(admin.actor.organization_id)
                    .await?
                    .max_lifetime(server_max)
                    .whole_days();
                errors.add(
                    "expires_at",
                    format!(
                        "The expiration date can be at most {days} days away under the organization's credential policy."
                    ),
                );
            }
            Err(other) => return Err(other.into()),
        }
    }
    render_list(
        &state,
        &admin,
        &ListQuery::default(),
        &draft,
        &errors,
        status,
    )
    .await
}
