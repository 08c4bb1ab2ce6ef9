//! Queries over organizations, environments, accounts, users, memberships, environment admins
//! and integrator keys.

use crate::{
    Page, Store, StoreError, conflict_or_backend, from_millis, millis, opt_from_millis, overfetch,
    parse_id,
};
use countersign_core::directory::{
    Account, Environment, EnvironmentKind, IntegratorKey, IntegratorKeyStatus, Membership,
    Organization, Permissions, User, UserStatus,
};
use countersign_core::ids::{AccountId, EnvironmentId, IntegratorKeyId, OrganizationId, UserId};
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

#[derive(sqlx::FromRow)]
struct EnvironmentRow {
    id: String,
    organization_id: String,
    name: String,
    kind: String,
}

impl TryFrom<EnvironmentRow> for Environment {
    type Error = StoreError;
    fn try_from(row: EnvironmentRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: parse_id(&row.id, EnvironmentId::parse)?,
            organization_id: parse_id(&row.organization_id, OrganizationId::parse)?,
            name: row.name,
            kind: EnvironmentKind::parse(&row.kind).ok_or(StoreError::Corrupt { what: "kind" })?,
        })
    }
}

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

#[derive(sqlx::FromRow)]
struct UserRow {
    id: String,
    organization_id: String,
    email: String,
    name: String,
    status: String,
    credential_version: i64,
    has_password: i64,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(row: UserRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: parse_id(&row.id, UserId::parse)?,
            organization_id: parse_id(&row.organization_id, OrganizationId::parse)?,
            email: row.email,
            name: row.name,
            status: UserStatus::parse(&row.status).ok_or(StoreError::Corrupt { what: "status" })?,
            credential_version: row.credential_version,
            has_password: row.has_password != 0,
        })
    }
}

const USER_COLUMNS: &str = "id, organization_id, email, name, status, credential_version, \
     CASE WHEN password_hash IS NULL THEN 0 ELSE 1 END AS has_password";

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

#[derive(sqlx::FromRow)]
struct IntegratorKeyRow {
    id: String,
    organization_id: String,
    key: String,
    name: String,
    status: String,
    legacy_sunset_at: Option<i64>,
    deprecated_at: Option<i64>,
    created_at: i64,
}

impl TryFrom<IntegratorKeyRow> for IntegratorKey {
    type Error = StoreError;
    fn try_from(row: IntegratorKeyRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: parse_id(&row.id, IntegratorKeyId::parse)?,
            organization_id: parse_id(&row.organization_id, OrganizationId::parse)?,
            key: row.key,
            name: row.name,
            status: IntegratorKeyStatus::parse(&row.status)
                .ok_or(StoreError::Corrupt { what: "status" })?,
            legacy_sunset_at: opt_from_millis(row.legacy_sunset_at)?,
            deprecated_at: opt_from_millis(row.deprecated_at)?,
            created_at: from_millis(row.created_at)?,
        })
    }
}

const KEY_COLUMNS: &str =
    "id, organization_id, key, name, status, legacy_sunset_at, deprecated_at, created_at";

/// A user to create.
#[derive(Clone, Debug)]
pub struct NewUser {
    /// The new user's id.
    pub id: UserId,
    /// Organization.
    pub organization_id: OrganizationId,
    /// Email as typed.
    pub email: String,
    /// Display name.
    pub name: String,
    /// argon2id PHC string, when a password is set.
    pub password_hash: Option<String>,
}

/// A change to a user's name or status.
#[derive(Clone, Debug, Default)]
pub struct UserUpdate {
    /// New display name.
    pub name: Option<String>,
    /// New status.
    pub status: Option<UserStatus>,
}

/// The password hash of a user (PHC string).
#[derive(Clone, Debug)]
pub struct PasswordHashes {
    /// The sign-in password.
    pub password_hash: Option<String>,
}

