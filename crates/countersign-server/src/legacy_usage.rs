//! Legacy-header usage telemetry (SPEC §11): every successful legacy authentication is counted
//! in memory per (integrator key, authenticated user, on-behalf-of user) and flushed to the
//! store in batches — every few seconds, on demand before a migration plan, and on graceful
//! shutdown. The store merges batches additively, so several nodes count exactly.

use crate::striped::{Padded, STRIPES, stripe};
use countersign_core::ids::{AccountId, IntegratorKeyId, UserId};
use countersign_store::{RECENT_SOURCES, Store, StoreError, UsageDelta};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// `YYYY-MM-DD`, as days are stored.
const DAY: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// Longest user agent kept.
const MAX_USER_AGENT: usize = 256;

type Key = (IntegratorKeyId, UserId, Option<UserId>);

#[derive(Debug)]
struct Pending {
    requests: i64,
    first_seen_at: OffsetDateTime,
    last_seen_at: OffsetDateTime,
    accounts: HashMap<AccountId, i64>,
    source_ips: HashMap<String, OffsetDateTime>,
    user_agents: HashMap<String, OffsetDateTime>,
    days: HashMap<time::Date, i64>,
}

fn remember(recent: &mut HashMap<String, OffsetDateTime>, value: &str, now: OffsetDateTime) {
    // The common case (a value already seen) updates in place without allocating.
    if let Some(at) = recent.get_mut(value) {
        *at = (*at).max(now);
        return;
    }
    recent.insert(value.to_owned(), now);
    if recent.len() > RECENT_SOURCES
        && let Some(oldest) = recent
            .iter()
            .min_by_key(|(_, at)| **at)
            .map(|(v, _)| v.clone())
    {
        recent.remove(&oldest);
    }
}

/// One successful legacy authentication to count.
#[derive(Debug, Clone, Copy)]
pub struct LegacyUse<'a> {
    /// The integrator key.
    pub integrator_key_id: IntegratorKeyId,
    /// The authenticated user.
    pub user_id: UserId,
    /// The user acted for, if any.
    pub on_behalf_of: Option<UserId>,
    /// The effective account, if any.
    pub account_id: Option<AccountId>,
    /// The client address.
    pub source_ip: Option<&'a str>,
    /// The client's user agent.
    pub user_agent: Option<&'a str>,
}

type Stripe = Padded<Mutex<HashMap<Key, Pending>>>;

/// The in-memory counters and their flusher. Counters are kept per worker-thread stripe, so
/// threads counting at once do not wait on one lock; a flush adds the stripes up.
#[derive(Clone, Debug)]
pub struct LegacyUsage {
    pending: Arc<[Stripe]>,
    stop: Arc<Notify>,
}

impl Default for LegacyUsage {
    fn default() -> Self {
        Self {
            pending: (0..STRIPES).map(|_| Padded::default()).collect(),
            stop: Arc::default(),
        }
    }
}

impl Pending {
    /// Adds another stripe's counts for the same key.
    fn merge(&mut self, other: Pending) {
        self.requests += other.requests;
        self.first_seen_at = self.first_seen_at.min(other.first_seen_at);
        self.last_seen_at = self.last_seen_at.max(other.last_seen_at);
        for (account, n) in other.accounts {
            *self.accounts.entry(account).or_default() += n;
        }
        for (ip, at) in other.source_ips {
            remember(&mut self.source_ips, &ip, at);
        }
        for (agent, at) in other.user_agents {
            remember(&mut self.user_agents, &agent, at);
        }
        for (day, n) in other.days {
            *self.days.entry(day).or_default() += n;
        }
    }
}

fn to_delta((integrator_key_id, user_id, on_behalf_of_user_id): Key, p: Pending) -> UsageDelta {
    UsageDelta {
        integrator_key_id,
        user_id,
        on_behalf_of_user_id,
        requests: p.requests,
        first_seen_at: p.first_seen_at,
        last_seen_at: p.last_seen_at,
        accounts: p.accounts.into_iter().collect(),
        source_ips: p.source_ips.into_iter().collect(),
        user_agents: p.user_agents.into_iter().collect(),
        days: p
            .days
            .into_iter()
            .map(|(day, n)| (day.to_string(), n))
            .collect(),
    }
}

/// Adds a delta into pending counters.
fn absorb(pending: &mut HashMap<Key, Pending>, delta: UsageDelta) {
    let entry = pending
        .entry((
            delta.integrator_key_id,
            delta.user_id,
            delta.on_behalf_of_user_id,
        ))
        .or_insert_with(|| Pending {
            requests: 0,
            first_seen_at: delta.first_seen_at,
            last_seen_at: delta.last_seen_at,
            accounts: HashMap::new(),
            source_ips: HashMap::new(),
            user_agents: HashMap::new(),
            days: HashMap::new(),
        });
    entry.requests += delta.requests;
    entry.first_seen_at = entry.first_seen_at.min(delta.first_seen_at);
    entry.last_seen_at = entry.last_seen_at.max(delta.last_seen_at);
    for (account, n) in delta.accounts {
        *entry.accounts.entry(account).or_default() += n;
    }
    for (ip, at) in delta.source_ips {
        remember(&mut entry.source_ips, &ip, at);
    }
    for (agent, at) in delta.user_agents {
        remember(&mut entry.user_agents, &agent, at);
    }
    for (day, n) in delta.days {
        if let Ok(day) = time::Date::parse(&day, DAY) {
            *entry.days.entry(day).or_default() += n;
        }
    }
}

