//! Credential lifecycle (SPEC §13): an organization's policy for its API users, the status of
//! each key, when a rotation finishes itself, which expiry warning is due, and the hygiene
//! findings of the credential report. Pure: `now` is always an argument.

use crate::api_user::{ApiKeyRecord, ApiUser, ApiUserStatus};
use time::{Duration, OffsetDateTime};

/// Default longest API-user lifetime under a policy, in days.
pub const DEFAULT_MAX_LIFETIME_DAYS: i64 = 730;
/// Bounds of `api_user_max_lifetime_days` and `api_user_unused_revoke_days`.
pub const POLICY_DAYS: std::ops::RangeInclusive<i64> = 1..=3650;
/// Bounds of one expiry warning mark, in days.
pub const WARNING_DAYS: std::ops::RangeInclusive<i64> = 1..=365;
/// Most expiry warning marks a policy may hold.
pub const MAX_WARNING_MARKS: usize = 10;
/// Longest `retire_after_silence_minutes` (the longest grace period, 30 days).
pub const MAX_SILENCE_MINUTES: i64 = 43_200;

/// What the server does when a live key is reported leaked (SPEC §14).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LeakResponse {
    /// Revoke the API user at once.
    #[default]
    Revoke,
    /// Only notify (audit, webhook, console banner).
    Notify,
}

impl LeakResponse {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Revoke => "revoke",
            Self::Notify => "notify",
        }
    }

    /// Parses the wire name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "revoke" => Some(Self::Revoke),
            "notify" => Some(Self::Notify),
            _ => None,
        }
    }
}

/// An organization's credential policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Longest lifetime of an API user, in days (never above the server-wide maximum).
    pub api_user_max_lifetime_days: i64,
    /// Revoke API users unused for this many days; `None` = off.
    pub api_user_unused_revoke_days: Option<i64>,
    /// Days before expiry at which `api_user.expiring` is sent, distinct, loosest first.
    pub expiry_warning_days: Vec<i64>,
    /// What a leak report does.
    pub leak_response: LeakResponse,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            api_user_max_lifetime_days: DEFAULT_MAX_LIFETIME_DAYS,
            api_user_unused_revoke_days: None,
            expiry_warning_days: vec![30, 7, 1],
            leak_response: LeakResponse::Revoke,
        }
    }
}

/// Why a policy is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The maximum lifetime is out of bounds.
    #[error("api_user_max_lifetime_days must be between 1 and {server_max_days}")]
    MaxLifetime {
        /// The server-wide maximum, in days.
        server_max_days: i64,
    },
    /// The unused-revocation period is out of bounds.
    #[error("api_user_unused_revoke_days must be null or between 1 and 3650")]
    UnusedRevoke,
    /// A warning mark is out of bounds, repeated, or there are too many.
    #[error("expiry_warning_days must hold at most 10 distinct days, each between 1 and 365")]
    WarningDays,
    /// Not a leak response.
    #[error("leak_response must be \"revoke\" or \"notify\"")]
    LeakResponse,
}

impl Policy {
    /// Checks every field; `server_max_days` is the installation's maximum lifetime (SPEC §2).
    /// The warning marks come back sorted loosest first.
    ///
    /// # Errors
    /// The first field out of bounds.
    pub fn validated(mut self, server_max_days: i64) -> Result<Self, PolicyError> {
        let max = server_max_days.min(*POLICY_DAYS.end());
        if !(1..=max).contains(&self.api_user_max_lifetime_days) {
            return Err(PolicyError::MaxLifetime {
                server_max_days: max,
            });
        }
        if self
            .api_user_unused_revoke_days
            .is_some_and(|days| !POLICY_DAYS.contains(&days))
        {
            return Err(PolicyError::UnusedRevoke);
        }
        let marks = &mut self.expiry_warning_days;
        if marks.len() > MAX_WARNING_MARKS || marks.iter().any(|d| !WARNING_DAYS.contains(d)) {
            return Err(PolicyError::WarningDays);
        }
        marks.sort_unstable_by(|a, b| b.cmp(a));
        let before = marks.len();
        marks.dedup();
        if marks.len() != before {
            return Err(PolicyError::WarningDays);
        }
        Ok(self)
    }

