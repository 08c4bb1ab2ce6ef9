//! Administrator sign-in: `POST /admin/v1/login`, `POST /admin/v1/logout`, `GET /admin/v1/me`,
//! and the extractor that authenticates admin API calls.

use super::{AdminError, AdminJson, rfc3339};
use crate::ops::Actor;
use crate::passwords;
use crate::request_parts::header_text;
use crate::secrets::random_bytes;
use crate::state::AppState;
use crate::throttle::ThrottleKey;
use crate::verify::request::client_ip;
use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use countersign_core::access;
use countersign_core::directory::User;
use countersign_core::key::digest_key_text;
use countersign_core::secret::Secret;
use countersign_store::{AdminSession, AuditOutcome};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use time::Duration;

/// Prefix of administrator session tokens.
pub const ADMIN_TOKEN_PREFIX: &str = "csa_";

/// A signed-in administrator session behind a request.
#[derive(Debug, Clone)]
pub struct AdminCaller {
    /// The signed-in user.
    pub user: User,
    /// Digest of the session token (for sign-out).
    pub session_digest: String,
    /// Client address.
    pub source_ip: Option<String>,
}

impl AdminCaller {
    /// The caller as an operation actor.
    pub fn actor(&self) -> Actor {
        Actor::signed_in(&self.user, self.source_ip.clone())
    }

    /// The actor, if the caller administers every environment of the organization.
    ///
    /// # Errors
    /// `Forbidden` (`not_organization_admin`) otherwise.
    pub async fn organization_admin(&self, state: &AppState) -> Result<Actor, AdminError> {
        if state
            .ops()
            .is_organization_admin(self.user.organization_id, self.user.id)
            .await?
        {
            Ok(self.actor())
        } else {
            Err(AdminError::not_organization_admin())
        }
    }
}

/// A signed-in administrator of the whole organization, as the actor of what the request
/// does: the extractor of every admin resource handler. 401 without a valid session, 403
/// (`not_organization_admin`) for someone who does not administer every environment.
#[derive(Debug, Clone)]
pub struct OrgAdmin(pub Actor);

impl FromRequestParts<AppState> for OrgAdmin {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AdminError> {
        let caller = AdminCaller::from_request_parts(parts, state).await?;
        caller.organization_admin(state).await.map(Self)
    }
}

/// Looks up an unexpired session by its token and checks the user is still active.
///
/// # Errors
/// `Unauthorized` when the token is unknown or expired, or the user disabled.
pub async fn session_for_token(
    state: &AppState,
    token: &str,
) -> Result<(User, String, AdminSession), AdminError> {
    if !token.starts_with(ADMIN_TOKEN_PREFIX) || token.len() > 128 {
        return Err(AdminError::Unauthorized);
    }
    let digest = digest_key_text(token, &state.secrets.pepper);
    let session = state
        .store
        .find_admin_session(&digest, state.now())
        .await?
        .ok_or(AdminError::Unauthorized)?;
    let user = state
        .store
        .find_user(session.user_id)
        .await?
        .ok_or(AdminError::Unauthorized)?;
    if !user.is_active() {
        return Err(AdminError::Unauthorized);
    }
    Ok((user, digest, session))
}

impl FromRequestParts<AppState> for AdminCaller {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AdminError> {
        let authorization =
            header_text(&parts.headers, "authorization").map_err(|_| AdminError::Unauthorized)?;
        let token = authorization
            .and_then(access::bearer_token)
            .ok_or(AdminError::Unauthorized)?;
        let (user, session_digest, _) = session_for_token(state, token).await?;
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        let source_ip = client_ip(&parts.headers, peer, state.config.trust_forwarded_for);
        Ok(Self {
            user,
            session_digest,
            source_ip,
        })
    }
}

/// Sign-in credentials.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The user's email.
    email: String,
    /// The user's password.
    #[schema(format = Password)]
    password: String,
}

/// A new administrator session.
#[derive(Serialize, utoipa::ToSchema)]
pub struct LoginResponse {
    /// Bearer token for `/admin/v1` calls.
    pub token: String,
    /// When it expires (RFC 3339).
    pub expires_at: String,
}

