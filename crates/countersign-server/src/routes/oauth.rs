//! DocuSign OAuth 2.0 endpoints the SDKs call (SPEC §12): `POST /oauth/token` (JWT Grant,
//! Authorization Code Grant, refresh) and `GET /oauth/userinfo`. The grants themselves live in
//! `crate::oauth`; here the form is read fail-closed (UTF-8, each parameter once, bounded), the
//! client is identified, failures are throttled and audited, and answers take exactly the
//! shape the SDKs read: `{"access_token", "token_type": "Bearer", "expires_in"}` (plus
//! `refresh_token` for a code) and nothing else, or `{"error", "error_description"?}`.

use crate::dialect::docusign::{DocuSignError, DocuSignResponse};
use crate::dialect::oauth::OAuthError;
use crate::oauth::codes::{self, ClientPresented};
use crate::oauth::jwt::{self, JwtRefusal};
use crate::oauth::{Grant, access_token};
use crate::request_parts::Peer;
use crate::state::AppState;
use crate::throttle::ThrottleKey;
use crate::verify::request::Credential;
use crate::verify::request::client_ip;
use axum::Json;
use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use countersign_core::introspection::{basic_credentials, posted_credentials};
use countersign_core::oauth::JWT_TOKEN_SECONDS;
use countersign_core::oauth::token::is_access_token;
use countersign_store::AuditOutcome;
use serde::Serialize;

/// The JWT Grant's `grant_type`.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Parameters a token request may carry at most.
const MAX_PARAMETERS: usize = 16;

/// A form body read fail-closed.
#[derive(Debug, Default)]
pub struct TokenForm(Vec<(String, String)>);

impl TokenForm {
    /// Reads `application/x-www-form-urlencoded` text: every name and value UTF-8 after
    /// decoding, no parameter twice (RFC 6749 §3.2), at most 16 of them.
    ///
    /// # Errors
    /// `InvalidRequest` otherwise.
    pub fn parse(body: &[u8]) -> Result<Self, OAuthError> {
        const UNREADABLE: OAuthError = OAuthError::InvalidRequest(
            "The body must be application/x-www-form-urlencoded: each parameter once, no empty part (a stray `&`), every one decoding to text.",
        );
        let text = std::str::from_utf8(body).map_err(|_| UNREADABLE)?;
        let pairs = countersign_core::form::pairs(text, MAX_PARAMETERS).map_err(|_| UNREADABLE)?;
        if pairs
            .iter()
            .enumerate()
            .any(|(i, (name, _))| pairs[..i].iter().any(|(seen, _)| seen == name))
        {
            return Err(UNREADABLE);
        }
        Ok(Self(pairs))
    }

    /// The parameters, in order.
    pub fn into_pairs(self) -> Vec<(String, String)> {
        self.0
    }

    /// A parameter's value, when sent and not empty (RFC 6749 §3.1: empty is omitted).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .filter(|value| !value.is_empty())
    }
}

/// A successful token answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenBody {
    /// The access token.
    access_token: String,
    /// Always `Bearer`.
    token_type: &'static str,
    /// The refresh token (Authorization Code Grant only).
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    /// Seconds the access token lives: 3600 (JWT Grant) or 28800.
    expires_in: i64,
}

fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// The client a token request presents: HTTP Basic or `client_id` + `client_secret` (one
/// method), or `client_id` alone (a public client).
fn presented_client(headers: &HeaderMap, form: &TokenForm) -> Result<ClientPresented, OAuthError> {
    let mut authorizations = headers.get_all(header::AUTHORIZATION).iter();
    let authorization = authorizations.next();
    if authorizations.next().is_some() {
        return Err(OAuthError::InvalidRequest("Send one Authorization header."));
    }
    let client_id = form.get("client_id");
    if let Some(value) = authorization {
        if form.get("client_secret").is_some() {
            return Err(OAuthError::InvalidRequest(
                "Use one client authentication method: the Authorization header or client_secret.",
            ));
        }
        let text = value.to_str().map_err(|_| OAuthError::InvalidClient)?;
        return match basic_credentials(text) {
            Ok(Some(credentials)) if client_id.is_none_or(|id| id == credentials.client_id) => {
                Ok(ClientPresented::Secret(credentials))
            }
            _ => Err(OAuthError::InvalidClient),
        };
    }
    match (client_id, form.get("client_secret")) {
        (Some(id), Some(secret)) => posted_credentials(id, secret)
            .map(ClientPresented::Secret)
            .map_err(|_| OAuthError::InvalidClient),
        (Some(id), None) if id.len() <= 256 => Ok(ClientPresented::Public(id.to_owned())),
        _ => Ok(ClientPresented::Nobody),
    }
}

/// What a refusal or success is counted and audited against.
struct Attempt {
    source_ip: Option<String>,
    integrator_key: Option<String>,
}

impl Attempt {
    fn keys(&self) -> Vec<ThrottleKey> {
        self.source_ip
            .iter()
            .map(|ip| ThrottleKey::SourceIp(ip.clone()))
            .chain(
                self.integrator_key
                    .iter()
                    .map(|k| ThrottleKey::IntegratorKey(k.clone())),
            )
            .collect()
    }
}

/// Issues tokens: JWT Grant, Authorization Code Grant and refresh (SPEC §12).
#[utoipa::path(
    post,
    path = "/oauth/token",
    tag = "oauth",
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=…, grant_type=authorization_code&code=…[&redirect_uri=…][&code_verifier=…] (client: HTTP Basic, or client_id for a public client), or grant_type=refresh_token&refresh_token=…"),
    responses(
        (status = 200, description = "The tokens", body = TokenBody),
        (status = 400, description = "{\"error\", \"error_description\"?}: invalid_request, invalid_grant (user_not_found, issuer_not_found, no_valid_keys_or_signatures, expired_grant, invalid_lifetime), consent_required, invalid_scope, unsupported_grant_type"),
        (status = 401, description = "invalid_client"),
        (status = 429, description = "Too many failures (Retry-After)"),
    )
)]
pub async fn token(State(state): State<AppState>, peer: Peer, request: Request) -> Response {
    let headers = request.headers().clone();
    let is_form =
        crate::request_parts::has_media_type(&headers, "application/x-www-form-urlencoded");
    let mut attempt = Attempt {
        source_ip: client_ip(&headers, peer.0, state.config.trust_forwarded_for),
        integrator_key: None,
    };
    let now = state.now();
    if let Some(wait) = state.throttle.check(&attempt.keys(), now) {
        return OAuthError::TooManyRequests(wait).into_response();
    }
    let outcome = if is_form {
        match to_bytes(request.into_body(), state.config.auth_body_limit).await {
            Ok(body) => match TokenForm::parse(&body) {
                Ok(form) => grant(&state, &headers, &form, &mut attempt).await,
                Err(error) => Err(error),
            },
            Err(error) if crate::connections::body_too_slow(&error) => Err(
                OAuthError::InvalidRequest("The body did not arrive in time."),
            ),
            Err(_) => Err(OAuthError::InvalidRequest("The body is too large.")),
        }
    } else {
        Err(OAuthError::InvalidRequest(
            "Content-Type must be application/x-www-form-urlencoded.",
        ))
    };
    let organization = match &attempt.integrator_key {
        Some(key) => state
            .cache
            .integrator_key(&state.store, key)
            .await
            .ok()
            .flatten()
            .map(|k| k.organization_id),
        None => None,
    };
    let actor = attempt
        .integrator_key
        .as_deref()
        .unwrap_or("[oauth client]");
    match outcome {
        Ok((body, grant)) => {
            state.throttle.record_success(&attempt.keys());
            let subject = grant
                .user_id
                .map_or_else(|| "-".to_owned(), |user| user.to_string());
            state
                .verifier
                .audit_event(
                    organization,
                    actor,
                    "oauth.token",
                    &subject,
                    attempt.source_ip.as_deref(),
                    AuditOutcome::Success,
                )
                .await;
            no_store(Json(body).into_response())
        }
        Err(error) => {
            if !matches!(error, OAuthError::Internal | OAuthError::TooManyRequests(_)) {
                state.throttle.record_failure(&attempt.keys(), now);
                state
                    .verifier
                    .audit_event(
                        organization,
                        actor,
                        "oauth.token",
                        error.code(),
                        attempt.source_ip.as_deref(),
                        AuditOutcome::Failure,
                    )
                    .await;
            }
            error.into_response()
        }
    }
}

