//! The directory model: organizations, environments, accounts, users, memberships and
//! integrator keys (SPEC §1).

use crate::ids::{AccountId, EnvironmentId, IntegratorKeyId, OrganizationId, UserId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Longest accepted name of an organization, environment, account, user or key.
pub const MAX_NAME_LEN: usize = 200;
/// Longest accepted email address (RFC 5321 path limit).
pub const MAX_EMAIL_LEN: usize = 254;

/// A tenant of the installation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Organization {
    /// The organization's id.
    pub id: OrganizationId,
    /// Display name.
    pub name: String,
    /// Whether the legacy `X-DocuSign-Authentication` header is accepted at all.
    pub legacy_header_enabled: bool,
}

/// The kind of an environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnvironmentKind {
    /// Live documents.
    Production,
    /// A test environment.
    Sandbox,
}

impl EnvironmentKind {
    /// The wire and storage name of the kind.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Production => "production",
            Self::Sandbox => "sandbox",
        }
    }

    /// Parses the wire name of a kind.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "production" => Some(Self::Production),
            "sandbox" => Some(Self::Sandbox),
            _ => None,
        }
    }
}

/// An environment of an organization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Environment {
    /// The environment's id.
    pub id: EnvironmentId,
    /// The organization it belongs to.
    pub organization_id: OrganizationId,
    /// Display name.
    pub name: String,
    /// Production or sandbox.
    pub kind: EnvironmentKind,
}

/// An account of an environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// The account context identifier (UUID).
    pub id: AccountId,
    /// The environment it lies in.
    pub environment_id: EnvironmentId,
    /// The numeric DocuSign `accountId`, a string of digits, unique in the installation.
    pub number: String,
    /// Display name.
    pub name: String,
}

/// Whether a user may sign in and be acted for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    /// The user may authenticate and be acted for.
    Active,
    /// Every credential of the user is refused.
    Disabled,
}

impl UserStatus {
    /// The wire and storage name of the status.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Disabled => "disabled",
        }
    }

    /// Parses the wire name of a status.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(Self::Active),
            "disabled" => Some(Self::Disabled),
            _ => None,
        }
    }
}

/// A user of an organization. Password hashes are not part of this type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// The user's id (DocuSign `userId`).
    pub id: UserId,
    /// The organization the user belongs to.
    pub organization_id: OrganizationId,
    /// The username, unique per organization (case-insensitive).
    pub email: String,
    /// Display name.
    pub name: String,
    /// Active or disabled.
    pub status: UserStatus,
    /// Bumped whenever a password or API password changes; binds cached verifications.
    pub credential_version: i64,
    /// Whether the user has a password.
    pub has_password: bool,
}

impl User {
    /// Whether the user may authenticate and be acted for.
    pub fn is_active(&self) -> bool {
        self.status == UserStatus::Active
    }
}

/// Normalizes an email for case-insensitive comparison and lookup.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Checks that an email address is plausible and bounded.
///
/// # Errors
/// Returns a human-readable reason when the address is refused.
pub fn validate_email(email: &str) -> Result<(), &'static str> {
    let email = email.trim();
    if email.is_empty() {
        return Err("email must not be empty");
    }
    if email.len() > MAX_EMAIL_LEN {
        return Err("email is too long");
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Err("email must contain @");
    };
    if local.is_empty()
        || domain.is_empty()
        || email.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err("email is not a valid address");
    }
    Ok(())
}

/// Checks that a display name is non-empty, bounded and printable.
///
/// # Errors
/// Returns a human-readable reason when the name is refused.
pub fn validate_name(name: &str) -> Result<(), &'static str> {
    let name = name.trim();
    if name.is_empty() {
        return Err("name must not be empty");
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err("name is too long");
    }
    if name.chars().any(char::is_control) {
        return Err("name must not contain control characters");
    }
    Ok(())
}

/// The permissions a membership grants in one account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Permissions(u8);

