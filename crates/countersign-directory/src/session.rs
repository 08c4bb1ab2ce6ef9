//! The directory facts behind a session token (SPEC §3): its API user with keys, the acting
//! user and their memberships, loaded through the epoch-stamped caches and checked with
//! `countersign_core::session`. The server and `countersign-verify` both load sessions here.

use crate::cache::DirectoryCache;
use countersign_core::directory::{Membership, User};
use countersign_core::session::{self, SessionEnd};
use countersign_core::token::SessionClaims;
use countersign_store::{ApiUserWithKeys, Store, StoreError};
use std::sync::Arc;

/// What the directory says about a session's identity, at the time it was loaded.
#[derive(Debug)]
pub struct SessionFacts {
    /// The API user with its keys.
    pub api_user: Arc<ApiUserWithKeys>,
    /// The acting user.
    pub user: Arc<User>,
    /// The acting user's memberships.
    pub memberships: Arc<Vec<Membership>>,
    /// The sessions the acting user has ended (SPEC §14).
    pub ends: Arc<Vec<SessionEnd>>,
}

/// Loads the facts of a session with (verified) `claims`; `None` when the directory no longer
/// grants it (API user or user gone, user disabled, of another organization or out of scope).
/// What time alone ends (expiry, key grace) and the user's session ends, which depend on the
/// token's issue time, are checked per request with `countersign_core::session::still_valid`.
///
/// # Errors
/// The store's error on a cache miss that fails.
pub async fn load(
    cache: &DirectoryCache,
    store: &Store,
    claims: &SessionClaims,
) -> Result<Option<SessionFacts>, StoreError> {
    let Some(api_user) = cache.api_user_by_id(store, claims.api_user_id).await? else {
        return Ok(None);
    };
    let Some(user) = cache.user_by_id(store, claims.user_id).await? else {
        return Ok(None);
    };
    let memberships = cache.memberships(store, user.id).await?;
    if !session::directory_admits(&api_user.api_user, &user, &memberships) {
        return Ok(None);
    }
    let ends = cache.session_ends(store, user.id).await?;
    Ok(Some(SessionFacts {
        api_user,
        user,
        memberships,
        ends,
    }))
}
