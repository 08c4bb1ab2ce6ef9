//! Bearer session tokens (SPEC §3–4): the token's signature and expiry, then the directory
//! facts behind it — API user with keys, acting user, memberships — loaded through the
//! directory caches, checked with `countersign_core::session`, and cached as a whole by session
//! identity while the directory epoch is unchanged.

use super::Verifier;
use super::identity::{AuthMethod, Identity};
use crate::dialect::assuresign::AssureSignError;
use countersign_core::api_user::Scope;
use countersign_core::directory::{Membership, User};
use countersign_core::ids::{ApiKeyId, ApiUserId, UserId};
use countersign_core::session::{self, SessionEnd};
use countersign_core::token::{self, SessionClaims};
use countersign_directory::session::SessionFacts;
use countersign_store::ApiUserWithKeys;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use time::OffsetDateTime;

/// A session identity: the API user, the key it was issued under, and the acting user.
pub type BearerKey = (ApiUserId, ApiKeyId, UserId);

/// The directory facts behind a session identity (API user, key, acting user), loaded through
/// the directory caches and kept while the directory epoch is unchanged. What can lapse with
/// time alone (the API user's and key's expiry) is re-checked on every request.
#[derive(Debug)]
pub struct BearerFacts {
    /// The API user with its keys.
    pub api_user: Arc<ApiUserWithKeys>,
    /// The acting user.
    pub user: Arc<User>,
    /// The acting user's memberships.
    pub memberships: Arc<Vec<Membership>>,
    /// The sessions the acting user has ended (SPEC §14).
    pub ends: Arc<Vec<SessionEnd>>,
    /// The acting user's identity, headers rendered.
    pub identity: Arc<Identity>,
    /// The directory epoch read before the facts were loaded.
    pub epoch: u64,
    /// When this identity last noted a use of its API user (Unix seconds).
    last_used: AtomicI64,
}

impl BearerFacts {
    /// Whether a session with `claims` (already verified) is granted at `now`: the API user is
    /// neither revoked nor expired, the session's key is still valid (rotation grace), and the
    /// user has not ended the session since it was issued.
    pub fn admits(&self, claims: &SessionClaims, now: OffsetDateTime) -> bool {
        session::still_valid(
            &self.api_user.api_user,
            &self.api_user.keys,
            &self.ends,
            claims,
            now,
        )
    }

    /// Notes a use of the API user and of the session's key for `last_used_*`, at most once
    /// a minute per identity before the (per key) tracker is even asked; a use under a
    /// retiring key is written at once (off the request path), since it keeps the key from
    /// retiring for silence.
    pub fn note_use(
        &self,
        verifier: &Verifier,
        key: ApiKeyId,
        ip: Option<&str>,
        now: OffsetDateTime,
    ) {
        let seconds = now.unix_timestamp();
        let last = self.last_used.load(Ordering::Relaxed);
        if seconds - last >= 60
            && self
                .last_used
                .compare_exchange(last, seconds, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            verifier
                .last_used
                .record(self.api_user.api_user.id, key, ip, now);
        }
        if let Some(record) = self.retiring_key(key)
            && verifier.last_used.is_due_at_once(record, now)
        {
            let store = verifier.store.clone();
            let ip = ip.map(str::to_owned);
            tokio::spawn(async move {
                crate::last_used::LastUsed::write_now(&store, key, ip, now).await;
            });
        }
    }

    /// The session's key when it is retiring (rotated out, still accepted).
    fn retiring_key(&self, key: ApiKeyId) -> Option<&countersign_core::api_user::ApiKeyRecord> {
        self.api_user
            .keys
            .iter()
            .find(|k| k.id == key && k.valid_until.is_some())
    }
}

/// A valid session: its signed claims and the directory facts behind them.
#[derive(Debug)]
pub struct Session {
    /// The signed claims.
    pub claims: SessionClaims,
    /// The facts, current at the time of the request.
    pub facts: Arc<BearerFacts>,
}

impl Session {
    /// The API user's username.
    pub fn api_username(&self) -> &str {
        &self.facts.api_user.api_user.username
    }

    /// The API user's scope.
    pub fn scope(&self) -> &Scope {
        &self.facts.api_user.api_user.scope
    }

    /// The acting user.
    pub fn user(&self) -> &User {
        &self.facts.user
    }

    /// The acting user's memberships.
    pub fn memberships(&self) -> &[Membership] {
        &self.facts.memberships
    }
}

/// Loads (through the directory caches) and checks the directory facts of a session identity;
/// `None` when the directory no longer grants it.
async fn load_bearer_facts(
    verifier: &Verifier,
    claims: &SessionClaims,
    epoch: u64,
) -> Result<Option<BearerFacts>, AssureSignError> {
    let loaded =
        countersign_directory::session::load(&verifier.cache, &verifier.store, claims).await?;
    let Some(SessionFacts {
        api_user,
        user,
        memberships,
        ends,
    }) = loaded
    else {
        return Ok(None);
    };
    let record = &api_user.api_user;
    let identity = Arc::new(Identity::new(
        &user,
        memberships.clone(),
        record.username.clone(),
        AuthMethod::ApiUserToken,
    ));
    Ok(Some(BearerFacts {
        api_user,
        user,
        memberships,
        ends,
        identity,
        epoch,
        last_used: AtomicI64::new(i64::MIN / 2),
    }))
}

/// Verifies a bearer token and re-checks everything SPEC §3 requires at the time of the request.
///
/// # Errors
/// `InvalidToken` (401) for a bad, expired, revoked, deleted or rotated-out token, a disabled
/// user or one now outside the scope; `Internal` on store failure.
pub async fn verify_token(
    verifier: &Verifier,
    token_text: &str,
    ip: Option<&str>,
) -> Result<Session, AssureSignError> {
    let now = verifier.now();
    let claims = token::verify(token_text, now.unix_timestamp(), |kid| {
        verifier.secrets.signing.get(&kid).map(Vec::as_slice)
    })
    .map_err(|_| AssureSignError::InvalidToken)?;
    let key: BearerKey = (claims.api_user_id, claims.key_id, claims.user_id);
    let facts = match verifier.bearer_facts.get(&key) {
        Some(facts) => facts,
        None => {
            // The epoch is read before loading: a change committed meanwhile leaves the entry
            // stale rather than serving it.
            let epoch = verifier.cache.epoch();
            let facts = Arc::new(
                load_bearer_facts(verifier, &claims, epoch)
                    .await?
                    .ok_or(AssureSignError::InvalidToken)?,
            );
            verifier.bearer_facts.insert(key, epoch, facts.clone());
            facts
        }
    };
    if !facts.admits(&claims, now) {
        return Err(AssureSignError::InvalidToken);
    }
    facts.note_use(verifier, claims.key_id, ip, now);
    Ok(Session { claims, facts })
}
