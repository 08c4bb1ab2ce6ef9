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
//! Anything else — a miss, a refusal, a throttle in force, Send-On-Behalf-Of — returns `None`
//! and takes the full path, which also audits and throttles.

use crate::auth::{AuthMethod, BearerFacts};
use crate::identity::LocalHeaders;
use crate::legacy::{self, LegacyFacts};
use crate::routes::original_uri_text;
use crate::state::AppState;
use crate::throttle::ThrottleKey;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, header};
use axum::response::Response;
use countersign_core::access::{self, AccountRequest, MAX_USER_CONTEXT_LEN};
use countersign_core::api_user::Scope;
use countersign_core::ids::{ApiKeyId, ApiUserId, UserId};
use countersign_core::legacy::MAX_HEADER_LEN;
use countersign_core::token::SessionClaims;
use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

type BearerKey = (ApiUserId, ApiKeyId, UserId);

const USER_CONTEXT: HeaderName = HeaderName::from_static("x-as-usercontext");

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
        }
    }
}

thread_local! {
    static LOCAL: RefCell<Local> = RefCell::new(Local::default());
}

fn with_local<R>(state: &AppState, f: impl FnOnce(&mut Local) -> R) -> R {
    let (owner, epoch) = (state.cache.id(), state.cache.epoch());
    LOCAL.with(|local| {
        let mut local = local.borrow_mut();
        local.align(owner, epoch);
        f(&mut local)
    })
}

/// Keeps a fully verified session (its token text, claims and identity) in this thread's front
/// cache.
pub fn remember_bearer(
    state: &AppState,
    token_text: &str,
    claims: &SessionClaims,
    facts: &Arc<BearerFacts>,
) {
    let capacity = state.config.thread_cache_capacity;
    let key = (claims.api_user_id, claims.key_id, claims.user_id);
    with_local(state, |local| {
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

/// Keeps a fully verified legacy header (by its keyed digest) in this thread's front cache.
pub fn remember_legacy(state: &AppState, digest: [u8; 32], facts: &Arc<LegacyFacts>) {
    let capacity = state.config.thread_cache_capacity;
    with_local(state, |local| {
        if facts.epoch != local.epoch || capacity == 0 {
            return;
        }
        if local.legacy.len() >= capacity {
            local.legacy.clear();
        }
        local.legacy.entry(digest).or_insert_with(|| Entry {
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
pub fn verify(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> Option<(Response, AuthMethod)> {
    let now = state.now();
    // While some key is throttled somewhere, this request's own keys are checked (a request
    // whose keys are throttled takes the full path, which refuses it).
    let throttling = state.throttle.any_blocked(now);
    let mut ip_buffer = [0u8; 64];
    let path_account = original_uri_text(headers).and_then(access::account_in_path);
    if let Some(authorization) = headers.get(header::AUTHORIZATION) {
        let token_text = access::bearer_token(authorization.to_str().ok()?)?;
        let user_context = match headers.get(&USER_CONTEXT).map(|v| v.to_str()) {
            Some(Ok(raw)) if raw.len() <= MAX_USER_CONTEXT_LEN => {
                Some(access::parse_user_context(raw))
            }
            None => None,
            _ => return None,
        };
        if throttling {
            let source_ip = client_ip_text(state, headers, peer, &mut ip_buffer);
            let keys: Vec<ThrottleKey> = source_ip
                .map(|ip| ThrottleKey::SourceIp(ip.to_owned()))
                .into_iter()
                .collect();
            if state.throttle.is_blocked(&keys, now) {
                return None;
            }
        }
        let response = with_local(state, |local| {
            // Only tokens verified in full before are found here; their expiry is re-checked.
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
                user_context: user_context.as_ref(),
                path_account: path_account.as_ref(),
            };
            let membership = access::effective_account(
                &facts.api_user.api_user.scope,
                &facts.user.email,
                &facts.memberships,
                &request,
            )
            .ok()?;
            let position = facts.identity.position(membership)?;
            facts.note_use(state, now);
            let headers = entry
                .headers
                .get_or_insert_with(|| LocalHeaders::copy_of(&facts.identity));
            Some(allowed(headers.map(position)))
        })?;
        return Some((response, AuthMethod::ApiUserToken));
    }
    let raw = headers.get(legacy::HEADER)?.as_bytes();
    if raw.len() > MAX_HEADER_LEN {
        return None;
    }
    let digest = state.header_digester.digest(raw);
    let source_ip = client_ip_text(state, headers, peer, &mut ip_buffer);
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| std::str::from_utf8(v.as_bytes()).ok());
    let response = with_local(state, |local| {
        let entry = local.legacy.get_mut(&digest)?;
        let facts = &entry.facts;
        if facts.send_on_behalf_of.is_some() || !facts.before_sunset(now) {
            return None;
        }
        if throttling {
            let mut keys = facts.throttle_keys().to_vec();
            keys.extend(source_ip.map(|ip| ThrottleKey::SourceIp(ip.to_owned())));
            if state.throttle.is_blocked(&keys, now) {
                return None;
            }
        }
        let request = AccountRequest {
            user_context: None,
            path_account: path_account.as_ref(),
        };
        let membership = access::effective_account(
            &Scope::Organization,
            &facts.user.email,
            &facts.memberships,
            &request,
        )
        .ok()?;
        let position = facts.identity.position(membership)?;
        facts.count_success(state);
        legacy::record_use_from(
            state,
            facts,
            None,
            Some(membership.account_id),
            source_ip,
            user_agent,
        );
        let headers = entry
            .headers
            .get_or_insert_with(|| LocalHeaders::copy_of(&facts.identity));
        let mut response = allowed(headers.map(position));
        facts.extras.apply(response.headers_mut());
        Some(response)
    })?;
    Some((response, AuthMethod::LegacyHeader))
}

/// The client address as [`crate::routes::client_ip`] gives it, formatted into `buffer`.
fn client_ip_text<'a>(
    state: &AppState,
    headers: &'a HeaderMap,
    peer: Option<SocketAddr>,
    buffer: &'a mut [u8; 64],
) -> Option<&'a str> {
    use std::io::Write;
    if state.config.trust_forwarded_for
        && let Some(forwarded) = crate::routes::forwarded_ip(headers)
    {
        return Some(forwarded);
    }
    let ip = peer?.ip();
    let mut cursor = std::io::Cursor::new(&mut buffer[..]);
    write!(cursor, "{ip}").ok()?;
    let length = usize::try_from(cursor.position()).ok()?;
    std::str::from_utf8(&buffer[..length]).ok()
}
