//! Shared caches of verified credentials' directory facts, stamped with the directory epoch
//! like every directory cache (see `cache`): an entry loaded before a directory change is
//! never served after it.

use super::bearer::BearerFacts;
use super::docusign::LegacyFacts;
use crate::cache::DirectoryCache;
use countersign_core::ids::{ApiKeyId, ApiUserId, UserId};
use moka::sync::Cache;
use std::sync::Arc;

/// A session identity: many tokens of one (API user, key, acting user) share one entry, so
/// memory follows the sessions' distinct identities, not the token count.
pub type BearerKey = (ApiUserId, ApiKeyId, UserId);

type Stamped<V> = (u64, Arc<V>);

/// Verified sessions' and legacy headers' facts.
#[derive(Debug)]
pub struct FactCaches {
    directory: Arc<DirectoryCache>,
    bearer: Cache<BearerKey, Stamped<BearerFacts>>,
    /// By a keyed digest of the header, never the header itself.
    legacy: Cache<[u8; 32], Stamped<LegacyFacts>>,
}

impl FactCaches {
    /// Caches of at most `capacity` entries each, stamped with `directory`'s epoch.
    pub fn new(directory: Arc<DirectoryCache>, capacity: u64) -> Self {
        Self {
            directory,
            bearer: Cache::new(capacity),
            legacy: Cache::new(capacity),
        }
    }

    fn fresh<K, V>(&self, cache: &Cache<K, Stamped<V>>, key: &K) -> Option<Arc<V>>
    where
        K: std::hash::Hash + Eq + Send + Sync + 'static,
        V: Send + Sync + 'static,
    {
        match cache.get(key) {
            Some((stamp, value)) if stamp == self.directory.epoch() => Some(value),
            _ => None,
        }
    }

    /// The facts of a session identity, if cached at the current epoch.
    pub fn bearer(&self, key: &BearerKey) -> Option<Arc<BearerFacts>> {
        self.fresh(&self.bearer, key)
    }

    /// Caches a session identity's facts loaded at `epoch`.
    pub fn insert_bearer(&self, key: BearerKey, epoch: u64, facts: Arc<BearerFacts>) {
        self.bearer.insert(key, (epoch, facts));
    }

    /// The facts of a legacy header (by its keyed digest), if cached at the current epoch.
    pub fn legacy(&self, digest: &[u8; 32]) -> Option<Arc<LegacyFacts>> {
        self.fresh(&self.legacy, digest)
    }

    /// Caches a legacy header's facts loaded at `epoch`.
    pub fn insert_legacy(&self, digest: [u8; 32], epoch: u64, facts: Arc<LegacyFacts>) {
        self.legacy.insert(digest, (epoch, facts));
    }
}
