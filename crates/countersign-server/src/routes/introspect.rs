//! RFC 7662 token introspection at `POST /v1/introspect`, for resource servers that hold a
//! token and want its state without forward auth (SPEC §6.3).
//!
//! The caller is a registered introspection client authenticating as off-the-shelf OAuth
//! libraries do (RFC 6749 §2.3.1): `client_secret_basic` (HTTP Basic over the form-urlencoded
//! id and secret) or `client_secret_post` (`client_id` and `client_secret` form fields); or an
//! organization administrator with an admin bearer token. One method per request. A missing or
//! wrong client is 401 `invalid_client` with `WWW-Authenticate: Basic`. Tokens of another
//! organization than the caller's are reported inactive.

use crate::admin::session::session_for_token;
use crate::dialect::oauth::OAuthError;
use crate::request_parts::has_media_type;
use crate::request_parts::header_text;
use crate::routes::oauth::TokenForm;
use crate::state::AppState;
use crate::verify::{bearer, oauth};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use countersign_core::access;
use countersign_core::ids::OrganizationId;
use countersign_core::introspection::{
    self, ClientCredentials, basic_credentials, posted_credentials,
};
use serde::Serialize;

/// The introspection request (`application/x-www-form-urlencoded`, read as the token endpoint
/// reads its form: each parameter once, every one decoding to UTF-8; empty is absent).
#[derive(utoipa::ToSchema, Default)]
pub struct IntrospectRequest {
    /// The session token or OAuth access token.
    token: Option<String>,
    /// Ignored (only access tokens exist).
    #[expect(dead_code, reason = "accepted per RFC 7662 and ignored")]
    token_type_hint: Option<String>,
    /// `client_secret_post`: the client identifier.
    client_id: Option<String>,
    /// `client_secret_post`: the client secret.
    client_secret: Option<String>,
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
    /// The scopes of an OAuth access token, space-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
}

