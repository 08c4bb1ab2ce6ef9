//! API users (SPEC §2): scope, status, validation of creation and rotation.

use crate::directory::Membership;
use crate::ids::{ApiKeyId, ApiUserId, EnvironmentId, OrganizationId, UserId};
use time::{Duration, OffsetDateTime};

/// Shortest accepted API username.
pub const MIN_USERNAME_LEN: usize = 3;
/// Longest accepted API username.
pub const MAX_USERNAME_LEN: usize = 128;
/// Longest accepted description.
pub const MAX_DESCRIPTION_LEN: usize = 1000;
/// Longest grace period of a rotation.
pub const MAX_GRACE: Duration = Duration::days(30);

/// Whom an API user may act for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Only that user.
    User(UserId),
    /// Any active member of an account of that environment, within that environment's accounts.
    Environment(EnvironmentId),
    /// Any active user of the organization, in any of its accounts.
    Organization,
}

impl Scope {
    /// The wire name of the scope's type.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::User(_) => "user",
            Self::Environment(_) => "environment",
            Self::Organization => "organization",
        }
    }

    /// Whether an account (given by its membership) lies within the scope.
    pub fn admits_account(&self, membership: &Membership) -> bool {
        match self {
            Self::Environment(environment) => membership.environment_id == *environment,
            Self::User(_) | Self::Organization => true,
        }
    }

    /// Whether `user` (with `memberships`) may be acted for under this scope.
    pub fn admits_user(&self, user: UserId, memberships: &[Membership]) -> bool {
        match self {
            Self::User(only) => *only == user,
            Self::Environment(_) => memberships.iter().any(|m| self.admits_account(m)),
            Self::Organization => true,
        }
    }
}

/// An API user's lifecycle status as shown to administrators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiUserStatus {
    /// Usable.
    Active,
    /// Past its expiry.
    Expired,
    /// Permanently revoked.
    Revoked,
}

impl ApiUserStatus {
    /// The wire name of the status.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }
}

/// An API user record (without key digests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiUser {
    /// The API user's id.
    pub id: ApiUserId,
    /// The organization it belongs to.
    pub organization_id: OrganizationId,
    /// The username, unique across the installation (case-insensitive).
    pub username: String,
    /// Whom it may act for.
    pub scope: Scope,
    /// After this instant nothing issued under it works.
    pub expires_at: OffsetDateTime,
    /// Free text.
    pub description: Option<String>,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Who created it (email of the administrator, or `cli`).
    pub created_by: String,
    /// When it was revoked.
    pub revoked_at: Option<OffsetDateTime>,
    /// Who revoked it.
    pub revoked_by: Option<String>,
    /// Last successful use (updated at most once a minute).
    pub last_used_at: Option<OffsetDateTime>,
}

impl ApiUser {
    /// The status at `now`: revoked wins over expired.
    pub fn status(&self, now: OffsetDateTime) -> ApiUserStatus {
        if self.revoked_at.is_some() {
            ApiUserStatus::Revoked
        } else if self.expires_at <= now {
            ApiUserStatus::Expired
        } else {
            ApiUserStatus::Active
        }
    }

    /// Whether credentials of this API user are accepted at `now`.
    pub fn is_usable(&self, now: OffsetDateTime) -> bool {
        self.status(now) == ApiUserStatus::Active
    }
}

/// One key of an API user, as stored (a digest, never the key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// The key's id.
    pub id: ApiKeyId,
    /// HMAC-SHA256 digest of the key under the server pepper, hex.
    pub digest: String,
    /// When set, the key (and sessions issued under it) stop working at this instant.
    pub valid_until: Option<OffsetDateTime>,
    /// When the key was issued.
    pub created_at: OffsetDateTime,
    /// Its first use (recorded at once).
    pub first_used_at: Option<OffsetDateTime>,
    /// Its last use (batched, except for a retiring key's).
    pub last_used_at: Option<OffsetDateTime>,
    /// The address of its last use.
    pub last_used_ip: Option<String>,
    /// For a key a rotation left retiring: retire it once silent this many minutes after the
    /// active key's first use (SPEC §13).
    pub retire_after_silence_minutes: Option<i64>,
}

