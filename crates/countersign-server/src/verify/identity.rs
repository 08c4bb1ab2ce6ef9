//! A verified identity ready for the wire: who acts, how they authenticated, and every account
//! they may use, with the `X-Countersign-*` response headers rendered once when the identity is
//! cached rather than on every request.

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use countersign_core::directory::{IntegratorKey, Membership, User};
use countersign_core::ids::{AccountId, ApiUserId};
use countersign_core::ids::{EnvironmentId, OrganizationId, UserId};
use serde::Serialize;
use std::sync::Arc;
use time::OffsetDateTime;

/// How a request authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// A session token from `/authentication/apiUser`.
    ApiUserToken,
    /// The legacy header, acting as the authenticated user.
    LegacyHeader,
    /// The legacy header with Send-On-Behalf-Of.
    LegacyHeaderSobo,
    /// An OAuth access token from the JWT Grant, acting for a user.
    OauthJwt,
    /// An OAuth access token the user signed in and consented for (Authorization Code Grant,
    /// its refreshes, the implicit grant).
    OauthCode,
    /// An OAuth application token: the integration itself, no user.
    OauthApplication,
}

impl AuthMethod {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::ApiUserToken => "api_user_token",
            Self::LegacyHeader => "legacy_header",
            Self::LegacyHeaderSobo => "legacy_header_sobo",
            Self::OauthJwt => "oauth_jwt",
            Self::OauthCode => "oauth_code",
            Self::OauthApplication => "oauth_application",
        }
    }
}

/// The verified identity of a request (SPEC §6).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Principal {
    /// Organization of the acting user.
    #[schema(value_type = String, format = Uuid)]
    pub organization_id: OrganizationId,
    /// Environment of the effective account (absent for an OAuth application token).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub environment_id: Option<EnvironmentId>,
    /// The effective account (context identifier); absent for an OAuth application token.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub account_id: Option<AccountId>,
    /// The effective account's numeric number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_number: Option<String>,
    /// The effective account's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_name: Option<String>,
    /// The user the request acts as (absent for an OAuth application token).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub user_id: Option<UserId>,
    /// That user's email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_email: Option<String>,
    /// Who is acting: the API username, the authenticated user id when acting for someone
    /// else, or the integrator key of an OAuth access token.
    pub actor: String,
    /// How the request authenticated.
    pub auth_method: AuthMethod,
    /// The API user behind a token.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub api_user_id: Option<ApiUserId>,
    /// The session's expiry, for tokens.
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<OffsetDateTime>,
    /// The session's expiry, for tokens (the same as `expires_at`, named for SPEC §13).
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub session_expires_at: Option<OffsetDateTime>,
    /// The expiry of the credential behind the session (the API user's), for tokens.
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub credential_expires_at: Option<OffsetDateTime>,
}

/// Response headers added to legacy-authenticated answers (sunset notices).
#[derive(Clone, Debug, Default)]
pub struct WireExtras {
    headers: Option<Arc<[(HeaderName, HeaderValue)]>>,
}

impl WireExtras {
    /// Adds the extra headers to a response.
    pub fn apply(&self, out: &mut HeaderMap) {
        for (name, value) in self.headers.iter().flat_map(|h| h.iter()) {
            out.insert(name.clone(), value.clone());
        }
    }

    /// The `Sunset`, `Deprecation` and `Link` headers of a key with a future sunset (RFC 8594,
    /// RFC 9745).
    pub(crate) fn for_key(key: &IntegratorKey, public_url: &str) -> Self {
        let mut headers = Vec::new();
        if let Some(sunset) = key.legacy_sunset_at {
            let when = std::time::SystemTime::UNIX_EPOCH
                + std::time::Duration::from_secs(sunset.unix_timestamp().max(0).unsigned_abs());
            if let Ok(value) = HeaderValue::from_str(&httpdate::fmt_http_date(when)) {
                headers.push((HeaderName::from_static("sunset"), value));
            }
            let deprecated = key.deprecated_at.unwrap_or(key.created_at).unix_timestamp();
            if let Ok(value) = HeaderValue::from_str(&format!("@{deprecated}")) {
                headers.push((HeaderName::from_static("deprecation"), value));
            }
            if let Ok(value) = HeaderValue::from_str(&format!(
                "<{public_url}/docs/legacy-migration>; rel=\"sunset\""
            )) {
                headers.push((header::LINK, value));
            }
        }
        Self {
            headers: (!headers.is_empty()).then(|| headers.into()),
        }
    }
}

