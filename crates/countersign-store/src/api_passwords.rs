//! Queries over the `api_passwords` table: the API passwords of users (legacy header).

use crate::query::touched;
use crate::{Store, StoreError, conflict_or_backend, millis};
use countersign_core::ids::{OrganizationId, UserId};
use time::OffsetDateTime;

impl Store {
    /// Stores a new API password hash for a user (earlier ones keep working).
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn insert_api_password(
        &self,
        user: UserId,
        id: &str,
        hash: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_passwords (id, user_id, hash, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(user.to_string())
        .bind(hash)
        .bind(millis(now))
        .execute(self.pool())
        .await
        .map_err(conflict_or_backend("api password"))?;
        Ok(())
    }

    /// Returns the hash of one API password of a user.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn find_api_password(
        &self,
        user: UserId,
        id: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT hash FROM api_passwords WHERE user_id = $1 AND id = $2")
                .bind(user.to_string())
                .bind(id)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    /// Ends every API password of a user and bumps the credential version.
    ///
    /// # Errors
    /// Returns `NotFound` when the user is absent or in another organization.
    pub async fn delete_api_passwords(
        &self,
        organization: OrganizationId,
        id: UserId,
    ) -> Result<u64, StoreError> {
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE users SET credential_version = credential_version + 1 WHERE id = $1 AND organization_id = $2",
        )
        .bind(id.to_string())
        .bind(organization.to_string()).execute(&mut *tx).await?;
        touched(&done, "user")?;
        let deleted = sqlx::query("DELETE FROM api_passwords WHERE user_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(deleted)
    }
}
