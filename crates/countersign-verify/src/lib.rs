//! In-process verification of countersign bearer tokens for Rust services that embed
//! countersign instead of calling `/v1/verify`.
//!
//! A [`Verifier`] opens the same database as the countersign nodes, reads the token signing key
//! the nodes use, and applies the same rules on every request (SPEC §3): the token's signature
//! and expiry, the API user (not revoked, deleted or expired, key not rotated out), the acting
//! user (active, within the scope), and the effective account from `X-AS-UserContext` and the
//! request path. It shares with the server nodes everything but the framework
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
use countersign_core::uri::PathAccounts;
use countersign_core::{session, token};
use countersign_directory::cache::DirectoryCache;
use countersign_directory::refusal::BearerRefusal;
use countersign_directory::session::SessionFacts;
use countersign_store::{Store, StoreConfig, StoreError};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// The verified identity of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// Organization of the acting user.
    pub organization_id: OrganizationId,
    /// Environment of the effective account.
    pub environment_id: EnvironmentId,
    /// The effective account.
    pub account_id: AccountId,
    /// Its numeric number.
    pub account_number: String,
    /// The acting user.
    pub user_id: UserId,
    /// Their email.
    pub user_email: String,
    /// The API user whose token it is.
    pub api_user_id: ApiUserId,
    /// Its username (the actor).
    pub actor: String,
}

/// Why a request is refused.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// No bearer token was sent.
    #[error("no bearer token")]
    MissingCredentials,
    /// The token is invalid, expired, revoked or no longer backed by the directory.
    #[error("invalid token")]
    InvalidToken,
    /// Authenticated but not allowed in the requested account.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// Several accounts qualify; `X-AS-UserContext` must choose one.
    #[error("X-AS-UserContext is required")]
    AmbiguousAccount,
    /// The database failed.
    #[error("store failure")]
    Store(#[source] StoreError),
}

impl VerifyError {
    /// The refusal in the AssureSign dialect's table (shared with the server).
    pub fn refusal(&self) -> BearerRefusal {
        match self {
            Self::MissingCredentials => BearerRefusal::NoCredentials,
            Self::InvalidToken => BearerRefusal::InvalidToken,
            Self::Forbidden(summary) => BearerRefusal::Forbidden(summary),
            Self::AmbiguousAccount => BearerRefusal::AmbiguousAccount,
            Self::Store(_) => BearerRefusal::Unavailable,
        }
    }

    /// The HTTP status a service should answer with.
    pub fn status(&self) -> u16 {
        self.refusal().status()
    }

    /// The AssureSign-dialect error body.
    pub fn body(&self) -> serde_json::Value {
        let refusal = self.refusal();
        serde_json::json!({"errorCode": refusal.code(), "summary": refusal.summary(), "details": []})
    }
}

/// What to verify: the request's own headers and path.
#[derive(Clone, Copy, Debug, Default)]
pub struct VerifyRequest<'a> {
    /// `Authorization` header.
    pub authorization: Option<&'a str>,
    /// `X-AS-UserContext` header.
    pub user_context: Option<&'a str>,
    /// The request path and query (every `/accounts/{id}` pair must name a usable account;
    /// a path that cannot be read safely is refused, SPEC §3).
    pub path: Option<&'a str>,
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
        let token_text = request
            .authorization
            .and_then(access::bearer_token)
            .ok_or(VerifyError::MissingCredentials)?;
        let now = time::OffsetDateTime::now_utc();
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
        let user_context = request.user_context.map(access::parse_user_context);
        let path = request.path.map_or(PathAccounts::None, |path| {
            PathAccounts::from_original_uri(path.as_bytes())
        });
        let account_request = AccountRequest {
            user_context: user_context.as_ref(),
            path: &path,
        };
        let membership = decide::bearer(&scope, &user.email, &memberships, &account_request)
            .map_err(|error| match BearerRefusal::from(error) {
                BearerRefusal::Forbidden(summary) => VerifyError::Forbidden(summary),
                _ => VerifyError::AmbiguousAccount,
            })?;
        Ok(Identity {
            organization_id: user.organization_id,
            environment_id: membership.environment_id,
            account_id: membership.account_id,
            account_number: membership.account_number.clone(),
            user_id: user.id,
            user_email: user.email.clone(),
            api_user_id: api_user.api_user.id,
            actor: api_user.api_user.username.clone(),
        })
    }
}