const ORGANIZATION: HeaderName = HeaderName::from_static("x-countersign-organization");
const ENVIRONMENT: HeaderName = HeaderName::from_static("x-countersign-environment");
const ACCOUNT: HeaderName = HeaderName::from_static("x-countersign-account");
const ACCOUNT_NUMBER: HeaderName = HeaderName::from_static("x-countersign-account-number");
const USER_ID: HeaderName = HeaderName::from_static("x-countersign-user-id");
const USER_EMAIL: HeaderName = HeaderName::from_static("x-countersign-user-email");
const ACTOR: HeaderName = HeaderName::from_static("x-countersign-actor");
const AUTH_METHOD: HeaderName = HeaderName::from_static("x-countersign-auth-method");

/// Headers with a value a header may not carry are left out rather than failing the request.
fn value(text: &str) -> Option<HeaderValue> {
    HeaderValue::from_bytes(text.as_bytes()).ok()
}

/// The acting user, how the request authenticated, and the user's memberships, with the
/// identity headers pre-rendered.
#[derive(Debug)]
pub struct Identity {
    /// The organization of the acting user (or of the integration, without a user).
    pub organization_id: OrganizationId,
    /// The acting user; `None` for an OAuth application token.
    pub user_id: Option<UserId>,
    /// The acting user's email.
    pub user_email: Option<String>,
    /// Who acts: the API username, or the authenticated user's id when acting for someone else.
    pub actor: String,
    /// How the request authenticated.
    pub auth_method: AuthMethod,
    /// The acting user's memberships.
    pub memberships: Arc<Vec<Membership>>,
    user_headers: Vec<(HeaderName, HeaderValue)>,
    account_headers: Vec<Vec<(HeaderName, HeaderValue)>>,
}

