//! The caller's organization: the legacy-header switch (SPEC §11) and the credential policy
//! (SPEC §13), read and changed together at `/admin/v1/organization`.

use super::{AdminError, AdminJson, OrgAdmin, not_null, present};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use countersign_core::directory::Organization;
use countersign_core::lifecycle::{LeakResponse, Policy};
use serde::{Deserialize, Serialize};

/// The organization: its legacy-header switch and credential policy.
#[derive(Serialize, utoipa::ToSchema)]
pub struct OrganizationBody {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Whether the legacy header is accepted at all.
    pub legacy_header_enabled: bool,
    /// Longest lifetime of an API user, in days (1–3650, never above the server's maximum).
    pub api_user_max_lifetime_days: i64,
    /// API users unused this many days are revoked by the server; null = off.
    pub api_user_unused_revoke_days: Option<i64>,
    /// Days before expiry at which `api_user.expiring` is sent, loosest first.
    pub expiry_warning_days: Vec<i64>,
    /// What a leak report does: `revoke` or `notify`.
    pub leak_response: String,
}

impl OrganizationBody {
    fn new(organization: Organization, policy: Policy) -> Self {
        Self {
            id: organization.id.to_string(),
            name: organization.name,
            legacy_header_enabled: organization.legacy_header_enabled,
            api_user_max_lifetime_days: policy.api_user_max_lifetime_days,
            api_user_unused_revoke_days: policy.api_user_unused_revoke_days,
            expiry_warning_days: policy.expiry_warning_days,
            leak_response: policy.leak_response.as_str().into(),
        }
    }
}

/// A change to the organization: only the fields given change.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrganization {
    /// Accept the legacy header at all.
    #[serde(default, deserialize_with = "not_null")]
    legacy_header_enabled: Option<bool>,
    /// Longest lifetime of an API user, in days.
    #[serde(default, deserialize_with = "not_null")]
    api_user_max_lifetime_days: Option<i64>,
    /// Revoke API users unused this many days (1–3650); null turns it off.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    api_user_unused_revoke_days: Option<Option<i64>>,
    /// Expiry warning marks, in days (at most 10, each 1–365, distinct).
    #[serde(default, deserialize_with = "not_null")]
    expiry_warning_days: Option<Vec<i64>>,
    /// `revoke` or `notify`.
    #[serde(default, deserialize_with = "not_null")]
    leak_response: Option<String>,
}

/// The caller's organization with its credential policy.
#[utoipa::path(get, path = "/admin/v1/organization", tag = "admin", security(("bearer" = [])), responses((status = 200, body = OrganizationBody)))]
pub async fn get_organization(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
) -> Result<Json<OrganizationBody>, AdminError> {
    let organization = state
        .store
        .fetch_organization(actor.organization_id)
        .await?;
    let policy = state.ops().policy(actor.organization_id).await?;
    Ok(Json(OrganizationBody::new(organization, policy)))
}

/// Changes the legacy-header switch and the credential policy, at once for every node.
#[utoipa::path(patch, path = "/admin/v1/organization", tag = "admin", request_body = UpdateOrganization, security(("bearer" = [])),
    responses((status = 200, body = OrganizationBody), (status = 422, description = "A policy field is out of bounds (validation_failed)")))]
pub async fn update_organization(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminJson(body): AdminJson<UpdateOrganization>,
) -> Result<Json<OrganizationBody>, AdminError> {
    let ops = state.ops();
    let mut policy = ops.policy(actor.organization_id).await?;
    let changes_policy = body.api_user_max_lifetime_days.is_some()
        || body.api_user_unused_revoke_days.is_some()
        || body.expiry_warning_days.is_some()
        || body.leak_response.is_some();
    if let Some(days) = body.api_user_max_lifetime_days {
        policy.api_user_max_lifetime_days = days;
    }
    if let Some(days) = body.api_user_unused_revoke_days {
        policy.api_user_unused_revoke_days = days;
    }
    if let Some(marks) = body.expiry_warning_days {
        policy.expiry_warning_days = marks;
    }
    if let Some(response) = body.leak_response.as_deref() {
        policy.leak_response = LeakResponse::parse(response).ok_or(AdminError::Invalid {
            field: "leak_response",
            detail: "leak_response must be \"revoke\" or \"notify\"".into(),
        })?;
    }
    // Everything is checked before anything changes.
    let policy = if changes_policy {
        ops.set_policy(&actor, policy).await?
    } else {
        policy
    };
    let organization = match body.legacy_header_enabled {
        Some(enabled) => ops.set_legacy_header_enabled(&actor, enabled).await?,
        None => {
            state
                .store
                .fetch_organization(actor.organization_id)
                .await?
        }
    };
    Ok(Json(OrganizationBody::new(organization, policy)))
}
