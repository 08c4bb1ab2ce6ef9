//! OAuth consents (SPEC §12): an administrator's consent per integrator key (for every user of
//! the organization or those listed), each user's own consents, and the per-(user, key)
//! cut-off before which access tokens are refused (a withdrawn consent).

use crate::{Store, StoreError, from_millis, millis, opt_from_millis, parse_id};
use countersign_core::ids::{IntegratorKeyId, OrganizationId, UserId};
use countersign_core::oauth::{AdminConsent, ConsentUsers, Scopes};
use time::OffsetDateTime;

/// An administrator's consent as stored, with who granted it and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminConsentRecord {
    /// The consent.
    pub consent: AdminConsent,
    /// When it was granted (last changed).
    pub granted_at: OffsetDateTime,
    /// Who granted it.
    pub granted_by: String,
}

/// What the directory says about the consents of one user for one integrator key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GrantState {
    /// The user's own consent.
    pub user_consent: Option<Scopes>,
    /// The administrator's consent for the key, with `users` narrowed to this user: `All`,
    /// `Listed([user])` when it lists them, or `Listed([])` when it does not.
    pub admin_consent: Option<AdminConsent>,
    /// Tokens issued at or before this time are refused.
    pub not_before: Option<OffsetDateTime>,
}

/// A consent as its user sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserConsentView {
    /// The integrator key.
    pub integrator_key_id: IntegratorKeyId,
    /// Its name.
    pub integrator_key_name: String,
    /// Its key string (the client id).
    pub client_id: String,
    /// The scopes consented to.
    pub scopes: Scopes,
    /// When.
    pub granted_at: OffsetDateTime,
    /// Whether the user gave it (`false`: an administrator's consent that covers them).
    pub is_own: bool,
}

