//! Moving integrations off the legacy header in the admin API: usage telemetry, sunset dates,
//! migration plans and migrations (SPEC §11); the organization-wide switch is in
//! `organization`.

use super::AdminId;
use super::api_users::{ApiUserWithKeyBody, ScopeBody};
use super::directory::IntegratorKeyBody;
use super::{AdminError, AdminJson, AdminQuery, ListBody, OrgAdmin, not_null, present, rfc3339};
use crate::migration::MigrationPlan;
use crate::ops;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use countersign_core::ids::IntegratorKeyId;
use countersign_store::UsageRow;
use serde::{Deserialize, Serialize};

/// One usage row.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UsageItem {
    /// Integrator key record id.
    pub integrator_key_id: String,
    /// Its name.
    pub integrator_key_name: String,
    /// The authenticated user.
    pub user_id: String,
    /// Their email.
    pub user_email: String,
    /// The user acted for with Send-On-Behalf-Of, if any.
    pub on_behalf_of_user_id: Option<String>,
    /// Accounts used.
    pub account_ids: Vec<String>,
    /// Total requests.
    pub requests: i64,
    /// First seen (RFC 3339).
    pub first_seen_at: String,
    /// Last seen (RFC 3339).
    pub last_seen_at: String,
    /// The ten most recent distinct source IPs.
    pub source_ips: Vec<String>,
    /// The ten most recent distinct user agents.
    pub user_agents: Vec<String>,
}

impl From<UsageRow> for UsageItem {
    fn from(row: UsageRow) -> Self {
        Self {
            integrator_key_id: row.integrator_key_id.to_string(),
            integrator_key_name: row.integrator_key_name,
            user_id: row.user_id.to_string(),
            user_email: row.user_email,
            on_behalf_of_user_id: row.on_behalf_of_user_id.map(|id| id.to_string()),
            account_ids: row.accounts.iter().map(|(id, _)| id.to_string()).collect(),
            requests: row.requests,
            first_seen_at: rfc3339(row.first_seen_at),
            last_seen_at: rfc3339(row.last_seen_at),
            source_ips: row.source_ips,
            user_agents: row.user_agents,
        }
    }
}

/// Usage filters.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    /// Only this integrator key (its id, a UUID, when sent).
    #[param(format = Uuid)]
    integrator_key_id: Option<String>,
    /// Only rows last seen at or after this time (RFC 3339); counts stay totals.
    since: Option<String>,
}

fn parse_key(text: Option<&str>) -> Result<Option<IntegratorKeyId>, AdminError> {
    text.map(|t| {
        IntegratorKeyId::parse(t).ok_or_else(|| AdminError::Invalid {
            field: "integrator_key_id",
            detail: "integrator_key_id must be a UUID".into(),
        })
    })
    .transpose()
}

/// Who still uses the legacy header, per integrator key, user and on-behalf-of user.
#[utoipa::path(get, path = "/admin/v1/legacy-usage", tag = "admin", params(UsageQuery), security(("bearer" = [])),
    responses((status = 200, body = ListBody<UsageItem>), (status = 400, description = "A query that does not decode"), (status = 422, description = "integrator_key_id not a UUID, or since not an RFC 3339 time")))]
pub async fn list_legacy_usage(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminQuery(query): AdminQuery<UsageQuery>,
) -> Result<Json<ListBody<UsageItem>>, AdminError> {
    let key = parse_key(query.integrator_key_id.as_deref())?;
    let since = query
        .since
        .as_deref()
        .map(|t| {
            crate::clock::parse_rfc3339(t).ok_or_else(|| AdminError::Invalid {
                field: "since",
                detail: "since must be an RFC 3339 time".into(),
            })
        })
        .transpose()?;
    flush(&state).await;
    let rows = state
        .store
        .list_legacy_usage(actor.organization_id, key, since)
        .await?;
    Ok(Json(ListBody {
        items: rows.into_iter().map(UsageItem::from).collect(),
        next_cursor: None,
    }))
}

