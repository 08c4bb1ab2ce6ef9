//! SPEC §3 for a session token, in the two halves every verifier needs: what only a directory
//! change can alter (checked when the directory facts are loaded, and again whenever they are
//! reloaded) and what time alone can end (checked on every request). The server and the
//! in-process verifier both decide with these functions.
//!
//! A user may also end the sessions acting as them (SPEC §14): a [`SessionEnd`] refuses every
//! session token issued before its moment, for one API user (or one of its keys) or for all.

use crate::api_user::{ApiKeyRecord, ApiUser};
use crate::directory::{Membership, User};
use crate::ids::{ApiKeyId, ApiUserId};
use crate::token::SessionClaims;
use time::OffsetDateTime;

/// "Sessions acting as this user issued before `ended_before` are over": for every API user,
/// for one (`api_user_id`), or for one key of one (`key_id` as well).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionEnd {
    /// Only the sessions of this API user; `None`: of every API user.
    pub api_user_id: Option<ApiUserId>,
    /// Only the sessions issued under this key; `None`: under any key.
    pub key_id: Option<ApiKeyId>,
    /// Tokens issued before this moment (Unix seconds) are refused.
    pub ended_before: i64,
}

impl SessionEnd {
    /// Whether this end concerns sessions of `api_user` under `key`.
    pub fn covers(&self, api_user: ApiUserId, key: ApiKeyId) -> bool {
        self.api_user_id.is_none_or(|id| id == api_user) && self.key_id.is_none_or(|id| id == key)
    }
}

/// The earliest issue time (Unix seconds) a session of `api_user` under `key` may carry: the
/// latest end that covers it, or `i64::MIN` when none does. The issuer dates a new token no
/// earlier than this, so a session opened right after an end (in the same second) stands.
pub fn not_before(ends: &[SessionEnd], api_user: ApiUserId, key: ApiKeyId) -> i64 {
    ends.iter()
        .filter(|end| end.covers(api_user, key))
        .map(|end| end.ended_before)
        .max()
        .unwrap_or(i64::MIN)
}

/// The moment (Unix seconds) an end requested at `now` takes, given the user's earlier `ends`:
/// the next whole second. Tokens carry whole seconds, so every token issued up to `now` is
/// before it, and the issuer dates tokens issued after the end at this second (see
/// [`not_before`]). When an earlier end already lies at or past that second (two ends in one
/// second), tokens issued between them were dated at the earlier end, so this one is a second
/// later still.
pub fn end_moment(now: OffsetDateTime, ends: &[SessionEnd]) -> i64 {
    let next = now.unix_timestamp() + 1;
    match ends.iter().map(|end| end.ended_before).max() {
        Some(latest) if latest >= next => latest + 1,
        _ => next,
    }
}

/// Whether the directory grants a session of `api_user` acting as `user`: the user is active,
/// belongs to the API user's organization, and is within its scope.
pub fn directory_admits(api_user: &ApiUser, user: &User, memberships: &[Membership]) -> bool {
    user.is_active()
        && user.organization_id == api_user.organization_id
        && api_user.scope.admits_user(user.id, memberships)
}