impl Store {
    /// Sets an integrator key's administrator consent (replacing the previous one).
    ///
    /// # Errors
    /// `NotFound` when the key is not the organization's; `Backend` otherwise.
    pub async fn put_admin_consent(
        &self,
        organization: OrganizationId,
        key: IntegratorKeyId,
        consent: &AdminConsent,
        now: OffsetDateTime,
        granted_by: &str,
    ) -> Result<(), StoreError> {
        // The transaction writes first (a no-op update that locks the key's row): on SQLite a
        // transaction that reads first and writes later can fail at once with SQLITE_BUSY.
        let mut tx = self.pool().begin().await?;
        let found = sqlx::query(
            "UPDATE integrator_keys SET status = status WHERE id = $1 AND organization_id = $2",
        )
        .bind(key.to_string())
        .bind(organization.to_string())
        .execute(&mut *tx)
        .await?;
        if found.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                entity: "integrator key",
            });
        }
        sqlx::query("DELETE FROM oauth_admin_consent_users WHERE integrator_key_id = $1")
            .bind(key.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM oauth_admin_consents WHERE integrator_key_id = $1")
            .bind(key.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO oauth_admin_consents (integrator_key_id, scopes, all_users, granted_at, granted_by) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(key.to_string())
        .bind(consent.scopes.bits())
        .bind(i64::from(consent.users == ConsentUsers::All))
        .bind(millis(now))
        .bind(granted_by)
        .execute(&mut *tx)
        .await?;
        if let ConsentUsers::Listed(users) = &consent.users {
            for user in users {
                sqlx::query(
                    "INSERT INTO oauth_admin_consent_users (integrator_key_id, user_id) VALUES ($1, $2) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(key.to_string())
                .bind(user.to_string())
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// The administrator consent of a key, with every listed user.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn find_admin_consent(
        &self,
        key: IntegratorKeyId,
    ) -> Result<Option<AdminConsentRecord>, StoreError> {
        let row: Option<(i64, i64, i64, String)> = sqlx::query_as(
            "SELECT scopes, all_users, granted_at, granted_by FROM oauth_admin_consents WHERE integrator_key_id = $1",
        )
        .bind(key.to_string())
        .fetch_optional(self.pool())
        .await?;
        let Some((scopes, all_users, granted_at, granted_by)) = row else {
            return Ok(None);
        };
        let users = if all_users != 0 {
            ConsentUsers::All
        } else {
            let ids: Vec<String> = sqlx::query_scalar(
                "SELECT user_id FROM oauth_admin_consent_users WHERE integrator_key_id = $1 ORDER BY user_id",
            )
            .bind(key.to_string())
            .fetch_all(self.pool())
            .await?;
            ConsentUsers::Listed(
                ids.iter()
                    .map(|id| parse_id(id, UserId::parse))
                    .collect::<Result<_, _>>()?,
            )
        };
        Ok(Some(AdminConsentRecord {
            consent: AdminConsent {
                scopes: Scopes::from_bits(scopes),
                users,
            },
            granted_at: from_millis(granted_at)?,
            granted_by,
        }))
    }

    /// The consents behind one user's tokens of one key, and the cut-off (one round trip per
    /// table, the admin user list narrowed to the user).
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn fetch_grant_state(
        &self,
        key: IntegratorKeyId,
        user: UserId,
    ) -> Result<GrantState, StoreError> {
        let own: Option<i64> = sqlx::query_scalar(
            "SELECT scopes FROM oauth_user_consents WHERE user_id = $1 AND integrator_key_id = $2",
        )
        .bind(user.to_string())
        .bind(key.to_string())
        .fetch_optional(self.pool())
        .await?;
        let admin: Option<(i64, i64, i64)> = sqlx::query_as(
            "SELECT c.scopes, c.all_users, \
             (SELECT COUNT(*) FROM oauth_admin_consent_users u WHERE u.integrator_key_id = c.integrator_key_id AND u.user_id = $2) \
             FROM oauth_admin_consents c WHERE c.integrator_key_id = $1",
        )
        .bind(key.to_string())
        .bind(user.to_string())
        .fetch_optional(self.pool())
        .await?;
        let not_before: Option<i64> = sqlx::query_scalar(
            "SELECT not_before FROM oauth_token_cutoffs WHERE user_id = $1 AND integrator_key_id = $2",
        )
        .bind(user.to_string())
        .bind(key.to_string())
        .fetch_optional(self.pool())
        .await?;
        Ok(GrantState {
            user_consent: own.map(Scopes::from_bits),
            admin_consent: admin.map(|(scopes, all_users, listed)| AdminConsent {
                scopes: Scopes::from_bits(scopes),
                users: if all_users != 0 {
                    ConsentUsers::All
                } else if listed > 0 {
                    ConsentUsers::Listed(vec![user])
                } else {
                    ConsentUsers::Listed(Vec::new())
                },
            }),
            not_before: opt_from_millis(not_before)?,
        })
    }

    /// Records (or widens) a user's own consent to a key's scopes.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn upsert_user_consent(
        &self,
        user: UserId,
        key: IntegratorKeyId,
        scopes: Scopes,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        // One statement: the scopes already consented to are kept (bitwise or).
        let statement = sqlx::query(
            "INSERT INTO oauth_user_consents (user_id, integrator_key_id, scopes, granted_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id, integrator_key_id) DO UPDATE SET \
             scopes = oauth_user_consents.scopes | excluded.scopes, granted_at = excluded.granted_at",
        )
        .bind(user.to_string())
        .bind(key.to_string())
        .bind(scopes.bits())
        .bind(millis(now));
        self.run(statement).await
    }

    /// Withdraws a user's consent for a key: deletes their own consent, refuses every token
    /// issued to them under the key until `now` (the cut-off), and revokes their token
    /// families. Returns whether there was anything to withdraw (an own consent, or an
    /// administrator's consent covering them).
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn withdraw_consent(
        &self,
        user: UserId,
        key: IntegratorKeyId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let state = self.fetch_grant_state(key, user).await?;
        let covered = state
            .admin_consent
            .as_ref()
            .is_some_and(|admin| admin.covers(user));
        if state.user_consent.is_none() && !covered {
            return Ok(false);
        }
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "DELETE FROM oauth_user_consents WHERE user_id = $1 AND integrator_key_id = $2",
        )
        .bind(user.to_string())
        .bind(key.to_string())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM oauth_token_cutoffs WHERE user_id = $1 AND integrator_key_id = $2",
        )
        .bind(user.to_string())
        .bind(key.to_string())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO oauth_token_cutoffs (user_id, integrator_key_id, not_before) VALUES ($1, $2, $3)",
        )
        .bind(user.to_string())
        .bind(key.to_string())
        .bind(millis(now))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE oauth_token_families SET revoked_at = $1 \
             WHERE user_id = $2 AND integrator_key_id = $3 AND revoked_at IS NULL",
        )
        .bind(millis(now))
        .bind(user.to_string())
        .bind(key.to_string())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A user's consents: their own, and administrators' consents that cover them, by key.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn list_consents_of_user(
        &self,
        user: UserId,
        organization: OrganizationId,
    ) -> Result<Vec<UserConsentView>, StoreError> {
        let own: Vec<(String, String, String, i64, i64)> = sqlx::query_as(
            "SELECT k.id, k.name, k.key, c.scopes, c.granted_at FROM oauth_user_consents c \
             JOIN integrator_keys k ON k.id = c.integrator_key_id \
             WHERE c.user_id = $1 AND k.organization_id = $2 ORDER BY k.id",
        )
        .bind(user.to_string())
        .bind(organization.to_string())
        .fetch_all(self.pool())
        .await?;
        let admin: Vec<(String, String, String, i64, i64)> = sqlx::query_as(
            "SELECT k.id, k.name, k.key, c.scopes, c.granted_at FROM oauth_admin_consents c \
             JOIN integrator_keys k ON k.id = c.integrator_key_id \
             WHERE k.organization_id = $2 AND (c.all_users = 1 OR EXISTS \
             (SELECT 1 FROM oauth_admin_consent_users u WHERE u.integrator_key_id = c.integrator_key_id AND u.user_id = $1)) \
             ORDER BY k.id",
        )
        .bind(user.to_string())
        .bind(organization.to_string())
        .fetch_all(self.pool())
        .await?;
        let view = |row: (String, String, String, i64, i64), is_own: bool| {
            Ok(UserConsentView {
                integrator_key_id: parse_id(&row.0, IntegratorKeyId::parse)?,
                integrator_key_name: row.1,
                client_id: row.2,
                scopes: Scopes::from_bits(row.3),
                granted_at: from_millis(row.4)?,
                is_own,
            })
        };
        own.into_iter()
            .map(|row| view(row, true))
            .chain(admin.into_iter().map(|row| view(row, false)))
            .collect()
    }
}
