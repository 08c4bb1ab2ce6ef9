//! In-process verification of countersign bearer tokens — session tokens and DocuSign OAuth
//! access tokens — for Rust services that embed countersign instead of calling `/v1/verify`.
//!
//! A [`Verifier`] opens the same database as the countersign nodes, reads the token signing key
//! the nodes use, and applies the same rules on every request (SPEC §3, §12): the token's
//! signature and expiry; for a session token the API user (not revoked, deleted or expired, key
//! not rotated out), the acting user (active, within the scope), and the effective account from
//! `X-AS-UserContext` and the request path; for an OAuth access token the integrator key (not
//! revoked), the user (active), the consent (not withdrawn), the token family (not ended), and
//! the account the request path names (an application token acts in none). It shares with the
//! server nodes everything but the framework
//! (`countersign-directory`: the epoch-stamped caches, the session's directory facts, the signing
//! keys, the directory watcher and the refusal table), so revocations reach an embedding service
//! as they reach a node, and it answers refusals exactly as the server does.
//!
//! With the `axum` feature, [`Verified`] is an extractor; with `tower`, [`VerifyLayer`] rejects
//! unauthenticated requests and puts the [`Identity`] into the request extensions.
#![warn(missing_docs)]

#[cfg(feature = "axum")]
mod extract;
#[cfg(feature = "tower")]
mod layer;

#[cfg(feature = "axum")]
pub use extract::Verified;
#[cfg(feature = "tower")]
pub use layer::{VerifyLayer, VerifyService};

use countersign_core::access::{self, AccountRequest};
use countersign_core::decide;
use countersign_core::ids::{AccountId, ApiUserId, EnvironmentId, OrganizationId, UserId};
use countersign_core::oauth::{self, AccessKind};
use countersign_core::uri::PathAccounts;
use countersign_core::{session, token};
use countersign_directory::cache::DirectoryCache;
use countersign_directory::refusal::{BearerRefusal, DocuSignRefusal};
use countersign_directory::session::SessionFacts;
use countersign_store::{Store, StoreConfig, StoreError};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// How a request authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    /// A session token of an API user.
    ApiUserToken,
    /// An OAuth access token of the JWT Grant, acting for a user.
    OauthJwt,
    /// An OAuth access token the user signed in and consented for.
    OauthCode,
    /// An OAuth application token: the integration itself, no user, no account.
    OauthApplication,
}

impl AuthMethod {
    /// The wire name, as in `X-Countersign-Auth-Method`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::ApiUserToken => "api_user_token",
            Self::OauthJwt => "oauth_jwt",
            Self::OauthCode => "oauth_code",
            Self::OauthApplication => "oauth_application",
        }
    }
}

/// The verified identity of a request. The user and account fields are `None` only for an
/// OAuth application token, which acts for no user in no account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// Organization of the acting user (or of the integration).
    pub organization_id: OrganizationId,
    /// Environment of the effective account.
    pub environment_id: Option<EnvironmentId>,
    /// The effective account.
    pub account_id: Option<AccountId>,
    /// Its numeric number.
    pub account_number: Option<String>,
    /// The acting user.
    pub user_id: Option<UserId>,
    /// Their email.
    pub user_email: Option<String>,
    /// The API user whose session token it is (`None` for an OAuth access token).
    pub api_user_id: Option<ApiUserId>,
    /// Who acts: the API username, or the integrator key of an OAuth access token.
    pub actor: String,
    /// How the request authenticated.
    pub auth_method: AuthMethod,
}

/// Why a request is refused.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// No bearer token was sent.
    #[error("no bearer token")]
    MissingCredentials,
    /// The session token is invalid, expired, revoked or no longer backed by the directory, or
    /// the `Authorization` header cannot be read (sent twice, not text).
    #[error("invalid token")]
    InvalidToken,
    /// Authenticated but not allowed in the requested account.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// Several accounts qualify; `X-AS-UserContext` must choose one.
    #[error("X-AS-UserContext is required")]
    AmbiguousAccount,
    /// `X-AS-UserContext` was sent twice, is not text or is too long: refused, never read as
    /// absent (which would choose the default account instead of the one meant).
    #[error("X-AS-UserContext is unreadable")]
    UnreadableUserContext,
    /// An OAuth access token refused, in the DocuSign dialect a node answers it in.
    #[error("OAuth access token refused: {}", .0.code())]
    OAuth(DocuSignRefusal),
    /// The database failed.
    #[error("store failure")]
    Store(#[source] StoreError),
}

/// A refusal in its dialect's table (shared with the server).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A session token's refusal: `{"errorCode", "summary", "details"}`.
    AssureSign(BearerRefusal),
    /// An OAuth access token's refusal: `{"errorCode", "message"}`.
    DocuSign(DocuSignRefusal),
}

