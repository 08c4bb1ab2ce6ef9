//! Throttling of repeated authentication failures (SPEC §9), in memory per node.
//!
//! A *name* (API username, user, integrator key) is throttled after a number of consecutive
//! failures; a success resets it. A *source IP* is throttled after a number of failures within a
//! minute. A throttled key refuses attempts without verifying them (so they neither cost argon2
//! work nor extend the block) until its back-off ends; the back-off starts at 1 s and doubles
//! with every further failure up to 5 minutes, so a stranger hammering a known name cannot lock
//! its owner out for longer than that window at a time.
//!
//! Memory is bounded by entries of fixed size (SPEC §9): an entry is keyed by the kind and the
//! first 16 bytes of HMAC-SHA256 under a random key drawn when the throttle is made, of the
//! name, never the name itself. A 1 KiB username costs what a 3-byte one does, a heap dump holds
//! no name, and without the key nobody can aim two names at one counter (2^-128 by chance).

use hmac::{Hmac, Mac};
use moka::sync::Cache;
use serde::Deserialize;
use sha2::Sha256;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use time::{Duration, OffsetDateTime};

/// Thresholds and back-off of the throttle.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThrottleConfig {
    /// Consecutive failures after which an API username or user is throttled.
    pub name_failures: u32,
    /// Consecutive failures after which an integrator key is throttled (it is shared by every
    /// user of an integration, so its threshold is higher).
    pub integrator_key_failures: u32,
    /// Failures within a minute after which a source IP is throttled.
    pub ip_failures_per_minute: u32,
    /// First back-off, in seconds.
    pub initial_backoff_seconds: i64,
    /// Longest back-off, in seconds.
    pub max_backoff_seconds: i64,
    /// Tracked keys at most (least recently used are forgotten first).
    pub capacity: u64,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            name_failures: 10,
            integrator_key_failures: 100,
            ip_failures_per_minute: 100,
            initial_backoff_seconds: 1,
            max_backoff_seconds: 300,
            capacity: 1_000_000,
        }
    }
}

/// What is counted: the name of a request's attempt. It lives only as long as the request; the
/// throttle remembers a keyed hash of it (see [`Throttle`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ThrottleKey {
    /// An API username (lower-cased).
    ApiUsername(String),
    /// A user, by the name it was addressed with (lower-cased).
    User(String),
    /// An integrator key.
    IntegratorKey(String),
    /// A source IP.
    SourceIp(String),
}

/// The fixed-size key an entry is stored under: the kind, then 16 bytes of the keyed hash.
type Slot = [u8; 17];

impl ThrottleKey {
    /// The metric label of the key's kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ApiUsername(_) => "api_username",
            Self::User(_) => "user",
            Self::IntegratorKey(_) => "integrator_key",
            Self::SourceIp(_) => "source_ip",
        }
    }

    /// An API-username key.
    pub fn api_username(name: &str) -> Self {
        Self::ApiUsername(name.trim().to_lowercase())
    }

    /// A user key.
    pub fn user(name: &str) -> Self {
        Self::User(name.trim().to_lowercase())
    }

    fn name(&self) -> &str {
        match self {
            Self::ApiUsername(name)
            | Self::User(name)
            | Self::IntegratorKey(name)
            | Self::SourceIp(name) => name,
        }
    }
}

#[derive(Debug, Default)]
struct Entry {
    /// Consecutive failures (names) or failures in the current window (IPs).
    failures: u32,
    /// Start of the IP window.
    window_start: Option<OffsetDateTime>,
    /// Failures beyond the threshold, for the doubling back-off.
    strikes: u32,
    blocked_until: Option<OffsetDateTime>,
}

/// The throttle of one node.
pub struct Throttle {
    config: ThrottleConfig,
    /// HMAC-SHA256 keyed with 32 random bytes, cloned for every name it hashes.
    hasher: Hmac<Sha256>,
    entries: Cache<Slot, Arc<Mutex<Entry>>>,
    throttled: [AtomicU64; 4],
    /// The latest `blocked_until` ever set (Unix nanoseconds): while `now` is past it no key is
    /// throttled, and `check` answers without a lookup.
    latest_block: AtomicI64,
    /// Failures recorded against name keys since start; a success whose keys saw no failure
    /// since its last reset need not reset them again.
    name_failures: AtomicU64,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("config", &self.config)
            .field("entries", &self.entries.entry_count())
            .finish_non_exhaustive()
    }
}

