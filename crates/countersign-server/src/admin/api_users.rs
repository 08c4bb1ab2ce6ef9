//! API users in the admin API: create (key shown once), list, get, revoke, rotate, delete.

use super::AdminId;
use super::{AdminError, AdminJson, AdminQuery, ListBody, ListQuery, OrgAdmin, rfc3339};
use crate::ops::{self, IssuedKey};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use countersign_core::api_user::{ApiKeyRecord, ApiUser, Scope};
use countersign_core::ids::{ApiUserId, EnvironmentId, UserId};
use countersign_core::lifecycle;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// An API user's scope on the wire.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ScopeBody {
    /// May act only as this user.
    User {
        /// The user.
        user_id: String,
    },
    /// May act as members of this environment's accounts, within them.
    Environment {
        /// The environment.
        environment_id: String,
    },
    /// May act as any active user of the organization.
    Organization,
}

impl From<Scope> for ScopeBody {
    fn from(scope: Scope) -> Self {
        match scope {
            Scope::User(user) => Self::User {
                user_id: user.to_string(),
            },
            Scope::Environment(environment) => Self::Environment {
                environment_id: environment.to_string(),
            },
            Scope::Organization => Self::Organization,
        }
    }
}

impl ScopeBody {
    /// Parses the ids of the scope.
    ///
    /// # Errors
    /// `Invalid` when an id is not a UUID.
    pub fn to_scope(&self) -> Result<Scope, AdminError> {
        match self {
            Self::User { user_id } => {
                UserId::parse(user_id)
                    .map(Scope::User)
                    .ok_or_else(|| AdminError::Invalid {
                        field: "scope.user_id",
                        detail: "user_id must be a UUID".into(),
                    })
            }
            Self::Environment { environment_id } => EnvironmentId::parse(environment_id)
                .map(Scope::Environment)
                .ok_or_else(|| AdminError::Invalid {
                    field: "scope.environment_id",
                    detail: "environment_id must be a UUID".into(),
                }),
            Self::Organization => Ok(Scope::Organization),
        }
    }
}

