//! Forward auth (`GET /v1/verify`, for nginx `auth_request`, Traefik `ForwardAuth`, Caddy
//! `forward_auth`, Envoy `ext_authz`) and `GET /v1/whoami`. Both answer refusals with 401 or
//! 403 only (SPEC §6.1). The verification itself is the verifier's.

use crate::dialect::Refusal;
use crate::state::AppState;
use crate::verify::identity::{REQUEST_ID, Verified};
use crate::verify::request::{Credential, VerifyRequest};
use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use countersign_core::oauth::token::is_access_token;
use std::net::SocketAddr;

/// Authenticates a request, counted and timed in the metrics.
async fn authenticate_measured(
    state: &AppState,
    request: &VerifyRequest<'_>,
) -> Result<Verified, Refusal> {
    let started = std::time::Instant::now();
    let result = state.verifier.authenticate(request).await;
    let method = match (&result, request.credential) {
        (Ok(verified), _) => verified.identity.auth_method.as_str(),
        (Err(_), Credential::Bearer(token)) if is_access_token(token) => "oauth_token",
        (Err(Refusal::AssureSign(_)), _) => "api_user_token",
        (Err(Refusal::DocuSign(_)), _) => "legacy_header",
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
        ("Authorization" = Option<String>, Header, description = "bearer {token}: a session token, or an OAuth access token (SPEC §12)"),
        ("X-AS-UserContext" = Option<String>, Header, description = "{username}:{accountContextId}"),
        ("X-DocuSign-Authentication" = Option<String>, Header, description = "Legacy credentials, XML or JSON"),
        ("X-Original-URI" = Option<String>, Header, description = "Original request URI (nginx); X-Forwarded-Uri (Traefik, Caddy) and X-Envoy-Original-Path (Envoy) are read too, and must agree unless [server.forward_auth] uri_header names the one to trust"),
    ),
    responses(
        (status = 200, description = "Verified; identity in X-Countersign-* response headers"),
        (status = 401, description = "Not authenticated (dialect body)"),
        (status = 403, description = "Not authorized, or a dialect 400 refusal (dialect body)"),
    )
)]
pub async fn verify(
    State(state): State<AppState>,
    peer: crate::request_parts::Peer,
    request: Request,
) -> Response {
    // A credential this worker thread verified before was answered by `verify_in_place`
    // before routing; what reaches the router takes the full path.
    let original = original_uri_in_path(&request);
    let request = state
        .verifier
        .read_with_path(request.headers(), peer.0, original);
    match authenticate_measured(&state, &request).await {
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

/// Forward auth for Envoy's `ext_authz` HTTP service, which keeps the original method and
/// appends the original path and query to `/v1/verify`: any method, the original URI read from
/// the path (and any original-URI header must agree with it). Answers as `/v1/verify`.
#[utoipa::path(
    method(get, post, put, patch, delete, head, options),
    path = "/v1/verify/{original_uri}",
    tag = "forward-auth",
    params(
        ("original_uri" = String, Path, description = "The original path and query, as Envoy appends it (any method is accepted)"),
        ("Authorization" = Option<String>, Header, description = "bearer {token}"),
        ("X-AS-UserContext" = Option<String>, Header, description = "{username}:{accountContextId}"),
        ("X-DocuSign-Authentication" = Option<String>, Header, description = "Legacy credentials, XML or JSON"),
    ),
    responses(
        (status = 200, description = "Verified; identity in X-Countersign-* response headers"),
        (status = 401, description = "Not authenticated (dialect body)"),
        (status = 403, description = "Not authorized, or a dialect 400 refusal (dialect body)"),
    )
)]
pub async fn verify_envoy(
    state: State<AppState>,
    peer: crate::request_parts::Peer,
    request: Request,
) -> Response {
    verify(state, peer, request).await
}

/// The original URI Envoy's `ext_authz` puts after `/v1/verify` (path and query, raw), when
/// the request is of that shape.
pub fn original_uri_in_path(request: &Request) -> Option<&[u8]> {
    let path_and_query = request.uri().path_and_query()?.as_str();
    let rest = path_and_query.strip_prefix(FORWARD_AUTH_PATH)?;
    rest.starts_with('/').then_some(rest.as_bytes())
}

/// The forward-auth path; Envoy appends the original path to it.
pub const FORWARD_AUTH_PATH: &str = "/v1/verify";

/// Whether a request is forward auth: `GET /v1/verify`, or any method on `/v1/verify/…`.
pub fn is_forward_auth(request: &Request) -> bool {
    let path = request.uri().path();
    (path == FORWARD_AUTH_PATH && request.method() == axum::http::Method::GET)
        || path
            .strip_prefix(FORWARD_AUTH_PATH)
            .is_some_and(|rest| rest.starts_with('/'))
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
        (status = 200, description = "The principal", body = crate::verify::identity::Principal),
        (status = 401, description = "Not authenticated (dialect body)"),
        (status = 403, description = "Not authorized (dialect body)"),
    )
)]
pub async fn whoami(
    State(state): State<AppState>,
    peer: crate::request_parts::Peer,
    request: Request,
) -> Response {
    let request = state.verifier.read(request.headers(), peer.0);
    match authenticate_measured(&state, &request).await {
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
    let read =
        state
            .verifier
            .read_with_path(request.headers(), Some(peer), original_uri_in_path(request));
    let (mut response, method) = state.verifier.answer_from_thread_cache(&read)?;
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
