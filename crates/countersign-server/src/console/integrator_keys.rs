//! The console's integrator keys: create or import, revoke, the legacy-header sunset, and the
//! organization's legacy-header switch.
//!
//! Every change goes through [`crate::ops::Ops`], like the admin API and the CLI, so validation,
//! cache invalidation and the audit log are the same whichever door was used.

use super::directory::{DoneQuery, all, capitalized, sentence};
use super::layout::{
    self, ConsoleError, FieldErrors, FormView, Reply, Section, TextField, copy_button, notice,
    when_html,
};
use super::session::{Admin, PageQuery, Posted, csrf_field, see_other};
use crate::console::layout::{ConsoleId, PostedId};
use crate::ops::OpError;
use crate::state::AppState;
use axum::extract::State;
use countersign_core::directory::{IntegratorKey, IntegratorKeyStatus};
use countersign_core::ids::IntegratorKeyId;
use maud::{Markup, html};

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
    render_integrator_keys(&state, &admin, FormView::fresh(done, &KeyDraft::default())).await
}

async fn render_integrator_keys(
    state: &AppState,
    admin: &Admin,
    form: FormView<'_, KeyDraft>,
) -> Reply {
    let (done, draft, errors, status) = form.parts();
    let organization_id = admin.actor.organization_id;
    let organization = state.store.fetch_organization(organization_id).await?;
    let keys = all::<IntegratorKey>(state, organization_id).await?;
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
    Ok(admin.page(
        status,
        Section::IntegratorKeys,
        "Integrator keys",
        "integrator-keys",
        body,
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
    render_integrator_keys(&state, &admin, FormView::refused(&draft, &errors)).await
}

/// `POST /console/integrator-keys/{id}/revoke`: asks for confirmation, then revokes.
pub async fn revoke_integrator_key(
    State(state): State<AppState>,
    id: PostedId<IntegratorKeyId>,
    posted: Posted<Admin>,
) -> Reply {
    let ConsoleId(id) = id?;
    let admin = posted.who;
    let key = state.store.fetch(admin.actor.organization_id, id).await?;
    if !posted.form.is_confirmed() {
        let action = format!("/console/integrator-keys/{id}/revoke");
        let message = html! { p { "Revoke the integrator key " strong { (key.name) } "? Requests that send it are refused at once. This cannot be undone." } };
        return Ok(admin.confirm_page(
            Section::IntegratorKeys,
            "Revoke integrator key?",
            (&action, "/console/integrator-keys"),
            message,
            "Revoke integrator key",
        ));
    }
    state.ops().revoke_integrator_key(&admin.actor, id).await?;
    Ok(see_other("/console/integrator-keys?done=revoked"))
}

/// `POST /console/integrator-keys/{id}/sunset`: sets (date, 00:00 UTC) or clears the sunset.
pub async fn set_integrator_key_sunset(
    State(state): State<AppState>,
    id: PostedId<IntegratorKeyId>,
    posted: Posted<Admin>,
) -> Reply {
    let ConsoleId(id) = id?;
    let admin = posted.who;
    let sunset_at = if posted.form.get("clear").is_some() {
        None
    } else {
        match layout::parse_date(posted.form.text("legacy_sunset_at")) {
            Some(date) => Some(date.midnight().assume_utc()),
            None => {
                let mut errors = FieldErrors::default();
                errors.add("sunset", "Enter the sunset date as YYYY-MM-DD.");
                let draft = KeyDraft::default();
                let form = FormView::refused(&draft, &errors);
                return render_integrator_keys(&state, &admin, form).await;
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