/// Writes this node's pending counts so a read sees them.
async fn flush(state: &AppState) {
    if let Err(error) = state.legacy_usage.flush(&state.store).await {
        tracing::warn!(%error, "legacy usage flush before a read failed");
    }
}

/// Requests on one day.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DailyItem {
    /// UTC day, `YYYY-MM-DD`.
    pub day: String,
    /// Requests.
    pub requests: i64,
}

/// Daily filter.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DailyQuery {
    /// The integrator key (its id, a UUID).
    #[param(format = Uuid)]
    integrator_key_id: String,
}

/// Legacy-header requests per UTC day for one integrator key.
#[utoipa::path(get, path = "/admin/v1/legacy-usage/daily", tag = "admin", params(DailyQuery), security(("bearer" = [])),
    responses((status = 200, body = ListBody<DailyItem>), (status = 400, description = "A query that does not decode"), (status = 404, description = "No such integrator key"), (status = 422, description = "integrator_key_id not a UUID")))]
pub async fn list_legacy_usage_daily(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminQuery(query): AdminQuery<DailyQuery>,
) -> Result<Json<ListBody<DailyItem>>, AdminError> {
    let key =
        parse_key(Some(&query.integrator_key_id))?.ok_or(AdminError::NotFound("integrator key"))?;
    state.store.fetch(actor.organization_id, key).await?;
    flush(&state).await;
    let days = state.store.list_legacy_usage_daily(key).await?;
    Ok(Json(ListBody {
        items: days
            .into_iter()
            .map(|(day, requests)| DailyItem { day, requests })
            .collect(),
        next_cursor: None,
    }))
}

/// A change to an integrator key: any of `legacy_sunset_at` (RFC 3339 or null), and its OAuth
/// client settings `redirect_uris` and `allow_implicit` (SPEC §12).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateIntegratorKey {
    /// When the legacy header stops being accepted with this key; null clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    legacy_sunset_at: Option<Option<String>>,
    /// The redirect URIs of the Authorization Code Grant (replacing the list).
    #[serde(default, deserialize_with = "not_null")]
    redirect_uris: Option<Vec<String>>,
    /// Whether the implicit grant (`response_type=token`) is allowed.
    #[serde(default, deserialize_with = "not_null")]
    allow_implicit: Option<bool>,
}

/// Sets or clears the legacy-header sunset of an integrator key, and its OAuth client settings.
#[utoipa::path(patch, path = "/admin/v1/integrator-keys/{id}", tag = "admin", params(("id" = String, Path)),
    request_body = UpdateIntegratorKey, security(("bearer" = [])), responses((status = 200, body = IntegratorKeyBody)))]
pub async fn update_integrator_key(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminId(id): AdminId<IntegratorKeyId>,
    AdminJson(body): AdminJson<UpdateIntegratorKey>,
) -> Result<Json<IntegratorKeyBody>, AdminError> {
    if body.legacy_sunset_at.is_none()
        && body.redirect_uris.is_none()
        && body.allow_implicit.is_none()
    {
        return Err(AdminError::Invalid {
            field: "legacy_sunset_at",
            detail: "give legacy_sunset_at (RFC 3339 or null), redirect_uris or allow_implicit"
                .into(),
        });
    }
    let sunset = body
        .legacy_sunset_at
        .map(|sunset| {
            sunset
                .map(|t| {
                    crate::clock::parse_rfc3339(&t)
                        .map(crate::clock::whole_seconds)
                        .ok_or_else(|| AdminError::Invalid {
                            field: "legacy_sunset_at",
                            detail: "legacy_sunset_at must be an RFC 3339 time or null".into(),
                        })
                })
                .transpose()
        })
        .transpose()?;
    let ops = state.ops();
    if body.redirect_uris.is_some() || body.allow_implicit.is_some() {
        // Validated (and refused) before the sunset is touched.
        ops.set_oauth_client(
            &actor,
            id,
            body.redirect_uris.as_deref(),
            body.allow_implicit,
        )
        .await?;
    }
    let key = match sunset {
        Some(sunset) => ops.set_integrator_key_sunset(&actor, id, sunset).await?,
        None => state.store.fetch(actor.organization_id, id).await?,
    };
    Ok(Json(key.into()))
}

