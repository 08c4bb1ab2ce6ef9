//! The console's legacy-header page: who still uses `X-DocuSign-Authentication` per integrator
//! key (table and requests-per-day chart), the migration plan with its dry run, and a button that
//! creates the proposed API user and shows its key once with a ready-to-paste snippet.

use super::layout::{self, Reply, Section, when_html};
use super::session::{Admin, Posted, csrf_field};
use crate::console::layout::{ConsoleId, PostedId};
use crate::ops::{self, OpError};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use countersign_core::api_user::Scope;
use countersign_core::directory::IntegratorKey;
use countersign_core::ids::IntegratorKeyId;
use maud::{Markup, html};

/// Days shown in the chart.
const CHART_DAYS: usize = 30;

fn scope_text(scope: &Scope) -> String {
    match scope {
        Scope::User(user) => format!("user {user}"),
        Scope::Environment(environment) => format!("environment {environment}"),
        Scope::Organization => "organization".into(),
    }
}

/// Requests per day as an SVG bar chart (presentation attributes only, so the page's
/// Content-Security-Policy needs no inline styles).
fn chart(days: &[(String, i64)]) -> Markup {
    let shown = &days[days.len().saturating_sub(CHART_DAYS)..];
    let max = shown.iter().map(|(_, n)| *n).max().unwrap_or(1).max(1);
    let width = 20 * shown.len().max(1) + 40;
    html! {
        svg.chart role="img" aria-label="Legacy-header requests per day" width=(width) height="140" viewBox=(format!("0 0 {width} 140")) {
            @for (index, (day, requests)) in shown.iter().enumerate() {
                @let height = (100 * requests / max).max(1);
                rect x=(20 + index * 20) y=(110 - height) width="14" height=(height) fill="#2a6fdb" {
                    title { (day) ": " (requests) " requests" }
                }
            }
            text x="20" y="130" font-size="11" { (shown.first().map(|(d, _)| d.as_str()).unwrap_or("")) }
            text x=(width.saturating_sub(90)) y="130" font-size="11" { (shown.last().map(|(d, _)| d.as_str()).unwrap_or("")) }
        }
    }
}

/// `GET /console/legacy-usage`: usage per integrator key.
pub async fn usage_page(State(state): State<AppState>, admin: Admin) -> Reply {
    if let Err(error) = state.legacy_usage.flush(&state.store).await {
        tracing::warn!(%error, "legacy usage flush before the console page failed");
    }
    let organization = admin.actor.organization_id;
    let keys = super::directory::all::<IntegratorKey>(&state, organization).await?;
    let rows = state
        .store
        .list_legacy_usage(organization, None, None)
        .await?;
    let mut sections = Vec::new();
    for key in &keys {
        let key_rows: Vec<_> = rows
            .iter()
            .filter(|r| r.integrator_key_id == key.id)
            .collect();
        // The chart is drawn only for a key with recorded use.
        let days = if key_rows.is_empty() {
            Vec::new()
        } else {
            state.store.list_legacy_usage_daily(key.id).await?
        };
        sections.push((key, key_rows, days));
    }
    let body = html! {
        p.hint { "Successful X-DocuSign-Authentication requests per integrator key, user and on-behalf-of user. "
            "Counts reach this page within seconds. Passwords and header values are never recorded." }
        @for (key, key_rows, days) in &sections {
            section.card aria-labelledby=(format!("key-{}", key.id)) {
                h2 #(format!("key-{}", key.id)) { (key.name) " " code { (key.key) } }
                p {
                    "Sunset: " (key.legacy_sunset_at.map(when_html).unwrap_or_else(|| html! { "none" }))
                    " · Requests recorded: " (key_rows.iter().map(|r| r.requests).sum::<i64>())
                }
                @if key_rows.is_empty() {
                    p.empty { "No legacy-header use recorded." }
                } @else {
                    (chart(days))
                    div.table-wrap {
                        table.list {
                            thead { tr { th scope="col" { "User" } th scope="col" { "On behalf of" } th scope="col" { "Requests" }
                                th scope="col" { "Last seen" } th scope="col" { "Source IPs" } th scope="col" { "User agents" } } }
                            tbody {
                                @for row in key_rows {
                                    tr {
                                        td data-label="User" { (row.user_email) }
                                        td data-label="On behalf of" { (row.on_behalf_of_user_id.map(|id| id.to_string()).unwrap_or_else(|| "—".into())) }
                                        td data-label="Requests" { (row.requests) }
                                        td data-label="Last seen" { (when_html(row.last_seen_at)) }
                                        td data-label="Source IPs" { span.wrap { (row.source_ips.join(", ")) } }
                                        td data-label="User agents" { span.wrap { (row.user_agents.join(", ")) } }
                                    }
                                }
                            }
                        }
                    }
                    p { a.button.primary href=(format!("/console/legacy-usage/{}", key.id)) { "Plan the migration of " (key.name) } }
                }
            }
        }
        @if sections.is_empty() { p.empty { "No integrator keys." } }
    };
    Ok(admin.page(
        StatusCode::OK,
        Section::LegacyUsage,
        "Legacy header",
        "legacy-usage",
        body,
    ))
}