impl Permissions {
    /// May send documents.
    pub const SEND: Self = Self(1);
    /// May send on behalf of others.
    pub const SOBO: Self = Self(2);
    /// Has account-wide rights.
    pub const ACCOUNT_WIDE: Self = Self(4);
    /// Is an account administrator.
    pub const ADMIN: Self = Self(8);
    /// Every permission, in wire order.
    pub const ALL: [(Self, &'static str); 4] = [
        (Self::SEND, "send"),
        (Self::SOBO, "sobo"),
        (Self::ACCOUNT_WIDE, "account_wide"),
        (Self::ADMIN, "admin"),
    ];

    /// No permission at all.
    pub fn none() -> Self {
        Self(0)
    }

    /// Builds permissions from stored bits, ignoring unknown bits.
    pub fn from_bits(bits: i64) -> Self {
        Self((bits & 0x0f) as u8)
    }

    /// The bits to store.
    pub fn bits(&self) -> i64 {
        i64::from(self.0)
    }

    /// Whether every permission of `other` is granted.
    pub fn contains(&self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Adds the permissions of `other`.
    #[must_use]
    pub const fn with(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Parses wire names (`send`, `sobo`, `account_wide`, `admin`).
    ///
    /// # Errors
    /// Returns the first unknown name.
    pub fn parse_names<S: AsRef<str>>(names: &[S]) -> Result<Self, String> {
        let mut permissions = Self::none();
        for name in names {
            let name = name.as_ref();
            let found = Self::ALL.iter().find(|(_, wire)| *wire == name);
            match found {
                Some((permission, _)) => permissions = permissions.with(*permission),
                None => return Err(name.to_owned()),
            }
        }
        Ok(permissions)
    }

    /// The wire names of the granted permissions.
    pub fn names(&self) -> Vec<&'static str> {
        Self::ALL
            .iter()
            .filter(|(permission, _)| self.contains(*permission))
            .map(|(_, name)| *name)
            .collect()
    }
}

/// A user's membership in one account, with the facts authorization needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    /// The member.
    pub user_id: UserId,
    /// The account.
    pub account_id: AccountId,
    /// The account's numeric number.
    pub account_number: String,
    /// The account's name.
    pub account_name: String,
    /// The environment the account lies in.
    pub environment_id: EnvironmentId,
    /// What the user may do in the account.
    pub permissions: Permissions,
    /// Whether this is the user's default account.
    pub is_default: bool,
}

/// Whether an integrator key is usable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntegratorKeyStatus {
    /// The key is accepted.
    Active,
    /// The key is refused.
    Revoked,
}

impl IntegratorKeyStatus {
    /// The wire and storage name of the status.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Revoked => "revoked",
        }
    }

    /// Parses the wire name of a status.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(Self::Active),
            "revoked" => Some(Self::Revoked),
            _ => None,
        }
    }
}

/// An integrator key of an organization (DocuSign legacy header).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntegratorKey {
    /// The record's id.
    pub id: IntegratorKeyId,
    /// The organization that owns the key.
    pub organization_id: OrganizationId,
    /// The opaque key string integrations send.
    pub key: String,
    /// Display name.
    pub name: String,
    /// Active or revoked.
    pub status: IntegratorKeyStatus,
    /// When the legacy header stops being accepted with this key.
    pub legacy_sunset_at: Option<OffsetDateTime>,
    /// When a sunset was first set (the `Deprecation` date).
    pub deprecated_at: Option<OffsetDateTime>,
    /// When the key was created.
    pub created_at: OffsetDateTime,
    /// The redirect URIs registered for the OAuth Authorization Code Grant (SPEC §12); an
    /// authorization request must name one of them exactly.
    pub redirect_uris: Vec<String>,
    /// Whether the implicit grant (`response_type=token`) is allowed.
    pub allow_implicit: bool,
}

impl IntegratorKey {
    /// Whether the key is accepted at all (the legacy header and OAuth alike).
    pub fn is_active(&self) -> bool {
        self.status == IntegratorKeyStatus::Active
    }
}

/// Longest accepted integrator key string.
pub const MAX_INTEGRATOR_KEY_LEN: usize = 128;

/// Checks an integrator key string supplied at import.
///
/// # Errors
/// Returns a human-readable reason when the key is refused.
pub fn validate_integrator_key(key: &str) -> Result<(), &'static str> {
    if key.is_empty() || key.len() > MAX_INTEGRATOR_KEY_LEN {
        return Err("key must be 1 to 128 characters");
    }
    if !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err("key must be printable ASCII without spaces");
    }
    Ok(())
}

/// Whether `user_id` administers every one of `environments` (an organization administrator).
///
/// An organization always has at least one environment, so an empty list grants nothing.
pub fn is_organization_admin(
    environments: &[EnvironmentId],
    administered: &[EnvironmentId],
) -> bool {
    !environments.is_empty() && environments.iter().all(|env| administered.contains(env))
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn permissions_round_trip_through_names() {
        let permissions = Permissions::parse_names(&["sobo", "send"]).expect("valid");
        assert!(permissions.contains(Permissions::SEND));
        assert!(permissions.contains(Permissions::SOBO));
        assert!(!permissions.contains(Permissions::ADMIN));
        assert_eq!(permissions.names(), vec!["send", "sobo"]);
        assert_eq!(Permissions::parse_names(&["fly"]), Err("fly".to_owned()));
    }

    #[test]
    fn organization_admin_must_administer_every_environment() {
        let a = EnvironmentId(Uuid::from_u128(1));
        let b = EnvironmentId(Uuid::from_u128(2));
        assert!(is_organization_admin(&[a, b], &[b, a]));
        assert!(!is_organization_admin(&[a, b], &[a]));
        assert!(!is_organization_admin(&[], &[a]));
    }

    #[test]
    fn email_validation_refuses_garbage() {
        assert!(validate_email("bob@example.com").is_ok());
        assert!(validate_email("bob").is_err());
        assert!(validate_email("bo b@example.com").is_err());
        assert!(validate_email("").is_err());
    }
}
