//! Queries over the `accounts` table.

use crate::paging::list_bound;
use crate::{Page, Store, StoreError, conflict_or_backend, millis, parse_id};
use countersign_core::directory::Account;
use countersign_core::ids::{AccountId, EnvironmentId, OrganizationId};
use time::OffsetDateTime;

#[derive(sqlx::FromRow)]
struct AccountRow {
    id: String,
    environment_id: String,
    number: String,
    name: String,
}

impl TryFrom<AccountRow> for Account {
    type Error = StoreError;
    fn try_from(row: AccountRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: parse_id(&row.id, AccountId::parse)?,
            environment_id: parse_id(&row.environment_id, EnvironmentId::parse)?,
            number: row.number,
            name: row.name,
        })
    }
}

impl Store {
    /// Creates an account; the number must be unique in the installation.
    ///
    /// # Errors
    /// Returns `Conflict` when the number is taken.
    pub async fn insert_account(
        &self,
        account: &Account,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO accounts (id, environment_id, number, name, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(account.id.to_string())
            .bind(account.environment_id.to_string())
            .bind(&account.number)
            .bind(&account.name)
            .bind(millis(now))
            .execute(self.pool())
            .await
            .map_err(conflict_or_backend("account number"))?;
        Ok(())
    }

    /// Lists an organization's accounts in creation order.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn list_accounts(
        &self,
        organization: OrganizationId,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<Account>, StoreError> {
        self.list_page::<AccountRow, _, _>(
            "SELECT a.id, a.environment_id, a.number, a.name FROM accounts a \
             JOIN environments e ON e.id = a.environment_id \
             WHERE e.organization_id = $1 AND a.id > $2 ORDER BY a.id LIMIT $3",
            |query| query.bind(organization.to_string()),
            list_bound(cursor),
            limit,
            |a: &Account| a.id.to_string(),
        )
        .await
    }

    /// Returns an account of an organization.
    ///
    /// # Errors
    /// Returns `NotFound` when absent or in another organization.
    pub async fn fetch_account(
        &self,
        organization: OrganizationId,
        id: AccountId,
    ) -> Result<Account, StoreError> {
        sqlx::query_as::<_, AccountRow>(
            "SELECT a.id, a.environment_id, a.number, a.name FROM accounts a \
             JOIN environments e ON e.id = a.environment_id \
             WHERE a.id = $1 AND e.organization_id = $2",
        )
        .bind(id.to_string())
        .bind(organization.to_string())
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound { entity: "account" })?
        .try_into()
    }
}