fn kind_index(key: &ThrottleKey) -> usize {
    match key {
        ThrottleKey::ApiUsername(_) => 0,
        ThrottleKey::User(_) => 1,
        ThrottleKey::IntegratorKey(_) => 2,
        ThrottleKey::SourceIp(_) => 3,
    }
}

impl Throttle {
    /// Creates a throttle with a fresh random hash key; entries idle for ten minutes are
    /// forgotten.
    pub fn new(config: ThrottleConfig) -> Self {
        Self::with_hash_key(config, &crate::state::random_bytes::<32>())
    }

    fn with_hash_key(config: ThrottleConfig, hash_key: &[u8; 32]) -> Self {
        let entries = Cache::builder()
            .max_capacity(config.capacity)
            .time_to_idle(std::time::Duration::from_secs(600))
            .build();
        Self {
            config,
            // HMAC accepts keys of any length; 32 bytes cannot fail.
            hasher: <Hmac<Sha256> as Mac>::new_from_slice(hash_key)
                .unwrap_or_else(|_| unreachable!("HMAC takes any key length")),
            entries,
            throttled: Default::default(),
            latest_block: AtomicI64::new(i64::MIN),
            name_failures: AtomicU64::new(0),
        }
    }

    /// The slot of a key: its kind and 16 bytes of HMAC-SHA256(hash key, name).
    fn slot(&self, key: &ThrottleKey) -> Slot {
        let mut mac = self.hasher.clone();
        mac.update(key.name().as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut slot = [0u8; 17];
        slot[0] = kind_index(key) as u8;
        slot[1..].copy_from_slice(&digest[..16]);
        slot
    }

    /// Entries held (for tests and the failure-memory benchmark).
    pub fn entry_count(&self) -> u64 {
        self.entries.run_pending_tasks();
        self.entries.entry_count()
    }

    /// Refusals by kind since start: api_username, user, integrator_key, source_ip.
    pub fn throttled_counts(&self) -> [(&'static str, u64); 4] {
        let names = ["api_username", "user", "integrator_key", "source_ip"];
        std::array::from_fn(|i| (names[i], self.throttled[i].load(Ordering::Relaxed)))
    }

    /// Whether any key is throttled at `now`; returns the whole seconds to wait (at least 1).
    pub fn check(&self, keys: &[ThrottleKey], now: OffsetDateTime) -> Option<u64> {
        if !self.any_blocked(now) {
            return None;
        }
        let mut wait: Option<u64> = None;
        for key in keys {
            let Some(entry) = self.entries.get(&self.slot(key)) else {
                continue;
            };
            let entry = entry.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(until) = entry.blocked_until
                && until > now
            {
                let seconds = (until - now).as_seconds_f64().ceil().max(1.0) as u64;
                wait = Some(wait.map_or(seconds, |w| w.max(seconds)));
                self.throttled[kind_index(key)].fetch_add(1, Ordering::Relaxed);
            }
        }
        wait
    }

    /// Whether any of `keys` is throttled at `now`, without counting a refusal (the caller
    /// hands the request to a path that refuses and counts it).
    pub fn is_blocked(&self, keys: &[ThrottleKey], now: OffsetDateTime) -> bool {
        self.any_blocked(now)
            && keys.iter().any(|key| {
                self.entries.get(&self.slot(key)).is_some_and(|entry| {
                    entry
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .blocked_until
                        .is_some_and(|until| until > now)
                })
            })
    }

    /// Whether any key may be throttled at `now` (one atomic load; `false` is exact).
    pub fn any_blocked(&self, now: OffsetDateTime) -> bool {
        self.latest_block.load(Ordering::Acquire) > unix_nanos(now)
    }

    /// Failures recorded against name keys since start (see [`Throttle::reset_names_since`]).
    pub fn name_failure_count(&self) -> u64 {
        self.name_failures.load(Ordering::Acquire)
    }

    /// [`Throttle::record_success`], skipped when no name failure was recorded since `seen`
    /// (the count this caller read before its previous reset); updates `seen`.
    pub fn reset_names_since(&self, keys: &[ThrottleKey], seen: &AtomicU64) {
        let current = self.name_failure_count();
        if seen.load(Ordering::Acquire) != current {
            self.record_success(keys);
            seen.store(current, Ordering::Release);
        }
    }

    fn threshold(&self, key: &ThrottleKey) -> u32 {
        match key {
            ThrottleKey::ApiUsername(_) | ThrottleKey::User(_) => self.config.name_failures,
            ThrottleKey::IntegratorKey(_) => self.config.integrator_key_failures,
            ThrottleKey::SourceIp(_) => self.config.ip_failures_per_minute,
        }
        .max(1)
    }

    fn backoff(&self, strikes: u32) -> Duration {
        let initial = self.config.initial_backoff_seconds.max(1);
        let seconds = initial
            .saturating_mul(1i64 << strikes.min(30))
            .min(self.config.max_backoff_seconds.max(initial));
        Duration::seconds(seconds)
    }

    /// Counts a failed attempt against every key.
    pub fn record_failure(&self, keys: &[ThrottleKey], now: OffsetDateTime) {
        for key in keys {
            let entry = self.entries.get_with(self.slot(key), Default::default);
            let mut entry = entry.lock().unwrap_or_else(PoisonError::into_inner);
            if let ThrottleKey::SourceIp(_) = key {
                let fresh = entry
                    .window_start
                    .is_none_or(|start| now - start >= Duration::minutes(1));
                if fresh && entry.blocked_until.is_none_or(|until| until <= now) {
                    entry.window_start = Some(now);
                    entry.failures = 0;
                    if entry
                        .blocked_until
                        .is_some_and(|until| now - until > Duration::minutes(1))
                    {
                        entry.strikes = 0;
                    }
                }
            }
            if !matches!(key, ThrottleKey::SourceIp(_)) {
                self.name_failures.fetch_add(1, Ordering::AcqRel);
            }
            entry.failures = entry.failures.saturating_add(1);
            if entry.failures >= self.threshold(key) {
                let until = now + self.backoff(entry.strikes);
                entry.blocked_until = Some(until);
                entry.strikes = entry.strikes.saturating_add(1);
                self.latest_block
                    .fetch_max(unix_nanos(until), Ordering::AcqRel);
            }
        }
    }

    /// Resets the name keys after a success (a source IP keeps its window).
    pub fn record_success(&self, keys: &[ThrottleKey]) {
        for key in keys {
            // A lookup first: invalidating is a write, and the common case has nothing to reset.
            if matches!(key, ThrottleKey::SourceIp(_)) {
                continue;
            }
            let slot = self.slot(key);
            if self.entries.contains_key(&slot) {
                self.entries.invalidate(&slot);
            }
        }
    }
}

fn unix_nanos(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn throttle() -> Throttle {
        Throttle::new(ThrottleConfig::default())
    }

    #[test]
    fn name_is_throttled_after_ten_consecutive_failures() {
        let t = throttle();
        let now = datetime!(2026-01-01 0:00 UTC);
        let key = [ThrottleKey::api_username("Bot")];
        for _ in 0..9 {
            t.record_failure(&key, now);
        }
        assert_eq!(t.check(&key, now), None);
        t.record_failure(&key, now);
        assert_eq!(t.check(&key, now), Some(1));
        assert_eq!(
            t.check(&[ThrottleKey::api_username("BOT")], now),
            Some(1),
            "names match in any case"
        );
        assert_eq!(
            t.check(&key, now + Duration::seconds(1)),
            None,
            "the first back-off is one second"
        );
    }

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        let t = throttle();
        let mut now = datetime!(2026-01-01 0:00 UTC);
        let key = [ThrottleKey::user("bob@example.com")];
        for _ in 0..10 {
            t.record_failure(&key, now);
        }
        let mut waits = Vec::new();
        for _ in 0..12 {
            let wait = t.check(&key, now).unwrap_or(0);
            waits.push(wait);
            now += Duration::seconds(wait as i64);
            t.record_failure(&key, now);
        }
        assert_eq!(&waits[..5], &[1, 2, 4, 8, 16]);
        assert_eq!(*waits.iter().max().unwrap_or(&0), 300);
    }

    #[test]
    fn success_resets_a_name() {
        let t = throttle();
        let now = datetime!(2026-01-01 0:00 UTC);
        let key = [ThrottleKey::api_username("bot")];
        for _ in 0..9 {
            t.record_failure(&key, now);
        }
        t.record_success(&key);
        t.record_failure(&key, now);
        assert_eq!(t.check(&key, now), None);
    }

    #[test]
    fn source_ip_counts_failures_per_minute() {
        let t = throttle();
        let now = datetime!(2026-01-01 0:00 UTC);
        let key = [ThrottleKey::SourceIp("192.0.2.1".into())];
        for i in 0..99 {
            t.record_failure(&key, now + Duration::milliseconds(i));
        }
        assert_eq!(t.check(&key, now), None);
        t.record_failure(&key, now + Duration::seconds(61));
        assert_eq!(
            t.check(&key, now + Duration::seconds(61)),
            None,
            "a new minute starts a new window"
        );
        for _ in 0..99 {
            t.record_failure(&key, now + Duration::seconds(62));
        }
        assert!(t.check(&key, now + Duration::seconds(62)).is_some());
    }

    #[test]
    fn entries_are_keyed_by_a_keyed_hash_never_the_name() {
        let t = throttle();
        let now = datetime!(2026-01-01 0:00 UTC);
        let long = "x".repeat(1024);
        let keys = [
            ThrottleKey::api_username(&long),
            ThrottleKey::user(&long),
            ThrottleKey::IntegratorKey(long.clone()),
            ThrottleKey::SourceIp(long.clone()),
        ];
        t.record_failure(&keys, now);
        assert_eq!(t.entry_count(), 4, "one entry per kind, even for one name");
        for (slot, _) in t.entries.iter() {
            assert_eq!(slot.len(), 17);
            assert!(!slot.windows(8).any(|w| w == b"xxxxxxxx"));
        }
        let other = Throttle::with_hash_key(ThrottleConfig::default(), &[7; 32]);
        let again = Throttle::with_hash_key(ThrottleConfig::default(), &[7; 32]);
        assert_eq!(again.slot(&keys[0]), other.slot(&keys[0]));
        assert_ne!(t.slot(&keys[0]), other.slot(&keys[0]), "the key is random");
    }

    #[test]
    fn nothing_is_blocked_until_a_block_is_set_and_after_it_ends() {
        let t = throttle();
        let now = datetime!(2026-01-01 0:00 UTC);
        let key = [ThrottleKey::user("eve")];
        assert!(!t.any_blocked(now));
        for _ in 0..10 {
            t.record_failure(&key, now);
        }
        assert!(t.any_blocked(now));
        assert!(!t.any_blocked(now + Duration::seconds(1)));
        assert_eq!(t.check(&key, now + Duration::seconds(1)), None);
    }

    #[test]
    fn a_reset_is_skipped_only_when_no_name_failed_since_the_last_one() {
        let t = throttle();
        let now = datetime!(2026-01-01 0:00 UTC);
        let key = [ThrottleKey::api_username("bot")];
        let seen = AtomicU64::new(t.name_failure_count());
        for _ in 0..9 {
            t.record_failure(&key, now);
        }
        t.reset_names_since(&key, &seen);
        t.record_failure(&key, now);
        assert_eq!(t.check(&key, now), None, "the nine failures were reset");
        for _ in 0..8 {
            t.record_failure(&key, now);
        }
        t.reset_names_since(&key, &seen);
        t.record_failure(&key, now);
        assert_eq!(t.check(&key, now), None, "failures after a reset are seen");
    }
}
