//! What is done to one API user from the console: the key shown once (after creation and
//! rotation), revoke and delete behind a confirmation, and rotate with a grace period.

use crate::console::layout::{self, Reply, Section, copy_button, described_by, field_error, when};
use crate::console::layout::{ConsoleId, PostedId};
use crate::console::session::{Admin, Posted, csrf_field, see_other};
use crate::ops::{IssuedKey, OpError};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use countersign_core::api_user::ApiUser;
use countersign_core::ids::ApiUserId;
use maud::{Markup, html};
use time::Duration;

/// The grace periods offered when rotating a key, in minutes.
const GRACE_CHOICES: [(i64, &str); 6] = [
    (0, "None: the old key stops working now"),
    (60, "1 hour"),
    (24 * 60, "1 day"),
    (3 * 24 * 60, "3 days"),
    (7 * 24 * 60, "7 days"),
    (30 * 24 * 60, "30 days"),
];

/// The page that shows a new key once; never cached.
pub(super) fn key_page(
    state: &AppState,
    admin: &Admin,
    title: &str,
    issued: &IssuedKey,
    old_key_note: Option<String>,
) -> axum::response::Response {
    let api_user = &issued.api_user;
    let version_hint = "v3.5";
    let body = html! {
        div.warning role="alert" {
            p { strong { "Copy this key now. It will not be shown again." } }
            p { "countersign stores only a digest of the key. If the key is lost, rotate the API user to get a new one." }
        }
        @if let Some(note) = &old_key_note { p.notice role="status" { (note) } }
        div.field {
            label for="new-key" { "API key for " (api_user.username) }
            div.copy-row {
                input #new-key type="text" readonly value=(issued.key.expose()) spellcheck="false" autocomplete="off";
                (copy_button("new-key", "Copy the API key"))
            }
        }
        dl.facts {
            dt { "Username" } dd { code #new-username { (api_user.username) } }
            dt { "Expires" } dd { (when(api_user.expires_at)) }
        }
        h2 { "Using it" }
        p { "Exchange the key for a session token acting for one of the users in scope:" }
        pre.snippet { code {
            "POST " (state.config.public_url.trim_end_matches('/')) "/api/" (version_hint) "/authentication/apiUser\n"
            "Content-Type: application/json\n\n"
            "{\"request\": {\"apiUsername\": \"" (api_user.username) "\", \"key\": \"<the key above>\",\n"
            "             \"contextUsername\": \"<email of the user to act for>\"}}"
        } }
        p { a.button.primary href="/console/api-users" { "I have copied the key: back to API users" } }
    };
    let mut response = admin.page(
        StatusCode::OK,
        Section::ApiUsers,
        title,
        "api-user-key",
        body,
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Revoke or delete: what the confirmation says and what is done once confirmed.
#[derive(Clone, Copy)]
enum Removal {
    Revoke,
    Delete,
}

/// `POST /console/api-users/{id}/revoke`: asks for confirmation, then revokes permanently.
pub async fn revoke(
    State(state): State<AppState>,
    id: PostedId<ApiUserId>,
    posted: Posted<Admin>,
) -> Reply {
    let ConsoleId(id) = id?;
    remove(&state, id, posted, Removal::Revoke).await
}

/// `POST /console/api-users/{id}/delete`: asks for confirmation, then deletes the record.
pub async fn delete(
    State(state): State<AppState>,
    id: PostedId<ApiUserId>,
    posted: Posted<Admin>,
) -> Reply {
    let ConsoleId(id) = id?;
    remove(&state, id, posted, Removal::Delete).await
}

async fn remove(state: &AppState, id: ApiUserId, posted: Posted<Admin>, removal: Removal) -> Reply {
    let admin = posted.who;
    let api_user = state.store.fetch(admin.actor.organization_id, id).await?;
    if !posted.form.is_confirmed() {
        let (title, verb, message, button) = match removal {
            Removal::Revoke => (
                "Revoke API user?",
                "revoke",
                html! {
                    p { "Revoke " strong { (api_user.username) } "? Every token issued under it stops working at once." }
                    p { "Revocation is permanent: the API user stays listed as revoked (under "
                        "\u{201c}Show revoked and expired API users\u{201d}) and can never be used again." }
                },
                "Revoke API user",
            ),
            Removal::Delete => (
                "Delete API user?",
                "delete",
                html! {
                    p { "Delete " strong { (api_user.username) } "? The record is removed and every token issued under it stops working at once." }
                    p { "This cannot be undone. To keep a record, revoke it instead." }
                },
                "Delete API user",
            ),
        };
        let action = format!("/console/api-users/{id}/{verb}");
        return Ok(admin.confirm_page(
            Section::ApiUsers,
            title,
            (&action, "/console/api-users"),
            message,
            button,
        ));
    }
    let done = match removal {
        Removal::Revoke => {
            state.ops().revoke_api_user(&admin.actor, id).await?;
            "revoked"
        }
        Removal::Delete => {
            state.ops().delete_api_user(&admin.actor, id).await?;
            "deleted"
        }
    };
    Ok(see_other(&format!("/console/api-users?done={done}")))
}

fn rotate_form(admin: &Admin, api_user: &ApiUser, chosen: i64, error: Option<&str>) -> Markup {
    let id = api_user.id;
    html! {
        p { "Rotating issues a new key for " strong { (api_user.username) } " and shows it once. "
            "The old key, and the tokens issued with it, keep working for the grace period you choose, then stop." }
        form.stack method="post" action=(format!("/console/api-users/{id}/rotate")) {
            (csrf_field(&admin.session.csrf_token))
            div.field.invalid[error.is_some()] {
                label for="grace_minutes" { "Grace period for the old key" }
                (field_error("grace_minutes", error))
                select #grace_minutes name="grace_minutes" aria-invalid=[error.map(|_| "true")]
                    aria-describedby=[described_by("grace_minutes", error, false)] {
                    @for (minutes, label) in GRACE_CHOICES {
                        option value=(minutes) selected[minutes == chosen] { (label) }
                    }
                }
            }
            div.actions {
                button.primary type="submit" { "Rotate key" }
                " "
                a.button.secondary href="/console/api-users" { "Cancel" }
            }
        }
    }
}

fn rotate_response(
    admin: &Admin,
    api_user: &ApiUser,
    chosen: i64,
    error: Option<&str>,
    status: StatusCode,
) -> Reply {
    Ok(layout::html(
        status,
        layout::page(
            &admin.session,
            Some(Section::ApiUsers),
            "Rotate key",
            "rotate",
            rotate_form(admin, api_user, chosen, error),
        ),
    ))
}

/// `GET /console/api-users/{id}/rotate`: the grace-period choice.
pub async fn rotate_page(
    State(state): State<AppState>,
    admin: Admin,
    ConsoleId(id): ConsoleId<ApiUserId>,
) -> Reply {
    let api_user = state.store.fetch(admin.actor.organization_id, id).await?;
    if !api_user.is_usable(state.now()) {
        return rotate_response(
            &admin,
            &api_user,
            0,
            Some("Only an active API user can be rotated."),
            StatusCode::CONFLICT,
        );
    }
    rotate_response(&admin, &api_user, 24 * 60, None, StatusCode::OK)
}

/// `POST /console/api-users/{id}/rotate`: issues a new key and shows it once.
pub async fn rotate(
    State(state): State<AppState>,
    id: PostedId<ApiUserId>,
    posted: Posted<Admin>,
) -> Reply {
    let ConsoleId(id) = id?;
    let admin = posted.who;
    let api_user = state.store.fetch(admin.actor.organization_id, id).await?;
    let Ok(grace) = posted.form.text("grace_minutes").trim().parse::<i64>() else {
        return rotate_response(
            &admin,
            &api_user,
            0,
            Some("Choose a grace period."),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    match state
        .ops()
        .rotate_api_user(&admin.actor, id, grace, None)
        .await
    {
        Ok(issued) => {
            let note = if grace == 0 {
                "The previous key stopped working now.".to_owned()
            } else {
                format!(
                    "The previous key keeps working until {}.",
                    when(state.now() + Duration::minutes(grace))
                )
            };
            Ok(key_page(&state, &admin, "New key", &issued, Some(note)))
        }
        Err(OpError::Invalid { field, .. }) => {
            let message = if field == "grace_minutes" {
                "The grace period must be between none and 30 days."
            } else {
                "Only an active API user can be rotated."
            };
            rotate_response(
                &admin,
                &api_user,
                grace,
                Some(message),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(other) => Err(other.into()),
    }
}
