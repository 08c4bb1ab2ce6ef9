//! The directory facts behind an OAuth access token (SPEC §12, §3): its integrator key, the
//! user it acts for with their memberships, the consents that stand for them, the cut-off of a
//! withdrawn consent, and its token family — loaded through the epoch-stamped caches and checked
//! with `countersign_core::oauth`. The server and `countersign-verify` both load them here.

use crate::cache::DirectoryCache;
use countersign_core::directory::{IntegratorKey, Membership, User};
use countersign_core::oauth::token::AccessClaims;
use countersign_core::oauth::{self, GrantView, Scopes};
use countersign_store::{Store, StoreError};
use std::sync::Arc;

/// What the directory says about an access token's identity, at the time it was loaded.
#[derive(Debug)]
pub struct OAuthFacts {
    /// The integrator key the token was issued to.
    pub integrator_key: Arc<IntegratorKey>,
    /// The user it acts for; `None` for an application token.
    pub user: Option<Arc<User>>,
    /// The user's memberships (empty for an application token).
    pub memberships: Arc<Vec<Membership>>,
    /// The scopes consented to for the user now.
    pub consented: Scopes,
    /// Tokens issued at or before this Unix second are refused.
    pub not_before: Option<i64>,
}

impl OAuthFacts {
    /// The facts as `countersign_core::oauth::still_valid` reads them.
    pub fn view(&self) -> GrantView<'_> {
        GrantView {
            integrator_key: &self.integrator_key,
            user: self.user.as_deref(),
            consented: self.consented,
            not_before: self.not_before,
        }
    }

    /// Whether a token with (verified) `claims` stands on these facts.
    pub fn admits(&self, claims: &AccessClaims) -> bool {
        oauth::still_valid(&self.view(), claims)
    }
}

/// Loads the facts of an access token with (verified) `claims`; `None` when the directory no
/// longer grants it (key gone or revoked, user gone, disabled or of another organization, token
/// family ended). What is checked against each token (consented scopes, the cut-off) is left
/// to [`OAuthFacts::admits`].
///
/// # Errors
/// The store's error on a cache miss that fails.
pub async fn load(
    cache: &DirectoryCache,
    store: &Store,
    claims: &AccessClaims,
) -> Result<Option<OAuthFacts>, StoreError> {
    let Some(integrator_key) = cache
        .integrator_key_by_id(store, claims.integrator_key_id)
        .await?
    else {
        return Ok(None);
    };
    let user = match claims.user_id {
        Some(id) => match cache.user_by_id(store, id).await? {
            Some(user) => Some(user),
            None => return Ok(None),
        },
        None => None,
    };
    if !oauth::directory_admits(&integrator_key, user.as_deref()) {
        return Ok(None);
    }
    if let Some(family) = claims.family_id {
        let stands = cache.oauth_family(store, family).await?.is_some_and(|f| {
            f.revoked_at.is_none()
                && f.integrator_key_id == integrator_key.id
                && Some(f.user_id) == claims.user_id
        });
        if !stands {
            return Ok(None);
        }
    }
    let Some(user) = user else {
        return Ok(Some(OAuthFacts {
            integrator_key,
            user: None,
            memberships: Arc::new(Vec::new()),
            consented: Scopes::none(),
            not_before: None,
        }));
    };
    let memberships = cache.memberships(store, user.id).await?;
    let state = cache.grant_state(store, integrator_key.id, user.id).await?;
    Ok(Some(OAuthFacts {
        consented: oauth::consented_scopes(
            state.user_consent,
            state.admin_consent.as_ref(),
            user.id,
        ),
        not_before: state.not_before.map(|at| at.unix_timestamp()),
        integrator_key,
        user: Some(user),
        memberships,
    }))
}