/// Verifies an email and password and opens a session; `None` when they do not match.
///
/// Every user with this email (across organizations) is tried; when none exists a dummy hash
/// is verified so an unknown email costs the same as a wrong password.
///
/// # Errors
/// `TooManyRequests` when the email or address is throttled or the password pool is full;
/// `Internal` on store failure.
pub async fn sign_in(
    state: &AppState,
    email: &str,
    password: Secret,
    source_ip: Option<&str>,
) -> Result<Option<(User, Secret, AdminSession)>, AdminError> {
    // (A NUL never arrives here: `AdminJson` and the console's form reader refuse it.)
    if password.expose().len() > passwords::MAX_PASSWORD_LEN || email.len() > 254 {
        return Ok(None);
    }
    let now = state.now();
    let mut keys = vec![ThrottleKey::user(email)];
    if let Some(ip) = source_ip {
        keys.push(ThrottleKey::SourceIp(ip.to_owned()));
    }
    if let Some(wait) = state.throttle.check(&keys, now) {
        return Err(AdminError::TooManyRequests(wait));
    }
    let candidates = state.store.list_users_by_email(email).await?;
    let mut matched = None;
    let mut tried = false;
    for user in candidates.into_iter().filter(User::is_active) {
        let hashes = state.store.fetch_password_hashes(user.id).await?;
        if let Some(hash) = hashes.password_hash {
            tried = true;
            if state.verify_password(password.expose(), hash).await? {
                matched = Some(user);
                break;
            }
        }
    }
    if !tried {
        state
            .verify_password(password.expose(), state.passwords.dummy_hash())
            .await?;
    }
    let Some(user) = matched else {
        state.throttle.record_failure(&keys, now);
        state
            .verifier
            .audit_event(
                None,
                email,
                "admin.login",
                email,
                source_ip,
                AuditOutcome::Failure,
            )
            .await;
        return Ok(None);
    };
    state.throttle.record_success(&keys);
    let token = Secret::new(format!(
        "{ADMIN_TOKEN_PREFIX}{}",
        hex::encode(random_bytes::<32>())
    ));
    let session = AdminSession {
        user_id: user.id,
        csrf_token: hex::encode(random_bytes::<32>()),
        expires_at: now + Duration::minutes(state.config.admin_session_minutes),
    };
    state
        .store
        .insert_admin_session(
            &digest_key_text(token.expose(), &state.secrets.pepper),
            &session,
            now,
        )
        .await?;
    state
        .verifier
        .audit_event(
            Some(user.organization_id),
            &user.email,
            "admin.login",
            &user.id.to_string(),
            source_ip,
            AuditOutcome::Success,
        )
        .await;
    Ok(Some((user, token, session)))
}

/// Signs in with email and password; any active user with a password may sign in.
#[utoipa::path(
    post,
    path = "/admin/v1/login",
    tag = "admin",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = LoginResponse),
        (status = 401, description = "Invalid credentials (problem+json)"),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    peer: crate::request_parts::Peer,
    headers: axum::http::HeaderMap,
    AdminJson(request): AdminJson<LoginRequest>,
) -> Result<Json<LoginResponse>, AdminError> {
    let source_ip = client_ip(&headers, peer.0, state.config.trust_forwarded_for);
    let (_, token, session) = sign_in(
        &state,
        &request.email,
        Secret::new(request.password),
        source_ip.as_deref(),
    )
    .await?
    .ok_or(AdminError::InvalidCredentials)?;
    Ok(Json(LoginResponse {
        token: token.expose().to_owned(),
        expires_at: rfc3339(session.expires_at),
    }))
}

/// Ends the caller's session.
#[utoipa::path(post, path = "/admin/v1/logout", tag = "admin", security(("bearer" = [])), responses((status = 204, description = "Signed out")))]
pub async fn logout(
    State(state): State<AppState>,
    caller: AdminCaller,
) -> Result<StatusCode, AdminError> {
    state
        .store
        .delete_admin_session(&caller.session_digest)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MeResponse {
    /// User id.
    id: String,
    /// Email.
    email: String,
    /// Name.
    name: String,
    /// Organization id.
    organization_id: String,
    /// Whether the user administers every environment (may use the admin API).
    is_organization_admin: bool,
}

/// Describes the signed-in user; answers for any signed-in user.
#[utoipa::path(get, path = "/admin/v1/me", tag = "admin", security(("bearer" = [])), responses((status = 200, body = MeResponse)))]
pub async fn me(
    State(state): State<AppState>,
    caller: AdminCaller,
) -> Result<Json<MeResponse>, AdminError> {
    let is_organization_admin = state
        .ops()
        .is_organization_admin(caller.user.organization_id, caller.user.id)
        .await?;
    Ok(Json(MeResponse {
        id: caller.user.id.to_string(),
        email: caller.user.email.clone(),
        name: caller.user.name.clone(),
        organization_id: caller.user.organization_id.to_string(),
        is_organization_admin,
    }))
}
