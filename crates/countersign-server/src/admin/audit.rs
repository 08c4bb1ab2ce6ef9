//! The audit log in the admin API: newest first, filtered by actor, action and time.

use super::{AdminError, AdminQuery, ListBody, OrgAdmin, rfc3339};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use countersign_store::{AuditFilter, AuditRecord};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// One audit event.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditItem {
    /// Sequence id (string).
    pub id: String,
    /// When (RFC 3339).
    pub at: String,
    /// Who.
    pub actor: String,
    /// What, e.g. `api_user.create`.
    pub action: String,
    /// To what.
    pub subject: String,
    /// Client address.
    pub source_ip: Option<String>,
    /// `success`, `failure` or `denied`.
    pub outcome: String,
    /// A short free text (e.g. an on-behalf-of roll-up's count and time span), or null.
    pub detail: Option<String>,
}

impl From<AuditRecord> for AuditItem {
    fn from(record: AuditRecord) -> Self {
        Self {
            id: record.id.to_string(),
            at: rfc3339(record.event.at),
            actor: record.event.actor,
            action: record.event.action,
            subject: record.event.subject,
            source_ip: record.event.source_ip,
            outcome: record.event.outcome.as_str().into(),
            detail: record.event.detail,
        }
    }
}

/// Audit filters.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only this actor (1–256 characters when sent).
    #[param(min_length = 1, max_length = 256)]
    actor: Option<String>,
    /// Only this action (1–256 characters when sent).
    #[param(min_length = 1, max_length = 256)]
    action: Option<String>,
    /// At or after (RFC 3339).
    since: Option<String>,
    /// Before (RFC 3339).
    until: Option<String>,
    /// Page size, 1–1000 (default 100).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

fn parse_time(
    field: &'static str,
    text: Option<&str>,
) -> Result<Option<OffsetDateTime>, AdminError> {
    text.map(|t| {
        crate::clock::parse_rfc3339(t).ok_or_else(|| AdminError::Invalid {
            field,
            detail: format!("{field} must be an RFC 3339 time"),
        })
    })
    .transpose()
}

/// A text filter: absent is no filter; sent empty is refused (a caller who sends `actor=` has
/// a value in mind that did not arrive, and reading it as "everyone" would answer another
/// question).
fn filter_text(field: &'static str, text: Option<String>) -> Result<Option<String>, AdminError> {
    match text {
        Some(text) if text.is_empty() || text.chars().count() > 256 => Err(AdminError::Invalid {
            field,
            detail: format!("{field} must be 1 to 256 characters when sent"),
        }),
        text => Ok(text),
    }
}

/// Lists the organization's audit events, newest first.
#[utoipa::path(get, path = "/admin/v1/audit", tag = "admin", params(AuditQuery), security(("bearer" = [])),
    responses((status = 200, body = ListBody<AuditItem>), (status = 400, description = "A query that does not decode"),
        (status = 422, description = "A filter sent empty or out of range")))]
pub async fn list_audit(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminQuery(query): AdminQuery<AuditQuery>,
) -> Result<Json<ListBody<AuditItem>>, AdminError> {
    let paging = super::ListQuery {
        limit: query.limit,
        cursor: query.cursor.clone(),
    };
    let cursor = paging.numeric_cursor()?;
    let filter = AuditFilter {
        organization_id: Some(actor.organization_id),
        actor: filter_text("actor", query.actor)?,
        action: filter_text("action", query.action)?,
        since: parse_time("since", query.since.as_deref())?,
        until: parse_time("until", query.until.as_deref())?,
    };
    state.settle_audit().await;
    let page = state
        .store
        .list_audit_events(&filter, cursor, paging.limit()?)
        .await?;
    Ok(Json(ListBody::from_page(page, AuditItem::from)))
}
