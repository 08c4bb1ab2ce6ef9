//! Bounded in-memory caches of directory facts on the verification hot path.
//!
//! Every entry is stamped with the directory epoch read *before* it was loaded. Any directory
//! write bumps the epoch after it commits (and, with PostgreSQL, every node bumps it on the
//! change notification), so an entry loaded before a change is never served after it — even
//! when a slow reader inserts it after the invalidation. A write therefore costs a reload of
//! whatever is read next, which is the right trade for a read-mostly directory.

use countersign_core::directory::{IntegratorKey, Membership, Organization, User};
use countersign_core::ids::{ApiUserId, IntegratorKeyId, OAuthFamilyId, OrganizationId, UserId};
use countersign_core::session::SessionEnd;
use countersign_store::{ApiUserWithKeys, GrantState, OAuthFamily, Store, StoreError};
use moka::sync::Cache;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

type Stamped<V> = (u64, V);

/// Caches of API users, users, memberships, session ends, organizations and integrator keys,
/// and of the OAuth facts behind access tokens (consents and cut-offs per user and key, token
/// families).
#[derive(Debug)]
pub struct DirectoryCache {
    id: u64,
    epoch: AtomicU64,
    applied_version: AtomicI64,
    api_users_by_name: Cache<String, Stamped<Option<Arc<ApiUserWithKeys>>>>,
    api_users_by_id: Cache<ApiUserId, Stamped<Option<Arc<ApiUserWithKeys>>>>,
    users_by_id: Cache<UserId, Stamped<Option<Arc<User>>>>,
    users_by_email: Cache<(OrganizationId, String), Stamped<Option<Arc<User>>>>,
    memberships: Cache<UserId, Stamped<Arc<Vec<Membership>>>>,
    session_ends: Cache<UserId, Stamped<Arc<Vec<SessionEnd>>>>,
    organizations: Cache<OrganizationId, Stamped<Arc<Organization>>>,
    integrator_keys: Cache<String, Stamped<Option<Arc<IntegratorKey>>>>,
    integrator_keys_by_id: Cache<IntegratorKeyId, Stamped<Option<Arc<IntegratorKey>>>>,
    grant_states: Cache<(IntegratorKeyId, UserId), Stamped<Arc<GrantState>>>,
    oauth_families: Cache<OAuthFamilyId, Stamped<Option<Arc<OAuthFamily>>>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// Whether no record can have `text` as its name: longer than `max` characters, or holding a
/// NUL (which no name, email or key has, and PostgreSQL cannot even compare). Such a lookup is
/// nobody at once: no query, no cache entry, never a store failure.
fn no_record_has(text: &str, max: usize) -> bool {
    text.contains('\0') || text.chars().count() > max
}

impl DirectoryCache {
    /// Creates caches of at most `capacity` entries each.
    pub fn new(capacity: u64) -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            epoch: AtomicU64::new(0),
            applied_version: AtomicI64::new(0),
            api_users_by_name: Cache::new(capacity),
            api_users_by_id: Cache::new(capacity),
            users_by_id: Cache::new(capacity),
            users_by_email: Cache::new(capacity),
            memberships: Cache::new(capacity),
            session_ends: Cache::new(capacity),
            organizations: Cache::new(capacity.min(100_000)),
            integrator_keys: Cache::new(capacity),
            integrator_keys_by_id: Cache::new(capacity),
            grant_states: Cache::new(capacity),
            oauth_families: Cache::new(capacity),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Marks every cached fact stale; call after any directory write commits.
    pub fn invalidate(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// Records that every change up to directory `version` is applied here: the caches were
    /// invalidated after that version was committed (SPEC §14, revocation receipts). The
    /// applied version only moves forward.
    pub fn note_applied(&self, version: i64) {
        self.applied_version.fetch_max(version, Ordering::AcqRel);
    }

    /// The directory version this node has applied (0 before the first is known).
    pub fn applied_version(&self) -> i64 {
        self.applied_version.load(Ordering::Acquire)
    }

    /// Distinguishes the caches of several servers in one process.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The current directory epoch; read it before loading facts to be cached.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Cache hits and misses since start.
    pub fn hit_counts(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    async fn get_or_load<K, V, F>(
        &self,
        cache: &Cache<K, Stamped<V>>,
        key: K,
        load: F,
    ) -> Result<V, StoreError>
    where
        K: Hash + Eq + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
        F: Future<Output = Result<V, StoreError>>,
    {
        let epoch = self.epoch.load(Ordering::Acquire);
        if let Some((stamp, value)) = cache.get(&key)
            && stamp == epoch
        {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(value);
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let value = load.await?;
        cache.insert(key, (epoch, value.clone()));
        Ok(value)
    }

    /// An API user with its keys, by username (case-insensitive).
    ///
    /// # Errors
    /// Returns the store's error on a miss that fails.
    pub async fn api_user_by_name(
        &self,
        store: &Store,
        username: &str,
    ) -> Result<Option<Arc<ApiUserWithKeys>>, StoreError> {
        // A name no API user can have is nobody, without a lookup or a cache entry: failures
        // with long invented names must not fill memory (SPEC §9).
        if no_record_has(username, countersign_core::api_user::MAX_USERNAME_LEN) {
            return Ok(None);
        }
        let key = countersign_core::api_user::normalize_username(username);
        self.get_or_load(&self.api_users_by_name, key, async {
            Ok(store
                .find_api_user_by_username(username)
                .await?
                .map(Arc::new))
        })
        .await
    }

    /// An API user with its keys, by id.
    ///
    /// # Errors
    /// Returns the store's error on a miss that fails.
    pub async fn api_user_by_id(
        &self,
        store: &Store,
        id: ApiUserId,
    ) -> Result<Option<Arc<ApiUserWithKeys>>, StoreError> {
        self.get_or_load(&self.api_users_by_id, id, async {
            Ok(store.find_api_user_with_keys(id).await?.map(Arc::new))
        })
        .await
    }

    /// A user by id.
    ///
    /// # Errors
    /// Returns the store's error on a miss that fails.
    pub async fn user_by_id(
        &self,
        store: &Store,
        id: UserId,
    ) -> Result<Option<Arc<User>>, StoreError> {
        self.get_or_load(&self.users_by_id, id, async {
            Ok(store.find_user(id).await?.map(Arc::new))
        })
        .await
    }

    /// A user of an organization by email (case-insensitive).
    ///
    /// # Errors
    /// Returns the store's error on a miss that fails.
    pub async fn user_by_email(
        &self,
        store: &Store,
        organization: OrganizationId,
        email: &str,
    ) -> Result<Option<Arc<User>>, StoreError> {
        // An email no user can have is nobody, without a lookup or a cache entry.
        if no_record_has(email, countersign_core::directory::MAX_EMAIL_LEN) {
            return Ok(None);
        }
        let key = (
            organization,
            countersign_core::directory::normalize_email(email),
        );
        self.get_or_load(&self.users_by_email, key, async {
            Ok(store
                .find_user_by_email(organization, email)
                .await?
                .map(Arc::new))
        })
        .await
    }

    /// A user's memberships, default first.
    ///
    /// # Errors
    /// Returns the store's error on a miss that fails.
    pub async fn memberships(
        &self,
        store: &Store,
        user: UserId,
    ) -> Result<Arc<Vec<Membership>>, StoreError> {
        self.get_or_load(&self.memberships, user, async {
            Ok(Arc::new(store.list_memberships(user).await?))
        })
        .await
    }

    /// The session ends recorded for a user (SPEC §14).
    ///
    /// # Errors
    /// Returns the store's error on a miss that fails.
    pub async fn session_ends(
        &self,
        store: &Store,
        user: UserId,
    ) -> Result<Arc<Vec<SessionEnd>>, StoreError> {
        self.get_or_load(&self.session_ends, user, async {
            Ok(Arc::new(store.list_session_ends(user).await?))
        })
        .await
    }

    /// An organization.
    ///
    /// # Errors
    /// Returns the store's error on a miss that fails.
    pub async fn organization(
        &self,
        store: &Store,
        id: OrganizationId,
    ) -> Result<Arc<Organization>, StoreError> {
        self.get_or_load(&self.organizations, id, async {
            Ok(Arc::new(store.fetch_organization(id).await?))
        })
        .await
    }

    /// An integrator key record by its key string.
    ///
    /// # Errors
    /// Returns the store's error on a miss that fails.
    pub async fn integrator_key(
        &self,
        store: &Store,
        key: &str,
    ) -> Result<Option<Arc<IntegratorKey>>, StoreError> {
        // A key no integrator key can be is unknown, without a lookup or a cache entry.
        if no_record_has(key, countersign_core::directory::MAX_INTEGRATOR_KEY_LEN) {
            return Ok(None);
        }
        self.get_or_load(&self.integrator_keys, key.to_owned(), async {
            Ok(store.find_integrator_key(key).await?.map(Arc::new))
        })
        .await
    }
}

impl DirectoryCache {
    /// An integrator key record by its id (OAuth access tokens name their key by id).
    ///
    /// # Errors
    /// Returns the store's error on a miss that fails.
    pub async fn integrator_key_by_id(
        &self,
        store: &Store,
        id: IntegratorKeyId,
    ) -> Result<Option<Arc<IntegratorKey>>, StoreError> {
        self.get_or_load(&self.integrator_keys_by_id, id, async {
            Ok(store.find_integrator_key_by_id(id).await?.map(Arc::new))
        })
        .await
    }

    /// The consents and the token cut-off of one user for one integrator key.
    ///
    /// # Errors
    /// Returns the store's error on a miss that fails.
    pub async fn grant_state(
        &self,
        store: &Store,
        key: IntegratorKeyId,
        user: UserId,
    ) -> Result<Arc<GrantState>, StoreError> {
        self.get_or_load(&self.grant_states, (key, user), async {
            Ok(Arc::new(store.fetch_grant_state(key, user).await?))
        })
        .await
    }

    /// An OAuth token family.
    ///
    /// # Errors
    /// Returns the store's error on a miss that fails.
    pub async fn oauth_family(
        &self,
        store: &Store,
        id: OAuthFamilyId,
    ) -> Result<Option<Arc<OAuthFamily>>, StoreError> {
        self.get_or_load(&self.oauth_families, id, async {
            Ok(store.find_oauth_family(id).await?.map(Arc::new))
        })
        .await
    }
}

/// A bounded cache of values derived from the directory (verified credentials' facts), stamped
/// with the directory epoch like every cache above: an entry loaded before a directory change is
/// never served after it.
pub struct EpochCache<K, V> {
    directory: Arc<DirectoryCache>,
    entries: Cache<K, Stamped<Arc<V>>>,
}

impl<K, V> std::fmt::Debug for EpochCache<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EpochCache").finish_non_exhaustive()
    }
}

impl<K, V> EpochCache<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    /// A cache of at most `capacity` entries, stamped with `directory`'s epoch.
    pub fn new(directory: Arc<DirectoryCache>, capacity: u64) -> Self {
        Self {
            directory,
            entries: Cache::new(capacity),
        }
    }

    /// The value under `key`, if loaded at the current epoch.
    pub fn get(&self, key: &K) -> Option<Arc<V>> {
        match self.entries.get(key) {
            Some((stamp, value)) if stamp == self.directory.epoch() => Some(value),
            _ => None,
        }
    }

    /// Keeps a value loaded at `epoch` (read before loading).
    pub fn insert(&self, key: K, epoch: u64, value: Arc<V>) {
        self.entries.insert(key, (epoch, value));
    }
}
