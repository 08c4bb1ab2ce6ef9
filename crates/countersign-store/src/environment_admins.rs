//! Queries over the `environment_admins` table: which users administer which environments.

use crate::users::{USER_COLUMNS, UserRow};
use crate::{Store, StoreError, parse_id};
use countersign_core::directory::User;
use countersign_core::ids::{EnvironmentId, UserId};

impl Store {
    /// Returns the environments `user` administers.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn list_administered_environments(
        &self,
        user: UserId,
    ) -> Result<Vec<EnvironmentId>, StoreError> {
        let rows: Vec<String> =
            sqlx::query_scalar("SELECT environment_id FROM environment_admins WHERE user_id = $1")
                .bind(user.to_string())
                .fetch_all(self.pool())
                .await?;
        rows.iter()
            .map(|id| parse_id(id, EnvironmentId::parse))
            .collect()
    }

    /// Lists the administrators of an environment.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn list_environment_admins(
        &self,
        environment: EnvironmentId,
    ) -> Result<Vec<User>, StoreError> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id IN \
             (SELECT user_id FROM environment_admins WHERE environment_id = $1) ORDER BY email_lower"
        );
        let query = sqlx::query_as::<_, UserRow>(&sql).bind(environment.to_string());
        self.all(query).await
    }

    /// Makes a user an administrator of an environment (idempotent).
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn insert_environment_admin(
        &self,
        environment: EnvironmentId,
        user: UserId,
    ) -> Result<(), StoreError> {
        let statement = sqlx::query(
            "INSERT INTO environment_admins (environment_id, user_id) VALUES ($1, $2) \
             ON CONFLICT (environment_id, user_id) DO NOTHING",
        )
        .bind(environment.to_string())
        .bind(user.to_string());
        self.run(statement).await
    }

    /// Removes a user's administration of an environment.
    ///
    /// # Errors
    /// Returns `NotFound` when the user was not an administrator of it.
    pub async fn delete_environment_admin(
        &self,
        environment: EnvironmentId,
        user: UserId,
    ) -> Result<(), StoreError> {
        let statement = sqlx::query(
            "DELETE FROM environment_admins WHERE environment_id = $1 AND user_id = $2",
        )
        .bind(environment.to_string())
        .bind(user.to_string());
        self.run_one(statement, "environment admin").await?;
        Ok(())
    }
}
