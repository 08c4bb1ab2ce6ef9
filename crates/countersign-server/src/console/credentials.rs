//! The console's credential page (SPEC §13): the credential report (each API user's expiry,
//! last use, oldest accepted key and findings, with a CSV download) and the organization's
//! credential policy form.

use super::layout::{self, FieldErrors, Reply, Section, TextField, when_html};
use super::session::{Admin, PageQuery, Posted, csrf_field, see_other};
use crate::admin::report::{self, ReportItem};
use crate::ops::OpError;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use countersign_core::lifecycle::{LeakResponse, Policy};
use maud::{Markup, html};
use serde::Deserialize;

/// Query of the credential page.
#[derive(Debug, Default, Deserialize)]
pub struct CredentialsQuery {
    /// A change that was just saved.
    done: Option<String>,
}

fn finding_text(finding: &str) -> &'static str {
    match finding {
        "expires_soon" => "Expires soon",
        "unused_30_days" => "Unused for 30 days",
        "never_used" => "Never used",
        "old_key_90_days" => "Key older than 90 days",
        "rotation_pending" => "Rotation pending",
        _ => "Finding",
    }
}

fn report_table(items: &[ReportItem]) -> Markup {
    html! {
        @if items.is_empty() {
            p.empty { "No active API users." }
        } @else {
            div.table-wrap {
                table.list #credential-report {
                    thead { tr {
                        th scope="col" { "Username" } th scope="col" { "Expires" } th scope="col" { "Days left" }
                        th scope="col" { "Last used" } th scope="col" { "From" } th scope="col" { "Oldest key (days)" }
                        th scope="col" { "Findings" }
                    } }
                    tbody {
                        @for item in items {
                            tr data-api-user=(item.api_user_id) {
                                td data-label="Username" { (item.username) }
                                td data-label="Expires" { (item.expires_at) }
                                td data-label="Days left" { (item.days_to_expiry) }
                                td data-label="Last used" { (item.last_used_at.as_deref().unwrap_or("Never")) }
                                td data-label="From" { (item.last_used_ip.as_deref().unwrap_or("—")) }
                                td data-label="Oldest key (days)" { (item.oldest_active_key_days.map(|d| d.to_string()).unwrap_or_else(|| "—".into())) }
                                td data-label="Findings" {
                                    @if item.findings.is_empty() { span.hint { "None" } }
                                    @for finding in &item.findings {
                                        span.badge data-finding=(finding) { (finding_text(finding)) } " "
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn policy_form(
    admin: &Admin,
    policy: &Policy,
    errors: &FieldErrors,
    draft: &PolicyDraft,
) -> Markup {
    html! {
        (errors.summary())
        form.stack #credential-policy method="post" action="/console/organization/policy" {
            (csrf_field(&admin.session.csrf_token))
            (TextField { name: "api_user_max_lifetime_days", label: "Longest API-user lifetime (days)", kind: "number",
                value: &draft.max_lifetime, error: errors.get("api_user_max_lifetime_days"), required: true,
                hint: Some(html! { "New API users and rotations may not expire later than this. 1 to 3650." }) }.render())
            (TextField { name: "api_user_unused_revoke_days", label: "Revoke API users unused for (days)", kind: "number",
                value: &draft.unused_revoke, error: errors.get("api_user_unused_revoke_days"), required: false,
                hint: Some(html! { "Empty: never. An API user never used counts from its creation." }) }.render())
            (TextField { name: "expiry_warning_days", label: "Expiry warnings (days before)", kind: "text",
                value: &draft.warning_days, error: errors.get("expiry_warning_days"), required: false,
                hint: Some(html! { "Comma-separated, e.g. 30, 7, 1. Each is sent once as api_user.expiring." }) }.render())
            div.field {
                label for="leak_response" { "When a key is reported leaked" }
                select #leak_response name="leak_response" {
                    option value="revoke" selected[policy.leak_response == LeakResponse::Revoke] { "Revoke the API user" }
                    option value="notify" selected[policy.leak_response == LeakResponse::Notify] { "Notify only" }
                }
            }
            button.primary type="submit" { "Save policy" }
        }
    }
}

/// What the policy form was filled with.
#[derive(Debug, Default)]
struct PolicyDraft {
    max_lifetime: String,
    unused_revoke: String,
    warning_days: String,
}

impl PolicyDraft {
    fn of(policy: &Policy) -> Self {
        Self {
            max_lifetime: policy.api_user_max_lifetime_days.to_string(),
            unused_revoke: policy
                .api_user_unused_revoke_days
                .map(|d| d.to_string())
                .unwrap_or_default(),
            warning_days: policy
                .expiry_warning_days
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

async fn render(
    state: &AppState,
    admin: &Admin,
    notice: Option<&str>,
    draft: Option<(&PolicyDraft, &FieldErrors)>,
    status: StatusCode,
) -> Reply {
    let organization = admin.actor.organization_id;
    let report = report::build(state, organization, false, state.now()).await?;
    let policy = state.ops().policy(organization).await?;
    let own = PolicyDraft::of(&policy);
    let none = FieldErrors::default();
    let (draft, errors) = draft.unwrap_or((&own, &none));
    let body = html! {
        (layout::notice(notice))
        section.card aria-labelledby="report-heading" {
            h2 #report-heading { "Credential report" }
            p.hint { "Generated " (when_html(state.now())) ". Findings: expires within the largest warning mark, unused for 30 days, never used, a key older than 90 days, a rotation not finished." }
            p { a.button.secondary href="/console/credential-report.csv" download="credential-report.csv" { "Download CSV" } }
            (report_table(&report.items))
        }
        section.card aria-labelledby="policy-heading" {
            h2 #policy-heading { "Credential policy" }
            (policy_form(admin, &policy, errors, draft))
        }
    };
    Ok(admin.page(
        status,
        Section::Credentials,
        "Credentials",
        "credentials",
        body,
    ))
}

/// `GET /console/credentials`: the report and the policy.
pub async fn credentials_page(
    State(state): State<AppState>,
    admin: Admin,
    PageQuery(query): PageQuery<CredentialsQuery>,
) -> Reply {
    let notice = (query.done.as_deref() == Some("policy")).then_some("The policy was saved.");
    render(&state, &admin, notice, None, StatusCode::OK).await
}

/// `GET /console/credential-report.csv`: the report as CSV.
pub async fn report_csv(State(state): State<AppState>, admin: Admin) -> Reply {
    let report = report::build(&state, admin.actor.organization_id, true, state.now()).await?;
    Ok(report::csv_download(&report))
}

/// `POST /console/organization/policy`: saves the credential policy.
pub async fn save_policy(State(state): State<AppState>, posted: Posted<Admin>) -> Reply {
    let admin = posted.who;
    let form = posted.form;
    let draft = PolicyDraft {
        max_lifetime: form.text("api_user_max_lifetime_days").trim().to_owned(),
        unused_revoke: form.text("api_user_unused_revoke_days").trim().to_owned(),
        warning_days: form.text("expiry_warning_days").trim().to_owned(),
    };
    let mut errors = FieldErrors::default();
    let max_lifetime = draft.max_lifetime.parse::<i64>().ok();
    if max_lifetime.is_none() {
        errors.add("api_user_max_lifetime_days", "Enter a number of days.");
    }
    let unused = if draft.unused_revoke.is_empty() {
        Some(None)
    } else {
        draft.unused_revoke.parse::<i64>().ok().map(Some)
    };
    if unused.is_none() {
        errors.add(
            "api_user_unused_revoke_days",
            "Enter a number of days, or leave it empty.",
        );
    }
    let marks = Policy::parse_warning_days(&draft.warning_days);
    if marks.is_none() {
        errors.add(
            "expiry_warning_days",
            "Enter whole days separated by commas.",
        );
    }
    let leak_response = LeakResponse::parse(form.text("leak_response"));
    if leak_response.is_none() {
        errors.add("leak_response", "Choose what a leak report does.");
    }
    if let (Some(max), Some(unused), Some(marks), Some(leak_response), true) = (
        max_lifetime,
        unused,
        marks,
        leak_response,
        errors.is_empty(),
    ) {
        let policy = Policy {
            api_user_max_lifetime_days: max,
            api_user_unused_revoke_days: unused,
            expiry_warning_days: marks,
            leak_response,
        };
        match state.ops().set_policy(&admin.actor, policy).await {
            Ok(_) => return Ok(see_other("/console/credentials?done=policy")),
            Err(OpError::Invalid { field, detail }) => {
                let field = match field {
                    "api_user_max_lifetime_days" => "api_user_max_lifetime_days",
                    "api_user_unused_revoke_days" => "api_user_unused_revoke_days",
                    "expiry_warning_days" => "expiry_warning_days",
                    _ => "leak_response",
                };
                errors.add(field, layout_sentence(&detail));
            }
            Err(other) => return Err(other.into()),
        }
    }
    render(
        &state,
        &admin,
        None,
        Some((&draft, &errors)),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

/// A validation detail as a sentence.
fn layout_sentence(detail: &str) -> String {
    let mut chars = detail.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}