/// A user in a plan.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PlanUserBody {
    /// User id.
    pub id: String,
    /// Email.
    pub email: String,
    /// Requests acting as this user.
    pub requests: i64,
}

/// An account in a plan.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PlanAccountBody {
    /// Account id.
    pub id: String,
    /// Number.
    pub number: String,
    /// Environment.
    pub environment_id: String,
    /// Requests in this account.
    pub requests: i64,
}

/// A recorded use the proposed API user would not allow.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UncoveredBody {
    /// The user acted as.
    pub user_id: String,
    /// The account, if any.
    pub account_id: Option<String>,
    /// Requests.
    pub requests: i64,
    /// Why.
    pub reason: String,
}

/// A migration plan with its dry run.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PlanBody {
    /// The recommended target: `jwt_grant` (the recorded traffic is DocuSign-dialect, which the
    /// integration's DocuSign SDK moves to the JWT Grant by changing its OAuth host).
    pub target: String,
    /// The narrowest scope covering the recorded usage.
    pub scope: ScopeBody,
    /// Users acted as.
    pub users: Vec<PlanUserBody>,
    /// Accounts used.
    pub accounts: Vec<PlanAccountBody>,
    /// Recorded requests the proposed API user would allow.
    pub covered_requests: i64,
    /// All recorded requests.
    pub total_requests: i64,
    /// What it would not allow, and why (empty when everything is covered).
    pub uncovered: Vec<UncoveredBody>,
}

impl From<MigrationPlan> for PlanBody {
    fn from(plan: MigrationPlan) -> Self {
        Self {
            target: plan.target.as_str().into(),
            scope: plan.scope.into(),
            users: plan
                .users
                .into_iter()
                .map(|u| PlanUserBody {
                    id: u.id.to_string(),
                    email: u.email,
                    requests: u.requests,
                })
                .collect(),
            accounts: plan
                .accounts
                .into_iter()
                .map(|a| PlanAccountBody {
                    id: a.id.to_string(),
                    number: a.number,
                    environment_id: a.environment_id.to_string(),
                    requests: a.requests,
                })
                .collect(),
            covered_requests: plan.coverage.covered,
            total_requests: plan.coverage.total,
            uncovered: plan
                .coverage
                .uncovered
                .into_iter()
                .map(|(recorded, why)| UncoveredBody {
                    user_id: recorded.user_id.to_string(),
                    account_id: recorded.account.map(|(a, _)| a.to_string()),
                    requests: recorded.requests,
                    reason: why.reason().into(),
                })
                .collect(),
        }
    }
}

/// Proposes the narrowest API user that covers an integrator key's recorded legacy usage.
#[utoipa::path(post, path = "/admin/v1/integrator-keys/{id}/migration-plan", tag = "admin", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = PlanBody), (status = 409, description = "no_legacy_usage")))]
pub async fn migration_plan(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminId(id): AdminId<IntegratorKeyId>,
) -> Result<Json<PlanBody>, AdminError> {
    flush(&state).await;
    Ok(Json(state.ops().migration_plan(&actor, id).await?.into()))
}

/// A migration request: `{"target": "jwt_grant"}` (SPEC §12), or an API user
/// `{"username", "expires_at"}` (SPEC §11; `"target": "api_user"` optional).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MigrateRequest {
    /// `jwt_grant` or `api_user` (the default when `username` is given).
    #[serde(default, deserialize_with = "super::not_null")]
    target: Option<String>,
    /// Username of the new API user (`api_user`).
    #[serde(default, deserialize_with = "super::not_null")]
    username: Option<String>,
    /// Its expiry (RFC 3339 or `YYYY-MM-DD`; `api_user`).
    #[serde(default, deserialize_with = "super::not_null")]
    expires_at: Option<String>,
}

