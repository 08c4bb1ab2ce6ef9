//! Introspection clients in the admin API: the resource servers that may call
//! `POST /v1/introspect` with `client_secret_basic` or `client_secret_post`. Create (the secret
//! shown once), list, get, delete; organization administrators only, audited through `ops`.

use super::AdminId;
use super::{AdminError, AdminJson, AdminQuery, ListBody, ListQuery, OrgAdmin, rfc3339};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use countersign_core::ids::IntrospectionClientId;
use countersign_core::introspection::IntrospectionClient;
use serde::{Deserialize, Serialize};

/// An introspection client (never its secret).
#[derive(Serialize, utoipa::ToSchema)]
pub struct IntrospectionClientBody {
    /// Id (admin API paths).
    pub id: String,
    /// The client identifier it authenticates with (`csic_…`).
    pub client_id: String,
    /// Name.
    pub name: String,
    /// Creation time.
    pub created_at: String,
    /// Creator.
    pub created_by: String,
}

impl From<IntrospectionClient> for IntrospectionClientBody {
    fn from(client: IntrospectionClient) -> Self {
        Self {
            id: client.id.to_string(),
            client_id: client.client_id,
            name: client.name,
            created_at: rfc3339(client.created_at),
            created_by: client.created_by,
        }
    }
}

/// A new introspection client.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateIntrospectionClient {
    /// A name for people (the resource server it is for).
    name: String,
}

/// A new introspection client with its secret, shown exactly once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct IntrospectionClientWithSecretBody {
    /// Id (admin API paths).
    pub id: String,
    /// The client identifier (`csic_…`).
    pub client_id: String,
    /// Name.
    pub name: String,
    /// The client secret (`csis_…`); it is not stored and will not be shown again.
    pub client_secret: String,
}

/// Lists the organization's introspection clients.
#[utoipa::path(get, path = "/admin/v1/introspection-clients", tag = "admin", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = ListBody<IntrospectionClientBody>)))]
pub async fn list_introspection_clients(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminQuery(query): AdminQuery<ListQuery>,
) -> Result<Json<ListBody<IntrospectionClientBody>>, AdminError> {
    let page = state
        .store
        .list::<IntrospectionClient>(actor.organization_id, query.cursor()?, query.limit()?)
        .await?;
    Ok(Json(ListBody::from_page(
        page,
        IntrospectionClientBody::from,
    )))
}

/// Registers an introspection client and shows its secret once.
#[utoipa::path(post, path = "/admin/v1/introspection-clients", tag = "admin", request_body = CreateIntrospectionClient, security(("bearer" = [])),
    responses((status = 201, body = IntrospectionClientWithSecretBody), (status = 422, description = "Invalid name")))]
pub async fn create_introspection_client(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminJson(body): AdminJson<CreateIntrospectionClient>,
) -> Result<(StatusCode, Json<IntrospectionClientWithSecretBody>), AdminError> {
    let (client, secret) = state
        .ops()
        .create_introspection_client(&actor, &body.name)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(IntrospectionClientWithSecretBody {
            id: client.id.to_string(),
            client_id: client.client_id,
            name: client.name,
            client_secret: secret.expose().to_owned(),
        }),
    ))
}

/// Returns an introspection client (never its secret).
#[utoipa::path(get, path = "/admin/v1/introspection-clients/{id}", tag = "admin", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = IntrospectionClientBody), (status = 404, description = "Not found")))]
pub async fn get_introspection_client(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminId(id): AdminId<IntrospectionClientId>,
) -> Result<Json<IntrospectionClientBody>, AdminError> {
    Ok(Json(
        state.store.fetch(actor.organization_id, id).await?.into(),
    ))
}

/// Deletes an introspection client; its credentials stop working at once.
#[utoipa::path(delete, path = "/admin/v1/introspection-clients/{id}", tag = "admin", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 204, description = "Deleted"), (status = 404, description = "Not found")))]
pub async fn delete_introspection_client(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminId(id): AdminId<IntrospectionClientId>,
) -> Result<StatusCode, AdminError> {
    state.ops().delete_introspection_client(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
