//! Throttling of repeated authentication failures (SPEC §9), in memory per node.
//!
//! A *name* (API username, user, integrator key) is throttled after a number of consecutive
//! failures; a success resets it. A *source IP* is throttled after a number of failures within a
//! minute. A throttled key refuses attempts without verifying them (so they neither cost argon2
//! work nor extend the block) until its back-off ends; the back-off starts at 1 s and doubles
//! with every further failure up to 5 minutes, so a stranger hammering a known name cannot lock
//! its owner out for longer than that window at a time.
//!
//! Memory is bounded by entries of fixed size (SPEC §9): an entry is stored under 16 bytes of
//! two SipHash-1-3 hashes keyed with random keys drawn when the throttle is made (std's
//! `RandomState`), of the kind and the name, never the name itself. A 1 KiB username costs what
//! a 3-byte one does, a heap dump holds no name, and without the keys nobody can aim two names
//! at one counter. Entries (16-byte key, 32-byte counter) live in sharded hash maps, not in a
//! general-purpose cache: moka's bookkeeping cost about 400 bytes an entry, which 500,000
//! distinct failed names turned into 200 MB. An entry idle for ten minutes counts as absent; a
//! full shard first drops idle and unblocked entries, then, if every entry is blocked, an
//! arbitrary quarter.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use time::{Duration, OffsetDateTime};

/// Thresholds and back-off of the throttle.
#[derive(Clone, Debug, Deserialize, Serialize)]
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
    /// Tracked keys at most, 48 bytes each plus hash-table slack (when full, idle and unblocked
    /// counters are forgotten first).
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

/// The fixed-size key an entry is stored under: 16 bytes of keyed hash of the kind and name.
type Slot = u128;

/// Shards of the entry maps (a power of two); a shard is locked only to read or write it.
const SHARDS: usize = 64;

/// How long an untouched entry is remembered, in milliseconds.
const IDLE_MILLIS: i64 = 10 * 60 * 1000;

/// A hasher for slots, which are already uniformly random: their low 64 bits are the hash.
#[derive(Default)]
struct SlotHasher(u64);

impl Hasher for SlotHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u128(&mut self, value: u128) {
        // Truncation is the point: the low half of a random value.
        self.0 = value as u64;
    }
}

type Shard = HashMap<Slot, Entry, BuildHasherDefault<SlotHasher>>;

impl ThrottleKey {
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

/// What is remembered of a key: 32 bytes. Times are Unix milliseconds, `NEVER` for none.
#[derive(Clone, Copy, Debug)]
struct Entry {
    /// Consecutive failures (names) or failures in the current window (IPs).
    failures: u32,
    /// Failures beyond the threshold, for the doubling back-off.
    strikes: u32,
    /// Start of the IP window.
    window_start: i64,
    blocked_until: i64,
    /// Last read or write, for forgetting idle entries.
    last_seen: i64,
}

const NEVER: i64 = i64::MIN;

impl Entry {
    fn new(now: i64) -> Self {
        Self {
            failures: 0,
            strikes: 0,
            window_start: NEVER,
            blocked_until: NEVER,
            last_seen: now,
        }
    }

    fn is_idle(&self, now: i64) -> bool {
        now.saturating_sub(self.last_seen) >= IDLE_MILLIS
    }

    fn is_blocked(&self, now: i64) -> bool {
        self.blocked_until != NEVER && self.blocked_until > now
    }
}

/// The throttle of one node.
pub struct Throttle {
    config: ThrottleConfig,
    /// Two independently keyed SipHash-1-3 states: 128 bits of keyed hash per name.
    hash_keys: [RandomState; 2],
    shards: Box<[Mutex<Shard>]>,
    /// Entries a shard holds at most.
    shard_capacity: usize,
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
            .field("entries", &self.entry_count())
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
    /// Creates a throttle with fresh random hash keys; entries idle for ten minutes are
    /// forgotten.
    pub fn new(config: ThrottleConfig) -> Self {
        Self::with_hash_keys(config, [RandomState::new(), RandomState::new()])
    }

    fn with_hash_keys(config: ThrottleConfig, hash_keys: [RandomState; 2]) -> Self {
        let total = usize::try_from(config.capacity)
            .unwrap_or(usize::MAX)
            .max(1);
        Self {
            shard_capacity: total.div_ceil(SHARDS).max(1),
            config,
            hash_keys,
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            throttled: Default::default(),
            latest_block: AtomicI64::new(i64::MIN),
            name_failures: AtomicU64::new(0),
        }
    }

    /// The slot of a key: 128 bits of keyed hash of its kind and name.
    fn slot(&self, key: &ThrottleKey) -> Slot {
        let [high, low] = self.hash_keys.each_ref().map(|state| {
            let mut hasher = state.build_hasher();
            hasher.write_u8(kind_index(key) as u8);
            hasher.write(key.name().as_bytes());
            hasher.finish()
        });
        (u128::from(high) << 64) | u128::from(low)
    }

