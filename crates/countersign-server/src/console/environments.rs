//! The console's environments page: environments and their administrators.
//!
//! Every change goes through [`crate::ops::Ops`], like the admin API and the CLI, so validation,
//! cache invalidation and the audit log are the same whichever door was used.

use super::directory::{DoneQuery, all, sentence};
use super::layout::{
    FieldErrors, FormView, Reply, Section, TextField, described_by, field_error, notice,
};
use super::session::{Admin, PageQuery, Posted, csrf_field, see_other};
use crate::console::layout::{ConsoleId, PostedId};
use crate::ops::OpError;
use crate::state::AppState;
use axum::extract::State;
use countersign_core::directory::{Environment, EnvironmentKind, User};
use countersign_core::ids::{EnvironmentId, UserId};
use maud::html;

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
        FormView::fresh(
            done,
            &EnvironmentDraft {
                kind: "production".into(),
                ..EnvironmentDraft::default()
            },
        ),
    )
    .await
}

async fn render_environments(
    state: &AppState,
    admin: &Admin,
    form: FormView<'_, EnvironmentDraft>,
) -> Reply {
    let (done, draft, errors, status) = form.parts();
    let organization = admin.actor.organization_id;
    let environments = all::<Environment>(state, organization).await?;
    let users = all::<User>(state, organization).await?;
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
    Ok(admin.page(
        status,
        Section::Environments,
        "Environments",
        "environments",
        body,
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
    render_environments(&state, &admin, FormView::refused(&draft, &errors)).await
}

/// `POST /console/environments/{id}/admins`.
pub async fn add_environment_admin(
    State(state): State<AppState>,
    id: PostedId<EnvironmentId>,
    posted: Posted<Admin>,
) -> Reply {
    let ConsoleId(environment) = id?;
    let admin = posted.who;
    let user = UserId::parse(posted.form.text("user_id"))
        .ok_or(super::layout::ConsoleError::NotFound("user"))?;
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
    id: PostedId<(EnvironmentId, UserId)>,
    posted: Posted<Admin>,
) -> Reply {
    let ConsoleId((environment, user)) = id?;
    let admin = posted.who;
    state
        .ops()
        .remove_environment_admin(&admin.actor, environment, user)
        .await?;
    Ok(see_other(&format!(
        "/console/environments?done=admin_removed#environment-{environment}"
    )))
}
