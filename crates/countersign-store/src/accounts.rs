//! Queries over the `accounts` table.

use crate::paging::owned;
use crate::{Store, StoreError, conflict_or_backend, millis, parse_id};
use countersign_core::directory::Account;
use countersign_core::ids::{AccountId, EnvironmentId};
use time::OffsetDateTime;

#[derive(sqlx::FromRow)]
pub struct AccountRow {
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
}

owned! {
    Account(AccountRow) by AccountId, "account",
    from "accounts a JOIN environments e ON e.id = a.environment_id",
    select "a.id, a.environment_id, a.number, a.name",
    key "a.id", owner "e.organization_id"
}