    fn shard(&self, slot: Slot) -> std::sync::MutexGuard<'_, Shard> {
        // The high half picks the shard, the low half the bucket within it.
        let index = (slot >> 122) as usize % SHARDS;
        self.shards[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The entry of a key as of `now`, marked as seen, if it is remembered.
    fn get(&self, key: &ThrottleKey, now: i64) -> Option<Entry> {
        let slot = self.slot(key);
        let mut shard = self.shard(slot);
        let entry = shard.get_mut(&slot)?;
        if entry.is_idle(now) {
            shard.remove(&slot);
            return None;
        }
        entry.last_seen = now;
        Some(*entry)
    }

    /// Entries held (for tests and the failure-memory benchmark).
    pub fn entry_count(&self) -> u64 {
        self.shards
            .iter()
            .map(|shard| shard.lock().unwrap_or_else(PoisonError::into_inner).len() as u64)
            .sum()
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
        let now = unix_millis(now);
        let mut wait: Option<u64> = None;
        for key in keys {
            let Some(entry) = self.get(key, now) else {
                continue;
            };
            if entry.is_blocked(now) {
                let millis = entry.blocked_until.saturating_sub(now);
                let seconds =
                    u64::try_from(millis.saturating_add(999) / 1000).map_or(1, |s| s.max(1));
                wait = Some(wait.map_or(seconds, |w| w.max(seconds)));
                self.throttled[kind_index(key)].fetch_add(1, Ordering::Relaxed);
            }
        }
        wait
    }

    /// Whether any of `keys` is throttled at `now`, without counting a refusal (the caller
    /// hands the request to a path that refuses and counts it).
    pub fn is_blocked(&self, keys: &[ThrottleKey], now: OffsetDateTime) -> bool {
        self.any_blocked(now) && {
            let now = unix_millis(now);
            keys.iter().any(|key| {
                self.get(key, now)
                    .is_some_and(|entry| entry.is_blocked(now))
            })
        }
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
        let at = now;
        let now = unix_millis(now);
        for key in keys {
            let slot = self.slot(key);
            let mut shard = self.shard(slot);
            if !shard.contains_key(&slot) && shard.len() >= self.shard_capacity {
                self.make_room(&mut shard, now);
            }
            let entry = shard.entry(slot).or_insert_with(|| Entry::new(now));
            if entry.is_idle(now) {
                *entry = Entry::new(now);
            }
            entry.last_seen = now;
            if let ThrottleKey::SourceIp(_) = key {
                let fresh =
                    entry.window_start == NEVER || now.saturating_sub(entry.window_start) >= 60_000;
                if fresh && !entry.is_blocked(now) {
                    entry.window_start = now;
                    entry.failures = 0;
                    if entry.blocked_until != NEVER
                        && now.saturating_sub(entry.blocked_until) > 60_000
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
                let until = at + self.backoff(entry.strikes);
                entry.blocked_until = unix_millis(until);
                entry.strikes = entry.strikes.saturating_add(1);
                self.latest_block
                    .fetch_max(unix_nanos(until), Ordering::AcqRel);
            }
        }
    }

    /// Frees a quarter of a full shard or more: idle and unblocked entries first (a counter
    /// below its threshold is what an LRU cache would drop), then arbitrary ones.
    fn make_room(&self, shard: &mut Shard, now: i64) {
        shard.retain(|_, entry| !entry.is_idle(now) && entry.is_blocked(now));
        let target = self.shard_capacity - self.shard_capacity / 4;
        if shard.len() > target {
            let mut excess = shard.len() - target;
            shard.retain(|_, _| {
                if excess == 0 {
                    true
                } else {
                    excess -= 1;
                    false
                }
            });
        }
    }

    /// Resets the name keys after a success (a source IP keeps its window).
    pub fn record_success(&self, keys: &[ThrottleKey]) {
        for key in keys {
            if matches!(key, ThrottleKey::SourceIp(_)) {
                continue;
            }
            let slot = self.slot(key);
            self.shard(slot).remove(&slot);
        }
    }
}

fn unix_millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
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
        assert_eq!(
            std::mem::size_of::<Slot>() + std::mem::size_of::<Entry>(),
            48
        );
        let keys_a = [RandomState::new(), RandomState::new()];
        let other = Throttle::with_hash_keys(ThrottleConfig::default(), keys_a.clone());
        let again = Throttle::with_hash_keys(ThrottleConfig::default(), keys_a);
        assert_eq!(again.slot(&keys[0]), other.slot(&keys[0]));
        assert_ne!(
            t.slot(&keys[0]),
            other.slot(&keys[0]),
            "the keys are random"
        );
    }

    #[test]
    fn a_full_throttle_keeps_blocked_entries_and_stays_within_its_capacity() {
        let t = Throttle::new(ThrottleConfig {
            capacity: 64 * 8,
            ..ThrottleConfig::default()
        });
        let now = datetime!(2026-01-01 0:00 UTC);
        let blocked = [ThrottleKey::api_username("blocked")];
        for _ in 0..10 {
            t.record_failure(&blocked, now);
        }
        for n in 0..10_000 {
            t.record_failure(&[ThrottleKey::api_username(&format!("n{n}"))], now);
        }
        assert!(t.entry_count() <= 64 * 8, "{}", t.entry_count());
        assert_eq!(t.check(&blocked, now), Some(1), "blocked entries are kept");
    }

    #[test]
    fn an_entry_idle_for_ten_minutes_is_forgotten() {
        let t = throttle();
        let now = datetime!(2026-01-01 0:00 UTC);
        let key = [ThrottleKey::api_username("bot")];
        for _ in 0..9 {
            t.record_failure(&key, now);
        }
        let later = now + Duration::minutes(10);
        t.record_failure(&key, later);
        assert_eq!(t.check(&key, later), None, "the nine were forgotten");
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