async fn grant(
    state: &AppState,
    headers: &HeaderMap,
    form: &TokenForm,
    attempt: &mut Attempt,
) -> Result<(TokenBody, Grant), OAuthError> {
    match form.get("grant_type") {
        Some(JWT_BEARER) => {
            let assertion = form.get("assertion").ok_or(OAuthError::InvalidRequest(
                "The assertion parameter is missing.",
            ))?;
            match jwt::grant(state, assertion).await {
                Ok(granted) => {
                    attempt.integrator_key = Some(granted.integrator_key.key.clone());
                    Ok((
                        TokenBody {
                            access_token: access_token(state, &granted.grant, JWT_TOKEN_SECONDS),
                            token_type: "Bearer",
                            refresh_token: None,
                            expires_in: JWT_TOKEN_SECONDS,
                        },
                        granted.grant,
                    ))
                }
                Err(JwtRefusal::TooLarge) => Err(OAuthError::InvalidRequest(
                    "The assertion is larger than 8 KiB.",
                )),
                Err(JwtRefusal::Refused(error, key)) => {
                    attempt.integrator_key = key.map(|k| k.key.clone());
                    Err(error.into())
                }
                Err(JwtRefusal::Throttled(wait)) => Err(OAuthError::TooManyRequests(wait)),
                Err(JwtRefusal::Store(error)) => Err(error.into()),
            }
        }
        Some(grant_type @ ("authorization_code" | "refresh_token")) => {
            let presented = presented_client(headers, form)?;
            if let ClientPresented::Secret(c) = &presented {
                attempt.integrator_key = Some(c.client_id.clone());
            } else if let ClientPresented::Public(id) = &presented {
                attempt.integrator_key = Some(id.clone());
            }
            // Throttled per integrator key before its secret or code is checked.
            if let Some(wait) = state.throttle.check(&attempt.keys(), state.now()) {
                return Err(OAuthError::TooManyRequests(wait));
            }
            let client = codes::client(state, presented).await?;
            let tokens = if grant_type == "authorization_code" {
                let code = form
                    .get("code")
                    .ok_or(OAuthError::InvalidRequest("The code parameter is missing."))?;
                codes::redeem_code(
                    state,
                    &client,
                    code,
                    form.get("redirect_uri"),
                    form.get("code_verifier"),
                )
                .await?
            } else {
                let refresh_token = form.get("refresh_token").ok_or(OAuthError::InvalidRequest(
                    "The refresh_token parameter is missing.",
                ))?;
                codes::refresh(state, &client, refresh_token).await?
            };
            Ok((
                TokenBody {
                    access_token: tokens.access_token,
                    token_type: "Bearer",
                    refresh_token: Some(tokens.refresh_token.expose().to_owned()),
                    expires_in: tokens.expires_in,
                },
                tokens.grant,
            ))
        }
        Some(_) => Err(OAuthError::UnsupportedGrantType),
        None => Err(OAuthError::InvalidRequest(
            "The grant_type parameter is missing.",
        )),
    }
}

/// One account of `/oauth/userinfo`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UserInfoAccount {
    /// The account id (UUID, DocuSign `accountIdGuid`).
    account_id: String,
    /// Whether it is the user's default account.
    is_default: bool,
    /// Its name.
    account_name: String,
    /// The base URI of the API (`public_url`; the SDKs append `/restapi`).
    base_uri: String,
}

