//! The forward-auth fast path: per-worker-thread front caches of verified identities.
//!
//! A profile of `/v1/verify` under load showed the cost of verification to be dominated not by
//! the work itself (a token MAC, a lookup, a few comparisons) but by writes that every worker
//! thread makes to the same memory: the reference counts of shared cache entries and header
//! values, and the shared cache's own bookkeeping. With two worker threads the same
//! verification cost three times what it cost with one. So each worker thread keeps a small
//! front cache of the identities it has verified, holding its own copy of the rendered headers:
//! a repeated credential is then answered without writing to anything another thread uses.
//!
//! The front cache only ever answers what the shared path would answer, from the same facts:
//! entries come from the shared caches after a full verification, carry the directory epoch they
//! were loaded at, and the whole thread cache is dropped as soon as the epoch moves (any
//! directory change, on this node or, through the change feed, on another). What can lapse with
//! time alone (token expiry, API-user expiry, key grace, sunset) is checked on every request.
//! What the request may do is decided by the same `countersign_core::decide` function the full
//! path calls, on the cached facts and the request as `request` read it; anything else — a
//! miss, a refusal, a throttle in force — returns `None` and takes the full path, which also
//! audits and throttles.

use super::Verifier;
use super::bearer::{BearerFacts, BearerKey};
use super::docusign::{self, LegacyFacts};
use super::identity::{AuthMethod, LocalHeaders};
use super::oauth::{OAuthKey, OAuthTokenFacts, key_of};
use super::request::{Credential, VerifyRequest};
use crate::throttle::ThrottleKey;
use axum::body::Body;
use axum::http::HeaderMap;
use axum::response::Response;
use countersign_core::access::AccountRequest;
use countersign_core::decide;
use countersign_core::oauth::token::{AccessClaims, is_access_token};
use countersign_core::token::SessionClaims;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

struct Entry<F> {
    facts: Arc<F>,
    /// This thread's copy of the identity headers, made at the entry's first repeat use: a
    /// working set larger than the cache then costs a map insert per miss, not a copy.
    headers: Option<LocalHeaders>,
}

#[derive(Default)]
struct Local {
    /// The directory cache (server) the entries belong to.
    owner: u64,
    /// The directory epoch the entries were loaded at.
    epoch: u64,
    /// Verified token texts and their claims: a repeated token skips decoding and its MAC.
    tokens: HashMap<Box<str>, SessionClaims>,
    bearer: HashMap<BearerKey, Entry<BearerFacts>>,
    legacy: HashMap<[u8; 32], Entry<LegacyFacts>>,
    /// Verified OAuth access token texts and their claims.
    oauth_tokens: HashMap<Box<str>, AccessClaims>,
    oauth: HashMap<OAuthKey, Entry<OAuthTokenFacts>>,
}

impl Local {
    /// Drops everything not of `owner` at `epoch`.
    fn align(&mut self, owner: u64, epoch: u64) {
        if self.owner != owner || self.epoch != epoch {
            self.owner = owner;
            self.epoch = epoch;
            self.tokens.clear();
            self.bearer.clear();
            self.legacy.clear();
            self.oauth_tokens.clear();
            self.oauth.clear();
        }
    }
}

thread_local! {
    static LOCAL: RefCell<Local> = RefCell::new(Local::default());
}

fn with_local<R>(verifier: &Verifier, f: impl FnOnce(&mut Local) -> R) -> R {
    let (owner, epoch) = (verifier.cache.id(), verifier.cache.epoch());
    LOCAL.with(|local| {
        let mut local = local.borrow_mut();
        local.align(owner, epoch);
        f(&mut local)
    })
}

/// Keeps a fully verified session (its token text, claims and facts) in this thread's front
/// cache.
pub fn remember_bearer(
    verifier: &Verifier,
    token_text: &str,
    claims: &SessionClaims,
    facts: &Arc<BearerFacts>,
) {
    let capacity = verifier.config.thread_cache_capacity;
    let key = (claims.api_user_id, claims.key_id, claims.user_id);
    with_local(verifier, |local| {
        if facts.epoch != local.epoch || capacity == 0 {
            return;
        }
        if local.tokens.len() >= capacity {
            local.tokens.clear();
        }
        if !local.tokens.contains_key(token_text) {
            local.tokens.insert(token_text.into(), claims.clone());
        }
        if local.bearer.len() >= capacity {
            local.bearer.clear();
        }
        local.bearer.entry(key).or_insert_with(|| Entry {
            facts: facts.clone(),
            headers: None,
        });
    });
}

/// Keeps a fully verified OAuth access token (its text, claims and facts) in this thread's
/// front cache.
pub fn remember_oauth(
    verifier: &Verifier,
    token_text: &str,
    claims: &AccessClaims,
    facts: &Arc<OAuthTokenFacts>,
) {
    let capacity = verifier.config.thread_cache_capacity;
    with_local(verifier, |local| {
        if facts.epoch != local.epoch || capacity == 0 {
            return;
        }
        if local.oauth_tokens.len() >= capacity {
            local.oauth_tokens.clear();
        }
        if !local.oauth_tokens.contains_key(token_text) {
            local.oauth_tokens.insert(token_text.into(), claims.clone());
        }
        if local.oauth.len() >= capacity {
            local.oauth.clear();
        }
        local.oauth.entry(key_of(claims)).or_insert_with(|| Entry {
            facts: facts.clone(),
            headers: None,
        });
    });
}