/// An API user (never its key).
#[derive(Serialize, utoipa::ToSchema)]
pub struct ApiUserBody {
    /// Id.
    pub id: String,
    /// Username.
    pub username: String,
    /// Scope.
    pub scope: ScopeBody,
    /// Expiry (RFC 3339).
    pub expires_at: String,
    /// `active`, `expired` or `revoked`.
    pub status: String,
    /// Creation time.
    pub created_at: String,
    /// Creator.
    pub created_by: String,
    /// Revocation time.
    pub revoked_at: Option<String>,
    /// Who revoked it.
    pub revoked_by: Option<String>,
    /// Last use (at most once a minute).
    pub last_used_at: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Its keys, newest first (on `GET /api-users/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<KeyBody>>,
}

/// One key of an API user (never the key itself).
#[derive(Serialize, utoipa::ToSchema)]
pub struct KeyBody {
    /// Id.
    pub id: String,
    /// When it was issued.
    pub created_at: String,
    /// Its last use (the key's exchanges and its sessions' requests).
    pub last_used_at: Option<String>,
    /// Where it was last used from.
    pub last_used_ip: Option<String>,
    /// When it stops, or stopped, being accepted (null for the active key).
    pub retires_at: Option<String>,
    /// `active`, `retiring` or `retired`.
    pub status: String,
    /// Minutes of silence after which a retiring key retires early.
    pub retire_after_silence_minutes: Option<i64>,
}

impl KeyBody {
    /// Renders a key with its status at `now`.
    pub fn new(key: &ApiKeyRecord, now: OffsetDateTime) -> Self {
        Self {
            id: key.id.to_string(),
            created_at: rfc3339(key.created_at),
            last_used_at: key.last_used_at.map(rfc3339),
            last_used_ip: key.last_used_ip.clone(),
            retires_at: key.valid_until.map(rfc3339),
            status: lifecycle::key_status(key, now).as_str().into(),
            retire_after_silence_minutes: key
                .retire_after_silence_minutes
                .filter(|_| key.valid_until.is_some()),
        }
    }
}

impl ApiUserBody {
    /// Renders an API user with its status at `now`.
    pub fn new(api_user: ApiUser, now: OffsetDateTime) -> Self {
        Self {
            id: api_user.id.to_string(),
            status: api_user.status(now).as_str().into(),
            username: api_user.username,
            scope: api_user.scope.into(),
            expires_at: rfc3339(api_user.expires_at),
            created_at: rfc3339(api_user.created_at),
            created_by: api_user.created_by,
            revoked_at: api_user.revoked_at.map(rfc3339),
            revoked_by: api_user.revoked_by,
            last_used_at: api_user.last_used_at.map(rfc3339),
            description: api_user.description,
            keys: None,
        }
    }

    /// Renders an API user with its keys.
    pub fn with_keys(api_user: ApiUser, keys: &[ApiKeyRecord], now: OffsetDateTime) -> Self {
        Self {
            keys: Some(keys.iter().map(|k| KeyBody::new(k, now)).collect()),
            ..Self::new(api_user, now)
        }
    }
}

/// A new API user.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiUser {
    /// Unique across the installation (case-insensitive), 3–128 printable characters.
    username: String,
    /// Whom it may act for.
    scope: ScopeBody,
    /// RFC 3339 time, or `YYYY-MM-DD` meaning 00:00 UTC that day; future, at most the maximum lifetime.
    expires_at: String,
    /// Free text.
    description: Option<String>,
}

/// An API user with its key, shown exactly once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ApiUserWithKeyBody {
    /// The API user.
    pub api_user: ApiUserBody,
    /// The key; it is not stored and will not be shown again.
    pub key: String,
}

impl ApiUserWithKeyBody {
    /// Renders an issued key (shown once).
    pub(crate) fn new(issued: IssuedKey, now: OffsetDateTime) -> Self {
        Self {
            key: issued.key.expose().to_owned(),
            api_user: ApiUserBody::new(issued.api_user, now),
        }
    }
}

/// Rotation parameters.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateApiUser {
    /// How long the old key keeps working, 0 (none) to 43200 (30 days).
    #[serde(default)]
    grace_minutes: i64,
    /// Retire the old key once it has gone unused this many minutes (1 to 43200) after the
    /// new key's first use, or at the end of the grace period, whichever comes first.
    #[serde(default, deserialize_with = "super::not_null")]
    retire_after_silence_minutes: Option<i64>,
}

/// List filters.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ApiUserListQuery {
    /// Include revoked and expired API users.
    #[serde(default)]
    include_inactive: bool,
    /// Page size, 1–1000 (default 100).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Lists API users; revoked and expired ones only with `include_inactive=true`.
#[utoipa::path(get, path = "/admin/v1/api-users", tag = "admin", params(ApiUserListQuery), security(("bearer" = [])),
    responses((status = 200, body = ListBody<ApiUserBody>)))]
pub async fn list_api_users(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminQuery(query): AdminQuery<ApiUserListQuery>,
) -> Result<Json<ListBody<ApiUserBody>>, AdminError> {
    let paging = ListQuery {
        limit: query.limit,
        cursor: query.cursor,
    };
    let now = state.now();
    let page = state
        .store
        .list_api_users(
            actor.organization_id,
            query.include_inactive,
            now,
            paging.cursor()?,
            paging.limit()?,
        )
        .await?;
    Ok(Json(ListBody::from_page(page, |a| {
        ApiUserBody::new(a, now)
    })))
}

/// Creates an API user and shows its key once.
#[utoipa::path(post, path = "/admin/v1/api-users", tag = "admin", request_body = CreateApiUser, security(("bearer" = [])),
    responses((status = 201, body = ApiUserWithKeyBody), (status = 409, description = "Username taken (username_taken)"), (status = 422, description = "Invalid field")))]
pub async fn create_api_user(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminJson(body): AdminJson<CreateApiUser>,
) -> Result<(StatusCode, Json<ApiUserWithKeyBody>), AdminError> {
    let scope = body.scope.to_scope()?;
    let expires_at = ops::parse_expiry(&body.expires_at)?;
    let issued = state
        .ops()
        .create_api_user(
            &actor,
            &body.username,
            scope,
            expires_at,
            body.description.as_deref(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(ApiUserWithKeyBody::new(issued, state.now())),
    ))
}

/// Returns an API user with its keys, their last use and retirement (never a key itself).
#[utoipa::path(get, path = "/admin/v1/api-users/{id}", tag = "admin", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = ApiUserBody), (status = 404, description = "Not found")))]
pub async fn get_api_user(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminId(id): AdminId<ApiUserId>,
) -> Result<Json<ApiUserBody>, AdminError> {
    let found = state
        .store
        .find_api_user_with_keys(id)
        .await?
        .filter(|found| found.api_user.organization_id == actor.organization_id)
        .ok_or(AdminError::NotFound("api user"))?;
    Ok(Json(ApiUserBody::with_keys(
        found.api_user,
        &found.keys,
        state.now(),
    )))
}

/// `?wait=true` on a revocation: answer once every live node has applied it (SPEC §14).
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RevokeQuery {
    /// Wait (at most 2 s) until every live node has applied the revocation.
    wait: Option<bool>,
}

/// How many live nodes have applied a revocation.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AppliedBody {
    /// Live nodes that have applied it.
    pub nodes: usize,
    /// Live nodes (heartbeat within 10 s).
    pub of: usize,
}

/// A live node that has not applied the revocation yet.
#[derive(Serialize, utoipa::ToSchema)]
pub struct NodeBehindBody {
    /// The node's id.
    pub node_id: String,
    /// Its name (listening address and process id).
    pub name: String,
    /// The directory version it has applied.
    pub applied_version: i64,
    /// Its last heartbeat (RFC 3339).
    pub seen_at: String,
}

/// A revocation with its receipts.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RevokeReceiptBody {
    /// The revoked API user.
    pub api_user: ApiUserBody,
    /// How many live nodes have applied the revocation.
    pub applied: AppliedBody,
    /// The live nodes still behind (202 only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub behind: Vec<NodeBehindBody>,
}

/// Revokes an API user permanently; its tokens stop working at once. With `?wait=true` it
/// answers once every live node has applied the revocation (200), or after 2 s with the nodes
/// still behind (202).
#[utoipa::path(post, path = "/admin/v1/api-users/{id}/revoke", tag = "admin", params(("id" = String, Path), RevokeQuery), security(("bearer" = [])),
    responses(
        (status = 200, description = "Revoked (with `wait=true`: applied by every live node, as `RevokeReceiptBody`)", body = ApiUserBody),
        (status = 202, description = "Revoked; some live nodes had not applied it after 2 s", body = RevokeReceiptBody),
    ))]
pub async fn revoke_api_user(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminId(id): AdminId<ApiUserId>,
    AdminQuery(query): AdminQuery<RevokeQuery>,
) -> Result<axum::response::Response, AdminError> {
    use axum::response::IntoResponse;
    let api_user = state.ops().revoke_api_user(&actor, id).await?;
    let body = ApiUserBody::new(api_user, state.now());
    if query.wait != Some(true) {
        return Ok(Json(body).into_response());
    }
    // This node applied the revocation before `revoke_api_user` returned; its applied version
    // is at least the revocation's.
    let version = state.cache.applied_version();
    let receipts = crate::nodes::wait_for(&state.store, version).await?;
    let status = if receipts.behind.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    let answer = RevokeReceiptBody {
        api_user: body,
        applied: AppliedBody {
            nodes: receipts.applied,
            of: receipts.of,
        },
        behind: receipts
            .behind
            .into_iter()
            .map(|node| NodeBehindBody {
                node_id: node.node_id,
                name: node.name,
                applied_version: node.applied_version,
                seen_at: rfc3339(node.seen_at),
            })
            .collect(),
    };
    Ok((status, Json(answer)).into_response())
}

/// Issues a new key; the old one works for the grace period.
#[utoipa::path(post, path = "/admin/v1/api-users/{id}/rotate", tag = "admin", params(("id" = String, Path)), request_body = RotateApiUser, security(("bearer" = [])),
    responses((status = 200, body = ApiUserWithKeyBody)))]
pub async fn rotate_api_user(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminId(id): AdminId<ApiUserId>,
    AdminJson(body): AdminJson<RotateApiUser>,
) -> Result<Json<ApiUserWithKeyBody>, AdminError> {
    let issued = state
        .ops()
        .rotate_api_user(
            &actor,
            id,
            body.grace_minutes,
            body.retire_after_silence_minutes,
        )
        .await?;
    Ok(Json(ApiUserWithKeyBody::new(issued, state.now())))
}

/// Deletes an API user; its tokens stop working at once.
#[utoipa::path(delete, path = "/admin/v1/api-users/{id}", tag = "admin", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 204, description = "Deleted")))]
pub async fn delete_api_user(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminId(id): AdminId<ApiUserId>,
) -> Result<StatusCode, AdminError> {
    state.ops().delete_api_user(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
