//! The console's accounts page, with the context identifier integrators need.
//!
//! Every change goes through [`crate::ops::Ops`], like the admin API and the CLI, so validation,
//! cache invalidation and the audit log are the same whichever door was used.

use super::directory::{DoneQuery, all, environment_name, sentence};
use super::layout::{
    FieldErrors, FormView, Reply, Section, TextField, copy_button, described_by, field_error,
    notice,
};
use super::session::{Admin, PageQuery, Posted, csrf_field, see_other};
use crate::ops::OpError;
use crate::state::AppState;
use axum::extract::State;
use countersign_core::directory::{Account, Environment};
use countersign_core::ids::EnvironmentId;
use maud::html;

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
        FormView::fresh(done, &AccountDraft::default()),
    )
    .await
}

async fn render_accounts(
    state: &AppState,
    admin: &Admin,
    form: FormView<'_, AccountDraft>,
) -> Reply {
    let (done, draft, errors, status) = form.parts();
    let organization = admin.actor.organization_id;
    let environments = all::<Environment>(state, organization).await?;
    let accounts = all::<Account>(state, organization).await?;
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
    Ok(admin.page(status, Section::Accounts, "Accounts", "accounts", body))
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
    render_accounts(&state, &admin, FormView::refused(&draft, &errors)).await
}