/// The new API user, its key (once) and a ready-to-paste snippet.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MigratedBody {
    /// The API user.
    pub api_user: super::api_users::ApiUserBody,
    /// The key; not stored and never shown again.
    pub key: String,
    /// curl and Python example of the token exchange and the `X-AS-UserContext` values.
    pub snippet: String,
}

/// The RSA key of a migration to the JWT Grant.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MigratedRsaKeyBody {
    /// Id.
    pub id: String,
    /// The private key (PKCS#1 PEM); not stored and never shown again.
    pub private_key_pem: String,
}

/// A migration to the JWT Grant.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MigratedToJwtBody {
    /// The new RSA key pair.
    pub rsa_key: MigratedRsaKeyBody,
    /// The users the administrator consent covers: exactly those the legacy traffic acted as.
    pub consented_user_ids: Vec<String>,
    /// The `docusign-esign` change: `request_jwt_user_token` replacing the header.
    pub snippet: String,
}

/// Migrates an integrator key's legacy traffic: to the JWT Grant (`{"target": "jwt_grant"}`),
/// or to the API user the plan proposes.
#[utoipa::path(post, path = "/admin/v1/integrator-keys/{id}/migrate", tag = "admin", params(("id" = String, Path)),
    request_body = MigrateRequest, security(("bearer" = [])),
    responses((status = 201, description = "MigratedToJwtBody for jwt_grant, MigratedBody for an API user", body = MigratedToJwtBody),
        (status = 409, description = "no_legacy_usage, username_taken or too_many_keys")))]
pub async fn migrate(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminId(id): AdminId<IntegratorKeyId>,
    AdminJson(body): AdminJson<MigrateRequest>,
) -> Result<Response, AdminError> {
    match body.target.as_deref() {
        Some("jwt_grant") => {
            if body.username.is_some() || body.expires_at.is_some() {
                return Err(AdminError::Invalid {
                    field: "target",
                    detail: "jwt_grant takes no username or expires_at".into(),
                });
            }
            flush(&state).await;
            let migrated = state
                .ops()
                .migrate_integrator_key_to_jwt(
                    &actor,
                    id,
                    &state.config.public_url,
                    &state.config.oauth_host(),
                )
                .await?;
            return Ok((
                StatusCode::CREATED,
                Json(MigratedToJwtBody {
                    rsa_key: MigratedRsaKeyBody {
                        id: migrated.rsa_key.id.to_string(),
                        private_key_pem: migrated.private_key_pem.as_str().to_owned(),
                    },
                    consented_user_ids: migrated
                        .consented_user_ids
                        .iter()
                        .map(ToString::to_string)
                        .collect(),
                    snippet: migrated.snippet,
                }),
            )
                .into_response());
        }
        None | Some("api_user") => {}
        Some(_) => {
            return Err(AdminError::Invalid {
                field: "target",
                detail: "target must be jwt_grant or api_user".into(),
            });
        }
    }
    let (Some(username), Some(expires_at)) = (body.username, body.expires_at) else {
        return Err(AdminError::Invalid {
            field: "username",
            detail: "an API user needs username and expires_at".into(),
        });
    };
    let expires_at = ops::parse_expiry(&expires_at)?;
    flush(&state).await;
    let migrated = state
        .ops()
        .migrate_integrator_key(&actor, id, &username, expires_at, &state.config.public_url)
        .await?;
    let with_key = ApiUserWithKeyBody::new(migrated.issued, state.now());
    Ok((
        StatusCode::CREATED,
        Json(MigratedBody {
            api_user: with_key.api_user,
            key: with_key.key,
            snippet: migrated.snippet,
        }),
    )
        .into_response())
}
