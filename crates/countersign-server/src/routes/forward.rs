//! Forward auth (`GET /v1/verify`, for nginx `auth_request`, Traefik `ForwardAuth`, Envoy
//! `ext_authz`) and `GET /v1/whoami`. Both answer refusals with 401 or 403 only (SPEC §6.1).

use super::assuresign::bearer_session;
use super::{client_ip, header_text};
use crate::auth::{self, RequestFacts};
use crate::dialect::Refusal;
use crate::dialect::assuresign::AssureSignError;
use crate::identity::{REQUEST_ID, Verified};
use crate::legacy;
use crate::state::AppState;
use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use countersign_core::access::{self, MAX_USER_CONTEXT_LEN};
use countersign_store::AuditOutcome;
use std::net::SocketAddr;

/// The original request URI as reported by the proxy.
fn original_uri(headers: &HeaderMap) -> Option<&str> {
    super::original_uri_text(headers)
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
) -> Result<Verified, Refusal> {
    let source_ip = client_ip(headers, peer, state.config.trust_forwarded_for);
    let user_agent = header_text(headers, "user-agent")
        .ok()
        .flatten()
        .map(str::to_owned);
    let path_account = original_uri(headers).and_then(access::account_in_path);
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
        Ok(verified) => Ok(verified),
        Err(error) => {
            state
                .audit_event(
                    Some(session.user().organization_id),
                    session.api_username(),
                    "token.verify",
                    &session.user().id.to_string(),
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
) -> Result<Verified, Refusal> {
    let started = std::time::Instant::now();
    let result = authenticate(state, headers, peer).await;
    let method = match &result {
        Ok(verified) => verified.identity.auth_method.as_str(),
        Err(Refusal::AssureSign(_)) => "api_user_token",
        Err(Refusal::DocuSign(_)) => "legacy_header",
    };
    state
        .metrics
        .verification(method, result.is_ok(), started.elapsed().as_secs_f64());
    result
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
    request: Request,
) -> Response {
    // A credential this worker thread verified before was answered by `verify_in_place`
    // before routing; what reaches the router takes the full path.
    match authenticate_measured(&state, request.headers(), peer.0).await {
        Ok(verified) => {
            let mut headers = HeaderMap::with_capacity(16);
            verified.write_headers(&mut headers);
            let mut response = Response::new(Body::empty());
            *response.headers_mut() = headers;
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
        (status = 200, description = "The principal", body = crate::auth::Principal),
        (status = 401, description = "Not authenticated (dialect body)"),
        (status = 403, description = "Not authorized (dialect body)"),
    )
)]
pub async fn whoami(
    State(state): State<AppState>,
    peer: crate::routes::Peer,
    request: Request,
) -> Response {
    match authenticate_measured(&state, request.headers(), peer.0).await {
        Ok(verified) => {
            let mut response = Json(verified.principal()).into_response();
            verified.extras.apply(response.headers_mut());
            response
        }
        Err(refusal) => refusal.into_forward_auth_response(),
    }
}

/// `/v1/verify` answered from the worker thread's front cache before any routing, with what the
/// router's middleware would add (request id, request span, request and verification metrics);
/// `None` when the request needs the full path.
pub fn verify_in_place(state: &AppState, request: &Request, peer: SocketAddr) -> Option<Response> {
    let started = std::time::Instant::now();
    let (mut response, method) = crate::hot::verify(state, request.headers(), Some(peer))?;
    let request_id = match request.headers().get(&REQUEST_ID) {
        Some(id) => Some(id.clone()),
        None => state.request_ids.next(),
    };
    // The same request span as the full stack's, for the answer's log lines.
    let _span = tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %request_id.as_ref().and_then(|v| v.to_str().ok()).unwrap_or("-"),
    )
    .entered();
    tracing::debug!(status = 200, "verified from the thread cache");
    match request_id {
        Some(id) => response.headers_mut().insert(REQUEST_ID, id),
        None => response.headers_mut().remove(REQUEST_ID),
    };
    let seconds = started.elapsed().as_secs_f64();
    state.metrics.thread_cache_answers.inc();
    state.metrics.verification(method.as_str(), true, seconds);
    state
        .metrics
        .request("/v1/verify", response.status().as_u16(), seconds);
    Some(response)
}
