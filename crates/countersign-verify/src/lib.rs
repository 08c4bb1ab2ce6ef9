//! In-process verification of countersign bearer tokens for Rust services that embed
//! countersign instead of calling `/v1/verify`.
//!
//! A [`Verifier`] opens the same database as the countersign nodes, reads the token signing key
//! the nodes use, and applies the same rules on every request (SPEC §3): the token's signature
//! and expiry, the API user (not revoked, deleted or expired, key not rotated out), the acting
//! user (active, within the scope), and the effective account from `X-AS-UserContext` and the
//! request path. Directory facts are cached and re-read whenever the directory version changes
//! (checked twice a second), so revocations reach an embedding service as they reach a node.
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

use countersign_core::access::{self, AccountError, AccountRequest};
use countersign_core::decide;
use countersign_core::ids::{AccountId, ApiUserId, EnvironmentId, OrganizationId, UserId};
use countersign_core::uri::PathAccounts;
use countersign_core::{session, token};
use countersign_store::{Store, StoreConfig, StoreError};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

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
    /// The HTTP status a service should answer with.
    pub fn status(&self) -> u16 {
        match self {
            Self::MissingCredentials | Self::InvalidToken => 401,
            Self::Forbidden(_) => 403,
            Self::AmbiguousAccount => 400,
            Self::Store(_) => 503,
        }
    }

    /// The AssureSign-dialect error body.
    pub fn body(&self) -> serde_json::Value {
        let (code, summary) = match self {
            Self::MissingCredentials => (
                "UNAUTHORIZED",
                "Authorization is required: send Authorization: bearer {token}.",
            ),
            Self::InvalidToken => ("UNAUTHORIZED", "The token is invalid or has expired."),
            Self::Forbidden(summary) => ("FORBIDDEN", *summary),
            Self::AmbiguousAccount => (
                "BAD_REQUEST",
                "The user belongs to several accounts; send X-AS-UserContext.",
            ),
            Self::Store(_) => ("SERVICE_UNAVAILABLE", "Verification is unavailable."),
        };
        serde_json::json!({"errorCode": code, "summary": summary, "details": []})
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

type Cached<V> = moka::sync::Cache<String, (i64, V)>;

/// Verifies bearer tokens against the shared store.
#[derive(Clone, Debug)]
pub struct Verifier {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    signing: HashMap<u32, Vec<u8>>,
    version: AtomicI64,
    api_users: Cached<Option<Arc<countersign_store::ApiUserWithKeys>>>,
    users: Cached<Option<Arc<countersign_core::directory::User>>>,
    memberships: Cached<Arc<Vec<countersign_core::directory::Membership>>>,
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
        let signing_key = match master_key {
            Some(master) => hex::decode(countersign_core::key::digest_key_text(
                "token_signing_key_1",
                master,
            ))
            .unwrap_or_default(),
            None => {
                let stored = store
                    .find_secret("token_signing_key_1")
                    .await
                    .map_err(VerifyError::Store)?;
                let stored = stored.ok_or(VerifyError::Store(StoreError::NotFound {
                    entity: "signing key",
                }))?;
                hex::decode(stored).map_err(|_| {
                    VerifyError::Store(StoreError::Corrupt {
                        what: "signing key",
                    })
                })?
            }
        };
        let version = store
            .fetch_directory_version()
            .await
            .map_err(VerifyError::Store)?;
        let inner = Arc::new(Inner {
            store,
            signing: HashMap::from([(1, signing_key)]),
            version: AtomicI64::new(version),
            api_users: moka::sync::Cache::new(100_000),
            users: moka::sync::Cache::new(100_000),
            memberships: moka::sync::Cache::new(100_000),
        });
        let weak = Arc::downgrade(&inner);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                let Some(inner) = weak.upgrade() else { break };
                if let Ok(version) = inner.store.fetch_directory_version().await {
                    inner.version.store(version, Ordering::Release);
                }
            }
        });
        Ok(Self { inner })
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
        let version = inner.version.load(Ordering::Acquire);
        let api_user = cached(
            &inner.api_users,
            claims.api_user_id.to_string(),
            version,
            async {
                Ok(inner
                    .store
                    .find_api_user_with_keys(claims.api_user_id)
                    .await?
                    .map(Arc::new))
            },
        )
        .await?
        .ok_or(VerifyError::InvalidToken)?;
        if !session::still_valid(&api_user.api_user, &api_user.keys, &claims, now) {
            return Err(VerifyError::InvalidToken);
        }
        let user = cached(&inner.users, claims.user_id.to_string(), version, async {
            Ok(inner.store.find_user(claims.user_id).await?.map(Arc::new))
        })
        .await?
        .ok_or(VerifyError::InvalidToken)?;
        let memberships = cached(&inner.memberships, user.id.to_string(), version, async {
            Ok(Arc::new(inner.store.list_memberships(user.id).await?))
        })
        .await?;
        if !session::directory_admits(&api_user.api_user, &user, &memberships) {
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
            .map_err(|error| match error {
                AccountError::Ambiguous => VerifyError::AmbiguousAccount,
                other => VerifyError::Forbidden(other.message()),
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

/// A cache lookup stamped with the directory version: an entry from an older version is reloaded.
async fn cached<V: Clone + Send + Sync + 'static>(
    cache: &Cached<V>,
    key: String,
    version: i64,
    load: impl Future<Output = Result<V, StoreError>>,
) -> Result<V, VerifyError> {
    if let Some((stamp, value)) = cache.get(&key)
        && stamp == version
    {
        return Ok(value);
    }
    let value = load.await.map_err(VerifyError::Store)?;
    cache.insert(key, (version, value.clone()));
    Ok(value)
}