    /// The longest lifetime in force: the policy's, never above the server's.
    pub fn max_lifetime(&self, server_max_days: i64) -> Duration {
        Duration::days(self.api_user_max_lifetime_days.min(server_max_days).max(1))
    }

    /// The warning marks as stored (`30,7,1`).
    pub fn warning_days_text(&self) -> String {
        self.expiry_warning_days
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Parses stored warning marks; `None` when the text is not a comma-separated list of
    /// numbers (an empty text is an empty list).
    pub fn parse_warning_days(text: &str) -> Option<Vec<i64>> {
        if text.trim().is_empty() {
            return Some(Vec::new());
        }
        text.split(',').map(|d| d.trim().parse().ok()).collect()
    }

    /// The loosest warning mark, which bounds the report's `expires_soon`.
    pub fn largest_warning(&self) -> Option<i64> {
        self.expiry_warning_days.iter().copied().max()
    }
}

/// Whether `expires_at` lies beyond what the policy allows for a credential issued at `now`.
pub fn beyond_policy(
    expires_at: OffsetDateTime,
    now: OffsetDateTime,
    policy: &Policy,
    server_max_days: i64,
) -> bool {
    expires_at > now + policy.max_lifetime(server_max_days)
}

/// The status of one key of an API user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyStatus {
    /// The current key.
    Active,
    /// A rotated-out key still accepted until its end.
    Retiring,
    /// No longer accepted.
    Retired,
}

impl KeyStatus {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Retiring => "retiring",
            Self::Retired => "retired",
        }
    }
}

/// A key's status at `now`.
pub fn key_status(key: &ApiKeyRecord, now: OffsetDateTime) -> KeyStatus {
    match key.valid_until {
        None => KeyStatus::Active,
        Some(until) if now < until => KeyStatus::Retiring,
        Some(_) => KeyStatus::Retired,
    }
}

/// Whether a retiring key has been silent long enough to retire now (SPEC §13): it carries
/// `retire_after_silence_minutes`, the API user's active key has been used, and neither the
/// retiring key has been used since that first use plus the silence, nor within the silence.
pub fn silence_reached(
    retiring: &ApiKeyRecord,
    successor_first_used_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> bool {
    let (Some(minutes), Some(first_use)) = (
        retiring.retire_after_silence_minutes,
        successor_first_used_at,
    ) else {
        return false;
    };
    if key_status(retiring, now) != KeyStatus::Retiring {
        return false;
    }
    let quiet_since = retiring
        .last_used_at
        .map_or(first_use, |last| last.max(first_use));
    now >= quiet_since + Duration::minutes(minutes.clamp(0, MAX_SILENCE_MINUTES))
}

/// The API user's active key (the newest without an end), whose first use starts the silence.
pub fn active_key(keys: &[ApiKeyRecord]) -> Option<&ApiKeyRecord> {
    keys.iter()
        .filter(|k| k.valid_until.is_none())
        .max_by_key(|k| k.created_at)
}

/// The expiry warning due for a credential expiring at `expires_at`: the tightest mark already
/// passed (marks passed at the same moment collapse into the tightest), or `None` when no mark
/// is passed or the credential has already expired.
pub fn tightest_mark(
    marks: &[i64],
    expires_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Option<i64> {
    if expires_at <= now {
        return None;
    }
    marks
        .iter()
        .copied()
        .filter(|days| expires_at - now <= Duration::days(*days))
        .min()
}

/// Whether an API user is due for revocation by the unused-credential policy: unused for
/// `days` days (or never used, `days` days after creation).
pub fn unused_too_long(api_user: &ApiUser, days: i64, now: OffsetDateTime) -> bool {
    let since = api_user.last_used_at.unwrap_or(api_user.created_at);
    api_user.is_usable(now) && now - since >= Duration::days(days)
}

/// A hygiene finding of the credential report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finding {
    /// Expires within the loosest warning mark.
    ExpiresSoon,
    /// Used before, but not in the last 30 days.
    Unused30Days,
    /// Never used.
    NeverUsed,
    /// The oldest active key is 90 days old or more.
    OldKey90Days,
    /// A rotated-out key is still accepted.
    RotationPending,
}

impl Finding {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::ExpiresSoon => "expires_soon",
            Self::Unused30Days => "unused_30_days",
            Self::NeverUsed => "never_used",
            Self::OldKey90Days => "old_key_90_days",
            Self::RotationPending => "rotation_pending",
        }
    }
}

