//! The console's audit page: the organization's audit log, newest first, filtered by actor,
//! action and a date range, paged with the store's cursor.

use super::layout::{self, FieldErrors, Reply, Section, TextField, when_html};
use super::session::{Admin, PageQuery};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use countersign_store::AuditFilter;
use maud::html;
use serde::Deserialize;
use time::{Duration, OffsetDateTime};

/// Events per page.
const PAGE_SIZE: u32 = 50;

/// Actions offered as suggestions in the action filter.
const KNOWN_ACTIONS: [&str; 24] = [
    "admin.login",
    "admin.logout",
    "api_user.create",
    "api_user.revoke",
    "api_user.rotate",
    "api_user.delete",
    "environment.create",
    "environment_admin.add",
    "environment_admin.remove",
    "account.create",
    "user.create",
    "user.disable",
    "user.enable",
    "user.update",
    "user.password_set",
    "user.api_password_reset",
    "membership.put",
    "membership.delete",
    "integrator_key.create",
    "integrator_key.revoke",
    "integrator_key.sunset_set",
    "integrator_key.sunset_clear",
    "organization.legacy_header_enable",
    "organization.legacy_header_disable",
];

/// Filters and paging of the audit page.
#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    /// First day shown (`YYYY-MM-DD`, from 00:00 UTC).
    since: Option<String>,
    /// Last day shown (`YYYY-MM-DD`, through 24:00 UTC).
    until: Option<String>,
    cursor: Option<String>,
}

fn filled(value: Option<&String>) -> Option<&str> {
    value.map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// The query string that keeps the filters (for the next-page link).
fn filter_query(query: &AuditQuery) -> String {
    let mut pairs = Vec::new();
    for (name, value) in [
        ("actor", &query.actor),
        ("action", &query.action),
        ("since", &query.since),
        ("until", &query.until),
    ] {
        if let Some(value) = filled(value.as_ref()) {
            pairs.push(format!("{name}={}", percent_encode(value)));
        }
    }
    pairs.join("&")
}

/// Percent-encodes a query value (everything but unreserved characters).
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `GET /console/audit`.
pub async fn audit_page(
    State(state): State<AppState>,
    admin: Admin,
    PageQuery(query): PageQuery<AuditQuery>,
) -> Reply {
    let mut errors = FieldErrors::default();
    let mut day =
        |field: &'static str, text: Option<&str>, offset: i64| -> Option<OffsetDateTime> {
            let text = text?;
            match layout::parse_date(text) {
                Some(date) => Some(date.midnight().assume_utc() + Duration::days(offset)),
                None => {
                    errors.add(field, "Enter the date as YYYY-MM-DD.");
                    None
                }
            }
        };
    let since = day("since", filled(query.since.as_ref()), 0);
    // "Until" names the last day shown, so the bound is the start of the next day.
    let until = day("until", filled(query.until.as_ref()), 1);
    let cursor = filled(query.cursor.as_ref())
        .map(|c| c.parse::<i64>())
        .transpose()
        .map_err(|_| super::layout::ConsoleError::BadRequest("the page cursor is malformed"))?;
    let filter = AuditFilter {
        organization_id: Some(admin.actor.organization_id),
        actor: filled(query.actor.as_ref()).map(str::to_owned),
        action: filled(query.action.as_ref()).map(str::to_owned),
        since,
        until,
    };
    let page = if errors.is_empty() {
        state.settle_audit().await;
        Some(
            state
                .store
                .list_audit_events(&filter, cursor, PAGE_SIZE)
                .await?,
        )
    } else {
        None
    };
    let filters = filter_query(&query);
    let body = html! {
        p.hint { "Every administrative change, token issuance, failed authentication and on-behalf-of action. "
            "Keys, passwords and tokens are never recorded. Times are UTC." }
        (errors.summary())
        form.filters method="get" action="/console/audit" aria-label="Filter the audit log" {
            (TextField { name: "actor", label: "Actor", kind: "text", value: filled(query.actor.as_ref()).unwrap_or(""),
                error: None, hint: None, required: false }.render())
            (TextField { name: "action", label: "Action", kind: "text", value: filled(query.action.as_ref()).unwrap_or(""),
                error: None, hint: None, required: false }
                .render_with(Some("known-actions"), html! { datalist #known-actions { @for action in KNOWN_ACTIONS { option value=(action) {} } } }))
            (TextField { name: "since", label: "From (UTC)", kind: "date", value: filled(query.since.as_ref()).unwrap_or(""),
                error: errors.get("since"), hint: None, required: false }.render())
            (TextField { name: "until", label: "Until, inclusive (UTC)", kind: "date", value: filled(query.until.as_ref()).unwrap_or(""),
                error: errors.get("until"), hint: None, required: false }.render())
            div.actions {
                button.primary type="submit" { "Filter" }
                " "
                a.button.secondary href="/console/audit" { "Clear filters" }
            }
        }
        @if let Some(page) = &page {
            @if page.items.is_empty() {
                p.empty { "No events match." }
            } @else {
                div.table-wrap {
                    table.list #audit {
                        thead { tr { th scope="col" { "Time" } th scope="col" { "Actor" } th scope="col" { "Action" }
                            th scope="col" { "Subject" } th scope="col" { "Source IP" } th scope="col" { "Outcome" } } }
                        tbody {
                            @for record in &page.items {
                                @let event = &record.event;
                                tr {
                                    td data-label="Time" { (when_html(event.at)) }
                                    td data-label="Actor" { (event.actor) }
                                    td data-label="Action" { code.action { (event.action) } }
                                    td data-label="Subject" { span.wrap { (event.subject) } }
                                    td data-label="Source IP" { (event.source_ip.as_deref().unwrap_or("—")) }
                                    td data-label="Outcome" { span class=(format!("status status-{}", event.outcome.as_str())) { (event.outcome.as_str()) } }
                                }
                            }
                        }
                    }
                }
            }
            nav.pager aria-label="Audit pages" {
                @if cursor.is_some() {
                    a href=(format!("/console/audit?{filters}")) { "Newest events" }
                    " "
                }
                @if let Some(next) = &page.next_cursor {
                    a #older rel="next" href=(format!("/console/audit?{filters}{}cursor={next}", if filters.is_empty() { "" } else { "&" })) { "Older events" }
                }
            }
        }
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(admin.page(status, Section::Audit, "Audit log", "audit", body))
}
