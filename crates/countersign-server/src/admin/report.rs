//! The credential report (SPEC §13): every API user of the organization with its expiry, last
//! use, oldest accepted key and hygiene findings, as JSON or CSV (`?format=csv`).

use super::api_users::ScopeBody;
use super::{AdminError, AdminQuery, OrgAdmin, rfc3339};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use countersign_core::ids::OrganizationId;
use countersign_core::lifecycle;
use countersign_store::StoreError;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// API users read per query while the report is built.
const BATCH: i64 = 500;

/// The report.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ReportBody {
    /// When it was computed.
    pub generated_at: String,
    /// One item per API user, in creation order.
    pub items: Vec<ReportItem>,
}

/// One API user in the report.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ReportItem {
    /// Id.
    pub api_user_id: String,
    /// Username.
    pub username: String,
    /// Scope.
    pub scope: ScopeBody,
    /// `active`, `expired` or `revoked`.
    pub status: String,
    /// Creation time.
    pub created_at: String,
    /// Expiry.
    pub expires_at: String,
    /// Whole days until expiry (negative once expired).
    pub days_to_expiry: i64,
    /// Last use.
    pub last_used_at: Option<String>,
    /// Address of the last use.
    pub last_used_ip: Option<String>,
    /// Age in whole days of the oldest key still accepted.
    pub oldest_active_key_days: Option<i64>,
    /// `expires_soon`, `unused_30_days`, `never_used`, `old_key_90_days`, `rotation_pending`.
    pub findings: Vec<String>,
}

/// Report options.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// `json` (default) or `csv`.
    format: Option<String>,
    /// Include revoked and expired API users.
    #[serde(default)]
    include_inactive: bool,
}

/// Computes the report of an organization at `now`.
///
/// # Errors
/// The store's.
pub async fn build(
    state: &AppState,
    organization: OrganizationId,
    include_inactive: bool,
    now: OffsetDateTime,
) -> Result<ReportBody, StoreError> {
    let policy = state.store.fetch_policy(organization).await?;
    let mut items = Vec::new();
    let mut after = String::new();
    loop {
        let rows = state
            .store
            .list_report_rows(organization, include_inactive, now, &after, BATCH)
            .await?;
        let full = rows.len() as i64 == BATCH;
        for row in rows {
            let line = lifecycle::report_line(&row.api_user, &row.keys, &policy, now);
            after = row.api_user.id.to_string();
            items.push(ReportItem {
                api_user_id: row.api_user.id.to_string(),
                username: row.api_user.username,
                scope: row.api_user.scope.into(),
                status: line.status.as_str().into(),
                created_at: rfc3339(row.api_user.created_at),
                expires_at: rfc3339(row.api_user.expires_at),
                days_to_expiry: line.days_to_expiry,
                last_used_at: row.api_user.last_used_at.map(rfc3339),
                last_used_ip: row.last_used_ip,
                oldest_active_key_days: line.oldest_active_key_days,
                findings: line.findings.iter().map(|f| f.as_str().into()).collect(),
            });
        }
        if !full {
            break;
        }
    }
    Ok(ReportBody {
        generated_at: rfc3339(now),
        items,
    })
}

/// A scope as one CSV cell: `organization`, `user:<id>` or `environment:<id>`.
fn scope_cell(scope: &ScopeBody) -> String {
    match scope {
        ScopeBody::Organization => "organization".into(),
        ScopeBody::User { user_id } => format!("user:{user_id}"),
        ScopeBody::Environment { environment_id } => format!("environment:{environment_id}"),
    }
}

/// One CSV field (RFC 4180): always quoted, quotes doubled. Free text that a spreadsheet
/// would run as a formula (starting with `=`, `+`, `-`, `@`, tab or CR) gets a leading `'`.
fn cell(text: &str, is_free_text: bool) -> String {
    let guarded = if is_free_text && text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    format!("\"{}\"", guarded.replace('"', "\"\""))
}

/// The report as a CSV download (`credential-report.csv`), for the admin API and the console.
pub fn csv_download(report: &ReportBody) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                "text/csv; charset=utf-8; header=present",
            ),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"credential-report.csv\"",
            ),
        ],
        to_csv(report),
    )
        .into_response()
}

/// The report as CSV with a header row.
pub fn to_csv(report: &ReportBody) -> String {
    let mut out = String::from(
        "api_user_id,username,scope,status,created_at,expires_at,days_to_expiry,last_used_at,\
         last_used_ip,oldest_active_key_days,findings\r\n",
    );
    for item in &report.items {
        let fields = [
            cell(&item.api_user_id, false),
            cell(&item.username, true),
            cell(&scope_cell(&item.scope), false),
            cell(&item.status, false),
            cell(&item.created_at, false),
            cell(&item.expires_at, false),
            cell(&item.days_to_expiry.to_string(), false),
            cell(item.last_used_at.as_deref().unwrap_or(""), false),
            cell(item.last_used_ip.as_deref().unwrap_or(""), false),
            cell(
                &item
                    .oldest_active_key_days
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
                false,
            ),
            cell(&item.findings.join(";"), false),
        ];
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

/// The credential report: JSON, or CSV with `?format=csv`.
#[utoipa::path(get, path = "/admin/v1/credential-report", tag = "admin", params(ReportQuery), security(("bearer" = [])),
    responses((status = 200, body = ReportBody, description = "JSON, or text/csv with a header row when format=csv")))]
pub async fn credential_report(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminQuery(query): AdminQuery<ReportQuery>,
) -> Result<Response, AdminError> {
    let csv = match query.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => {
            return Err(AdminError::BadRequest("format must be json or csv".into()));
        }
    };
    let report = build(
        &state,
        actor.organization_id,
        query.include_inactive,
        state.now(),
    )
    .await?;
    if !csv {
        return Ok(Json(report).into_response());
    }
    Ok(csv_download(&report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use countersign_core::api_user::Scope;

    #[test]
    fn csv_cells_are_quoted_and_formulas_neutralized() {
        assert_eq!(cell("plain", true), "\"plain\"");
        assert_eq!(cell("say \"hi\"", true), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("=SUM(A1)", true), "\"'=SUM(A1)\"");
        assert_eq!(cell("-5", false), "\"-5\"");
    }

    #[test]
    fn scope_cells_name_their_target() {
        assert_eq!(
            scope_cell(&ScopeBody::from(Scope::Organization)),
            "organization"
        );
    }
}