/// One row of the credential report, before rendering.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportLine {
    /// Status at the report's time.
    pub status: ApiUserStatus,
    /// Whole days until expiry (negative once expired).
    pub days_to_expiry: i64,
    /// Age in whole days of the oldest key still accepted.
    pub oldest_active_key_days: Option<i64>,
    /// What deserves attention (only for active API users).
    pub findings: Vec<Finding>,
}

/// Computes an API user's report line at `now`.
pub fn report_line(
    api_user: &ApiUser,
    keys: &[ApiKeyRecord],
    policy: &Policy,
    now: OffsetDateTime,
) -> ReportLine {
    let status = api_user.status(now);
    let accepted = keys.iter().filter(|k| k.is_valid(now));
    let oldest = accepted.clone().map(|k| k.created_at).min();
    let oldest_active_key_days = oldest.map(|at| (now - at).whole_days());
    let mut findings = Vec::new();
    if status == ApiUserStatus::Active {
        if policy
            .largest_warning()
            .is_some_and(|days| api_user.expires_at - now <= Duration::days(days))
        {
            findings.push(Finding::ExpiresSoon);
        }
        match api_user.last_used_at {
            None => findings.push(Finding::NeverUsed),
            Some(last) if now - last >= Duration::days(30) => {
                findings.push(Finding::Unused30Days);
            }
            Some(_) => {}
        }
        if oldest_active_key_days.is_some_and(|days| days >= 90) {
            findings.push(Finding::OldKey90Days);
        }
        if keys
            .iter()
            .any(|k| key_status(k, now) == KeyStatus::Retiring)
        {
            findings.push(Finding::RotationPending);
        }
    }
    ReportLine {
        status,
        days_to_expiry: (api_user.expires_at - now).whole_days(),
        oldest_active_key_days,
        findings,
    }
}

