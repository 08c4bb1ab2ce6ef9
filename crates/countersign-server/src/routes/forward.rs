//! Forward auth (`GET /v1/verify`, for nginx `auth_request`, Traefik `ForwardAuth`, Envoy
//! `ext_authz`) and `GET /v1/whoami`. Both answer refusals with 401 or 403 only (SPEC §6.1).

use super::assuresign::bearer_session;
use super::{client_ip, header_text};
use crate::auth::{self, Principal, RequestFacts};
use crate::dialect::Refusal;
use crate::dialect::assuresign::AssureSignError;
use crate::legacy;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use countersign_core::access::{self, MAX_USER_CONTEXT_LEN};
use countersign_store::AuditOutcome;
use std::net::SocketAddr;

/// The original request URI as reported by the proxy.
fn original_uri(headers: &HeaderMap) -> Option<String> {
    ["x-original-uri", "x-forwarded-uri", "x-envoy-original-path"]
        .iter()
        .find_map(|name| header_text(headers, name).ok().flatten().map(str::to_owned))
}

/// Which dialect a request speaks, decided from its credentials and, without any, its path.
fn speaks_docusign(headers: &HeaderMap) -> bool {
    if headers.contains_key(axum::http::header::AUTHORIZATION) {
        return false;
    }
    if headers.contains_key(legacy::HEADER) {
        return true;
    }
    original_uri(headers).is_some_and(|uri| uri.to_ascii_lowercase().starts_with("/restapi"))
}

/// Authenticates a request in either dialect and chooses its effective account.
///
/// # Errors
/// Returns the refusal in the request's dialect.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> Result<(Principal, legacy::WireExtras), Refusal> {
    let source_ip = client_ip(headers, peer, state.config.trust_forwarded_for);
    let user_agent = header_text(headers, "user-agent")
        .ok()
        .flatten()
        .map(str::to_owned);
    let path_account = original_uri(headers)
        .as_deref()
        .and_then(access::account_in_path);
    if speaks_docusign(headers) {
        let facts = RequestFacts {
            source_ip,
            user_context: None,
            path_account,
            user_agent,
        };
        return legacy::authenticate(state, headers, &facts)
            .await
            .map_err(Refusal::DocuSign);
    }
    let user_context = match header_text(headers, "x-as-usercontext") {
        Ok(Some(raw)) if raw.len() <= MAX_USER_CONTEXT_LEN => Some(access::parse_user_context(raw)),
        Ok(None) => None,
        _ => {
            return Err(
                AssureSignError::BadRequest(vec!["'X-AS-UserContext' is invalid.".into()]).into(),
            );
        }
    };
    let facts = RequestFacts {
        source_ip,
        user_context,
        path_account,
        user_agent,
    };
    let session = match bearer_session(state, headers, facts.source_ip.as_deref()).await {
        Ok(session) => session,
        Err(error) => {
            if error == AssureSignError::InvalidToken {
                state
                    .audit_event(
                        None,
                        "[bearer token]",
                        "token.verify",
                        "-",
                        facts.source_ip.as_deref(),
                        AuditOutcome::Failure,
                    )
                    .await;
            }
            return Err(error.into());
        }
    };
    match auth::authorize_session(&session, &facts) {
        Ok(principal) => Ok((principal, legacy::WireExtras::default())),
        Err(error) => {
            state
                .audit_event(
                    Some(session.user.organization_id),
                    &session.api_username,
                    "token.verify",
                    &session.user.id.to_string(),
                    facts.source_ip.as_deref(),
                    AuditOutcome::Denied,
                )
                .await;
            Err(error.into())
        }
    }
}

/// [`authenticate`], counted and timed in the metrics.
async fn authenticate_measured(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> Result<(Principal, legacy::WireExtras), Refusal> {
    let started = std::time::Instant::now();
    let result = authenticate(state, headers, peer).await;
    let method = match &result {
        Ok((principal, _)) => principal.auth_method.as_str(),
        Err(Refusal::AssureSign(_)) => "api_user_token",
        Err(Refusal::DocuSign(_)) => "legacy_header",
    };
    state.metrics.verification(method, result.is_ok(), started);
    result
}

fn identity_headers(principal: &Principal) -> Vec<(HeaderName, HeaderValue)> {
    let pairs = [
        (
            "x-countersign-organization",
            principal.organization_id.to_string(),
        ),
        (
            "x-countersign-environment",
            principal.environment_id.to_string(),
        ),
        ("x-countersign-account", principal.account_id.to_string()),
        (
            "x-countersign-account-number",
            principal.account_number.clone(),
        ),
        ("x-countersign-user-id", principal.user_id.to_string()),
        ("x-countersign-user-email", principal.user_email.clone()),
        ("x-countersign-actor", principal.actor.clone()),
        (
            "x-countersign-auth-method",
            principal.auth_method.as_str().to_owned(),
        ),
    ];
    pairs
        .into_iter()
        .filter_map(|(name, value)| {
            Some((
                HeaderName::from_static(name),
                HeaderValue::from_bytes(value.as_bytes()).ok()?,
            ))
        })
        .collect()
}

/// Forward auth: 200 with `X-Countersign-*` identity headers, or 401/403 with the dialect's body.
#[utoipa::path(
    get,
    path = "/v1/verify",
    tag = "forward-auth",
    params(
        ("Authorization" = Option<String>, Header, description = "bearer {token}"),
        ("X-AS-UserContext" = Option<String>, Header, description = "{username}:{accountContextId}"),
        ("X-DocuSign-Authentication" = Option<String>, Header, description = "Legacy credentials, XML or JSON"),
        ("X-Original-URI" = Option<String>, Header, description = "Original request URI (nginx); X-Forwarded-Uri for Traefik"),
    ),
    responses(
        (status = 200, description = "Verified; identity in X-Countersign-* response headers"),
        (status = 401, description = "Not authenticated (dialect body)"),
        (status = 403, description = "Not authorized, or a dialect 400 refusal (dialect body)"),
    )
)]
pub async fn verify(
    State(state): State<AppState>,
    peer: crate::routes::Peer,
    headers: HeaderMap,
) -> Response {
    match authenticate_measured(&state, &headers, peer.0).await {
        Ok((principal, extras)) => {
            let mut response = StatusCode::OK.into_response();
            let out = response.headers_mut();
            for (name, value) in identity_headers(&principal) {
                out.insert(name, value);
            }
            extras.apply(out);
            response
        }
        Err(refusal) => refusal.into_forward_auth_response(),
    }
}

/// The verified principal as JSON; refusals as `/v1/verify`.
#[utoipa::path(
    get,
    path = "/v1/whoami",
    tag = "forward-auth",
    params(
        ("Authorization" = Option<String>, Header, description = "bearer {token}"),
        ("X-AS-UserContext" = Option<String>, Header, description = "{username}:{accountContextId}"),
        ("X-DocuSign-Authentication" = Option<String>, Header, description = "Legacy credentials, XML or JSON"),
    ),
    responses(
        (status = 200, description = "The principal", body = Principal),
        (status = 401, description = "Not authenticated (dialect body)"),
        (status = 403, description = "Not authorized (dialect body)"),
    )
)]
pub async fn whoami(
    State(state): State<AppState>,
    peer: crate::routes::Peer,
    headers: HeaderMap,
) -> Response {
    match authenticate_measured(&state, &headers, peer.0).await {
        Ok((principal, extras)) => {
            let mut response = Json(principal).into_response();
            extras.apply(response.headers_mut());
            response
        }
        Err(refusal) => refusal.into_forward_auth_response(),
    }
}