/// `/oauth/userinfo`'s answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UserInfo {
    /// The user id.
    sub: String,
    /// Full name.
    name: String,
    /// First name.
    given_name: String,
    /// Last name.
    family_name: String,
    /// When the user was created (RFC 3339).
    created: String,
    /// Email.
    email: String,
    /// The user's accounts, default first.
    accounts: Vec<UserInfoAccount>,
}

/// The user an access token acts for and their accounts (SPEC §12).
#[utoipa::path(
    get,
    path = "/oauth/userinfo",
    tag = "oauth",
    params(("Authorization" = String, Header, description = "Bearer {OAuth access token}")),
    responses(
        (status = 200, description = "The user", body = UserInfo),
        (status = 401, description = "No, an invalid or an application token (WWW-Authenticate: Bearer)"),
    )
)]
pub async fn userinfo(State(state): State<AppState>, peer: Peer, headers: HeaderMap) -> Response {
    let request = state.verifier.read(&headers, peer.0);
    let Credential::Bearer(token) = request.credential else {
        return DocuSignError::InvalidToken.into_response();
    };
    if !is_access_token(token) {
        return DocuSignError::InvalidToken.into_response();
    }
    let session = match state.verifier.oauth_session(token, &request).await {
        Ok(session) => session,
        Err(error) => return error.into_response(),
    };
    let Some(user) = session.facts.facts.user.clone() else {
        // An application token acts for nobody.
        return DocuSignError::InvalidToken.into_response();
    };
    let created = match state.store.fetch_user_created_at(user.id).await {
        Ok(created) => created,
        Err(error) => {
            tracing::error!(%error, "store failure in /oauth/userinfo");
            return DocuSignError::Internal.into_response();
        }
    };
    let name = user.name.trim();
    let (given_name, family_name) = name.split_once(' ').unwrap_or((name, ""));
    let base_uri = state.config.public_url.trim_end_matches('/').to_owned();
    let mut memberships: Vec<_> = session.facts.facts.memberships.iter().collect();
    memberships.sort_by_key(|m| !m.is_default);
    let info = UserInfo {
        sub: user.id.to_string(),
        name: name.to_owned(),
        given_name: given_name.trim().to_owned(),
        family_name: family_name.trim().to_owned(),
        created: crate::admin::rfc3339(created),
        email: user.email.clone(),
        accounts: memberships
            .into_iter()
            .map(|m| UserInfoAccount {
                account_id: m.account_id.to_string(),
                is_default: m.is_default,
                account_name: m.account_name.clone(),
                base_uri: base_uri.clone(),
            })
            .collect(),
    };
    no_store(Json(info).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn forms_are_read_fail_closed() {
        let form =
            TokenForm::parse(b"grant_type=refresh_token&refresh_token=a%2Bb+c").expect("form");
        assert_eq!(form.get("grant_type"), Some("refresh_token"));
        assert_eq!(form.get("refresh_token"), Some("a+b c"));
        assert!(
            TokenForm::parse(b"a=1&a=2").is_err(),
            "a repeated parameter"
        );
        assert!(
            TokenForm::parse(b"a=%ff").is_err(),
            "not UTF-8 once decoded"
        );
        assert!(TokenForm::parse(&[b'a', b'=', 0xff]).is_err(), "not UTF-8");
        assert!(TokenForm::parse(b"a=%zz").is_err(), "a broken escape");
        let many: Vec<String> = (0..17).map(|i| format!("p{i}=1")).collect();
        assert!(TokenForm::parse(many.join("&").as_bytes()).is_err());
        assert_eq!(TokenForm::parse(b"code=").expect("form").get("code"), None);
    }

    proptest! {
        #[test]
        fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = TokenForm::parse(&body);
        }
    }
}
