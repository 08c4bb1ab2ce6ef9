//! Queries over the `organizations` table (with each organization's credential policy), and
//! the bootstrap that creates the first organization with its environment, account and
//! administrator.

use crate::users::insert_user_query;
use crate::{NewUser, Store, StoreError, millis, parse_id};
use countersign_core::directory::{Account, Environment, Organization, Permissions};
use countersign_core::ids::OrganizationId;
use countersign_core::lifecycle::{LeakResponse, Policy};
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
        let statement = sqlx::query("INSERT INTO organizations (id, name, legacy_header_enabled, created_at) VALUES ($1, $2, $3, $4)")
            .bind(organization.id.to_string())
            .bind(&organization.name)
            .bind(i64::from(organization.legacy_header_enabled))
            .bind(millis(now));
        self.run(statement).await
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
        let query = sqlx::query_as::<_, OrganizationRow>(
            "SELECT id, name, legacy_header_enabled FROM organizations ORDER BY id",
        );
        self.all(query).await
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
        let statement =
            sqlx::query("UPDATE organizations SET legacy_header_enabled = $1 WHERE id = $2")
                .bind(i64::from(enabled))
                .bind(id.to_string());
        self.run_one(statement, "organization").await?;
        self.fetch_organization(id).await
    }
}

#[derive(sqlx::FromRow)]
struct PolicyRow {
    id: String,
    api_user_max_lifetime_days: i64,
    api_user_unused_revoke_days: Option<i64>,
    expiry_warning_days: String,
    leak_response: String,
}

impl TryFrom<PolicyRow> for (OrganizationId, Policy) {
    type Error = StoreError;
    fn try_from(row: PolicyRow) -> Result<Self, StoreError> {
        Ok((
            parse_id(&row.id, OrganizationId::parse)?,
            Policy {
                api_user_max_lifetime_days: row.api_user_max_lifetime_days,
                api_user_unused_revoke_days: row.api_user_unused_revoke_days,
                expiry_warning_days: Policy::parse_warning_days(&row.expiry_warning_days).ok_or(
                    StoreError::Corrupt {
                        what: "expiry warning days",
                    },
                )?,
                leak_response: LeakResponse::parse(&row.leak_response).ok_or(
                    StoreError::Corrupt {
                        what: "leak response",
                    },
                )?,
            },
        ))
    }
}

const POLICY_COLUMNS: &str = "id, api_user_max_lifetime_days, api_user_unused_revoke_days, \
     expiry_warning_days, leak_response";

impl Store {
    /// An organization's credential policy (SPEC §13).
    ///
    /// # Errors
    /// Returns `NotFound` when absent.
    pub async fn fetch_policy(&self, id: OrganizationId) -> Result<Policy, StoreError> {
        let sql = format!("SELECT {POLICY_COLUMNS} FROM organizations WHERE id = $1");
        let row = sqlx::query_as::<_, PolicyRow>(&sql)
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?
            .ok_or(StoreError::NotFound {
                entity: "organization",
            })?;
        let (_, policy) = row.try_into()?;
        Ok(policy)
    }

    /// Every organization's credential policy (the lifecycle checks).
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn list_policies(&self) -> Result<Vec<(OrganizationId, Policy)>, StoreError> {
        let sql = format!("SELECT {POLICY_COLUMNS} FROM organizations ORDER BY id");
        self.all(sqlx::query_as::<_, PolicyRow>(&sql)).await
    }

    /// Replaces an organization's credential policy (already validated by core).
    ///
    /// # Errors
    /// Returns `NotFound` when absent.
    pub async fn update_policy(
        &self,
        id: OrganizationId,
        policy: &Policy,
    ) -> Result<Policy, StoreError> {
        let statement = sqlx::query(
            "UPDATE organizations SET api_user_max_lifetime_days = $1, \
             api_user_unused_revoke_days = $2, expiry_warning_days = $3, leak_response = $4 \
             WHERE id = $5",
        )
        .bind(policy.api_user_max_lifetime_days)
        .bind(policy.api_user_unused_revoke_days)
        .bind(policy.warning_days_text())
        .bind(policy.leak_response.as_str())
        .bind(id.to_string());
        self.run_one(statement, "organization").await?;
        self.fetch_policy(id).await
    }
}