/// Whether a session with (verified) `claims` still stands at `now`: the API user is neither
/// revoked nor expired, the session's key is still valid (a rotated key's grace period), and
/// the user has not ended the sessions acting as them since the token was issued (`ends`).
/// The token's own expiry is checked by [`crate::token::verify`].
pub fn still_valid(
    api_user: &ApiUser,
    keys: &[ApiKeyRecord],
    ends: &[SessionEnd],
    claims: &SessionClaims,
    now: OffsetDateTime,
) -> bool {
    api_user.is_usable(now)
        && keys
            .iter()
            .any(|k| k.id == claims.key_id && k.is_valid(now))
        && claims.issued_at >= not_before(ends, claims.api_user_id, claims.key_id)
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

    /// An active key, never used.
    fn key_record(id: u128) -> ApiKeyRecord {
        ApiKeyRecord {
            id: ApiKeyId(Uuid::from_u128(id)),
            digest: String::new(),
            valid_until: None,
            created_at: NOW,
            first_used_at: None,
            last_used_at: None,
            last_used_ip: None,
            retire_after_silence_minutes: None,
        }
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
        assert!(still_valid(&bot, &keys, &[], &claims(10), NOW));
        assert!(still_valid(&bot, &keys, &[], &claims(11), NOW));
        assert!(
            !still_valid(
                &bot,
                &keys,
                &[],
                &claims(11),
                NOW + time::Duration::minutes(5)
            ),
            "rotated key past its grace"
        );
        assert!(
            !still_valid(&bot, &keys, &[], &claims(12), NOW),
            "deleted key"
        );
        assert!(!still_valid(
            &bot,
            &keys,
            &[],
            &claims(10),
            datetime!(2027-01-01 0:00 UTC)
        ));
        bot.revoked_at = Some(NOW);
        assert!(!still_valid(&bot, &keys, &[], &claims(10), NOW));
    }

    #[test]
    fn an_end_refuses_the_sessions_it_covers_issued_before_it() {
        let keys = [key_record(10)];
        let bot = api_user(Scope::Organization);
        let issued = NOW.unix_timestamp();
        let end = |api_user: Option<u128>, key: Option<u128>, at: i64| SessionEnd {
            api_user_id: api_user.map(|id| ApiUserId(Uuid::from_u128(id))),
            key_id: key.map(|id| ApiKeyId(Uuid::from_u128(id))),
            ended_before: at,
        };
        let session = claims(10);
        for covering in [
            end(None, None, issued + 1),
            end(Some(1), None, issued + 1),
            end(Some(1), Some(10), issued + 1),
        ] {
            assert!(!still_valid(&bot, &keys, &[covering], &session, NOW));
        }
        for sparing in [
            end(None, None, issued),
            end(Some(2), None, issued + 1),
            end(Some(1), Some(11), issued + 1),
        ] {
            assert!(still_valid(&bot, &keys, &[sparing], &session, NOW));
        }
    }

    #[test]
    fn a_token_issued_after_an_end_is_dated_at_or_after_it() {
        let now = NOW + time::Duration::milliseconds(400);
        let moment = end_moment(now, &[]);
        assert!(
            moment > now.unix_timestamp(),
            "a token issued until now is before the end"
        );
        let ends = [SessionEnd {
            api_user_id: None,
            key_id: None,
            ended_before: moment,
        }];
        let api_user = ApiUserId(Uuid::from_u128(1));
        let key = ApiKeyId(Uuid::from_u128(10));
        assert_eq!(not_before(&ends, api_user, key), moment);
        assert_eq!(not_before(&[], api_user, key), i64::MIN);
        // A second end in the same second refuses the tokens dated at the first.
        let again = end_moment(now, &ends);
        assert_eq!(again, moment + 1);
        assert!(not_before(&ends, api_user, key) < again);
    }

    proptest::proptest! {
        /// Whatever ends a user has made, a token the issuer dates with `not_before` stands,
        /// a token issued before a covering end does not, and a new end refuses every token
        /// dated before it was asked for.
        #[test]
        fn ends_refuse_exactly_what_was_issued_before_them(
            ends in proptest::collection::vec((proptest::option::of(0u128..3), proptest::option::of(10u128..13), -5i64..5), 0..6),
            issued in -10i64..10,
            key in 10u128..13,
        ) {
            let keys: Vec<ApiKeyRecord> = (10u128..13)
                .map(key_record)
                .collect();
            let base = NOW.unix_timestamp();
            let ends: Vec<SessionEnd> = ends
                .into_iter()
                .map(|(api_user, key, at)| SessionEnd {
                    api_user_id: api_user.map(|id| ApiUserId(Uuid::from_u128(id))),
                    key_id: key.map(|id| ApiKeyId(Uuid::from_u128(id))),
                    ended_before: base + at,
                })
                .collect();
            let bot = api_user(Scope::Organization);
            let mut session = claims(key);
            let dated = (base + issued).max(not_before(&ends, session.api_user_id, session.key_id));
            session.issued_at = dated;
            proptest::prop_assert!(still_valid(&bot, &keys, &ends, &session, NOW));
            for end in ends.iter().filter(|end| end.covers(session.api_user_id, session.key_id)) {
                session.issued_at = end.ended_before - 1;
                proptest::prop_assert!(!still_valid(&bot, &keys, &ends, &session, NOW));
            }
            let now = NOW + time::Duration::seconds(issued);
            let mut later = ends.clone();
            later.push(SessionEnd { api_user_id: None, key_id: None, ended_before: end_moment(now, &ends) });
            session.issued_at = dated.max(now.unix_timestamp());
            proptest::prop_assert!(!still_valid(&bot, &keys, &later, &session, NOW));
        }
    }
}