impl VerifyError {
    /// The refusal in its dialect's table, as a server node answers it.
    pub fn refusal(&self) -> Refusal {
        match self {
            Self::MissingCredentials => Refusal::AssureSign(BearerRefusal::NoCredentials),
            Self::InvalidToken => Refusal::AssureSign(BearerRefusal::InvalidToken),
            Self::Forbidden(summary) => Refusal::AssureSign(BearerRefusal::Forbidden(summary)),
            Self::AmbiguousAccount => Refusal::AssureSign(BearerRefusal::AmbiguousAccount),
            Self::UnreadableUserContext => {
                Refusal::AssureSign(BearerRefusal::UnreadableUserContext)
            }
            Self::OAuth(refusal) => Refusal::DocuSign(refusal.clone()),
            Self::Store(_) => Refusal::AssureSign(BearerRefusal::Unavailable),
        }
    }

    /// The HTTP status a service should answer with.
    pub fn status(&self) -> u16 {
        match self.refusal() {
            Refusal::AssureSign(refusal) => refusal.status(),
            Refusal::DocuSign(refusal) => refusal.status(),
        }
    }

    /// The error body, in the token's dialect.
    pub fn body(&self) -> serde_json::Value {
        match self.refusal() {
            Refusal::AssureSign(refusal) => serde_json::json!({
                "errorCode": refusal.code(),
                "summary": refusal.summary(),
                "details": refusal.details(),
            }),
            Refusal::DocuSign(refusal) => serde_json::json!({
                "errorCode": refusal.code(),
                "message": refusal.message(),
            }),
        }
    }

    /// The `WWW-Authenticate` value of a 401 (RFC 6750), as a node sends it.
    pub fn www_authenticate(&self) -> Option<&'static str> {
        match self.refusal() {
            Refusal::AssureSign(refusal) => refusal.www_authenticate(),
            Refusal::DocuSign(refusal) => refusal.www_authenticate(),
        }
    }
}

/// What to verify: the request's own headers and path.
#[derive(Clone, Copy, Debug, Default)]
pub struct VerifyRequest<'a> {
    /// `Authorization` header (see [`HeaderText`]).
    pub authorization: HeaderText<'a>,
    /// `X-AS-UserContext` header (see [`HeaderText`]).
    pub user_context: HeaderText<'a>,
    /// The request path and query (every `/accounts/{id}` pair must name a usable account;
    /// a path that cannot be read safely is refused, SPEC §3).
    pub path: Option<&'a str>,
}

/// A request header as sent: absent, once as text, or unreadable (sent twice, or not UTF-8),
/// which is refused rather than read as absent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HeaderText<'a> {
    /// Not sent.
    #[default]
    Absent,
    /// Sent once, as text.
    Text(&'a str),
    /// Sent twice, or not text.
    Unreadable,
}

impl<'a> HeaderText<'a> {
    /// Reads a header of an `http` header map.
    #[cfg(feature = "axum")]
    pub fn of(headers: &'a axum::http::HeaderMap, name: &str) -> Self {
        let mut values = headers.get_all(name).iter();
        match (values.next(), values.next()) {
            (None, _) => Self::Absent,
            (Some(_), Some(_)) => Self::Unreadable,
            (Some(value), None) => {
                std::str::from_utf8(value.as_bytes()).map_or(Self::Unreadable, Self::Text)
            }
        }
    }
}

/// Verifies bearer tokens against the shared store.
#[derive(Clone, Debug)]
pub struct Verifier {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    signing: HashMap<u32, Vec<u8>>,
    cache: Arc<DirectoryCache>,
    stop: Arc<Notify>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop.notify_one();
    }
}

