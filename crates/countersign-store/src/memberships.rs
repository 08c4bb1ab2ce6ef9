//! Queries over the `memberships` table: which users belong to which accounts, and how.

use crate::{Store, StoreError, parse_id};
use countersign_core::directory::{Membership, Permissions};
use countersign_core::ids::{AccountId, EnvironmentId, OrganizationId, UserId};

#[derive(sqlx::FromRow)]
struct MembershipRow {
    user_id: String,
    account_id: String,
    number: String,
    name: String,
    environment_id: String,
    permissions: i64,
    is_default: i64,
}

impl TryFrom<MembershipRow> for Membership {
    type Error = StoreError;
    fn try_from(row: MembershipRow) -> Result<Self, StoreError> {
        Ok(Self {
            user_id: parse_id(&row.user_id, UserId::parse)?,
            account_id: parse_id(&row.account_id, AccountId::parse)?,
            account_number: row.number,
            account_name: row.name,
            environment_id: parse_id(&row.environment_id, EnvironmentId::parse)?,
            permissions: Permissions::from_bits(row.permissions),
            is_default: row.is_default != 0,
        })
    }
}

impl Store {
    /// Returns a user's memberships with their accounts' facts, default first.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn list_memberships(&self, user: UserId) -> Result<Vec<Membership>, StoreError> {
        let query = sqlx::query_as::<_, MembershipRow>(
            "SELECT m.user_id, m.account_id, a.number, a.name, a.environment_id, m.permissions, m.is_default \
             FROM memberships m JOIN accounts a ON a.id = m.account_id \
             WHERE m.user_id = $1 ORDER BY m.is_default DESC, a.id",
        )
        .bind(user.to_string());
        self.all(query).await
    }

    /// Returns the memberships of every user of an organization with their accounts' facts, by
    /// user, each user's default first (one query for a page that lists every user).
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn list_organization_memberships(
        &self,
        organization: OrganizationId,
    ) -> Result<Vec<Membership>, StoreError> {
        let query = sqlx::query_as::<_, MembershipRow>(
            "SELECT m.user_id, m.account_id, a.number, a.name, a.environment_id, m.permissions, m.is_default \
             FROM memberships m JOIN accounts a ON a.id = m.account_id \
             JOIN users u ON u.id = m.user_id \
             WHERE u.organization_id = $1 ORDER BY m.user_id, m.is_default DESC, a.id",
        )
        .bind(organization.to_string());
        self.all(query).await
    }

    /// Grants or changes a membership; making it the default clears the user's other default.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn upsert_membership(
        &self,
        user: UserId,
        account: AccountId,
        permissions: Permissions,
        is_default: bool,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        if is_default {
            sqlx::query(
                "UPDATE memberships SET is_default = 0 WHERE user_id = $1 AND account_id <> $2",
            )
            .bind(user.to_string())
            .bind(account.to_string())
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO memberships (user_id, account_id, permissions, is_default) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id, account_id) DO UPDATE SET permissions = excluded.permissions, \
             is_default = excluded.is_default",
        )
        .bind(user.to_string())
        .bind(account.to_string())
        .bind(permissions.bits())
        .bind(i64::from(is_default))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes a membership.
    ///
    /// # Errors
    /// Returns `NotFound` when there was none.
    pub async fn delete_membership(
        &self,
        user: UserId,
        account: AccountId,
    ) -> Result<(), StoreError> {
        let statement =
            sqlx::query("DELETE FROM memberships WHERE user_id = $1 AND account_id = $2")
                .bind(user.to_string())
                .bind(account.to_string());
        self.run_one(statement, "membership").await?;
        Ok(())
    }
}