impl ApiKeyRecord {
    /// Whether the key is accepted at `now`.
    pub fn is_valid(&self, now: OffsetDateTime) -> bool {
        self.valid_until.is_none_or(|until| now < until)
    }
}

/// Why an API-user request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiUserError {
    /// The username is out of bounds or not printable.
    #[error("username must be 3 to 128 printable characters")]
    Username,
    /// The expiry is not in the future.
    #[error("expires_at must be in the future")]
    ExpiryInPast,
    /// The expiry is later than allowed.
    #[error("expires_at must be at most {max_days} days from now")]
    ExpiryTooFar {
        /// The configured maximum, in days.
        max_days: i64,
    },
    /// The description is too long.
    #[error("description must be at most 1000 characters")]
    Description,
    /// The grace period is out of bounds.
    #[error("grace_minutes must be between 0 and 43200 (30 days)")]
    Grace,
    /// The silence before retirement is out of bounds.
    #[error("retire_after_silence_minutes must be between 1 and 43200 (30 days)")]
    Silence,
}

/// Checks an API username: 3–128 printable characters, no leading or trailing space.
///
/// # Errors
/// Returns [`ApiUserError::Username`].
pub fn validate_username(username: &str) -> Result<(), ApiUserError> {
    let count = username.chars().count();
    let printable = username.chars().all(|c| !c.is_control()) && username.trim() == username;
    if (MIN_USERNAME_LEN..=MAX_USERNAME_LEN).contains(&count) && printable {
        Ok(())
    } else {
        Err(ApiUserError::Username)
    }
}

/// Normalizes an API username for case-insensitive uniqueness and lookup.
pub fn normalize_username(username: &str) -> String {
    username.to_lowercase()
}

/// Checks an expiry: in the future and at most `max_lifetime` from `now`.
///
/// # Errors
/// Returns which bound is violated.
pub fn validate_expiry(
    expires_at: OffsetDateTime,
    now: OffsetDateTime,
    max_lifetime: Duration,
) -> Result<(), ApiUserError> {
    if expires_at <= now {
        return Err(ApiUserError::ExpiryInPast);
    }
    if expires_at > now + max_lifetime {
        return Err(ApiUserError::ExpiryTooFar {
            max_days: max_lifetime.whole_days(),
        });
    }
    Ok(())
}

/// Checks an optional description.
///
/// # Errors
/// Returns [`ApiUserError::Description`] when too long.
pub fn validate_description(description: Option<&str>) -> Result<(), ApiUserError> {
    match description {
        Some(text) if text.chars().count() > MAX_DESCRIPTION_LEN => Err(ApiUserError::Description),
        _ => Ok(()),
    }
}

/// Turns a rotation's grace period into the instant the old keys stop working.
///
/// # Errors
/// Returns [`ApiUserError::Grace`] when outside 0 to 30 days.
pub fn grace_end(grace_minutes: i64, now: OffsetDateTime) -> Result<OffsetDateTime, ApiUserError> {
    // Bounds are checked on the integer first: `Duration::minutes` panics on overflow.
    if !(0..=MAX_GRACE.whole_minutes()).contains(&grace_minutes) {
        return Err(ApiUserError::Grace);
    }
    Ok(now + Duration::minutes(grace_minutes))
}

/// Checks a rotation's `retire_after_silence_minutes`: 1 minute to 30 days.
///
/// # Errors
/// Returns [`ApiUserError::Silence`] when outside.
pub fn validate_silence(minutes: Option<i64>) -> Result<Option<i64>, ApiUserError> {
    match minutes {
        Some(m) if !(1..=MAX_GRACE.whole_minutes()).contains(&m) => Err(ApiUserError::Silence),
        other => Ok(other),
    }
}

