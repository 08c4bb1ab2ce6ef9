//! Bulk loading for imports and the scale test: many users (each with one membership) and many
//! API users in multi-row statements, a few hundred rows per statement.

use crate::{NewApiUser, Store, StoreError, millis};
use countersign_core::api_user::{Scope, normalize_username};
use countersign_core::directory::{Permissions, normalize_email};
use countersign_core::ids::{AccountId, OrganizationId, UserId};
use countersign_core::names::skeleton;
use time::OffsetDateTime;

/// Rows per multi-row statement (well under both backends' parameter limits).
const CHUNK: usize = 400;

fn placeholders(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|row| {
            let cells: Vec<String> = (1..=columns)
                .map(|c| format!("${}", row * columns + c))
                .collect();
            format!("({})", cells.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// Inserts active users without passwords, each a member (`send`, default) of `account`.
    ///
    /// # Errors
    /// Returns `Conflict` on a duplicate email, `Backend` otherwise.
    pub async fn insert_users_bulk(
        &self,
        organization: OrganizationId,
        account: AccountId,
        users: &[(UserId, String)],
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let at = millis(now);
        for chunk in users.chunks(CHUNK) {
            let mut tx = self.pool().begin().await?;
            let sql = format!(
                "INSERT INTO users (id, organization_id, email, email_lower, name, status, credential_version, created_at, email_skeleton) VALUES {}",
                placeholders(chunk.len(), 9)
            );
            let mut query = sqlx::query(&sql);
            for (id, email) in chunk {
                query = query
                    .bind(id.to_string())
                    .bind(organization.to_string())
                    .bind(email.clone())
                    .bind(normalize_email(email))
                    .bind(email.clone())
                    .bind("active")
                    .bind(0_i64)
                    .bind(at)
                    .bind(skeleton(email));
            }
            query
                .execute(&mut *tx)
                .await
                .map_err(crate::conflict_or_backend("user"))?;
            let sql = format!(
                "INSERT INTO memberships (user_id, account_id, permissions, is_default) VALUES {}",
                placeholders(chunk.len(), 4)
            );
            let mut query = sqlx::query(&sql);
            for (id, _) in chunk {
                query = query
                    .bind(id.to_string())
                    .bind(account.to_string())
                    .bind(Permissions::SEND.bits())
                    .bind(1_i64);
            }
            query.execute(&mut *tx).await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// Inserts API users and their first keys.
    ///
    /// # Errors
    /// Returns `Conflict` on a duplicate username, `Backend` otherwise.
    pub async fn insert_api_users_bulk(&self, api_users: &[NewApiUser]) -> Result<(), StoreError> {
        for chunk in api_users.chunks(CHUNK) {
            let mut tx = self.pool().begin().await?;
            let sql = format!(
                "INSERT INTO api_users (id, organization_id, username, username_lower, scope_type, scope_user_id, \
                 scope_environment_id, expires_at, created_at, created_by, username_skeleton) VALUES {}",
                placeholders(chunk.len(), 11)
            );
            let mut query = sqlx::query(&sql);
            for new in chunk {
                let a = &new.api_user;
                let (user, environment) = match a.scope {
                    Scope::User(user) => (Some(user.to_string()), None),
                    Scope::Environment(environment) => (None, Some(environment.to_string())),
                    Scope::Organization => (None, None),
                };
                query = query
                    .bind(a.id.to_string())
                    .bind(a.organization_id.to_string())
                    .bind(a.username.clone())
                    .bind(normalize_username(&a.username))
                    .bind(a.scope.type_name())
                    .bind(user)
                    .bind(environment)
                    .bind(millis(a.expires_at))
                    .bind(millis(a.created_at))
                    .bind(a.created_by.clone())
                    .bind(skeleton(&a.username));
            }
            query
                .execute(&mut *tx)
                .await
                .map_err(crate::conflict_or_backend("api user"))?;
            let sql = format!(
                "INSERT INTO api_user_keys (id, api_user_id, digest, created_at) VALUES {}",
                placeholders(chunk.len(), 4)
            );
            let mut query = sqlx::query(&sql);
            for new in chunk {
                query = query
                    .bind(new.key_id.to_string())
                    .bind(new.api_user.id.to_string())
                    .bind(new.key_digest.clone())
                    .bind(millis(new.api_user.created_at));
            }
            query.execute(&mut *tx).await?;
            tx.commit().await?;
        }
        Ok(())
    }
}
