//! SPEC §3 for a session token, in the two halves every verifier needs: what only a directory
//! change can alter (checked when the directory facts are loaded, and again whenever they are
//! reloaded) and what time alone can end (checked on every request). The server and the
//! in-process verifier both decide with these functions.

use crate::api_user::{ApiKeyRecord, ApiUser};
use crate::directory::{Membership, User};
use crate::token::SessionClaims;
use time::OffsetDateTime;

/// Whether the directory grants a session of `api_user` acting as `user`: the user is active,
/// belongs to the API user's organization, and is within its scope.
pub fn directory_admits(api_user: &ApiUser, user: &User, memberships: &[Membership]) -> bool {
    user.is_active()
        && user.organization_id == api_user.organization_id
        && api_user.scope.admits_user(user.id, memberships)
}

/// Whether a session with (verified) `claims` still stands at `now`: the API user is neither
/// revoked nor expired and the session's key is still valid (a rotated key's grace period).
/// The token's own expiry is checked by [`crate::token::verify`].
pub fn still_valid(
    api_user: &ApiUser,
    keys: &[ApiKeyRecord],
    claims: &SessionClaims,
    now: OffsetDateTime,
) -> bool {
    api_user.is_usable(now)
        && keys
            .iter()
            .any(|k| k.id == claims.key_id && k.is_valid(now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api_user::Scope;
    use crate::directory::{Permissions, UserStatus};
    use crate::ids::{
        AccountId, ApiKeyId, ApiUserId, EnvironmentId, OrganizationId, SessionId, UserId,
    };
    use time::macros::datetime;
    use uuid::Uuid;

    const NOW: OffsetDateTime = datetime!(2026-06-01 12:00 UTC);

    fn api_user(scope: Scope) -> ApiUser {
        ApiUser {
            id: ApiUserId(Uuid::from_u128(1)),
            organization_id: OrganizationId(Uuid::from_u128(2)),
            username: "bot".into(),
            scope,
            expires_at: datetime!(2027-01-01 0:00 UTC),
            description: None,
            created_at: datetime!(2026-01-01 0:00 UTC),
            created_by: "cli".into(),
            revoked_at: None,
            revoked_by: None,
            last_used_at: None,
        }
    }

    fn user(status: UserStatus) -> User {
        User {
            id: UserId(Uuid::from_u128(3)),
            organization_id: OrganizationId(Uuid::from_u128(2)),
            email: "bob@example.com".into(),
            name: "Bob".into(),
            status,
            credential_version: 1,
            has_password: true,
        }
    }

    fn membership() -> Membership {
        Membership {
            user_id: UserId(Uuid::from_u128(3)),
            account_id: AccountId(Uuid::from_u128(4)),
            account_number: "12345678".into(),
            account_name: "Main".into(),
            environment_id: EnvironmentId(Uuid::from_u128(5)),
            permissions: Permissions::SEND,
            is_default: true,
        }
    }

    fn claims(key: u128) -> SessionClaims {
        SessionClaims {
            session_id: SessionId(Uuid::from_u128(9)),
            api_user_id: ApiUserId(Uuid::from_u128(1)),
            key_id: ApiKeyId(Uuid::from_u128(key)),
            user_id: UserId(Uuid::from_u128(3)),
            issued_at: NOW.unix_timestamp(),
            expires_at: NOW.unix_timestamp() + 3600,
        }
    }

    #[test]
    fn directory_admits_only_an_active_user_of_the_organization_within_scope() {
        let org = api_user(Scope::Organization);
        assert!(directory_admits(
            &org,
            &user(UserStatus::Active),
            &[membership()]
        ));
        assert!(!directory_admits(
            &org,
            &user(UserStatus::Disabled),
            &[membership()]
        ));
        let mut stranger = user(UserStatus::Active);
        stranger.organization_id = OrganizationId(Uuid::from_u128(99));
        assert!(!directory_admits(&org, &stranger, &[membership()]));
        let other_env = api_user(Scope::Environment(EnvironmentId(Uuid::from_u128(77))));
        assert!(!directory_admits(
            &other_env,
            &user(UserStatus::Active),
            &[membership()]
        ));
        let other_user = api_user(Scope::User(UserId(Uuid::from_u128(88))));
        assert!(!directory_admits(
            &other_user,
            &user(UserStatus::Active),
            &[membership()]
        ));
    }

    #[test]
    fn a_session_ends_with_revocation_expiry_or_its_key() {
        let keys = [
            ApiKeyRecord {
                id: ApiKeyId(Uuid::from_u128(10)),
                digest: String::new(),
                valid_until: None,
                created_at: NOW,
                first_used_at: None,
                last_used_at: None,
                last_used_ip: None,
                retire_after_silence_minutes: None,
            },
            ApiKeyRecord {
                id: ApiKeyId(Uuid::from_u128(11)),
                digest: String::new(),
                valid_until: Some(NOW + time::Duration::minutes(5)),
                created_at: NOW,
                first_used_at: None,
                last_used_at: None,
                last_used_ip: None,
                retire_after_silence_minutes: None,
            },
        ];
        let mut bot = api_user(Scope::Organization);
        assert!(still_valid(&bot, &keys, &claims(10), NOW));
        assert!(still_valid(&bot, &keys, &claims(11), NOW));
        assert!(
            !still_valid(&bot, &keys, &claims(11), NOW + time::Duration::minutes(5)),
            "rotated key past its grace"
        );
        assert!(!still_valid(&bot, &keys, &claims(12), NOW), "deleted key");
        assert!(!still_valid(
            &bot,
            &keys,
            &claims(10),
            datetime!(2027-01-01 0:00 UTC)
        ));
        bot.revoked_at = Some(NOW);
        assert!(!still_valid(&bot, &keys, &claims(10), NOW));
    }
}