pub(crate) fn list_bound(cursor: Option<&str>) -> String {
    cursor.unwrap_or("").to_owned()
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

    /// Creates an environment and makes `creator` (if any) its administrator, atomically.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn insert_environment(
        &self,
        environment: &Environment,
        creator: Option<UserId>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("INSERT INTO environments (id, organization_id, name, kind, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(environment.id.to_string())
            .bind(environment.organization_id.to_string())
            .bind(&environment.name)
            .bind(environment.kind.as_str())
            .bind(millis(now))
            .execute(&mut *tx)
            .await?;
        if let Some(creator) = creator {
            sqlx::query("INSERT INTO environment_admins (environment_id, user_id) VALUES ($1, $2)")
                .bind(environment.id.to_string())
                .bind(creator.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Lists an organization's environments in creation order.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn list_environments(
        &self,
        organization: OrganizationId,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<Environment>, StoreError> {
        let rows = sqlx::query_as::<_, EnvironmentRow>(
            "SELECT id, organization_id, name, kind FROM environments \
             WHERE organization_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(organization.to_string())
        .bind(list_bound(cursor))
        .bind(overfetch(limit))
        .fetch_all(self.pool())
        .await?;
        let items = rows
            .into_iter()
            .map(TryInto::try_into)
            .collect::<Result<Vec<Environment>, _>>()?;
        Ok(Page::from_overfetch(items, limit, |e| e.id.to_string()))
    }

    /// Returns the ids of every environment of an organization.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn list_environment_ids(
        &self,
        organization: OrganizationId,
    ) -> Result<Vec<EnvironmentId>, StoreError> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM environments WHERE organization_id = $1 ORDER BY id",
        )
        .bind(organization.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|id| parse_id(id, EnvironmentId::parse))
            .collect()
    }

    /// Returns an environment of an organization.
    ///
    /// # Errors
    /// Returns `NotFound` when absent or in another organization.
    pub async fn fetch_environment(
        &self,
        organization: OrganizationId,
        id: EnvironmentId,
    ) -> Result<Environment, StoreError> {
        sqlx::query_as::<_, EnvironmentRow>(
            "SELECT id, organization_id, name, kind FROM environments WHERE id = $1 AND organization_id = $2",
        )
        .bind(id.to_string())
        .bind(organization.to_string())
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound { entity: "environment" })?
        .try_into()
    }

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
        sqlx::query_as::<_, UserRow>(&sql)
            .bind(environment.to_string())
            .fetch_all(self.pool())
            .await?
            .into_iter()
            .map(TryInto::try_into)
            .collect()
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
        sqlx::query(
            "INSERT INTO environment_admins (environment_id, user_id) VALUES ($1, $2) \
             ON CONFLICT (environment_id, user_id) DO NOTHING",
        )
        .bind(environment.to_string())
        .bind(user.to_string())
        .execute(self.pool())
        .await?;
        Ok(())
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
        let done = sqlx::query(
            "DELETE FROM environment_admins WHERE environment_id = $1 AND user_id = $2",
        )
        .bind(environment.to_string())
        .bind(user.to_string())
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                entity: "environment admin",
            });
        }
        Ok(())
    }

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
        let rows = sqlx::query_as::<_, AccountRow>(
            "SELECT a.id, a.environment_id, a.number, a.name FROM accounts a \
             JOIN environments e ON e.id = a.environment_id \
             WHERE e.organization_id = $1 AND a.id > $2 ORDER BY a.id LIMIT $3",
        )
        .bind(organization.to_string())
        .bind(list_bound(cursor))
        .bind(overfetch(limit))
        .fetch_all(self.pool())
        .await?;
        let items = rows
            .into_iter()
            .map(TryInto::try_into)
            .collect::<Result<Vec<Account>, _>>()?;
        Ok(Page::from_overfetch(items, limit, |a| a.id.to_string()))
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

    /// Creates a user.
    ///
    /// # Errors
    /// Returns `Conflict` when the email is taken in the organization.
    pub async fn insert_user(&self, user: &NewUser, now: OffsetDateTime) -> Result<(), StoreError> {
        insert_user_query(user, millis(now))
            .execute(self.pool())
            .await
            .map_err(conflict_or_backend("user"))?;
        Ok(())
    }

    /// Lists an organization's users in creation order.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn list_users(
        &self,
        organization: OrganizationId,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<User>, StoreError> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users WHERE organization_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        );
        let rows = sqlx::query_as::<_, UserRow>(&sql)
            .bind(organization.to_string())
            .bind(list_bound(cursor))
            .bind(overfetch(limit))
            .fetch_all(self.pool())
            .await?;
        let items = rows
            .into_iter()
            .map(TryInto::try_into)
            .collect::<Result<Vec<User>, _>>()?;
        Ok(Page::from_overfetch(items, limit, |u| u.id.to_string()))
    }

    /// Returns a user by id, in any organization.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn find_user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        sqlx::query_as::<_, UserRow>(&sql)
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?
            .map(TryInto::try_into)
            .transpose()
    }

    /// Returns a user of an organization.
    ///
    /// # Errors
    /// Returns `NotFound` when absent or in another organization.
    pub async fn fetch_user(
        &self,
        organization: OrganizationId,
        id: UserId,
    ) -> Result<User, StoreError> {
        match self.find_user(id).await? {
            Some(user) if user.organization_id == organization => Ok(user),
            _ => Err(StoreError::NotFound { entity: "user" }),
        }
    }

    /// Returns a user of an organization by email (case-insensitive).
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn find_user_by_email(
        &self,
        organization: OrganizationId,
        email: &str,
    ) -> Result<Option<User>, StoreError> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users WHERE organization_id = $1 AND email_lower = $2"
        );
        sqlx::query_as::<_, UserRow>(&sql)
            .bind(organization.to_string())
            .bind(countersign_core::directory::normalize_email(email))
            .fetch_optional(self.pool())
            .await?
            .map(TryInto::try_into)
            .transpose()
    }

    /// Returns every user with this email across organizations (sign-in).
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn list_users_by_email(&self, email: &str) -> Result<Vec<User>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email_lower = $1 ORDER BY id");
        sqlx::query_as::<_, UserRow>(&sql)
            .bind(countersign_core::directory::normalize_email(email))
            .fetch_all(self.pool())
            .await?
            .into_iter()
            .map(TryInto::try_into)
            .collect()
    }

    /// Changes a user's name and/or status.
    ///
    /// # Errors
    /// Returns `NotFound` when absent or in another organization.
    pub async fn update_user(
        &self,
        organization: OrganizationId,
        id: UserId,
        update: &UserUpdate,
    ) -> Result<User, StoreError> {
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE users SET name = COALESCE($1, name), status = COALESCE($2, status) \
             WHERE id = $3 AND organization_id = $4",
        )
        .bind(update.name.clone())
        .bind(update.status.map(|s| s.as_str().to_owned()))
        .bind(id.to_string())
        .bind(organization.to_string())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound { entity: "user" });
        }
        if update.status == Some(UserStatus::Disabled) {
            // SPEC §7: disabling ends the user's admin sessions; enabling again does not revive
            // them.
            sqlx::query("DELETE FROM admin_sessions WHERE user_id = $1")
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.fetch_user(organization, id).await
    }

    /// Deletes a user with its memberships, environment-admin rights, API passwords, admin
    /// sessions, legacy usage and the API users scoped to it (their tokens stop working).
    ///
    /// # Errors
    /// Returns `NotFound` when absent or in another organization.
    pub async fn delete_user(
        &self,
        organization: OrganizationId,
        id: UserId,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        // The foreign keys cascade; the sessions go explicitly so the rule does not hang on a
        // pragma.
        sqlx::query(
            "DELETE FROM admin_sessions WHERE user_id = $1 \
             AND user_id IN (SELECT id FROM users WHERE organization_id = $2)",
        )
        .bind(id.to_string())
        .bind(organization.to_string())
        .execute(&mut *tx)
        .await?;
        let done = sqlx::query("DELETE FROM users WHERE id = $1 AND organization_id = $2")
            .bind(id.to_string())
            .bind(organization.to_string())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound { entity: "user" });
        }
        tx.commit().await?;
        Ok(())
    }

    /// Returns the password hash of a user.
    ///
    /// # Errors
    /// Returns `NotFound` when absent.
    pub async fn fetch_password_hashes(&self, id: UserId) -> Result<PasswordHashes, StoreError> {
        let row: Option<(Option<String>,)> =
            sqlx::query_as("SELECT password_hash FROM users WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(self.pool())
                .await?;
        let (password_hash,) = row.ok_or(StoreError::NotFound { entity: "user" })?;
        Ok(PasswordHashes { password_hash })
    }

    /// Sets a user's password, ends every API password and bumps the credential version, which
    /// ends cached verifications (SPEC §5: an API password works until the password changes).
    ///
    /// # Errors
    /// Returns `NotFound` when absent or in another organization.
    pub async fn update_password_hash(
        &self,
        organization: OrganizationId,
        id: UserId,
        hash: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE users SET password_hash = $1, credential_version = credential_version + 1 \
             WHERE id = $2 AND organization_id = $3",
        )
        .bind(hash)
        .bind(id.to_string())
        .bind(organization.to_string())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound { entity: "user" });
        }
        sqlx::query("DELETE FROM api_passwords WHERE user_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        // SPEC §7: an admin session (console cookie or admin API token) ends with the password.
        sqlx::query("DELETE FROM admin_sessions WHERE user_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

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
        .bind(organization.to_string())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound { entity: "user" });
        }
        let deleted = sqlx::query("DELETE FROM api_passwords WHERE user_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(deleted)
    }

    /// Returns a user's memberships with their accounts' facts, default first.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn list_memberships(&self, user: UserId) -> Result<Vec<Membership>, StoreError> {
        sqlx::query_as::<_, MembershipRow>(
            "SELECT m.user_id, m.account_id, a.number, a.name, a.environment_id, m.permissions, m.is_default \
             FROM memberships m JOIN accounts a ON a.id = m.account_id \
             WHERE m.user_id = $1 ORDER BY m.is_default DESC, a.id",
        )
        .bind(user.to_string())
        .fetch_all(self.pool())
        .await?
        .into_iter()
        .map(TryInto::try_into)
        .collect()
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
        let done = sqlx::query("DELETE FROM memberships WHERE user_id = $1 AND account_id = $2")
            .bind(user.to_string())
            .bind(account.to_string())
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                entity: "membership",
            });
        }
        Ok(())
    }

    /// Creates an integrator key.
    ///
    /// # Errors
    /// Returns `Conflict` when the key string is taken.
    pub async fn insert_integrator_key(&self, key: &IntegratorKey) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO integrator_keys (id, organization_id, key, name, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(key.id.to_string())
        .bind(key.organization_id.to_string())
        .bind(&key.key)
        .bind(&key.name)
        .bind(key.status.as_str())
        .bind(millis(key.created_at))
        .execute(self.pool())
        .await
        .map_err(conflict_or_backend("integrator key"))?;
        Ok(())
    }

    /// Lists an organization's integrator keys in creation order.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn list_integrator_keys(
        &self,
        organization: OrganizationId,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<IntegratorKey>, StoreError> {
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM integrator_keys WHERE organization_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        );
        let rows = sqlx::query_as::<_, IntegratorKeyRow>(&sql)
            .bind(organization.to_string())
            .bind(list_bound(cursor))
            .bind(overfetch(limit))
            .fetch_all(self.pool())
            .await?;
        let items = rows
            .into_iter()
            .map(TryInto::try_into)
            .collect::<Result<Vec<IntegratorKey>, _>>()?;
        Ok(Page::from_overfetch(items, limit, |k| k.id.to_string()))
    }

    /// Returns an integrator key of an organization.
    ///
    /// # Errors
    /// Returns `NotFound` when absent or in another organization.
    pub async fn fetch_integrator_key(
        &self,
        organization: OrganizationId,
        id: IntegratorKeyId,
    ) -> Result<IntegratorKey, StoreError> {
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM integrator_keys WHERE id = $1 AND organization_id = $2"
        );
        sqlx::query_as::<_, IntegratorKeyRow>(&sql)
            .bind(id.to_string())
            .bind(organization.to_string())
            .fetch_optional(self.pool())
            .await?
            .ok_or(StoreError::NotFound {
                entity: "integrator key",
            })?
            .try_into()
    }

    /// Returns the integrator key record with this key string, in any organization.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn find_integrator_key(
        &self,
        key: &str,
    ) -> Result<Option<IntegratorKey>, StoreError> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM integrator_keys WHERE key = $1");
        sqlx::query_as::<_, IntegratorKeyRow>(&sql)
            .bind(key)
            .fetch_optional(self.pool())
            .await?
            .map(TryInto::try_into)
            .transpose()
    }

    /// Revokes an integrator key.
    ///
    /// # Errors
    /// Returns `NotFound` when absent or in another organization.
    pub async fn revoke_integrator_key(
        &self,
        organization: OrganizationId,
        id: IntegratorKeyId,
    ) -> Result<IntegratorKey, StoreError> {
        let done = sqlx::query(
            "UPDATE integrator_keys SET status = 'revoked' WHERE id = $1 AND organization_id = $2",
        )
        .bind(id.to_string())
        .bind(organization.to_string())
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                entity: "integrator key",
            });
        }
        self.fetch_integrator_key(organization, id).await
    }

    /// Sets or clears the legacy-header sunset of a key; the first sunset set is remembered as
    /// the deprecation date.
    ///
    /// # Errors
    /// Returns `NotFound` when absent or in another organization.
    pub async fn update_integrator_key_sunset(
        &self,
        organization: OrganizationId,
        id: IntegratorKeyId,
        sunset_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<IntegratorKey, StoreError> {
        let done = sqlx::query(
            "UPDATE integrator_keys SET legacy_sunset_at = $1, \
             deprecated_at = CASE WHEN $1 IS NULL THEN deprecated_at ELSE COALESCE(deprecated_at, $2) END \
             WHERE id = $3 AND organization_id = $4",
        )
        .bind(sunset_at.map(millis))
        .bind(millis(now))
        .bind(id.to_string())
        .bind(organization.to_string())
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                entity: "integrator key",
            });
        }
        self.fetch_integrator_key(organization, id).await
    }
}

fn insert_user_query(
    user: &NewUser,
    at: i64,
) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments<'static>> {
    sqlx::query(
        "INSERT INTO users (id, organization_id, email, email_lower, name, status, password_hash, \
         credential_version, created_at, email_skeleton) \
         VALUES ($1, $2, $3, $4, $5, 'active', $6, 0, $7, $8)",
    )
    .bind(user.id.to_string())
    .bind(user.organization_id.to_string())
    .bind(user.email.trim().to_owned())
    .bind(countersign_core::directory::normalize_email(&user.email))
    .bind(user.name.trim().to_owned())
    .bind(user.password_hash.clone())
    .bind(at)
    .bind(countersign_core::names::skeleton(user.email.trim()))
}
