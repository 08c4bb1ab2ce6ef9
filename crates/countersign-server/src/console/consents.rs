//! "Your consents" (SPEC §12): every signed-in user — administrator or not — reviews the
//! integrations they (or their organization, for them) allowed to act for them, and withdraws
//! a consent; every token issued to them under it stops working at once.

use super::layout::{self, Reply, when_html};
use super::session::{Posted, see_other};
use super::signed::{Session, csrf_field};
use crate::console::layout::{ConsoleId, PostedId};
use crate::path_id::ConsentKey;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use maud::html;

/// Query of the consents page.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ConsentsQuery {
    /// Set after a withdrawal.
    withdrawn: Option<String>,
}

/// `GET /console/consents`.
pub async fn consents_page(
    State(state): State<AppState>,
    session: Session,
    super::session::PageQuery(query): super::session::PageQuery<ConsentsQuery>,
) -> Reply {
    let consents = state
        .store
        .list_consents_of_user(session.user.id, session.user.organization_id)
        .await?;
    let body = html! {
        (layout::notice(query.withdrawn.as_ref().map(|_| "Consent withdrawn: every token the integration held for you stopped working.")))
        p.hint { "Integrations you allowed to use your account, and those your organization allowed for you. "
            "Withdrawing ends every token the integration holds for you at once." }
        @if consents.is_empty() {
            p.empty { "You have not allowed any integration." }
        } @else {
            div.table-wrap {
                table.list #consents {
                    thead { tr { th scope="col" { "Integration" } th scope="col" { "Client id" } th scope="col" { "Scopes" }
                        th scope="col" { "Granted" } th scope="col" { "By" } th scope="col" { "Actions" } } }
                    tbody {
                        @for consent in &consents {
                            tr data-integrator-key=(consent.integrator_key_id) {
                                td data-label="Integration" { (consent.integrator_key_name) }
                                td data-label="Client id" { code { (consent.client_id) } }
                                td data-label="Scopes" { (consent.scopes.names().join(", ")) }
                                td data-label="Granted" { (when_html(consent.granted_at)) }
                                td data-label="By" { @if consent.is_own { "You" } @else { "Your organization" } }
                                td data-label="Actions" {
                                    form method="post" action=(format!("/console/consents/{}/withdraw", consent.integrator_key_id))
                                        data-confirm=(format!("Withdraw your consent for {}? Every token it holds for you stops working at once.", consent.integrator_key_name)) {
                                        (csrf_field(&session.csrf_token))
                                        button.danger type="submit" { "Withdraw" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::html(
        StatusCode::OK,
        layout::page_without_navigation(&session, "Your consents", "consents", body),
    ))
}

/// `POST /console/consents/{integrator_key_id}/withdraw`.
pub async fn withdraw(
    State(state): State<AppState>,
    id: PostedId<ConsentKey>,
    posted: Posted<Session>,
) -> Reply {
    let ConsoleId(ConsentKey(id)) = id?;
    let session = posted.who;
    if !posted.form.is_confirmed() {
        // Without the script's dialog: ask on a page of its own.
        let body = html! {
            p { "Withdraw your consent? Every token the integration holds for you stops working at once." }
            form method="post" action=(format!("/console/consents/{id}/withdraw")) {
                (csrf_field(&session.csrf_token))
                input type="hidden" name="confirm" value="yes";
                div.actions {
                    button.danger type="submit" { "Withdraw consent" }
                    a.button href="/console/consents" { "Cancel" }
                }
            }
        };
        return Ok(layout::html(
            StatusCode::OK,
            layout::page_without_navigation(&session, "Withdraw consent", "consent-withdraw", body),
        ));
    }
    state.ops().withdraw_consent(&session.actor(), id).await?;
    Ok(see_other("/console/consents?withdrawn=1"))
}