impl Identity {
    /// Renders the identity of `user` acting through `actor`.
    pub fn new(
        user: &User,
        memberships: Arc<Vec<Membership>>,
        actor: String,
        auth_method: AuthMethod,
    ) -> Self {
        let user_headers = [
            (ORGANIZATION, value(&user.organization_id.to_string())),
            (USER_ID, value(&user.id.to_string())),
            (USER_EMAIL, value(&user.email)),
            (ACTOR, value(&actor)),
            (AUTH_METHOD, value(auth_method.as_str())),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
        .collect();
        let account_headers = memberships
            .iter()
            .map(|m| {
                [
                    (ENVIRONMENT, value(&m.environment_id.to_string())),
                    (ACCOUNT, value(&m.account_id.to_string())),
                    (ACCOUNT_NUMBER, value(&m.account_number)),
                ]
                .into_iter()
                .filter_map(|(name, value)| Some((name, value?)))
                .collect()
            })
            .collect();
        Self {
            organization_id: user.organization_id,
            user_id: Some(user.id),
            user_email: Some(user.email.clone()),
            actor,
            auth_method,
            memberships,
            user_headers,
            account_headers,
        }
    }

    /// Renders the identity of an integration acting as itself (an OAuth application token):
    /// no user, no account.
    pub fn application(
        organization_id: OrganizationId,
        actor: String,
        auth_method: AuthMethod,
    ) -> Self {
        let user_headers = [
            (ORGANIZATION, value(&organization_id.to_string())),
            (ACTOR, value(&actor)),
            (AUTH_METHOD, value(auth_method.as_str())),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
        .collect();
        Self {
            organization_id,
            user_id: None,
            user_email: None,
            actor,
            auth_method,
            memberships: Arc::new(Vec::new()),
            user_headers,
            account_headers: Vec::new(),
        }
    }

    /// The position of `membership` among the identity's memberships.
    pub fn position(&self, membership: &Membership) -> Option<usize> {
        self.memberships
            .iter()
            .position(|m| m.account_id == membership.account_id)
    }
}

/// The outcome of a successful verification: an identity and its effective account.
#[derive(Debug)]
pub struct Verified {
    /// Who acts.
    pub identity: Arc<Identity>,
    /// The effective account, as a position in `identity.memberships` (always in range);
    /// `None` for an identity without a user.
    account: Option<usize>,
    /// The API user behind a token.
    pub api_user_id: Option<ApiUserId>,
    /// The session's expiry, for tokens.
    pub expires_at: Option<OffsetDateTime>,
    /// The API user's expiry, for tokens.
    pub credential_expires_at: Option<OffsetDateTime>,
    /// Sunset notices (legacy header).
    pub extras: WireExtras,
}

impl Verified {
    /// The verified identity with `membership` (one of its memberships) as effective account;
    /// `None` when the membership is not the identity's.
    pub fn new(
        identity: Arc<Identity>,
        membership: &Membership,
        api_user_id: Option<ApiUserId>,
        expires_at: Option<OffsetDateTime>,
        extras: WireExtras,
    ) -> Option<Self> {
        let account = identity.position(membership)?;
        Some(Self {
            identity,
            account: Some(account),
            api_user_id,
            expires_at,
            credential_expires_at: None,
            extras,
        })
    }

    /// The verified identity of an integration acting as itself, in no account.
    pub fn without_account(identity: Arc<Identity>, expires_at: Option<OffsetDateTime>) -> Self {
        Self {
            identity,
            account: None,
            api_user_id: None,
            expires_at,
            credential_expires_at: None,
            extras: WireExtras::default(),
        }
    }

    /// The effective account's membership, if the request acts in one.
    pub fn membership(&self) -> Option<&Membership> {
        self.account
            .and_then(|account| self.identity.memberships.get(account))
    }

    /// Adds the `X-Countersign-*` headers and any sunset notices to a response.
    pub fn write_headers(&self, out: &mut HeaderMap) {
        for (name, value) in &self.identity.user_headers {
            out.insert(name.clone(), value.clone());
        }
        if let Some(headers) = self
            .account
            .and_then(|account| self.identity.account_headers.get(account))
        {
            for (name, value) in headers {
                out.insert(name.clone(), value.clone());
            }
        }
        self.extras.apply(out);
    }

    /// The principal, as `/v1/whoami` answers it.
    pub fn principal(&self) -> Principal {
        let identity = &self.identity;
        let membership = self.membership();
        Principal {
            organization_id: identity.organization_id,
            environment_id: membership.map(|m| m.environment_id),
            account_id: membership.map(|m| m.account_id),
            account_number: membership.map(|m| m.account_number.clone()),
            account_name: membership.map(|m| m.account_name.clone()),
            user_id: identity.user_id,
            user_email: identity.user_email.clone(),
            actor: identity.actor.clone(),
            auth_method: identity.auth_method,
            api_user_id: self.api_user_id,
            expires_at: self.expires_at,
            session_expires_at: self.expires_at,
            credential_expires_at: self.credential_expires_at,
        }
    }
}

/// A worker thread's own copy of an identity's rendered headers, with the complete header map of
/// the account it last answered for ready to clone. Cloning a shared header value bumps a
/// reference count that every worker thread writes; a per-thread copy keeps that write on a
/// cache line only its thread touches, and cloning a ready map skips hashing every name.
#[derive(Debug)]
pub struct LocalHeaders {
    user: Vec<(HeaderName, HeaderValue)>,
    accounts: Vec<Vec<(HeaderName, HeaderValue)>>,
    ready: Option<(Option<usize>, HeaderMap)>,
}

fn copy(headers: &[(HeaderName, HeaderValue)]) -> Vec<(HeaderName, HeaderValue)> {
    headers
        .iter()
        .filter_map(|(name, value)| {
            HeaderValue::from_bytes(value.as_bytes())
                .ok()
                .map(|v| (name.clone(), v))
        })
        .collect()
}

/// `x-request-id`, held in ready maps so that setting it replaces rather than grows.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

impl LocalHeaders {
    /// Copies the identity's headers for the calling thread.
    pub fn copy_of(identity: &Identity) -> Self {
        Self {
            user: copy(&identity.user_headers),
            accounts: identity.account_headers.iter().map(|h| copy(h)).collect(),
            ready: None,
        }
    }

    /// The identity headers with the membership at `account` as effective account (none for
    /// an identity without a user), plus an empty `x-request-id` for the caller to set or
    /// remove.
    pub fn map(&mut self, account: Option<usize>) -> HeaderMap {
        if let Some((ready_for, map)) = &self.ready
            && *ready_for == account
        {
            return map.clone();
        }
        let mut map = HeaderMap::with_capacity(16);
        for (name, value) in self.user.iter().chain(
            account
                .and_then(|account| self.accounts.get(account))
                .into_iter()
                .flatten(),
        ) {
            map.insert(name.clone(), value.clone());
        }
        map.insert(REQUEST_ID, HeaderValue::from_static(""));
        self.ready = Some((account, map.clone()));
        map
    }
}
