//! Queries over the `users` table: users, their status and their sign-in password.

use crate::paging::owned;
use crate::query::touched;
use crate::{Store, StoreError, conflict_or_backend, millis, parse_id};
use countersign_core::directory::{User, UserStatus};
use countersign_core::ids::{OrganizationId, UserId};
use time::OffsetDateTime;

#[derive(sqlx::FromRow)]
pub struct UserRow {
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

pub(crate) const USER_COLUMNS: &str = "id, organization_id, email, name, status, credential_version, \
     CASE WHEN password_hash IS NULL THEN 0 ELSE 1 END AS has_password";

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

impl Store {
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

    /// Returns a user by id, in any organization.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn find_user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let query = sqlx::query_as::<_, UserRow>(&sql).bind(id.to_string());
        self.optional(query).await
    }

    /// When a user was created (`/oauth/userinfo`'s `created`).
    ///
    /// # Errors
    /// Returns `NotFound` when absent.
    pub async fn fetch_user_created_at(&self, id: UserId) -> Result<OffsetDateTime, StoreError> {
        let created: Option<i64> = sqlx::query_scalar("SELECT created_at FROM users WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?;
        crate::from_millis(created.ok_or(StoreError::NotFound { entity: "user" })?)
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
        let query = sqlx::query_as::<_, UserRow>(&sql)
            .bind(organization.to_string())
            .bind(countersign_core::directory::normalize_email(email));
        self.optional(query).await
    }

    /// Returns every user with this email across organizations (sign-in).
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn list_users_by_email(&self, email: &str) -> Result<Vec<User>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email_lower = $1 ORDER BY id");
        let query = sqlx::query_as::<_, UserRow>(&sql)
            .bind(countersign_core::directory::normalize_email(email));
        self.all(query).await
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
        touched(&done, "user")?;
        if update.status == Some(UserStatus::Disabled) {
            // SPEC §7: disabling ends the user's admin sessions; enabling again does not revive
            // them.
            sqlx::query("DELETE FROM admin_sessions WHERE user_id = $1")
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.fetch(organization, id).await
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
        touched(&done, "user")?;
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
        touched(&done, "user")?;
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
}

pub(crate) fn insert_user_query(
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

owned! {
    User(UserRow) by UserId, "user",
    from "users", select USER_COLUMNS
}
