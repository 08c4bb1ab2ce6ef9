//! The console's users: the list, one user's status, password, API passwords and
//! memberships.
//!
//! Every change goes through [`crate::ops::Ops`], like the admin API and the CLI, so validation,
//! cache invalidation and the audit log are the same whichever door was used.

use super::directory::{DoneQuery, all, capitalized, environment_name, sentence};
use super::layout::{
    self, ConsoleError, FieldErrors, Reply, Section, TextField, copy_button, notice,
};
use super::session::{Admin, FormData, PageQuery, Posted, csrf_field, see_other};
use crate::console::layout::{ConsoleId, PostedId};
use crate::ops::OpError;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use countersign_core::directory::{
    Account, Environment, Membership, Permissions, User, UserStatus,
};
use countersign_core::ids::{AccountId, UserId};
use countersign_core::secret::Secret;
use maud::{Markup, html};
use std::collections::HashMap;

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
    let users = all::<User>(state, organization).await?;
    let mut by_user: HashMap<UserId, Vec<Membership>> = HashMap::new();
    for membership in state
        .store
        .list_organization_memberships(organization)
        .await?
    {
        by_user
            .entry(membership.user_id)
            .or_default()
            .push(membership);
    }
    let memberships: Vec<&[Membership]> = users
        .iter()
        .map(|user| by_user.get(&user.id).map_or(&[][..], Vec::as_slice))
        .collect();
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
    Ok(admin.page(status, Section::Users, "Users", "users", body))
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
    admin: Admin,
    ConsoleId(id): ConsoleId<UserId>,
    PageQuery(query): PageQuery<DoneQuery>,
) -> Reply {
    let done = match query.done.as_deref() {
        Some("created") => Some("The user was created. Give them access to accounts below."),
        Some("status") => Some("The status was changed; it applies to the next request."),
        Some("password") => Some("The password was set. Earlier API passwords no longer work."),
        Some("api_passwords") => Some("Every API password of this user was ended."),
        Some("membership_saved") => Some("The membership was saved."),
        Some("membership_removed") => Some("The membership was removed."),
        Some("sessions_ended") => Some(
            "Every session token acting as this user issued until now is refused from the next request, on every node.",
        ),
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
    let user = state.store.fetch(organization, id).await?;
    let memberships = state.store.list_memberships(id).await?;
    let accounts = all::<Account>(state, organization).await?;
    let environments = all::<Environment>(state, organization).await?;
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
        section aria-labelledby="sessions-heading" {
            h2 #sessions-heading { "Sessions acting as this user" }
            form.inline method="post" action=(format!("/console/users/{}/sessions/end", user.id)) {
                (csrf_field(csrf))
                p { "Ends every session token acting as this user, from every API user, on the next request. New sessions work as usual." }
                button.danger type="submit" { "End sessions acting as this user" }
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
    id: PostedId<UserId>,
    posted: Posted<Admin>,
) -> Reply {
    let ConsoleId(id) = id?;
    let admin = posted.who;
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
    id: PostedId<UserId>,
    posted: Posted<Admin>,
) -> Reply {
    let ConsoleId(id) = id?;
    let admin = posted.who;
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
    id: PostedId<UserId>,
    posted: Posted<Admin>,
) -> Reply {
    let ConsoleId(id) = id?;
    let admin = posted.who;
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
    id: PostedId<(UserId, AccountId)>,
    posted: Posted<Admin>,
) -> Reply {
    let ConsoleId((user, account)) = id?;
    let admin = posted.who;
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
    id: PostedId<(UserId, AccountId)>,
    posted: Posted<Admin>,
) -> Reply {
    let ConsoleId((user, account)) = id?;
    let admin = posted.who;
    state
        .ops()
        .delete_membership(&admin.actor, user, account)
        .await?;
    Ok(see_other(&format!(
        "/console/users/{user}?done=membership_removed#account-{account}"
    )))
}