impl LegacyUsage {
    /// Counts one use at `now`.
    pub fn record(&self, used: LegacyUse<'_>, now: OffsetDateTime) {
        let mut pending = self.pending[stripe() % self.pending.len()]
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let entry = pending
            .entry((used.integrator_key_id, used.user_id, used.on_behalf_of))
            .or_insert_with(|| Pending {
                requests: 0,
                first_seen_at: now,
                last_seen_at: now,
                accounts: HashMap::new(),
                source_ips: HashMap::new(),
                user_agents: HashMap::new(),
                days: HashMap::new(),
            });
        entry.requests += 1;
        entry.first_seen_at = entry.first_seen_at.min(now);
        entry.last_seen_at = entry.last_seen_at.max(now);
        if let Some(account) = used.account_id {
            *entry.accounts.entry(account).or_default() += 1;
        }
        if let Some(ip) = used.source_ip {
            remember(&mut entry.source_ips, ip, now);
        }
        if let Some(agent) = used.user_agent {
            let clean = agent.len() <= MAX_USER_AGENT && !agent.chars().any(char::is_control);
            if clean {
                if !agent.is_empty() {
                    remember(&mut entry.user_agents, agent, now);
                }
            } else {
                let agent: String = agent
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(MAX_USER_AGENT)
                    .collect();
                if !agent.is_empty() {
                    remember(&mut entry.user_agents, &agent, now);
                }
            }
        }
        *entry.days.entry(now.date()).or_default() += 1;
    }

    fn take(&self) -> Vec<UsageDelta> {
        let mut combined = HashMap::new();
        for stripe in self.pending.iter() {
            let drained =
                std::mem::take(&mut *stripe.0.lock().unwrap_or_else(PoisonError::into_inner));
            for (key, pending) in drained {
                match combined.entry(key) {
                    std::collections::hash_map::Entry::Vacant(slot) => {
                        slot.insert(pending);
                    }
                    std::collections::hash_map::Entry::Occupied(mut slot) => {
                        slot.get_mut().merge(pending);
                    }
                }
            }
        }
        combined
            .into_iter()
            .map(|(key, pending)| to_delta(key, pending))
            .collect()
    }

    fn put_back(&self, deltas: Vec<UsageDelta>) {
        let mut pending = self.pending[0]
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for delta in deltas {
            absorb(&mut pending, delta);
        }
    }

    /// Writes everything counted so far; on failure keeps it for the next flush.
    ///
    /// # Errors
    /// Returns the store's error.
    pub async fn flush(&self, store: &Store) -> Result<(), StoreError> {
        let deltas = self.take();
        if deltas.is_empty() {
            return Ok(());
        }
        match store.merge_legacy_usage(&deltas).await {
            Ok(()) => Ok(()),
            Err(error) => {
                self.put_back(deltas);
                Err(error)
            }
        }
    }

    /// Starts the periodic flusher.
    pub fn start(&self, store: Store, every: Duration) -> JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                let stopping = tokio::select! {
                    () = tokio::time::sleep(every) => false,
                    () = this.stop.notified() => true,
                };
                if let Err(error) = this.flush(&store).await {
                    tracing::warn!(%error, "legacy usage flush failed; will retry");
                }
                if stopping {
                    break;
                }
            }
        })
    }

    /// Asks the flusher to write what is pending and stop.
    pub fn stop(&self) {
        self.stop.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;
    use uuid::Uuid;

    #[test]
    fn counts_from_several_threads_merge_into_one_delta_per_key() {
        let usage = LegacyUsage::default();
        let key = IntegratorKeyId(Uuid::from_u128(1));
        let user = UserId(Uuid::from_u128(2));
        let account = AccountId(Uuid::from_u128(3));
        let early = datetime!(2026-11-25 23:59 UTC);
        let late = datetime!(2026-11-26 00:01 UTC);
        std::thread::scope(|scope| {
            for (at, agent) in [(early, "a"), (late, "b"), (early, "a")] {
                let usage = &usage;
                scope.spawn(move || {
                    for _ in 0..10 {
                        usage.record(
                            LegacyUse {
                                integrator_key_id: key,
                                user_id: user,
                                on_behalf_of: None,
                                account_id: Some(account),
                                source_ip: Some("192.0.2.1"),
                                user_agent: Some(agent),
                            },
                            at,
                        );
                    }
                });
            }
        });
        let deltas = usage.take();
        assert_eq!(deltas.len(), 1);
        let delta = &deltas[0];
        assert_eq!(delta.requests, 30);
        assert_eq!((delta.first_seen_at, delta.last_seen_at), (early, late));
        assert_eq!(delta.accounts, vec![(account, 30)]);
        assert_eq!(delta.source_ips, vec![("192.0.2.1".to_owned(), late)]);
        let mut days = delta.days.clone();
        days.sort();
        assert_eq!(
            days,
            vec![("2026-11-25".to_owned(), 20), ("2026-11-26".to_owned(), 10)]
        );
        assert!(usage.take().is_empty(), "taken counts are gone");
    }
}
