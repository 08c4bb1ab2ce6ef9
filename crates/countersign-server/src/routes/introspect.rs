//! RFC 7662 token introspection at `POST /v1/introspect`, for downstream services that hold a
//! token and want its state without forward auth. The caller authenticates as an organization
//! administrator (admin bearer token); tokens of other organizations are reported inactive.

use crate::admin::{AdminCaller, AdminError};
use crate::state::AppState;
use crate::verify::bearer;
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

/// The introspection request (`application/x-www-form-urlencoded`).
#[derive(Deserialize, utoipa::ToSchema)]
pub struct IntrospectRequest {
    /// The session token.
    token: String,
    /// Ignored (only access tokens exist).
    #[expect(dead_code, reason = "accepted per RFC 7662 and ignored")]
    token_type_hint: Option<String>,
}

/// The acting party (RFC 8693 `act`).
#[derive(Serialize, utoipa::ToSchema)]
pub struct Actor {
    /// The API username.
    sub: String,
}

/// The introspection answer; only `active` when the token is not usable.
#[derive(Serialize, utoipa::ToSchema, Default)]
pub struct IntrospectResponse {
    /// Whether the token is usable now (signature, expiry, API user, key, user, scope).
    active: bool,
    /// `Bearer`.
    #[serde(skip_serializing_if = "Option::is_none")]
    token_type: Option<&'static str>,
    /// The API username (the client that exchanged its key).
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    /// The acting user's email.
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    /// The acting user's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<String>,
    /// Expiry, Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    /// Issue time, Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
    /// The API user acting for the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    act: Option<Actor>,
    /// The organization.
    #[serde(skip_serializing_if = "Option::is_none")]
    organization_id: Option<String>,
}

/// Describes a session token (RFC 7662).
#[utoipa::path(
    post,
    path = "/v1/introspect",
    tag = "forward-auth",
    request_body(content = IntrospectRequest, content_type = "application/x-www-form-urlencoded"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The token's state", body = IntrospectResponse),
        (status = 401, description = "The caller is not signed in"),
        (status = 403, description = "The caller is not an organization administrator"),
    )
)]
pub async fn introspect(
    State(state): State<AppState>,
    caller: AdminCaller,
    form: Result<axum::Form<IntrospectRequest>, axum::extract::rejection::FormRejection>,
) -> Result<Json<IntrospectResponse>, AdminError> {
    let actor = caller.organization_admin(&state).await?;
    let axum::Form(request) =
        form.map_err(|_| AdminError::BadRequest("send token=… as a form".into()))?;
    let Ok(session) = bearer::verify_token(&state.verifier, request.token.trim()).await else {
        return Ok(Json(IntrospectResponse::default()));
    };
    if session.user().organization_id != actor.organization_id {
        return Ok(Json(IntrospectResponse::default()));
    }
    Ok(Json(IntrospectResponse {
        active: true,
        token_type: Some("Bearer"),
        client_id: Some(session.api_username().to_owned()),
        username: Some(session.user().email.clone()),
        sub: Some(session.user().id.to_string()),
        exp: Some(session.claims.expires_at),
        iat: Some(session.claims.issued_at),
        act: Some(Actor {
            sub: session.api_username().to_owned(),
        }),
        organization_id: Some(session.user().organization_id.to_string()),
    }))
}
