//! The console's directory pages: environments and their administrators, accounts (with the
//! context identifier integrators need), users with status, password and memberships, and
//! integrator keys with the legacy-header sunset and the organization's legacy-header switch.
//!
//! Every change goes through [`crate::ops::Ops`], like the admin API and the CLI, so validation,
//! cache invalidation and the audit log are the same whichever door was used.

use super::layout::{
    self, ConsoleError, FieldErrors, Reply, Section, TextField, copy_button, described_by,
    field_error, notice, when_html,
};
use super::session::{Admin, FormData, PageQuery, Posted, csrf_field, see_other};
use crate::ops::OpError;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use countersign_core::directory::{
    Account, Environment, EnvironmentKind, IntegratorKey, IntegratorKeyStatus, Membership,
    Permissions, User, UserStatus,
};
use countersign_core::ids::{AccountId, EnvironmentId, IntegratorKeyId, OrganizationId, UserId};
use countersign_core::secret::Secret;
use countersign_store::{Page, StoreError};
use maud::{Markup, html};
use serde::Deserialize;

/// Rows fetched per store call when a page needs a whole list (pickers, lookups).
const BATCH: u32 = 1000;
/// At most this many batches are read for one list, bounding the work of a page.
const MAX_BATCHES: usize = 100;

/// Reads every page of a cursor-paged store list, up to [`MAX_BATCHES`].
async fn collect<T, F, Fut>(mut fetch: F) -> Result<Vec<T>, StoreError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<Page<T>, StoreError>>,
{
    let mut items = Vec::new();
    let mut cursor = None;
    for _ in 0..MAX_BATCHES {
        let page = fetch(cursor.take()).await?;
        items.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(items)
}

/// Every user of an organization, in creation order.
///
/// # Errors
/// Returns the store's error.
pub async fn all_users(
    state: &AppState,
    organization: OrganizationId,
) -> Result<Vec<User>, StoreError> {
    collect(|cursor| async move {
        state
            .store
            .list_users(organization, cursor.as_deref(), BATCH)
            .await
    })
    .await
}

/// Every environment of an organization, in creation order.
///
/// # Errors
/// Returns the store's error.
pub async fn all_environments(
    state: &AppState,
    organization: OrganizationId,
) -> Result<Vec<Environment>, StoreError> {
    collect(|cursor| async move {
        state
            .store
            .list_environments(organization, cursor.as_deref(), BATCH)
            .await
    })
    .await
}

/// Every account of an organization, in creation order.
///
/// # Errors
/// Returns the store's error.
pub async fn all_accounts(
    state: &AppState,
    organization: OrganizationId,
) -> Result<Vec<Account>, StoreError> {
    collect(|cursor| async move {
        state
            .store
            .list_accounts(organization, cursor.as_deref(), BATCH)
            .await
    })
    .await
}

async fn all_integrator_keys(
    state: &AppState,
    organization: OrganizationId,
) -> Result<Vec<IntegratorKey>, StoreError> {
    collect(|cursor| async move {
        state
            .store
            .list_integrator_keys(organization, cursor.as_deref(), BATCH)
            .await
    })
    .await
}

/// Query of the directory pages: what was just done, for the notice.
#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

/// Turns an operation's validation message (`"name must not be empty"`) into a sentence.
fn sentence(detail: &str) -> String {
    let mut chars = detail.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

fn environment_name(environments: &[Environment], id: EnvironmentId) -> String {
    environments
        .iter()
        .find(|e| e.id == id)
        .map_or_else(|| id.to_string(), |e| e.name.clone())
}

pub(super) fn parse_path<T>(
    text: &str,
    parse: fn(&str) -> Option<T>,
    entity: &'static str,
) -> Result<T, ConsoleError> {
    parse(text).ok_or(ConsoleError::NotFound(entity))
}

// ---------------------------------------------------------------------------------------------
// Environments

#[derive(Debug, Default)]
struct EnvironmentDraft {
    name: String,
    kind: String,
}

/// `GET /console/environments`.
pub async fn environments_page(
    State(state): State<AppState>,
    admin: Admin,
    PageQuery(query): PageQuery<DoneQuery>,
) -> Reply {
    let done = match query.done.as_deref() {
        Some("created") => Some(
            "The environment was created, with you as its administrator. Add the other organization administrators to it.",
        ),
        Some("admin_added") => Some("The administrator was added."),
        Some("admin_removed") => Some("The administrator was removed."),
        _ => None,
    };
    render_environments(
        &state,
        &admin,
        done,
        &EnvironmentDraft {
            kind: "production".into(),
            ..EnvironmentDraft::default()
        },
        &FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}

async fn render_environments(
    state: &AppState,
    admin: &Admin,
    done: Option<&str>,
    draft: &EnvironmentDraft,
    errors: &FieldErrors,
    status: StatusCode,
) -> Reply {
    let organization = admin.actor.organization_id;
    let environments = all_environments(state, organization).await?;
    let users = all_users(state, organization).await?;
    let mut admins = Vec::with_capacity(environments.len());
    for environment in &environments {
        admins.push(state.store.list_environment_admins(environment.id).await?);
    }
    let csrf = &admin.session.csrf_token;
    let me = admin.session.user.id;
    let kind_error = errors.get("kind");
    let body = html! {
        (notice(done))
        p.hint { "An organization administrator is a user who administers " strong { "every" } " environment. "
            "Only organization administrators can use this console and manage API users." }
        section aria-labelledby="environments-heading" {
            h2 #environments-heading { "Environments" }
            @for (environment, environment_admins) in environments.iter().zip(&admins) {
                article.card id=(format!("environment-{}", environment.id)) {
                    h3 { (environment.name) " " span.tag { (environment.kind.as_str()) } }
                    dl.facts { dt { "Id" } dd { code { (environment.id) } } }
                    h4 { "Administrators" }
                    @if environment_admins.is_empty() {
                        p.empty { "No administrators." }
                    } @else {
                        ul.plain {
                            @for user in environment_admins {
                                li {
                                    (user.email)
                                    form.inline method="post" action=(format!("/console/environments/{}/admins/{}/remove", environment.id, user.id))
                                        data-confirm=[(user.id == me).then_some("Remove yourself? You will no longer be an organization administrator and will lose access to this console.")] {
                                        (csrf_field(csrf))
                                        button.link.danger-text type="submit" aria-label=(format!("Remove {} as administrator of {}", user.email, environment.name)) {
                                            @if user.id == me { "Remove (you)" } @else { "Remove" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    @let candidates: Vec<&User> = users.iter().filter(|u| u.is_active() && !environment_admins.iter().any(|a| a.id == u.id)).collect();
                    @if !candidates.is_empty() {
                        form.inline-form method="post" action=(format!("/console/environments/{}/admins", environment.id)) {
                            (csrf_field(csrf))
                            @let field = format!("add-admin-{}", environment.id);
                            label for=(field) { "Add administrator" }
                            select id=(field) name="user_id" {
                                @for user in candidates { option value=(user.id) { (user.email) } }
                            }
                            button.secondary type="submit" { "Add" }
                        }
                    }
                }
            }
        }
        section aria-labelledby="create-environment-heading" {
            h2 #create-environment-heading { "Create an environment" }
            (errors.summary())
            form.stack method="post" action="/console/environments" {
                (csrf_field(csrf))
                (TextField { name: "name", label: "Name", kind: "text", value: &draft.name, error: errors.get("name"),
                    hint: None, required: true }.render())
                div.field.invalid[kind_error.is_some()] {
                    label for="kind" { "Kind" }
                    (field_error("kind", kind_error))
                    select #kind name="kind" aria-describedby=[described_by("kind", kind_error, false)] {
                        option value="production" selected[draft.kind == "production"] { "Production" }
                        option value="sandbox" selected[draft.kind == "sandbox"] { "Sandbox" }
                    }
                }
                div.actions { button.primary type="submit" { "Create environment" } }
            }
        }
    };
    Ok(layout::html(
        status,
        layout::page(
            &admin.session,
            Some(Section::Environments),
            "Environments",
            "environments",
            body,
        ),
    ))
}

/// `POST /console/environments`.
pub async fn create_environment(State(state): State<AppState>, posted: Posted<Admin>) -> Reply {
    let admin = posted.who;
    let draft = EnvironmentDraft {
        name: posted.form.text("name").to_owned(),
        kind: posted.form.text("kind").to_owned(),
    };
    let mut errors = FieldErrors::default();
    match EnvironmentKind::parse(&draft.kind) {
        None => errors.add("kind", "Choose Production or Sandbox."),
        Some(kind) => match state
            .ops()
            .create_environment(&admin.actor, &draft.name, kind)
            .await
        {
            Ok(environment) => {
                return Ok(see_other(&format!(
                    "/console/environments?done=created#environment-{}",
                    environment.id
                )));
            }
            Err(OpError::Invalid { detail, .. }) => errors.add("name", sentence(&detail)),
            Err(other) => return Err(other.into()),
        },
    }
    render_environments(
        &state,
        &admin,
        None,
        &draft,
        &errors,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

/// `POST /console/environments/{id}/admins`.
pub async fn add_environment_admin(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<Admin>,
) -> Reply {
    let admin = posted.who;
    let environment = parse_path(&id, EnvironmentId::parse, "environment")?;
    let user = parse_path(posted.form.text("user_id"), UserId::parse, "user")?;
    state
        .ops()
        .add_environment_admin(&admin.actor, environment, user)
        .await?;
    Ok(see_other(&format!(
        "/console/environments?done=admin_added#environment-{environment}"
    )))
}

/// `POST /console/environments/{id}/admins/{user_id}/remove`.
pub async fn remove_environment_admin(
    State(state): State<AppState>,
    Path((id, user_id)): Path<(String, String)>,
    posted: Posted<Admin>,
) -> Reply {
    let admin = posted.who;
    let environment = parse_path(&id, EnvironmentId::parse, "environment")?;
    let user = parse_path(&user_id, UserId::parse, "user")?;
    state
        .ops()
        .remove_environment_admin(&admin.actor, environment, user)
        .await?;
    Ok(see_other(&format!(
        "/console/environments?done=admin_removed#environment-{environment}"
    )))
}

// ---------------------------------------------------------------------------------------------
// Accounts

#[derive(Debug, Default)]
struct AccountDraft {
    name: String,
    environment_id: String,
}

/// `GET /console/accounts`.
pub async fn accounts_page(
    State(state): State<AppState>,
    admin: Admin,
    PageQuery(query): PageQuery<DoneQuery>,
) -> Reply {
    let done = (query.done.as_deref() == Some("created")).then_some("The account was created.");
    render_accounts(
        &state,
        &admin,
        done,
        &AccountDraft::default(),
        &FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}

async fn render_accounts(
    state: &AppState,
    admin: &Admin,
    done: Option<&str>,
    draft: &AccountDraft,
    errors: &FieldErrors,
    status: StatusCode,
) -> Reply {
    let organization = admin.actor.organization_id;
    let environments = all_environments(state, organization).await?;
    let accounts = all_accounts(state, organization).await?;
    let environment_error = errors.get("environment_id");
    let body = html! {
        (notice(done))
        section aria-labelledby="accounts-heading" {
            h2 #accounts-heading { "Accounts" }
            p.hint { "The context identifier is what integrations send after the username in "
                code { "X-AS-UserContext: {username}:{context identifier}" } "; the number is DocuSign's numeric "
                code { "accountId" } "." }
            div.table-wrap {
                table.list #accounts {
                    thead { tr { th scope="col" { "Name" } th scope="col" { "Environment" } th scope="col" { "Number" } th scope="col" { "Context identifier" } } }
                    tbody {
                        @for account in &accounts {
                            @let target = format!("context-{}", account.id);
                            tr {
                                td data-label="Name" { (account.name) }
                                td data-label="Environment" { (environment_name(&environments, account.environment_id)) }
                                td data-label="Number" { code { (account.number) } }
                                td data-label="Context identifier" {
                                    span.copy-row {
                                        code.context-id id=(target) { (account.id) }
                                        (copy_button(&target, &format!("Copy the context identifier of {}", account.name)))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="create-account-heading" {
            h2 #create-account-heading { "Create an account" }
            (errors.summary())
            form.stack method="post" action="/console/accounts" {
                (csrf_field(&admin.session.csrf_token))
                div.field.invalid[environment_error.is_some()] {
                    label for="environment_id" { "Environment" }
                    (field_error("environment_id", environment_error))
                    select #environment_id name="environment_id" aria-describedby=[described_by("environment_id", environment_error, false)] {
                        @for environment in &environments {
                            option value=(environment.id) selected[draft.environment_id == environment.id.to_string()] {
                                (environment.name) " (" (environment.kind.as_str()) ")"
                            }
                        }
                    }
                }
                (TextField { name: "name", label: "Name", kind: "text", value: &draft.name, error: errors.get("name"),
                    hint: None, required: true }.render())
                div.actions { button.primary type="submit" { "Create account" } }
            }
        }
    };
    Ok(layout::html(
        status,
        layout::page(
            &admin.session,
            Some(Section::Accounts),
            "Accounts",
            "accounts",
            body,
        ),
    ))
}

/// `POST /console/accounts`.
pub async fn create_account(State(state): State<AppState>, posted: Posted<Admin>) -> Reply {
    let admin = posted.who;
    let draft = AccountDraft {
        name: posted.form.text("name").to_owned(),
        environment_id: posted.form.text("environment_id").to_owned(),
    };
    let mut errors = FieldErrors::default();
    match EnvironmentId::parse(&draft.environment_id) {
        None => errors.add("environment_id", "Choose an environment."),
        Some(environment) => match state
            .ops()
            .create_account(&admin.actor, environment, &draft.name)
            .await
        {
            Ok(_) => return Ok(see_other("/console/accounts?done=created")),
            Err(OpError::Invalid { field, detail }) => {
                let field = if field == "environment_id" {
                    "environment_id"
                } else {
                    "name"
                };
                errors.add(field, sentence(&detail));
            }
            Err(other) => return Err(other.into()),
        },
    }
    render_accounts(
        &state,
        &admin,
        None,
        &draft,
        &errors,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Users

#[derive(Debug, Default)]
struct UserDraft {
    email: String,
    name: String,
}

/// `GET /console/users`.
pub async fn users_page(State(state): State<AppState>, admin: Admin) -> Reply {
    render_users(
        &state,
        &admin,
        &UserDraft::default(),
        &FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}

async fn render_users(
    state: &AppState,
    admin: &Admin,
    draft: &UserDraft,
    errors: &FieldErrors,
    status: StatusCode,
) -> Reply {
    let organization = admin.actor.organization_id;
    let users = all_users(state, organization).await?;
    let mut memberships = Vec::with_capacity(users.len());
    for user in &users {
        memberships.push(state.store.list_memberships(user.id).await?);
    }
    let body = html! {
        section aria-labelledby="users-heading" {
            h2 #users-heading { "Users" }
            div.table-wrap {
                table.list #users {
                    thead { tr { th scope="col" { "Email" } th scope="col" { "Name" } th scope="col" { "Status" }
                        th scope="col" { "Password" } th scope="col" { "Accounts" } } }
                    tbody {
                        @for (user, user_memberships) in users.iter().zip(&memberships) {
                            tr {
                                td data-label="Email" { a href=(format!("/console/users/{}", user.id)) { (user.email) } }
                                td data-label="Name" { (user.name) }
                                td data-label="Status" { span class=(format!("status status-{}", user.status.as_str())) { (capitalized(user.status.as_str())) } }
                                td data-label="Password" { @if user.has_password { "Set" } @else { span.hint { "None" } } }
                                td data-label="Accounts" {
                                    @if user_memberships.is_empty() { span.hint { "None" } }
                                    @for (index, membership) in user_memberships.iter().enumerate() {
                                        @if index > 0 { ", " }
                                        (membership.account_name)
                                        @if membership.is_default { " (default)" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="create-user-heading" {
            h2 #create-user-heading { "Create a user" }
            (errors.summary())
            form.stack method="post" action="/console/users" {
                (csrf_field(&admin.session.csrf_token))
                (TextField { name: "email", label: "Email", kind: "email", value: &draft.email, error: errors.get("email"),
                    hint: Some(html! { "The username; unique in the organization, case-insensitive." }), required: true }.render())
                (TextField { name: "name", label: "Name", kind: "text", value: &draft.name, error: errors.get("name"),
                    hint: None, required: true }.render())
                (TextField { name: "password", label: "Password (optional)", kind: "password", value: "", error: errors.get("password"),
                    hint: Some(html! { "Needed to sign in to this console or to use the DocuSign legacy header. At least 8 characters." }),
                    required: false }.render())
                div.actions { button.primary type="submit" { "Create user" } }
            }
        }
    };
    Ok(layout::html(
        status,
        layout::page(&admin.session, Some(Section::Users), "Users", "users", body),
    ))
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// `POST /console/users`.
pub async fn create_user(State(state): State<AppState>, posted: Posted<Admin>) -> Reply {
    let admin = posted.who;
    let form = &posted.form;
    let draft = UserDraft {
        email: form.text("email").trim().to_owned(),
        name: form.text("name").trim().to_owned(),
    };
    let password = Some(form.text("password"))
        .filter(|p| !p.is_empty())
        .map(Secret::new);
    let mut errors = FieldErrors::default();
    let mut status = StatusCode::UNPROCESSABLE_ENTITY;
    match state
        .ops()
        .create_user(&admin.actor, &draft.email, &draft.name, password)
        .await
    {
        Ok(user) => {
            return Ok(see_other(&format!(
                "/console/users/{}?done=created",
                user.id
            )));
        }
        Err(OpError::Conflict { .. }) => {
            errors.add(
                "email",
                "A user with this email, or one that looks like it, already exists.",
            );
        }
        Err(OpError::Unreadable { .. }) => {
            status = StatusCode::BAD_REQUEST;
            errors.add("email", super::layout::UNREADABLE_NAME);
        }
        Err(OpError::Invalid { field, detail }) => {
            let field = match field {
                "email" => "email",
                "password" => "password",
                _ => "name",
            };
            errors.add(field, sentence(&detail));
        }
        Err(other) => return Err(other.into()),
    }
    render_users(&state, &admin, &draft, &errors, status).await
}

/// `GET /console/users/{id}`: status, password and memberships of one user.
pub async fn user_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    admin: Admin,
    PageQuery(query): PageQuery<DoneQuery>,
) -> Reply {
    let id = parse_path(&id, UserId::parse, "user")?;
    let done = match query.done.as_deref() {
        Some("created") => Some("The user was created. Give them access to accounts below."),
        Some("status") => Some("The status was changed; it applies to the next request."),
        Some("password") => Some("The password was set. Earlier API passwords no longer work."),
        Some("api_passwords") => Some("Every API password of this user was ended."),
        Some("membership_saved") => Some("The membership was saved."),
        Some("membership_removed") => Some("The membership was removed."),
        _ => None,
    };
    render_user(
        &state,
        &admin,
        id,
        done,
        &FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}

async fn render_user(
    state: &AppState,
    admin: &Admin,
    id: UserId,
    done: Option<&str>,
    errors: &FieldErrors,
    status: StatusCode,
) -> Reply {
    let organization = admin.actor.organization_id;
    let user = state.store.fetch_user(organization, id).await?;
    let memberships = state.store.list_memberships(id).await?;
    let accounts = all_accounts(state, organization).await?;
    let environments = all_environments(state, organization).await?;
    let csrf = &admin.session.csrf_token;
    let is_me = user.id == admin.session.user.id;
    let body = html! {
        (notice(done))
        (errors.summary())
        dl.facts {
            dt { "Email" } dd { (user.email) }
            dt { "Name" } dd { (user.name) }
            dt { "Status" } dd { span class=(format!("status status-{}", user.status.as_str())) { (capitalized(user.status.as_str())) } }
            dt { "User id" } dd { span.copy-row { code #user-id { (user.id) } (copy_button("user-id", "Copy the user id")) } }
            dt { "Password" } dd { @if user.has_password { "Set" } @else { "None" } }
        }
        section aria-labelledby="memberships-heading" {
            h2 #memberships-heading { "Memberships" }
            p.hint { "Which accounts the user belongs to and what they may do there. "
                "Send on behalf of others needs account-wide rights too (DocuSign legacy header). "
                "One account is the user's default." }
            @for account in &accounts {
                @let membership = memberships.iter().find(|m| m.account_id == account.id);
                (membership_form(csrf, &user, account, membership, &environments))
            }
        }
        section aria-labelledby="status-heading" {
            h2 #status-heading { "Status" }
            form.inline method="post" action=(format!("/console/users/{}/status", user.id)) {
                (csrf_field(csrf))
                @if user.is_active() {
                    input type="hidden" name="status" value="disabled";
                    p { "An active user can be acted for and can sign in. Disabling takes effect on the next request." }
                    button.danger type="submit" disabled[is_me] { "Disable user" }
                    @if is_me { span.hint { " You cannot disable yourself." } }
                } @else {
                    input type="hidden" name="status" value="active";
                    p { "This user is disabled: nobody can act for them and they cannot sign in." }
                    button.primary type="submit" { "Enable user" }
                }
            }
        }
        section aria-labelledby="password-heading" {
            h2 #password-heading { "Password" }
            form.stack method="post" action=(format!("/console/users/{}/password", user.id)) {
                (csrf_field(csrf))
                (TextField { name: "password", label: "New password", kind: "password", value: "", error: errors.get("password"),
                    hint: Some(html! { "At least 8 characters. Setting it ends the user's API passwords and cached legacy-header verifications." }),
                    required: true }.render())
                div.actions { button.primary type="submit" { "Set password" } }
            }
            form.inline method="post" action=(format!("/console/users/{}/api-passwords/reset", user.id)) {
                (csrf_field(csrf))
                p { "API passwords are issued by " code { "login_information?api_password=true" } "." }
                button.secondary type="submit" { "End all API passwords" }
            }
        }
        p { a href="/console/users" { "Back to users" } }
    };
    Ok(layout::html(
        status,
        layout::page(
            &admin.session,
            Some(Section::Users),
            &format!("User {}", user.email),
            "user",
            body,
        ),
    ))
}

fn membership_form(
    csrf: &str,
    user: &User,
    account: &Account,
    membership: Option<&Membership>,
    environments: &[Environment],
) -> Markup {
    let permissions = membership.map_or_else(Permissions::none, |m| m.permissions);
    let is_default = membership.is_some_and(|m| m.is_default);
    let prefix = format!("m-{}", account.id);
    let labels = [
        (Permissions::SEND, "send", "Send documents"),
        (Permissions::SOBO, "sobo", "Send on behalf of others"),
        (
            Permissions::ACCOUNT_WIDE,
            "account_wide",
            "Account-wide rights",
        ),
        (Permissions::ADMIN, "admin", "Account administrator"),
    ];
    html! {
        form.membership method="post" id=(format!("account-{}", account.id))
            action=(format!("/console/users/{}/memberships/{}", user.id, account.id)) {
            (csrf_field(csrf))
            fieldset {
                legend {
                    (account.name) " "
                    span.hint { "(" (environment_name(environments, account.environment_id)) ", number " (account.number) ")" }
                    " "
                    @if membership.is_some() { span.status.status-active { "Member" } } @else { span.status.status-none { "Not a member" } }
                }
                div.checks {
                    @for (permission, name, label) in labels {
                        @let id = format!("{prefix}-{name}");
                        div.choice {
                            input id=(id) type="checkbox" name="permission" value=(name) checked[permissions.contains(permission)];
                            label for=(id) { (label) " " code { (name) } }
                        }
                    }
                    div.choice {
                        @let id = format!("{prefix}-default");
                        input id=(id) type="checkbox" name="is_default" value="true" checked[is_default];
                        label for=(id) { "Default account" }
                    }
                }
                div.actions {
                    button.primary type="submit" { @if membership.is_some() { "Save membership" } @else { "Add membership" } }
                    @if membership.is_some() {
                        " "
                        button.secondary type="submit" formaction=(format!("/console/users/{}/memberships/{}/remove", user.id, account.id)) {
                            "Remove membership"
                        }
                    }
                }
            }
        }
    }
}

/// `POST /console/users/{id}/status`.
pub async fn set_user_status(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<Admin>,
) -> Reply {
    let admin = posted.who;
    let id = parse_path(&id, UserId::parse, "user")?;
    let status = UserStatus::parse(posted.form.text("status")).ok_or(ConsoleError::BadRequest(
        "the status must be active or disabled",
    ))?;
    if status == UserStatus::Disabled && id == admin.session.user.id {
        return Err(ConsoleError::BadRequest("you cannot disable yourself"));
    }
    state
        .ops()
        .update_user(&admin.actor, id, None, Some(status))
        .await?;
    Ok(see_other(&format!("/console/users/{id}?done=status")))
}

/// `POST /console/users/{id}/password`.
pub async fn set_password(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<Admin>,
) -> Reply {
    let admin = posted.who;
    let id = parse_path(&id, UserId::parse, "user")?;
    let password = Secret::new(posted.form.text("password"));
    match state.ops().set_password(&admin.actor, id, password).await {
        Ok(()) => Ok(see_other(&format!("/console/users/{id}?done=password"))),
        Err(OpError::Invalid { detail, .. }) => {
            let mut errors = FieldErrors::default();
            errors.add("password", sentence(&detail));
            render_user(
                &state,
                &admin,
                id,
                None,
                &errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}

/// `POST /console/users/{id}/api-passwords/reset`.
pub async fn reset_api_passwords(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<Admin>,
) -> Reply {
    let admin = posted.who;
    let id = parse_path(&id, UserId::parse, "user")?;
    state.ops().reset_api_passwords(&admin.actor, id).await?;
    Ok(see_other(&format!(
        "/console/users/{id}?done=api_passwords"
    )))
}

fn membership_permissions(form: &FormData) -> Result<Permissions, ConsoleError> {
    let names: Vec<&str> = form.all("permission").collect();
    Permissions::parse_names(&names).map_err(|_| {
        ConsoleError::BadRequest("a permission is not one of send, sobo, account_wide, admin")
    })
}

/// `POST /console/users/{id}/memberships/{account_id}`: grants or changes a membership.
pub async fn save_membership(
    State(state): State<AppState>,
    Path((id, account_id)): Path<(String, String)>,
    posted: Posted<Admin>,
) -> Reply {
    let admin = posted.who;
    let user = parse_path(&id, UserId::parse, "user")?;
    let account = parse_path(&account_id, AccountId::parse, "account")?;
    let permissions = membership_permissions(&posted.form)?;
    let is_default = posted.form.get("is_default").is_some();
    state
        .ops()
        .put_membership(&admin.actor, user, account, permissions, is_default)
        .await?;
    Ok(see_other(&format!(
        "/console/users/{user}?done=membership_saved#account-{account}"
    )))
}

/// `POST /console/users/{id}/memberships/{account_id}/remove`.
pub async fn remove_membership(
    State(state): State<AppState>,
    Path((id, account_id)): Path<(String, String)>,
    posted: Posted<Admin>,
) -> Reply {
    let admin = posted.who;
    let user = parse_path(&id, UserId::parse, "user")?;
    let account = parse_path(&account_id, AccountId::parse, "account")?;
    state
        .ops()
        .delete_membership(&admin.actor, user, account)
        .await?;
    Ok(see_other(&format!(
        "/console/users/{user}?done=membership_removed#account-{account}"
    )))
}

// ---------------------------------------------------------------------------------------------
// Integrator keys

#[derive(Debug, Default)]
struct KeyDraft {
    name: String,
    key: String,
}

/// `GET /console/integrator-keys`.
pub async fn integrator_keys_page(
    State(state): State<AppState>,
    admin: Admin,
    PageQuery(query): PageQuery<DoneQuery>,
) -> Reply {
    let done = match query.done.as_deref() {
        Some("created") => Some("The integrator key was created."),
        Some("revoked") => {
            Some("The integrator key was revoked. Requests with it are refused from now on.")
        }
        Some("sunset_set") => Some(
            "The legacy-header sunset date was set. Until then answers carry Sunset and Deprecation headers.",
        ),
        Some("sunset_cleared") => Some("The legacy-header sunset date was cleared."),
        Some("legacy_enabled") => Some("The legacy header is enabled for the organization."),
        Some("legacy_disabled") => Some("The legacy header is disabled for the organization."),
        _ => None,
    };
    render_integrator_keys(
        &state,
        &admin,
        done,
        &KeyDraft::default(),
        &FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}

async fn render_integrator_keys(
    state: &AppState,
    admin: &Admin,
    done: Option<&str>,
    draft: &KeyDraft,
    errors: &FieldErrors,
    status: StatusCode,
) -> Reply {
    let organization_id = admin.actor.organization_id;
    let organization = state.store.fetch_organization(organization_id).await?;
    let keys = all_integrator_keys(state, organization_id).await?;
    let csrf = &admin.session.csrf_token;
    let body = html! {
        (notice(done))
        section aria-labelledby="legacy-heading" {
            h2 #legacy-heading { "DocuSign legacy header" }
            form.inline method="post" action="/console/organization/legacy-header" {
                (csrf_field(csrf))
                @if organization.legacy_header_enabled {
                    p { code { "X-DocuSign-Authentication" } " is " strong { "accepted" } " for this organization." }
                    input type="hidden" name="enabled" value="false";
                    button.danger type="submit" { "Refuse the legacy header" }
                } @else {
                    p { code { "X-DocuSign-Authentication" } " is " strong { "refused" } " for this organization." }
                    input type="hidden" name="enabled" value="true";
                    button.secondary type="submit" { "Accept the legacy header again" }
                }
            }
        }
        section aria-labelledby="keys-heading" {
            h2 #keys-heading { "Integrator keys" }
            @if let Some(error) = errors.get("sunset") { p.error-summary role="alert" { (error) } }
            @if keys.is_empty() {
                p.empty { "There are no integrator keys yet." }
            } @else {
                div.table-wrap {
                    table.list #integrator-keys {
                        thead { tr { th scope="col" { "Name" } th scope="col" { "Key" } th scope="col" { "Status" }
                            th scope="col" { "Legacy sunset" } th scope="col" { "Actions" } } }
                        tbody {
                            @for key in &keys { (integrator_key_row(csrf, key)) }
                        }
                    }
                }
            }
        }
        section aria-labelledby="create-key-heading" {
            h2 #create-key-heading { "Create or import an integrator key" }
            (errors.summary())
            form.stack method="post" action="/console/integrator-keys" {
                (csrf_field(csrf))
                (TextField { name: "name", label: "Name", kind: "text", value: &draft.name, error: errors.get("name"),
                    hint: Some(html! { "The integration that uses it, e.g. \u{201c}Acme ERP\u{201d}." }), required: true }.render())
                (TextField { name: "key", label: "Existing key to import (optional)", kind: "text", value: &draft.key, error: errors.get("key"),
                    hint: Some(html! { "An integration's current key, e.g. " code { "YDMN-339fa93c-…" } ". Leave empty to generate a new one." }),
                    required: false }.render())
                div.actions { button.primary type="submit" { "Save integrator key" } }
            }
        }
    };
    Ok(layout::html(
        status,
        layout::page(
            &admin.session,
            Some(Section::IntegratorKeys),
            "Integrator keys",
            "integrator-keys",
            body,
        ),
    ))
}

fn integrator_key_row(csrf: &str, key: &IntegratorKey) -> Markup {
    let id = key.id;
    let target = format!("integrator-key-{id}");
    let sunset_field = format!("sunset-{id}");
    let status = key.status.as_str();
    html! {
        tr {
            td data-label="Name" { (key.name) }
            td data-label="Key" { span.copy-row { code id=(target) { (key.key) } (copy_button(&target, &format!("Copy the key of {}", key.name))) } }
            td data-label="Status" { span class=(format!("status status-{status}")) { (capitalized(status)) } }
            td data-label="Legacy sunset" {
                @match key.legacy_sunset_at { Some(at) => (when_html(at)), None => span.hint { "None" } }
                @if key.status == IntegratorKeyStatus::Active {
                    form.inline-form method="post" action=(format!("/console/integrator-keys/{id}/sunset")) {
                        (csrf_field(csrf))
                        label for=(sunset_field) { "Sunset date" }
                        input id=(sunset_field) type="date" name="legacy_sunset_at"
                            value=[key.legacy_sunset_at.map(|at| layout::date(at.date()))];
                        button.secondary type="submit" { "Set" }
                        @if key.legacy_sunset_at.is_some() {
                            button.secondary type="submit" name="clear" value="1" { "Clear" }
                        }
                    }
                }
            }
            td data-label="Actions" {
                (super::oauth_clients::link(key))
                @if key.status == IntegratorKeyStatus::Active {
                    form.inline method="post" action=(format!("/console/integrator-keys/{id}/revoke"))
                        data-confirm=(format!("Revoke the integrator key \u{201c}{}\u{201d}? Requests with it are refused at once. This cannot be undone.", key.name)) {
                        (csrf_field(csrf))
                        button.danger type="submit" { "Revoke…" }
                    }
                }
            }
        }
    }
}

/// `POST /console/integrator-keys`: creates a key, or imports an existing one.
pub async fn create_integrator_key(State(state): State<AppState>, posted: Posted<Admin>) -> Reply {
    let admin = posted.who;
    let draft = KeyDraft {
        name: posted.form.text("name").to_owned(),
        key: posted.form.text("key").trim().to_owned(),
    };
    let imported = Some(draft.key.as_str()).filter(|k| !k.is_empty());
    let mut errors = FieldErrors::default();
    match state
        .ops()
        .create_integrator_key(&admin.actor, &draft.name, imported)
        .await
    {
        Ok(_) => return Ok(see_other("/console/integrator-keys?done=created")),
        Err(OpError::Conflict { .. }) => errors.add("key", "This integrator key already exists."),
        Err(OpError::Invalid { field, detail }) => {
            let field = if field == "key" { "key" } else { "name" };
            errors.add(field, sentence(&detail));
        }
        Err(other) => return Err(other.into()),
    }
    render_integrator_keys(
        &state,
        &admin,
        None,
        &draft,
        &errors,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

/// `POST /console/integrator-keys/{id}/revoke`: asks for confirmation, then revokes.
pub async fn revoke_integrator_key(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<Admin>,
) -> Reply {
    let admin = posted.who;
    let id = parse_path(&id, IntegratorKeyId::parse, "integrator key")?;
    let key = state
        .store
        .fetch_integrator_key(admin.actor.organization_id, id)
        .await?;
    if !posted.form.is_confirmed() {
        let body = html! {
            p { "Revoke the integrator key " strong { (key.name) } "? Requests that send it are refused at once. This cannot be undone." }
            form.inline method="post" action=(format!("/console/integrator-keys/{id}/revoke")) {
                (csrf_field(&admin.session.csrf_token))
                input type="hidden" name="confirm" value="yes";
                button.danger type="submit" { "Revoke integrator key" }
                " "
                a.button.secondary href="/console/integrator-keys" { "Cancel" }
            }
        };
        return Ok(layout::html(
            StatusCode::OK,
            layout::page(
                &admin.session,
                Some(Section::IntegratorKeys),
                "Revoke integrator key?",
                "confirm",
                body,
            ),
        ));
    }
    state.ops().revoke_integrator_key(&admin.actor, id).await?;
    Ok(see_other("/console/integrator-keys?done=revoked"))
}

/// `POST /console/integrator-keys/{id}/sunset`: sets (date, 00:00 UTC) or clears the sunset.
pub async fn set_integrator_key_sunset(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<Admin>,
) -> Reply {
    let admin = posted.who;
    let id = parse_path(&id, IntegratorKeyId::parse, "integrator key")?;
    let sunset_at = if posted.form.get("clear").is_some() {
        None
    } else {
        match layout::parse_date(posted.form.text("legacy_sunset_at")) {
            Some(date) => Some(date.midnight().assume_utc()),
            None => {
                let mut errors = FieldErrors::default();
                errors.add("sunset", "Enter the sunset date as YYYY-MM-DD.");
                return render_integrator_keys(
                    &state,
                    &admin,
                    None,
                    &KeyDraft::default(),
                    &errors,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await;
            }
        }
    };
    state
        .ops()
        .set_integrator_key_sunset(&admin.actor, id, sunset_at)
        .await?;
    let done = if sunset_at.is_some() {
        "sunset_set"
    } else {
        "sunset_cleared"
    };
    Ok(see_other(&format!("/console/integrator-keys?done={done}")))
}

/// `POST /console/organization/legacy-header`: the organization-wide legacy-header switch.
pub async fn set_legacy_header(State(state): State<AppState>, posted: Posted<Admin>) -> Reply {
    let admin = posted.who;
    let enabled = match posted.form.text("enabled") {
        "true" => true,
        "false" => false,
        _ => return Err(ConsoleError::BadRequest("enabled must be true or false")),
    };
    state
        .ops()
        .set_legacy_header_enabled(&admin.actor, enabled)
        .await?;
    let done = if enabled {
        "legacy_enabled"
    } else {
        "legacy_disabled"
    };
    Ok(see_other(&format!("/console/integrator-keys?done={done}")))
}
