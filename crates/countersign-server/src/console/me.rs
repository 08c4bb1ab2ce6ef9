//! "My activity" (SPEC §14): for every signed-in user, not only administrators, what was done
//! in their name — tokens issued to act as them, on-behalf-of requests as them, changes to
//! their account — and a form that ends the sessions acting as them. Administrators also end
//! the sessions acting as any user (from the user's page) and dismiss the leaked-key banner.

use super::layout::{self, ConsoleError, Reply, notice, when_html};
use super::session::{Admin, PageQuery, Posted, Session, csrf_field, see_other};
use crate::admin::me::{Via, activity_page as read_activity};
use crate::console::layout::{ConsoleId, PostedId};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use countersign_core::ids::{ApiUserId, UserId};
use countersign_store::{ALL_PAGES_BATCH, all_pages};
use maud::html;
use serde::Deserialize;

/// Events per page.
const PAGE_SIZE: u32 = 50;

/// Paging and the notice of the activity page.
#[derive(Debug, Default, Deserialize)]
pub struct ActivityQuery {
    cursor: Option<String>,
    done: Option<String>,
}

/// `GET /console/me/activity`: what was done in the signed-in user's name.
pub async fn activity_page(
    State(state): State<AppState>,
    session: Session,
    PageQuery(query): PageQuery<ActivityQuery>,
) -> Reply {
    let user = &session.user;
    let is_admin = state
        .ops()
        .is_organization_admin(user.organization_id, user.id)
        .await?;
    // A cursor this page never handed out is refused, not read as "from the start".
    let cursor = match query.cursor.as_deref() {
        None => None,
        Some(text) => match text.parse::<i64>() {
            Ok(after) if after >= 0 => Some(after),
            _ => return Err(ConsoleError::BadRequest("That page link is not valid.")),
        },
    };
    let page = read_activity(&state, user, cursor, PAGE_SIZE).await?;
    // The API users that may act as this user now: what the end-sessions form offers.
    let memberships = state.store.list_memberships(user.id).await?;
    let now = state.now();
    let organization = user.organization_id;
    let api_users: Vec<_> = all_pages(20, |cursor| {
        let state = state.clone();
        async move {
            state
                .store
                .list_api_users(organization, false, now, cursor.as_deref(), ALL_PAGES_BATCH)
                .await
        }
    })
    .await?
    .into_iter()
    .filter(|api_user| api_user.scope.admits_user(user.id, &memberships))
    .collect();
    let done = (query.done.as_deref() == Some("sessions_ended")).then_some(
        "Sessions acting as you were ended: every session token issued until then is refused from the next request, on every node. New sessions work as usual.",
    );
    let csrf = &session.csrf_token;
    let body = html! {
        (notice(done))
        p.hint { "Who has acted as you: session tokens issued to act as you (an API user's key exchanged), "
            "requests sent on your behalf with the legacy header, and changes to your account. Times are UTC." }
        section aria-labelledby="end-heading" {
            h2 #end-heading { "End sessions acting as me" }
            p { "Every session token acting as you that was issued before now stops working on the next request, on every node. "
                "Integrations can open new sessions; to stop them for good, ask an administrator to revoke the API user." }
            form.inline method="post" action="/console/me/sessions/end" {
                (csrf_field(csrf))
                label for="api_user_id" { "Sessions from" }
                select #api_user_id name="api_user_id" {
                    option value="" { "Every API user" }
                    @for api_user in &api_users {
                        option value=(api_user.id) { (api_user.username) }
                    }
                }
                " "
                button.danger type="submit" { "End sessions" }
            }
        }
        section aria-labelledby="activity-heading" {
            h2 #activity-heading { "Done in my name" }
            @if page.items.is_empty() {
                p.empty { "Nothing has been done in your name yet." }
            } @else {
                div.table-wrap {
                    table.list #activity {
                        thead { tr { th scope="col" { "Time" } th scope="col" { "Action" } th scope="col" { "How" }
                            th scope="col" { "By" } th scope="col" { "Source IP" } th scope="col" { "Outcome" } } }
                        tbody {
                            @for record in &page.items {
                                @let event = &record.event;
                                @let via = Via::of_action(&event.action);
                                tr {
                                    td data-label="Time" { (when_html(event.at)) }
                                    td data-label="Action" { code.action { (event.action) }
                                        @if let Some(detail) = &event.detail { br; span.hint.wrap { (detail) } } }
                                    td data-label="How" { (via_label(via, &event.action)) }
                                    td data-label="By" { span.wrap { (event.actor) } }
                                    td data-label="Source IP" { (event.source_ip.as_deref().unwrap_or("—")) }
                                    td data-label="Outcome" { span class=(format!("status status-{}", event.outcome.as_str())) { (event.outcome.as_str()) } }
                                }
                            }
                        }
                    }
                }
            }
            nav.pager aria-label="Activity pages" {
                @if cursor.is_some() {
                    a href="/console/me/activity" { "Newest" }
                    " "
                }
                @if let Some(next) = &page.next_cursor {
                    a #older rel="next" href=(format!("/console/me/activity?cursor={next}")) { "Older" }
                }
            }
        }
    };
    let markup = if is_admin {
        layout::page(&session, None, "My activity", "my-activity", body)
    } else {
        layout::page_without_navigation(&session, "My activity", "my-activity", body)
    };
    Ok(layout::html(StatusCode::OK, markup))
}

/// How an event was done, for people: OAuth actions (SPEC §12) are `admin` on the wire, the
/// only other value SPEC §14 names, but say what they are here.
fn via_label(via: Via, action: &str) -> &'static str {
    match via {
        Via::ApiUserToken => "API user session",
        Via::LegacyHeaderSobo => "On behalf of (legacy header)",
        Via::Admin if action.starts_with("oauth.") => "OAuth (DocuSign)",
        Via::Admin => "Account change",
    }
}

fn api_user_field(text: &str) -> Result<Option<ApiUserId>, ConsoleError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    ApiUserId::parse(text)
        .map(Some)
        .ok_or(ConsoleError::BadRequest(
            "the API user is not one of the list",
        ))
}

/// `POST /console/me/sessions/end`: ends the sessions acting as the signed-in user.
pub async fn end_my_sessions(State(state): State<AppState>, posted: Posted<Session>) -> Reply {
    let session = posted.who;
    let api_user = api_user_field(posted.form.text("api_user_id"))?;
    state
        .ops()
        .end_sessions(&session.actor(), session.user.id, api_user, None)
        .await?;
    Ok(see_other("/console/me/activity?done=sessions_ended"))
}

/// `POST /console/users/{id}/sessions/end`: an administrator ends the sessions acting as a
/// user of the organization.
pub async fn end_user_sessions(
    State(state): State<AppState>,
    id: PostedId<UserId>,
    posted: Posted<Admin>,
) -> Reply {
    let ConsoleId(id) = id?;
    let admin = posted.who;
    let api_user = api_user_field(posted.form.text("api_user_id"))?;
    state
        .ops()
        .end_sessions(&admin.actor, id, api_user, None)
        .await?;
    Ok(see_other(&format!(
        "/console/users/{id}?done=sessions_ended"
    )))
}

/// `POST /console/leak-reports/dismiss`: hides the leaked-key banner (the reports stay in the
/// audit log).
pub async fn dismiss_leak_reports(State(state): State<AppState>, posted: Posted<Admin>) -> Reply {
    let admin = posted.who;
    state.ops().dismiss_leak_reports(&admin.actor).await?;
    Ok(see_other("/console/api-users"))
}