/// The expiry of a session of `requested_minutes` issued at `now`, clamped to the API user's expiry.
pub fn session_expiry(
    now: OffsetDateTime,
    requested_minutes: i64,
    api_user_expires_at: OffsetDateTime,
) -> OffsetDateTime {
    (now + Duration::minutes(requested_minutes)).min(api_user_expires_at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::Permissions;
    use crate::ids::AccountId;
    use time::macros::datetime;
    use uuid::Uuid;

    fn membership(environment: u128) -> Membership {
        Membership {
            user_id: UserId(Uuid::from_u128(1)),
            account_id: AccountId(Uuid::from_u128(100 + environment)),
            account_number: "1".into(),
            account_name: "a".into(),
            environment_id: EnvironmentId(Uuid::from_u128(environment)),
            permissions: Permissions::SEND,
            is_default: false,
        }
    }

    #[test]
    fn usernames_are_bounded_and_printable() {
        assert!(validate_username("NewAPIUser").is_ok());
        assert!(validate_username("bot@example.com").is_ok());
        assert!(validate_username("ab").is_err());
        assert!(validate_username(&"a".repeat(129)).is_err());
        assert!(validate_username("tab\there").is_err());
        assert!(validate_username(" padded").is_err());
    }

    #[test]
    fn expiry_must_be_future_and_bounded() {
        let now = datetime!(2026-01-01 0:00 UTC);
        let max = Duration::days(730);
        assert_eq!(
            validate_expiry(now, now, max),
            Err(ApiUserError::ExpiryInPast)
        );
        assert!(validate_expiry(now + Duration::days(1), now, max).is_ok());
        assert!(validate_expiry(now + Duration::days(731), now, max).is_err());
    }

    #[test]
    fn revoked_wins_over_expired() {
        let now = datetime!(2026-01-01 0:00 UTC);
        let mut api_user = ApiUser {
            id: ApiUserId(Uuid::from_u128(1)),
            organization_id: OrganizationId(Uuid::from_u128(2)),
            username: "bot".into(),
            scope: Scope::Organization,
            expires_at: now - Duration::days(1),
            description: None,
            created_at: now - Duration::days(10),
            created_by: "cli".into(),
            revoked_at: None,
            revoked_by: None,
            last_used_at: None,
        };
        assert_eq!(api_user.status(now), ApiUserStatus::Expired);
        api_user.revoked_at = Some(now);
        assert_eq!(api_user.status(now), ApiUserStatus::Revoked);
    }

    #[test]
    fn environment_scope_admits_only_members_of_its_accounts() {
        let scope = Scope::Environment(EnvironmentId(Uuid::from_u128(5)));
        let user = UserId(Uuid::from_u128(1));
        assert!(scope.admits_user(user, &[membership(5)]));
        assert!(!scope.admits_user(user, &[membership(6)]));
        assert!(!scope.admits_user(user, &[]));
        assert!(Scope::Organization.admits_user(user, &[]));
        assert!(Scope::User(user).admits_user(user, &[]));
        assert!(!Scope::User(UserId(Uuid::from_u128(9))).admits_user(user, &[membership(5)]));
    }

    #[test]
    fn session_is_clamped_to_api_user_expiry() {
        let now = datetime!(2026-01-01 0:00 UTC);
        let expiry = now + Duration::minutes(30);
        assert_eq!(session_expiry(now, 60, expiry), expiry);
        assert_eq!(session_expiry(now, 10, expiry), now + Duration::minutes(10));
    }

    #[test]
    fn grace_is_bounded() {
        let now = datetime!(2026-01-01 0:00 UTC);
        assert_eq!(grace_end(0, now), Ok(now));
        assert!(grace_end(-1, now).is_err());
        assert!(grace_end(43_201, now).is_err());
        assert!(grace_end(43_200, now).is_ok());
        assert!(grace_end(i64::MAX, now).is_err(), "no overflow panic");
        assert!(grace_end(i64::MIN, now).is_err());
    }
}