/// Whether an address is one a webhook may not reach unless private addresses are allowed:
/// loopback, private (RFC 1918), link-local, unique-local (fc00::/7), unspecified, and the
/// same inside IPv4-mapped, IPv4-compatible, NAT64 and 6to4 IPv6 addresses; also shared
/// (100.64/10), IETF protocol assignments (192.0.0/24), broadcast, documentation, benchmarking
/// and multicast ranges, and local-use NAT64 and IPv4-translated IPv6, which no receiver lives
/// in.
pub fn is_forbidden_address(address: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match address {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || (a == 192 && b == 0 && v4.octets()[2] == 0)
                || a >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_forbidden_address(IpAddr::V4(v4));
            }
            let segments = v6.segments();
            // IPv4-compatible (::a.b.c.d, deprecated) and NAT64 (64:ff9b::/96) embed an IPv4
            // address a stack may reach.
            if segments[..6] == [0, 0, 0, 0, 0, 0] || segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [a, b] = segments[6].to_be_bytes();
                let [c, d] = segments[7].to_be_bytes();
                let embedded = std::net::Ipv4Addr::new(a, b, c, d);
                if v6.is_unspecified() || v6.is_loopback() {
                    return true;
                }
                return is_forbidden_address(IpAddr::V4(embedded));
            }
            // 6to4 (2002::/16) carries an IPv4 address in its next 32 bits.
            if segments[0] == 0x2002 {
                let [a, b] = segments[1].to_be_bytes();
                let [c, d] = segments[2].to_be_bytes();
                return is_forbidden_address(IpAddr::V4(std::net::Ipv4Addr::new(a, b, c, d)));
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // Local-use NAT64 (64:ff9b:1::/48) and IPv4-translated (::ffff:0:a.b.c.d).
                || segments[..3] == [0x64, 0xff9b, 1]
                || segments[..6] == [0, 0, 0, 0, 0xffff, 0]
                || (segments[0] & 0xfe00) == 0xfc00
                || (segments[0] & 0xffc0) == 0xfe80
                || (segments[0] & 0xffc0) == 0xfec0
                || (segments[0] == 0x2001 && segments[1] == 0x0db8)
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;
    use crate::api_user::Scope;
    use crate::ids::{ApiKeyId, ApiUserId, OrganizationId};
    use time::macros::datetime;
    use uuid::Uuid;

    const NOW: OffsetDateTime = datetime!(2026-06-01 12:00 UTC);

    fn key(n: u128, created: OffsetDateTime, until: Option<OffsetDateTime>) -> ApiKeyRecord {
        ApiKeyRecord {
            id: ApiKeyId(Uuid::from_u128(n)),
            digest: String::new(),
            valid_until: until,
            created_at: created,
            first_used_at: None,
            last_used_at: None,
            last_used_ip: None,
            retire_after_silence_minutes: None,
        }
    }

    fn api_user(expires_in: Duration, last_used: Option<OffsetDateTime>) -> ApiUser {
        ApiUser {
            id: ApiUserId(Uuid::from_u128(1)),
            organization_id: OrganizationId(Uuid::from_u128(2)),
            username: "bot".into(),
            scope: Scope::Organization,
            expires_at: NOW + expires_in,
            description: None,
            created_at: NOW - Duration::days(100),
            created_by: "cli".into(),
            revoked_at: None,
            revoked_by: None,
            last_used_at: last_used,
        }
    }

    #[test]
    fn policy_bounds_and_sorts_marks() {
        let policy = Policy {
            expiry_warning_days: vec![1, 30, 7],
            ..Policy::default()
        };
        assert_eq!(
            policy.validated(730).unwrap().expiry_warning_days,
            vec![30, 7, 1]
        );
        let too_long = Policy {
            api_user_max_lifetime_days: 731,
            ..Policy::default()
        };
        assert_eq!(
            too_long.validated(730),
            Err(PolicyError::MaxLifetime {
                server_max_days: 730
            })
        );
        for marks in [vec![0], vec![366], vec![7, 7], (1..=11).collect()] {
            let policy = Policy {
                expiry_warning_days: marks,
                ..Policy::default()
            };
            assert_eq!(policy.validated(730), Err(PolicyError::WarningDays));
        }
        let unused = Policy {
            api_user_unused_revoke_days: Some(0),
            ..Policy::default()
        };
        assert_eq!(unused.validated(730), Err(PolicyError::UnusedRevoke));
        assert_eq!(Policy::parse_warning_days("30,7,1"), Some(vec![30, 7, 1]));
        assert_eq!(Policy::parse_warning_days(""), Some(vec![]));
        assert_eq!(Policy::parse_warning_days("x"), None);
    }

    #[test]
    fn expiry_beyond_the_policy_is_detected() {
        let policy = Policy {
            api_user_max_lifetime_days: 90,
            ..Policy::default()
        };
        assert!(!beyond_policy(NOW + Duration::days(90), NOW, &policy, 730));
        assert!(beyond_policy(
            NOW + Duration::days(90) + Duration::seconds(1),
            NOW,
            &policy,
            730
        ));
        // The server-wide maximum wins over a looser policy.
        assert!(beyond_policy(
            NOW + Duration::days(40),
            NOW,
            &Policy::default(),
            30
        ));
    }

    #[test]
    fn the_tightest_passed_mark_is_due() {
        let marks = [30, 7, 1];
        assert_eq!(tightest_mark(&marks, NOW + Duration::days(31), NOW), None);
        assert_eq!(
            tightest_mark(&marks, NOW + Duration::days(30), NOW),
            Some(30)
        );
        assert_eq!(tightest_mark(&marks, NOW + Duration::days(5), NOW), Some(7));
        assert_eq!(
            tightest_mark(&marks, NOW + Duration::hours(3), NOW),
            Some(1)
        );
        assert_eq!(tightest_mark(&marks, NOW, NOW), None, "already expired");
        assert_eq!(tightest_mark(&[], NOW + Duration::hours(3), NOW), None);
    }

    #[test]
    fn silence_counts_from_the_successors_first_use_or_the_last_use() {
        let mut old = key(1, NOW - Duration::days(10), Some(NOW + Duration::days(1)));
        old.retire_after_silence_minutes = Some(15);
        let first_use = NOW - Duration::minutes(20);
        assert!(!silence_reached(&old, None, NOW), "successor never used");
        assert!(silence_reached(&old, Some(first_use), NOW));
        old.last_used_at = Some(NOW - Duration::minutes(10));
        assert!(!silence_reached(&old, Some(first_use), NOW));
        assert!(silence_reached(
            &old,
            Some(first_use),
            NOW + Duration::minutes(5)
        ));
        old.retire_after_silence_minutes = None;
        assert!(!silence_reached(
            &old,
            Some(first_use),
            NOW + Duration::days(1)
        ));
    }

    #[test]
    fn key_status_follows_its_end() {
        assert_eq!(key_status(&key(1, NOW, None), NOW), KeyStatus::Active);
        let end = NOW + Duration::minutes(1);
        assert_eq!(
            key_status(&key(1, NOW, Some(end)), NOW),
            KeyStatus::Retiring
        );
        assert_eq!(key_status(&key(1, NOW, Some(end)), end), KeyStatus::Retired);
    }

    #[test]
    fn unused_revocation_counts_from_creation_when_never_used() {
        let never = api_user(Duration::days(300), None);
        assert!(unused_too_long(&never, 100, NOW));
        assert!(!unused_too_long(&never, 101, NOW));
        let used = api_user(Duration::days(300), Some(NOW - Duration::days(2)));
        assert!(!unused_too_long(&used, 3, NOW));
        assert!(unused_too_long(&used, 2, NOW));
    }

    #[test]
    fn report_findings() {
        let policy = Policy::default();
        let keys = [
            key(2, NOW - Duration::days(1), None),
            key(1, NOW - Duration::days(95), Some(NOW + Duration::hours(1))),
        ];
        let line = report_line(&api_user(Duration::days(20), None), &keys, &policy, NOW);
        assert_eq!(
            line.findings,
            vec![
                Finding::ExpiresSoon,
                Finding::NeverUsed,
                Finding::OldKey90Days,
                Finding::RotationPending
            ]
        );
        assert_eq!(line.days_to_expiry, 20);
        assert_eq!(line.oldest_active_key_days, Some(95));
        let fresh = [key(2, NOW - Duration::days(1), None)];
        let used = api_user(Duration::days(200), Some(NOW - Duration::days(31)));
        assert_eq!(
            report_line(&used, &fresh, &policy, NOW).findings,
            vec![Finding::Unused30Days]
        );
    }

    proptest::proptest! {
        #[test]
        fn warning_days_read_back_what_was_stored(marks in proptest::collection::vec(1i64..=365, 0..10)) {
            let policy = Policy { expiry_warning_days: marks.clone(), ..Policy::default() };
            proptest::prop_assert_eq!(Policy::parse_warning_days(&policy.warning_days_text()), Some(marks));
        }

        #[test]
        fn reading_warning_days_never_panics(text in ".{0,64}") {
            let _ = Policy::parse_warning_days(&text);
        }

        #[test]
        fn every_ipv4_mapped_address_is_judged_like_its_ipv4(octets in proptest::array::uniform4(0u8..)) {
            let v4 = std::net::Ipv4Addr::from(octets);
            proptest::prop_assert_eq!(
                is_forbidden_address(std::net::IpAddr::V6(v4.to_ipv6_mapped())),
                is_forbidden_address(std::net::IpAddr::V4(v4))
            );
        }
    }

    #[test]
    fn private_addresses_are_forbidden() {
        for text in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "2002:a9fe:a9fe::",
            "2002:7f00:1::1",
            "64:ff9b:1::a00:1",
            "::ffff:0:a00:1",
            "192.0.0.8",
        ] {
            assert!(is_forbidden_address(text.parse().unwrap()), "{text}");
        }
        for text in [
            "93.184.216.34",
            "2606:4700::1111",
            "::ffff:93.184.216.34",
            "2002:5db8:d822::1",
        ] {
            assert!(!is_forbidden_address(text.parse().unwrap()), "{text}");
        }
    }
}
