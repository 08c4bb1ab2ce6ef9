//! Queries over the `organizations` table, and the bootstrap that creates the first
//! organization with its environment, account and administrator.

use crate::users::insert_user_query;
use crate::{NewUser, Store, StoreError, millis, parse_id};
use countersign_core::directory::{Account, Environment, Organization, Permissions};
use countersign_core::ids::OrganizationId;
use time::OffsetDateTime;

#[derive(sqlx::FromRow)]
struct OrganizationRow {
    id: String,
    name: String,
    legacy_header_enabled: i64,
}

impl TryFrom<OrganizationRow> for Organization {
    type Error = StoreError;
    fn try_from(row: OrganizationRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: parse_id(&row.id, OrganizationId::parse)?,
            name: row.name,
            legacy_header_enabled: row.legacy_header_enabled != 0,
        })
    }
}

impl Store {
    /// Whether the installation holds no organization yet (a fresh database).
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn is_empty(&self) -> Result<bool, StoreError> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM organizations")
            .fetch_one(self.pool())
            .await?;
        Ok(count == 0)
    }

    /// Creates the first organization with one environment, one account and its administrator,
    /// atomically.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn bootstrap(
        &self,
        organization: &Organization,
        environment: &Environment,
        account: &Account,
        admin: &NewUser,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let at = millis(now);
        let mut tx = self.pool().begin().await?;
        sqlx::query("INSERT INTO organizations (id, name, legacy_header_enabled, created_at) VALUES ($1, $2, 1, $3)")
            .bind(organization.id.to_string())
            .bind(&organization.name)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO environments (id, organization_id, name, kind, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(environment.id.to_string())
            .bind(organization.id.to_string())
            .bind(&environment.name)
            .bind(environment.kind.as_str())
            .bind(at)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO accounts (id, environment_id, number, name, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(account.id.to_string())
            .bind(environment.id.to_string())
            .bind(&account.number)
            .bind(&account.name)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        insert_user_query(admin, at).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO environment_admins (environment_id, user_id) VALUES ($1, $2)")
            .bind(environment.id.to_string())
            .bind(admin.id.to_string())
            .execute(&mut *tx)
            .await?;
        let all = Permissions::SEND
            .with(Permissions::SOBO)
            .with(Permissions::ACCOUNT_WIDE)
            .with(Permissions::ADMIN);
        sqlx::query("INSERT INTO memberships (user_id, account_id, permissions, is_default) VALUES ($1, $2, $3, 1)")
            .bind(admin.id.to_string())
            .bind(account.id.to_string())
            .bind(all.bits())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Creates an organization (without environments).
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn insert_organization(
        &self,
        organization: &Organization,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO organizations (id, name, legacy_header_enabled, created_at) VALUES ($1, $2, $3, $4)")
            .bind(organization.id.to_string())
            .bind(&organization.name)
            .bind(i64::from(organization.legacy_header_enabled))
            .bind(millis(now))
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Returns an organization.
    ///
    /// # Errors
    /// Returns `NotFound` when absent.
    pub async fn fetch_organization(&self, id: OrganizationId) -> Result<Organization, StoreError> {
        sqlx::query_as::<_, OrganizationRow>(
            "SELECT id, name, legacy_header_enabled FROM organizations WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound {
            entity: "organization",
        })?
        .try_into()
    }

    /// Lists every organization (installation-level tooling).
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn list_organizations(&self) -> Result<Vec<Organization>, StoreError> {
        sqlx::query_as::<_, OrganizationRow>(
            "SELECT id, name, legacy_header_enabled FROM organizations ORDER BY id",
        )
        .fetch_all(self.pool())
        .await?
        .into_iter()
        .map(TryInto::try_into)
        .collect()
    }

    /// Turns the legacy header on or off for an organization.
    ///
    /// # Errors
    /// Returns `NotFound` when absent.
    pub async fn update_legacy_header_enabled(
        &self,
        id: OrganizationId,
        enabled: bool,
    ) -> Result<Organization, StoreError> {
        let done = sqlx::query("UPDATE organizations SET legacy_header_enabled = $1 WHERE id = $2")
            .bind(i64::from(enabled))
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                entity: "organization",
            });
        }
        self.fetch_organization(id).await
    }
}