/// Describes a session token (RFC 7662).
#[utoipa::path(
    post,
    path = "/v1/introspect",
    tag = "forward-auth",
    request_body(content = IntrospectRequest, content_type = "application/x-www-form-urlencoded"),
    description = "A registered introspection client authenticates with HTTP Basic (`client_secret_basic`) or with the `client_id` and `client_secret` form fields (`client_secret_post`); an organization administrator's admin token also works.",
    security(("client_secret_basic" = []), ("bearer" = []), ()),
    responses(
        (status = 200, description = "The token's state", body = IntrospectResponse),
        (status = 400, description = "No token, an unreadable form, or two client authentication methods (invalid_request)"),
        (status = 401, description = "No, unknown or wrong client credentials (invalid_client)"),
        (status = 403, description = "An admin token of someone who is not an organization administrator (access_denied)"),
    )
)]
pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, OAuthError> {
    let form = body
        .ok()
        .filter(|_| has_media_type(&headers, "application/x-www-form-urlencoded"))
        .and_then(|body| TokenForm::parse(&body).ok())
        .map(|form| IntrospectRequest {
            token: form.get("token").map(str::to_owned),
            token_type_hint: None,
            client_id: form.get("client_id").map(str::to_owned),
            client_secret: form.get("client_secret").map(str::to_owned),
        });
    let organization = authenticate(&state, &headers, form.as_ref()).await?;
    let form = form.ok_or(OAuthError::InvalidRequest(
        "Send token=… as an application/x-www-form-urlencoded body: each parameter once, no empty part, every one decoding to text.",
    ))?;
    let token = form
        .token
        .as_deref()
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or(OAuthError::InvalidRequest(
            "The token parameter is missing.",
        ))?;
    let answer = if countersign_core::oauth::token::is_access_token(token) {
        oauth_answer(&state, token, organization).await
    } else {
        session_answer(&state, token, organization).await
    };
    let mut response = Json(answer).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The answer for an OAuth access token (SPEC §12): its client is the integrator key, `act`
/// the integrator key acting for the user.
async fn oauth_answer(
    state: &AppState,
    token: &str,
    organization: OrganizationId,
) -> IntrospectResponse {
    let Ok(session) = oauth::verify_access_token(&state.verifier, token).await else {
        return IntrospectResponse::default();
    };
    let facts = &session.facts.facts;
    if facts.integrator_key.organization_id != organization {
        return IntrospectResponse::default();
    }
    let client_id = facts.integrator_key.key.clone();
    IntrospectResponse {
        active: true,
        token_type: Some("Bearer"),
        client_id: Some(client_id.clone()),
        username: facts.user.as_ref().map(|user| user.email.clone()),
        sub: Some(
            facts
                .user
                .as_ref()
                .map_or_else(|| client_id.clone(), |user| user.id.to_string()),
        ),
        exp: Some(session.claims.expires_at),
        iat: Some(session.claims.issued_at),
        act: facts.user.as_ref().map(|_| Actor { sub: client_id }),
        organization_id: Some(organization.to_string()),
        scope: Some(session.claims.scopes.text()),
    }
}

/// The answer for a session token.
async fn session_answer(
    state: &AppState,
    token: &str,
    organization: OrganizationId,
) -> IntrospectResponse {
    match bearer::verify_token(&state.verifier, token, None).await {
        Ok(session) if session.user().organization_id == organization => IntrospectResponse {
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
            scope: None,
        },
        _ => IntrospectResponse::default(),
    }
}

/// Authenticates the caller by exactly one method and returns the organization it speaks for.
async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    form: Option<&IntrospectRequest>,
) -> Result<OrganizationId, OAuthError> {
    let posted_secret = form.is_some_and(|f| f.client_secret.is_some());
    let authorization = header_text(headers, header::AUTHORIZATION.as_str())
        .map_err(|_| OAuthError::InvalidClient)?;
    let Some(authorization) = authorization else {
        // client_secret_post, or nobody.
        let (Some(client_id), Some(secret)) = (
            form.and_then(|f| f.client_id.as_deref()),
            form.and_then(|f| f.client_secret.as_deref()),
        ) else {
            return Err(OAuthError::InvalidClient);
        };
        let credentials =
            posted_credentials(client_id, secret).map_err(|_| OAuthError::InvalidClient)?;
        return client_organization(state, &credentials).await;
    };
    if posted_secret {
        return Err(OAuthError::InvalidRequest(
            "Use one client authentication method: the Authorization header or client_secret.",
        ));
    }
    match basic_credentials(authorization) {
        Err(_) => Err(OAuthError::InvalidClient),
        Ok(Some(credentials)) => {
            // A client_id in the form may repeat the Basic one, never name another.
            if form
                .and_then(|f| f.client_id.as_deref())
                .is_some_and(|id| id != credentials.client_id)
            {
                return Err(OAuthError::InvalidClient);
            }
            client_organization(state, &credentials).await
        }
        Ok(None) => {
            let token = access::bearer_token(authorization).ok_or(OAuthError::InvalidClient)?;
            let (user, _, _) = session_for_token(state, token)
                .await
                .map_err(|_| OAuthError::InvalidClient)?;
            let is_admin = state
                .ops()
                .is_organization_admin(user.organization_id, user.id)
                .await?;
            if is_admin {
                Ok(user.organization_id)
            } else {
                Err(OAuthError::AccessDenied)
            }
        }
    }
}

/// The organization of a registered client whose secret matches; an unknown client costs the
/// same digest and comparison as a wrong secret.
async fn client_organization(
    state: &AppState,
    credentials: &ClientCredentials,
) -> Result<OrganizationId, OAuthError> {
    let found = state
        .store
        .find_introspection_client_by_client_id(&credentials.client_id)
        .await
        .map_err(|error| {
            tracing::error!(%error, "looking up an introspection client failed");
            OAuthError::Internal
        })?;
    let digest = found.as_ref().map(|(_, digest)| digest.as_str());
    if introspection::secret_matches(&credentials.secret, digest, &state.secrets.pepper) {
        found
            .map(|(client, _)| client.organization_id)
            .ok_or(OAuthError::InvalidClient)
    } else {
        Err(OAuthError::InvalidClient)
    }
}