/// `GET /console/legacy-usage/{id}`: the migration plan and the migrate form.
pub async fn plan_page(
    State(state): State<AppState>,
    admin: Admin,
    ConsoleId(id): ConsoleId<IntegratorKeyId>,
) -> Reply {
    if let Err(error) = state.legacy_usage.flush(&state.store).await {
        tracing::warn!(%error, "legacy usage flush before the plan failed");
    }
    let key = state.store.fetch(admin.actor.organization_id, id).await?;
    let plan = match state.ops().migration_plan(&admin.actor, id).await {
        Ok(plan) => Some(plan),
        Err(OpError::Conflict { .. }) => None,
        Err(other) => return Err(other.into()),
    };
    let default_expiry = (state.now() + time::Duration::days(365)).date().to_string();
    let body = html! {
        @match &plan {
            None => { p.empty { "No legacy-header use is recorded for " (key.name) "; there is nothing to migrate yet." } }
            Some(plan) => {
                p { "Proposed API user scope: " strong #plan-scope { (scope_text(&plan.scope)) } }
                p { "Dry run: " strong #plan-coverage { (plan.coverage.covered) " of " (plan.coverage.total) } " recorded requests would be allowed." }
                @if !plan.coverage.uncovered.is_empty() {
                    ul { @for (recorded, why) in &plan.coverage.uncovered { li { (recorded.requests) " requests as " (recorded.user_id) ": " (why.reason()) } } }
                }
                h2 { "Users acted as" }
                ul { @for user in &plan.users { li { (user.email) " — " (user.requests) " requests" } } }
                h2 { "Move to the OAuth JWT Grant" }
                p { "Recommended: the traffic is DocuSign-dialect, so the integration's DocuSign SDK keeps working with "
                    code { "request_jwt_user_token" } " instead of the header. This grants your organization's consent for exactly the "
                    (plan.users.len()) " user(s) above and generates an RSA key pair; the private key is shown once." }
                form method="post" action=(format!("/console/legacy-usage/{id}/migrate-jwt")) {
                    (csrf_field(&admin.session.csrf_token))
                    button.primary type="submit" #migrate-jwt { "Move to the JWT Grant" }
                }
                h2 { "Or create an API user" }
                form method="post" action=(format!("/console/legacy-usage/{id}/migrate")) {
                    (csrf_field(&admin.session.csrf_token))
                    div.field { label for="username" { "Username" } input #username name="username" type="text" required value=(format!("{}-api", key.name.to_lowercase().replace(' ', "-"))); }
                    div.field { label for="expires_at" { "Expiration date (00:00 UTC)" } input #expires_at name="expires_at" type="date" required value=(default_expiry); }
                    button.primary type="submit" { "Create API user" }
                }
            }
        }
        p { a href="/console/legacy-usage" { "Back to legacy-header use" } }
    };
    Ok(layout::html(
        StatusCode::OK,
        layout::page(
            &admin.session,
            Some(Section::LegacyUsage),
            &format!("Migrate {}", key.name),
            "legacy-plan",
            body,
        ),
    ))
}

/// `POST /console/legacy-usage/{id}/migrate-jwt`: consent for the users acted as and a new RSA
/// key pair; the private key is shown once with the `docusign-esign` snippet.
pub async fn migrate_to_jwt(
    State(state): State<AppState>,
    id: PostedId<IntegratorKeyId>,
    posted: Posted<Admin>,
) -> Reply {
    let ConsoleId(id) = id?;
    let admin = posted.who;
    if let Err(error) = state.legacy_usage.flush(&state.store).await {
        tracing::warn!(%error, "legacy usage flush before the migration failed");
    }
    let migrated = state
        .ops()
        .migrate_integrator_key_to_jwt(
            &admin.actor,
            id,
            &state.config.public_url,
            &state.config.oauth_host(),
        )
        .await?;
    let body = html! {
        p.warning role="alert" { "Copy the private key now: it is not stored and will not be shown again." }
        div.field {
            label for="new-private-key" { "Private key (shown once)" }
            textarea #new-private-key readonly rows="8" { (migrated.private_key_pem.as_str()) }
        }
        p { "Consent granted for " strong #consented-count { (migrated.consented_user_ids.len()) } " user(s)." }
        h2 { "Replace the legacy header" }
        pre #snippet { (migrated.snippet) }
        p { a href=(format!("/console/integrator-keys/{id}/oauth")) { "OAuth settings of this integrator key" } }
    };
    Ok(admin.page(
        StatusCode::CREATED,
        Section::LegacyUsage,
        "Moved to the JWT Grant",
        "legacy-migrated-jwt",
        body,
    ))
}

/// `POST /console/legacy-usage/{id}/migrate`: creates the API user; the key is shown once.
pub async fn migrate(
    State(state): State<AppState>,
    id: PostedId<IntegratorKeyId>,
    posted: Posted<Admin>,
) -> Reply {
    let ConsoleId(id) = id?;
    let admin = posted.who;
    let expires_at = ops::parse_expiry(posted.form.text("expires_at"))?;
    if let Err(error) = state.legacy_usage.flush(&state.store).await {
        tracing::warn!(%error, "legacy usage flush before the migration failed");
    }
    let migrated = state
        .ops()
        .migrate_integrator_key(
            &admin.actor,
            id,
            posted.form.text("username").trim(),
            expires_at,
            &state.config.public_url,
        )
        .await?;
    let body = html! {
        p.warning role="alert" { "Copy the key now: it is not stored and will not be shown again." }
        p { "API user " strong { (migrated.issued.api_user.username) } " with scope " (scope_text(&migrated.issued.api_user.scope)) "." }
        div.field {
            label for="new-key" { "Key (shown once)" }
            input #new-key type="text" readonly value=(migrated.issued.key.expose());
        }
        h2 { "Replace the legacy header" }
        pre #snippet { (migrated.snippet) }
        p { a href="/console/api-users" { "API users" } }
    };
    Ok(admin.page(
        StatusCode::CREATED,
        Section::LegacyUsage,
        "API user created",
        "legacy-migrated",
        body,
    ))
}