impl Verifier {
    /// Connects to the countersign database (`sqlite://…` or `postgres://…`). Pass the master
    /// key when the nodes run with one (their signing key is then derived, not stored).
    ///
    /// # Errors
    /// Fails when the database cannot be reached or holds no signing key yet.
    pub async fn connect(
        database_url: &str,
        master_key: Option<&[u8]>,
    ) -> Result<Self, VerifyError> {
        let store = Store::connect(&StoreConfig {
            url: database_url.to_owned(),
            max_connections: 8,
        })
        .await
        .map_err(VerifyError::Store)?;
        let signing = countersign_directory::secrets::signing_keys(&store, master_key)
            .await
            .map_err(VerifyError::Store)?;
        let cache = Arc::new(DirectoryCache::new(100_000));
        let stop = Arc::new(Notify::new());
        // The same watcher as a node's: PostgreSQL notifications, and the directory version
        // re-checked twice a second (how SQLite sees changes), so revocations reach an
        // embedding service as they reach a node.
        countersign_directory::watch::start(
            store.clone(),
            cache.clone(),
            Duration::from_millis(500),
            stop.clone(),
        );
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                signing,
                cache,
                stop,
            }),
        })
    }

    /// Verifies a request.
    ///
    /// # Errors
    /// Why it is refused; see [`VerifyError::status`] and [`VerifyError::body`].
    pub async fn verify(&self, request: VerifyRequest<'_>) -> Result<Identity, VerifyError> {
        let inner = &self.inner;
        let token_text = match request.authorization {
            HeaderText::Absent => return Err(VerifyError::MissingCredentials),
            HeaderText::Unreadable => return Err(VerifyError::InvalidToken),
            // As a node reads it: another scheme is no credential countersign knows; a bearer
            // scheme without a readable token is an invalid token.
            HeaderText::Text(text) if access::names_bearer_scheme(text.as_bytes()) => {
                access::bearer_token(text).ok_or(VerifyError::InvalidToken)?
            }
            HeaderText::Text(_) => return Err(VerifyError::MissingCredentials),
        };
        let now = time::OffsetDateTime::now_utc();
        let path = request.path.map_or(PathAccounts::None, |path| {
            PathAccounts::from_original_uri(path.as_bytes())
        });
        if oauth::token::is_access_token(token_text) {
            return self.verify_access_token(token_text, now, &path).await;
        }
        // The account context is read before the token is checked, as a node does.
        let user_context = match request.user_context {
            HeaderText::Absent => None,
            HeaderText::Text(text) if text.len() <= access::MAX_USER_CONTEXT_LEN => {
                Some(access::parse_user_context(text))
            }
            HeaderText::Text(_) | HeaderText::Unreadable => {
                return Err(VerifyError::UnreadableUserContext);
            }
        };
        let claims = token::verify(token_text, now.unix_timestamp(), |kid| {
            inner.signing.get(&kid).map(Vec::as_slice)
        })
        .map_err(|_| VerifyError::InvalidToken)?;
        let SessionFacts {
            api_user,
            user,
            memberships,
            ends,
        } = countersign_directory::session::load(&inner.cache, &inner.store, &claims)
            .await
            .map_err(VerifyError::Store)?
            .ok_or(VerifyError::InvalidToken)?;
        if !session::still_valid(&api_user.api_user, &api_user.keys, &ends, &claims, now) {
            return Err(VerifyError::InvalidToken);
        }
        let scope = api_user.api_user.scope;
        let account_request = AccountRequest {
            user_context: user_context.as_ref(),
            path: &path,
        };
        let membership = decide::bearer(&scope, &user.email, &memberships, &account_request)
            .map_err(account_refusal)?;
        Ok(Identity {
            organization_id: user.organization_id,
            environment_id: Some(membership.environment_id),
            account_id: Some(membership.account_id),
            account_number: Some(membership.account_number.clone()),
            user_id: Some(user.id),
            user_email: Some(user.email.clone()),
            api_user_id: Some(api_user.api_user.id),
            actor: api_user.api_user.username.clone(),
            auth_method: AuthMethod::ApiUserToken,
        })
    }

    /// An OAuth access token (SPEC §12), decided as the server's nodes decide it.
    async fn verify_access_token(
        &self,
        token_text: &str,
        now: time::OffsetDateTime,
        path: &PathAccounts,
    ) -> Result<Identity, VerifyError> {
        let inner = &self.inner;
        let invalid = || VerifyError::OAuth(DocuSignRefusal::InvalidToken);
        let claims = oauth::token::verify(token_text, now.unix_timestamp(), |kid| {
            inner.signing.get(&kid).map(Vec::as_slice)
        })
        .map_err(|_| invalid())?;
        let facts = countersign_directory::oauth::load(&inner.cache, &inner.store, &claims)
            .await
            // Logged by the table's `From`, answered 500 `UNSPECIFIED_ERROR` as a node does.
            .map_err(|error| VerifyError::OAuth(error.into()))?
            .filter(|facts| facts.admits(&claims))
            .ok_or_else(invalid)?;
        let actor = facts.integrator_key.key.clone();
        let Some(user) = &facts.user else {
            decide::oauth_application(path).map_err(oauth_refusal)?;
            return Ok(Identity {
                organization_id: facts.integrator_key.organization_id,
                environment_id: None,
                account_id: None,
                account_number: None,
                user_id: None,
                user_email: None,
                api_user_id: None,
                actor,
                auth_method: AuthMethod::OauthApplication,
            });
        };
        let membership =
            decide::oauth_user(&user.email, &facts.memberships, path).map_err(oauth_refusal)?;
        Ok(Identity {
            organization_id: user.organization_id,
            environment_id: Some(membership.environment_id),
            account_id: Some(membership.account_id),
            account_number: Some(membership.account_number.clone()),
            user_id: Some(user.id),
            user_email: Some(user.email.clone()),
            api_user_id: None,
            actor,
            auth_method: match claims.kind {
                AccessKind::Jwt => AuthMethod::OauthJwt,
                AccessKind::Code | AccessKind::Application => AuthMethod::OauthCode,
            },
        })
    }
}

/// An OAuth access token's account refusal, in the DocuSign table.
fn oauth_refusal(error: access::AccountError) -> VerifyError {
    VerifyError::OAuth(error.into())
}

/// A session token's account refusal, in the AssureSign table.
fn account_refusal(error: access::AccountError) -> VerifyError {
    match BearerRefusal::from(error) {
        BearerRefusal::Forbidden(summary) => VerifyError::Forbidden(summary),
        _ => VerifyError::AmbiguousAccount,
    }
}
