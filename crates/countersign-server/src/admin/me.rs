//! What was done in my name, and ending the sessions acting as me (SPEC §14): for every
//! signed-in user, not only administrators; an organization administrator may end the
//! sessions acting as any user of the organization.

use super::AdminId;
use super::session::AdminCaller;
use super::{AdminError, AdminQuery, ListBody, ListQuery, OrgAdmin, rfc3339};
use crate::ops::Actor;
use crate::state::AppState;
use axum::Json;
use axum::body::{Bytes, to_bytes};
use axum::extract::{FromRequest, Request, State};
use countersign_core::directory::User;
use countersign_core::ids::{ApiUserId, UserId};
use countersign_store::{AuditRecord, Page, StoreError};
use serde::{Deserialize, Serialize};

/// How something was done in a user's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// A session token was issued to act as the user (an API user's key exchanged).
    ApiUserToken,
    /// Requests with the legacy header acted on behalf of the user (Send-On-Behalf-Of).
    LegacyHeaderSobo,
    /// A change to the user's account (an administrator, the user, or the server).
    Admin,
}

impl Via {
    /// How an audited action was done in the user's name.
    pub fn of_action(action: &str) -> Self {
        match action {
            "token.issue" => Self::ApiUserToken,
            "legacy.sobo" => Self::LegacyHeaderSobo,
            _ => Self::Admin,
        }
    }
}

/// One thing done in the user's name.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ActivityItem {
    /// Sequence id of the audit event (string).
    pub id: String,
    /// When (RFC 3339).
    pub at: String,
    /// What, e.g. `token.issue`, `legacy.sobo`, `membership.put`.
    pub action: String,
    /// Who: the API username, the on-behalf-of sender's email, an administrator's email.
    pub actor: String,
    /// How.
    pub via: Via,
    /// The API user whose key was exchanged (`via` = `api_user_token`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_user: Option<String>,
    /// Client address.
    pub source_ip: Option<String>,
    /// `success`, `failure` or `denied`.
    pub outcome: String,
    /// A short free text (e.g. an on-behalf-of roll-up's count and time span), or null.
    pub detail: Option<String>,
}

impl From<AuditRecord> for ActivityItem {
    fn from(record: AuditRecord) -> Self {
        let via = Via::of_action(&record.event.action);
        Self {
            id: record.id.to_string(),
            at: rfc3339(record.event.at),
            api_user: (via == Via::ApiUserToken).then(|| record.event.actor.clone()),
            action: record.event.action,
            actor: record.event.actor,
            via,
            source_ip: record.event.source_ip,
            outcome: record.event.outcome.as_str().into(),
            detail: record.event.detail,
        }
    }
}

/// One page of what was done in `user`'s name, newest first, after `cursor` (each surface
/// reads its own cursor and limit, and maps the store's error to its own).
///
/// # Errors
/// Returns the store's failure.
pub(crate) async fn activity_page(
    state: &AppState,
    user: &User,
    cursor: Option<i64>,
    limit: u32,
) -> Result<Page<AuditRecord>, StoreError> {
    state.settle_audit().await;
    state
        .store
        .list_user_activity(
            user.organization_id,
            user.id,
            &countersign_core::directory::normalize_email(&user.email),
            cursor,
            limit,
        )
        .await
}

/// Lists what was done in the signed-in user's name: tokens issued to act as them,
/// on-behalf-of requests as them, changes to their account. Any signed-in user.
#[utoipa::path(get, path = "/admin/v1/me/activity", tag = "admin", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = ListBody<ActivityItem>)))]
pub async fn my_activity(
    State(state): State<AppState>,
    caller: AdminCaller,
    AdminQuery(paging): AdminQuery<ListQuery>,
) -> Result<Json<ListBody<ActivityItem>>, AdminError> {
    let (cursor, limit) = (paging.numeric_cursor()?, paging.limit()?);
    let page = activity_page(&state, &caller.user, cursor, limit).await?;
    Ok(Json(ListBody::from_page(page, ActivityItem::from)))
}

/// Which sessions to end.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndSessions {
    /// Only the sessions from this API user; absent or null: from every API user.
    api_user_id: Option<String>,
}

/// When the sessions ended.
#[derive(Serialize, utoipa::ToSchema)]
pub struct EndedBody {
    /// Session tokens issued before this moment (RFC 3339) are refused.
    pub ended_before: String,
}

/// An optional JSON body: empty means the defaults; otherwise `application/json`, bounded and
/// well-formed, like every admin body.
#[derive(Debug)]
pub struct OptionalJson<T>(pub T);

impl<T> FromRequest<AppState> for OptionalJson<T>
where
    T: serde::de::DeserializeOwned + Default,
{
    type Rejection = AdminError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, AdminError> {
        let (parts, body) = request.into_parts();
        let bytes: Bytes = to_bytes(body, state.config.admin_body_limit)
            .await
            .map_err(|error| AdminError::unread_body(&error))?;
        if bytes.is_empty() {
            return Ok(Self(T::default()));
        }
        let request = Request::from_parts(parts, axum::body::Body::from(bytes));
        super::AdminJson::<T>::from_request(request, state)
            .await
            .map(|json| Self(json.0))
    }
}

async fn end_sessions(
    state: &AppState,
    actor: &Actor,
    user: UserId,
    body: EndSessions,
) -> Result<Json<EndedBody>, AdminError> {
    let api_user = match body.api_user_id.as_deref() {
        None => None,
        Some(text) => Some(ApiUserId::parse(text).ok_or(AdminError::Invalid {
            field: "api_user_id",
            detail: "api_user_id must be an API user's id".into(),
        })?),
    };
    let ended_before = state
        .ops()
        .end_sessions(actor, user, api_user, None)
        .await?;
    Ok(Json(EndedBody {
        ended_before: rfc3339(ended_before),
    }))
}

/// Ends every session token acting as the signed-in user (from one API user, or from all)
/// issued before now: refused from the next request on every node. Any signed-in user.
#[utoipa::path(post, path = "/admin/v1/me/sessions/end", tag = "admin", request_body(content = EndSessions, description = "Optional; an empty body ends the sessions of every API user"), security(("bearer" = [])),
    responses((status = 200, body = EndedBody)))]
pub async fn end_my_sessions(
    State(state): State<AppState>,
    caller: AdminCaller,
    OptionalJson(body): OptionalJson<EndSessions>,
) -> Result<Json<EndedBody>, AdminError> {
    end_sessions(&state, &caller.actor(), caller.user.id, body).await
}

/// Ends every session token acting as a user of the organization (from one API user, or from
/// all) issued before now. Organization administrators only.
#[utoipa::path(post, path = "/admin/v1/users/{id}/sessions/end", tag = "admin", params(("id" = String, Path)), request_body(content = EndSessions, description = "Optional; an empty body ends the sessions of every API user"), security(("bearer" = [])),
    responses((status = 200, body = EndedBody)))]
pub async fn end_user_sessions(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminId(user): AdminId<UserId>,
    OptionalJson(body): OptionalJson<EndSessions>,
) -> Result<Json<EndedBody>, AdminError> {
    end_sessions(&state, &actor, user, body).await
}
