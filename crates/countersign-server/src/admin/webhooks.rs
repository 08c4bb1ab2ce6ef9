//! Webhooks in the admin API (SPEC §13): register (the `whsec_` secret shown once), list,
//! get, delete, and each endpoint's delivery log.

use super::AdminId;
use super::{AdminError, AdminJson, AdminQuery, ListBody, ListQuery, OrgAdmin, rfc3339};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use countersign_core::ids::WebhookId;
use countersign_core::webhook::Webhook;
use countersign_store::DeliveryRecord;
use serde::{Deserialize, Serialize};

/// A webhook endpoint (never its secret).
#[derive(Serialize, utoipa::ToSchema)]
pub struct WebhookBody {
    /// Id.
    pub id: String,
    /// Where events are POSTed.
    pub url: String,
    /// The event types it receives.
    pub events: Vec<String>,
    /// When it was registered.
    pub created_at: String,
    /// Who registered it.
    pub created_by: String,
}

impl From<Webhook> for WebhookBody {
    fn from(webhook: Webhook) -> Self {
        Self {
            id: webhook.id.to_string(),
            url: webhook.url,
            events: webhook.events.iter().map(|e| e.as_str().into()).collect(),
            created_at: rfc3339(webhook.created_at),
            created_by: webhook.created_by,
        }
    }
}

/// A registered webhook with its signing secret, shown exactly once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedWebhookBody {
    /// Id.
    pub id: String,
    /// Where events are POSTed.
    pub url: String,
    /// The event types it receives.
    pub events: Vec<String>,
    /// `whsec_…`: the Standard Webhooks signing secret; it will not be shown again.
    pub secret: String,
}

/// A webhook to register.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// `https://` URL (http only when `webhooks.allow_http`); no private address unless
    /// `webhooks.allow_private`.
    url: String,
    /// Event types: `api_user.expiring`, `api_user.expired`, `api_user.revoked`,
    /// `api_user.rotated`, `api_user.key_leaked`, `integrator_key.sunset_reached`.
    events: Vec<String>,
}

/// One delivery attempt.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DeliveryBody {
    /// Id of the attempt.
    pub id: String,
    /// The event's id (`webhook-id`).
    pub event_id: String,
    /// The event's type.
    #[serde(rename = "type")]
    pub kind: String,
    /// 1 for the first attempt.
    pub attempt: i64,
    /// The receiver's status code, when it answered.
    pub status_code: Option<i64>,
    /// When it was made (for a pending attempt: when it is due).
    pub at: String,
    /// `delivered`, `failed` or `pending`.
    pub outcome: String,
    /// Why it failed without a status code (timeout, refused address).
    pub error: Option<String>,
}

impl From<DeliveryRecord> for DeliveryBody {
    fn from(delivery: DeliveryRecord) -> Self {
        Self {
            id: delivery.id.to_string(),
            event_id: delivery.event_id,
            kind: delivery.kind.as_str().into(),
            attempt: delivery.attempt,
            status_code: delivery.status_code,
            at: rfc3339(delivery.at),
            outcome: delivery.outcome.as_str().into(),
            error: delivery.error,
        }
    }
}

/// Lists the organization's webhooks.
#[utoipa::path(get, path = "/admin/v1/webhooks", tag = "admin", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = ListBody<WebhookBody>)))]
pub async fn list_webhooks(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminQuery(query): AdminQuery<ListQuery>,
) -> Result<Json<ListBody<WebhookBody>>, AdminError> {
    let page = state
        .store
        .list::<Webhook>(actor.organization_id, query.cursor()?, query.limit()?)
        .await?;
    Ok(Json(ListBody::from_page(page, WebhookBody::from)))
}

/// Registers a webhook; its signing secret is shown once.
#[utoipa::path(post, path = "/admin/v1/webhooks", tag = "admin", request_body = CreateWebhook, security(("bearer" = [])),
    responses((status = 201, body = CreatedWebhookBody), (status = 422, description = "URL refused or unknown event (validation_failed)")))]
pub async fn create_webhook(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminJson(body): AdminJson<CreateWebhook>,
) -> Result<(StatusCode, Json<CreatedWebhookBody>), AdminError> {
    let created = state
        .ops()
        .create_webhook(&actor, &body.url, &body.events)
        .await?;
    let webhook = WebhookBody::from(created.webhook);
    Ok((
        StatusCode::CREATED,
        Json(CreatedWebhookBody {
            id: webhook.id,
            url: webhook.url,
            events: webhook.events,
            secret: created.secret.expose().to_owned(),
        }),
    ))
}

/// Returns a webhook (never its secret).
#[utoipa::path(get, path = "/admin/v1/webhooks/{id}", tag = "admin", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = WebhookBody), (status = 404, description = "Not found")))]
pub async fn get_webhook(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminId(id): AdminId<WebhookId>,
) -> Result<Json<WebhookBody>, AdminError> {
    Ok(Json(
        state.store.fetch(actor.organization_id, id).await?.into(),
    ))
}

/// Deletes a webhook; its pending deliveries are dropped.
#[utoipa::path(delete, path = "/admin/v1/webhooks/{id}", tag = "admin", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 204, description = "Deleted"), (status = 404, description = "Not found")))]
pub async fn delete_webhook(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminId(id): AdminId<WebhookId>,
) -> Result<StatusCode, AdminError> {
    state.ops().delete_webhook(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A webhook's delivery attempts, newest first.
#[utoipa::path(get, path = "/admin/v1/webhooks/{id}/deliveries", tag = "admin", params(("id" = String, Path), ListQuery), security(("bearer" = [])),
    responses((status = 200, body = ListBody<DeliveryBody>), (status = 404, description = "Not found")))]
pub async fn list_deliveries(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminId(id): AdminId<WebhookId>,
    AdminQuery(query): AdminQuery<ListQuery>,
) -> Result<Json<ListBody<DeliveryBody>>, AdminError> {
    state.store.fetch(actor.organization_id, id).await?;
    let page = state
        .store
        .list_deliveries(id, query.cursor()?, query.limit()?)
        .await?;
    Ok(Json(ListBody::from_page(page, DeliveryBody::from)))
}