/// Answers an OAuth access token the thread verified before, or `None`.
fn answer_oauth(
    verifier: &Verifier,
    request: &VerifyRequest<'_>,
    token_text: &str,
    now: time::OffsetDateTime,
) -> Option<(Response, AuthMethod)> {
    with_local(verifier, |local| {
        let claims = local.oauth_tokens.get(token_text)?;
        if claims.expires_at <= now.unix_timestamp() {
            return None;
        }
        let entry = local.oauth.get_mut(&key_of(claims))?;
        let facts = &entry.facts;
        if !facts.admits(claims) {
            return None;
        }
        let position = match &facts.facts.user {
            Some(user) => {
                let membership =
                    decide::oauth_user(&user.email, &facts.facts.memberships, &request.path)
                        .ok()?;
                Some(facts.identity.position(membership)?)
            }
            None => {
                decide::oauth_application(&request.path).ok()?;
                None
            }
        };
        let method = facts.identity.auth_method;
        let headers = entry
            .headers
            .get_or_insert_with(|| LocalHeaders::copy_of(&facts.identity));
        Some((allowed(headers.map(position)), method))
    })
}

/// Keeps a fully verified legacy header's facts (by its keyed digest) in this thread's front
/// cache.
pub fn remember_legacy(verifier: &Verifier, facts: &Arc<LegacyFacts>) {
    let capacity = verifier.config.thread_cache_capacity;
    with_local(verifier, |local| {
        if facts.epoch != local.epoch || capacity == 0 {
            return;
        }
        if local.legacy.len() >= capacity {
            local.legacy.clear();
        }
        local.legacy.entry(facts.digest).or_insert_with(|| Entry {
            facts: facts.clone(),
            headers: None,
        });
    });
}

/// An empty 200 with the given headers.
fn allowed(headers: HeaderMap) -> Response {
    let mut response = Response::new(Body::empty());
    *response.headers_mut() = headers;
    response
}

/// Answers `/v1/verify` from this thread's front cache, or `None` for the full path. The caller
/// records the verification in the metrics.
pub fn answer(verifier: &Verifier, request: &VerifyRequest<'_>) -> Option<(Response, AuthMethod)> {
    let now = verifier.now();
    // While some key is throttled somewhere, this request's own keys are checked (a request
    // whose keys are throttled takes the full path, which refuses it).
    let throttling = verifier.throttle.any_blocked(now);
    let mut ip_buffer = [0u8; 64];
    let source_ip = request.source_ip_text(&mut ip_buffer);
    let ip_key = || source_ip.map(|ip| ThrottleKey::SourceIp(ip.to_owned()));
    match request.credential {
        Credential::Bearer(token_text) if is_access_token(token_text) => {
            if throttling && verifier.throttle.is_blocked(&Vec::from_iter(ip_key()), now) {
                return None;
            }
            answer_oauth(verifier, request, token_text, now)
        }
        Credential::Bearer(token_text) => {
            let user_context = request.user_context.context().ok()?;
            if throttling && verifier.throttle.is_blocked(&Vec::from_iter(ip_key()), now) {
                return None;
            }
            let response = with_local(verifier, |local| {
                // Only tokens verified in full before are found here; their expiry is
                // re-checked.
                let claims = local.tokens.get(token_text)?;
                if claims.expires_at <= now.unix_timestamp() {
                    return None;
                }
                let key = (claims.api_user_id, claims.key_id, claims.user_id);
                let entry = local.bearer.get_mut(&key)?;
                let facts = &entry.facts;
                if !facts.admits(claims, now) {
                    return None;
                }
                let request = AccountRequest {
                    user_context,
                    path: &request.path,
                };
                let membership = decide::bearer(
                    &facts.api_user.api_user.scope,
                    &facts.user.email,
                    &facts.memberships,
                    &request,
                )
                .ok()?;
                let position = facts.identity.position(membership)?;
                facts.note_use(verifier, claims.key_id, source_ip, now);
                let headers = entry
                    .headers
                    .get_or_insert_with(|| LocalHeaders::copy_of(&facts.identity));
                Some(allowed(headers.map(Some(position))))
            })?;
            Some((response, AuthMethod::ApiUserToken))
        }
        Credential::DocuSign(raw) => {
            let digest = verifier.header_digester.digest(raw);
            with_local(verifier, |local| {
                let entry = local.legacy.get_mut(&digest)?;
                let facts = &entry.facts;
                if !facts.before_sunset(now) {
                    return None;
                }
                if throttling {
                    let mut keys = facts.throttle_keys().to_vec();
                    keys.extend(ip_key());
                    if verifier.throttle.is_blocked(&keys, now) {
                        return None;
                    }
                }
                let grant = decide::docusign(
                    &facts.user.email,
                    &facts.memberships,
                    &request.path,
                    facts.on_behalf_of(),
                )
                .ok()?;
                let (identity, membership) = docusign::acting(facts, &grant)?;
                let position = identity.position(membership)?;
                facts.count_success(verifier);
                docusign::granted(verifier, facts, &grant, source_ip, request.user_agent, now);
                let method = identity.auth_method;
                let headers = entry
                    .headers
                    .get_or_insert_with(|| LocalHeaders::copy_of(identity));
                let mut response = allowed(headers.map(Some(position)));
                facts.extras.apply(response.headers_mut());
                Some((response, method))
            })
        }
        Credential::Missing(_) | Credential::Unreadable(_) => None,
    }
}
