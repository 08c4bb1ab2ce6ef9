//! Queries over API users and their key digests.

use crate::paging::list_bound;
use crate::paging::owned;
use crate::query::touched;
use crate::{
    Page, Store, StoreError, conflict_or_backend, from_millis, millis, opt_from_millis, parse_id,
};
use countersign_core::api_user::{ApiKeyRecord, ApiUser, Scope, normalize_username};
use countersign_core::ids::{ApiKeyId, ApiUserId, EnvironmentId, OrganizationId, UserId};
use countersign_core::names::skeleton;
use time::OffsetDateTime;

#[derive(sqlx::FromRow)]
pub struct ApiUserRow {
    id: String,
    organization_id: String,
    username: String,
    scope_type: String,
    scope_user_id: Option<String>,
    scope_environment_id: Option<String>,
    expires_at: i64,
    description: Option<String>,
    created_at: i64,
    created_by: String,
    revoked_at: Option<i64>,
    revoked_by: Option<String>,
    last_used_at: Option<i64>,
}

pub(crate) const COLUMNS: &str = "id, organization_id, username, scope_type, scope_user_id, scope_environment_id, \
     expires_at, description, created_at, created_by, revoked_at, revoked_by, last_used_at";

impl TryFrom<ApiUserRow> for ApiUser {
    type Error = StoreError;
    fn try_from(row: ApiUserRow) -> Result<Self, StoreError> {
        let scope = match (
            row.scope_type.as_str(),
            row.scope_user_id,
            row.scope_environment_id,
        ) {
            ("user", Some(user), _) => Scope::User(parse_id(&user, UserId::parse)?),
            ("environment", _, Some(environment)) => {
                Scope::Environment(parse_id(&environment, EnvironmentId::parse)?)
            }
            ("organization", _, _) => Scope::Organization,
            _ => return Err(StoreError::Corrupt { what: "scope" }),
        };
        Ok(Self {
            id: parse_id(&row.id, ApiUserId::parse)?,
            organization_id: parse_id(&row.organization_id, OrganizationId::parse)?,
            username: row.username,
            scope,
            expires_at: from_millis(row.expires_at)?,
            description: row.description,
            created_at: from_millis(row.created_at)?,
            created_by: row.created_by,
            revoked_at: opt_from_millis(row.revoked_at)?,
            revoked_by: row.revoked_by,
            last_used_at: opt_from_millis(row.last_used_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct KeyRow {
    id: String,
    digest: String,
    valid_until: Option<i64>,
    created_at: i64,
    first_used_at: Option<i64>,
    last_used_at: Option<i64>,
    last_used_ip: Option<String>,
    retire_after_silence_minutes: Option<i64>,
}

pub(crate) const KEY_COLUMNS: &str = "id, digest, valid_until, created_at, first_used_at, \
     last_used_at, last_used_ip, retire_after_silence_minutes";

impl TryFrom<KeyRow> for ApiKeyRecord {
    type Error = StoreError;
    fn try_from(row: KeyRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: parse_id(&row.id, ApiKeyId::parse)?,
            digest: row.digest,
            valid_until: opt_from_millis(row.valid_until)?,
            created_at: from_millis(row.created_at)?,
            first_used_at: opt_from_millis(row.first_used_at)?,
            last_used_at: opt_from_millis(row.last_used_at)?,
            last_used_ip: row.last_used_ip,
            retire_after_silence_minutes: row.retire_after_silence_minutes,
        })
    }
}

/// One use of an API user, and of the key it was used with, for `last_used_*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyUse {
    /// The API user.
    pub api_user_id: ApiUserId,
    /// The key (none for uses that name no key).
    pub key_id: Option<ApiKeyId>,
    /// When.
    pub at: OffsetDateTime,
    /// From where (the client address).
    pub ip: Option<String>,
}

fn key_use_query<'q>(
    key: ApiKeyId,
    at: OffsetDateTime,
    ip: Option<String>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    sqlx::query(
        "UPDATE api_user_keys SET first_used_at = COALESCE(first_used_at, $1), \
         last_used_ip = CASE WHEN last_used_at IS NULL OR last_used_at <= $1 THEN $2 ELSE last_used_ip END, \
         last_used_at = CASE WHEN last_used_at IS NULL OR last_used_at < $1 THEN $1 ELSE last_used_at END \
         WHERE id = $3",
    )
    .bind(millis(at))
    .bind(ip)
    .bind(key.to_string())
}

/// An API user with the digests of its keys.
#[derive(Clone, Debug)]
pub struct ApiUserWithKeys {
    /// The API user.
    pub api_user: ApiUser,
    /// Its keys, newest first.
    pub keys: Vec<ApiKeyRecord>,
}

/// An API user to create, with the digest of its first key.
#[derive(Clone, Debug)]
pub struct NewApiUser {
    /// The record.
    pub api_user: ApiUser,
    /// Id of the first key.
    pub key_id: ApiKeyId,
    /// Digest of the first key.
    pub key_digest: String,
}

impl Store {
    /// Creates an API user and its first key atomically.
    ///
    /// # Errors
    /// Returns `Conflict` when the username, or one that looks like it (the same skeleton), is
    /// taken installation-wide.
    pub async fn insert_api_user(&self, new: &NewApiUser) -> Result<(), StoreError> {
        let api_user = &new.api_user;
        let (user_id, environment_id) = match api_user.scope {
            Scope::User(user) => (Some(user.to_string()), None),
            Scope::Environment(environment) => (None, Some(environment.to_string())),
            Scope::Organization => (None, None),
        };
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO api_users (id, organization_id, username, username_lower, scope_type, scope_user_id, \
             scope_environment_id, expires_at, description, created_at, created_by, username_skeleton) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(api_user.id.to_string())
        .bind(api_user.organization_id.to_string())
        .bind(&api_user.username)
        .bind(normalize_username(&api_user.username))
        .bind(api_user.scope.type_name())
        .bind(user_id)
        .bind(environment_id)
        .bind(millis(api_user.expires_at))
        .bind(api_user.description.clone())
        .bind(millis(api_user.created_at))
        .bind(&api_user.created_by)
        .bind(skeleton(&api_user.username))
        .execute(&mut *tx)
        .await
        .map_err(conflict_or_backend("api user"))?;
        sqlx::query("INSERT INTO api_user_keys (id, api_user_id, digest, created_at) VALUES ($1, $2, $3, $4)")
            .bind(new.key_id.to_string())
            .bind(api_user.id.to_string())
            .bind(&new.key_digest)
            .bind(millis(api_user.created_at))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Returns an API user with its keys by id, in any organization.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn find_api_user_with_keys(
        &self,
        id: ApiUserId,
    ) -> Result<Option<ApiUserWithKeys>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM api_users WHERE id = $1");
        let row = sqlx::query_as::<_, ApiUserRow>(&sql)
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?;
        self.with_keys(row).await
    }

    /// Returns an API user with its keys by username (case-insensitive).
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn find_api_user_by_username(
        &self,
        username: &str,
    ) -> Result<Option<ApiUserWithKeys>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM api_users WHERE username_lower = $1");
        let row = sqlx::query_as::<_, ApiUserRow>(&sql)
            .bind(normalize_username(username))
            .fetch_optional(self.pool())
            .await?;
        self.with_keys(row).await
    }

    async fn with_keys(
        &self,
        row: Option<ApiUserRow>,
    ) -> Result<Option<ApiUserWithKeys>, StoreError> {
        let Some(row) = row else { return Ok(None) };
        let api_user: ApiUser = row.try_into()?;
        let keys = self.keys_of(api_user.id).await?;
        Ok(Some(ApiUserWithKeys { api_user, keys }))
    }

    /// An API user's keys, newest first.
    pub(crate) async fn keys_of(
        &self,
        api_user: ApiUserId,
    ) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM api_user_keys WHERE api_user_id = $1 \
             ORDER BY created_at DESC, id DESC"
        );
        self.all(sqlx::query_as::<_, KeyRow>(&sql).bind(api_user.to_string()))
            .await
    }

    /// Lists an organization's API users in creation order; inactive (revoked or expired at
    /// `now`) ones only when asked.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn list_api_users(
        &self,
        organization: OrganizationId,
        include_inactive: bool,
        now: OffsetDateTime,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<ApiUser>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM api_users WHERE organization_id = $1 \
             AND ($2 = 1 OR (revoked_at IS NULL AND expires_at > $3)) AND id > $4 \
             ORDER BY id LIMIT $5"
        );
        self.list_page::<ApiUserRow, _, _>(
            &sql,
            |query| {
                query
                    .bind(organization.to_string())
                    .bind(i64::from(include_inactive))
                    .bind(millis(now))
            },
            list_bound(cursor),
            limit,
            |a: &ApiUser| a.id.to_string(),
        )
        .await
    }

    /// Revokes an API user permanently (idempotent: the first revocation is kept).
    ///
    /// # Errors
    /// Returns `NotFound` when absent or in another organization.
    pub async fn revoke_api_user(
        &self,
        organization: OrganizationId,
        id: ApiUserId,
        by: &str,
        now: OffsetDateTime,
    ) -> Result<ApiUser, StoreError> {
        sqlx::query(
            "UPDATE api_users SET revoked_at = $1, revoked_by = $2 \
             WHERE id = $3 AND organization_id = $4 AND revoked_at IS NULL",
        )
        .bind(millis(now))
        .bind(by)
        .bind(id.to_string())
        .bind(organization.to_string())
        .execute(self.pool())
        .await?;
        self.fetch(organization, id).await
    }

    /// Deletes an API user and its keys.
    ///
    /// # Errors
    /// Returns `NotFound` when absent or in another organization.
    pub async fn delete_api_user(
        &self,
        organization: OrganizationId,
        id: ApiUserId,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM api_user_keys WHERE api_user_id = $1 AND api_user_id IN (SELECT id FROM api_users WHERE organization_id = $2)")
            .bind(id.to_string())
            .bind(organization.to_string())
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM api_users WHERE id = $1 AND organization_id = $2")
            .bind(id.to_string())
            .bind(organization.to_string())
            .execute(&mut *tx)
            .await?;
        touched(&done, "api user")?;
        tx.commit().await?;
        Ok(())
    }

    /// Adds a new key and ends every older key at `old_valid_until` (or keeps an earlier end).
    /// Older keys still accepted at `now` take `retire_after_silence_minutes`: the latest
    /// rotation decides how they wind down.
    ///
    /// # Errors
    /// Returns `NotFound` when absent or in another organization.
    #[expect(
        clippy::too_many_arguments,
        reason = "one rotation's facts, bound in one place"
    )]
    pub async fn rotate_api_user_key(
        &self,
        organization: OrganizationId,
        id: ApiUserId,
        key_id: ApiKeyId,
        digest: &str,
        old_valid_until: OffsetDateTime,
        retire_after_silence_minutes: Option<i64>,
        now: OffsetDateTime,
    ) -> Result<ApiUser, StoreError> {
        let api_user = self.fetch(organization, id).await?;
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "UPDATE api_user_keys SET retire_after_silence_minutes = $1 \
             WHERE api_user_id = $2 AND (valid_until IS NULL OR valid_until > $3)",
        )
        .bind(retire_after_silence_minutes)
        .bind(id.to_string())
        .bind(millis(now))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE api_user_keys SET valid_until = $1 \
             WHERE api_user_id = $2 AND (valid_until IS NULL OR valid_until > $1)",
        )
        .bind(millis(old_valid_until))
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO api_user_keys (id, api_user_id, digest, created_at) VALUES ($1, $2, $3, $4)")
            .bind(key_id.to_string())
            .bind(id.to_string())
            .bind(digest)
            .bind(millis(now))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(api_user)
    }

    /// Records last use of API users and their keys (a batch from the usage flusher); never
    /// moves time back.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn update_api_users_last_used(&self, uses: &[KeyUse]) -> Result<(), StoreError> {
        if uses.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool().begin().await?;
        for usage in uses {
            sqlx::query(
                "UPDATE api_users SET last_used_at = $1, last_used_ip = $2 \
                 WHERE id = $3 AND (last_used_at IS NULL OR last_used_at < $1)",
            )
            .bind(millis(usage.at))
            .bind(usage.ip.clone())
            .bind(usage.api_user_id.to_string())
            .execute(&mut *tx)
            .await?;
            if let Some(key) = usage.key_id {
                key_use_query(key, usage.at, usage.ip.clone())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records one use of a key at once (its first use, or any use of a retiring key, SPEC
    /// §13): the first use is kept, the last use never moves back.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn record_key_use(
        &self,
        key: ApiKeyId,
        at: OffsetDateTime,
        ip: Option<String>,
    ) -> Result<(), StoreError> {
        key_use_query(key, at, ip).execute(self.pool()).await?;
        Ok(())
    }

    /// Retires a retiring key at `now` if it has not been used within `silence_minutes`
    /// (checked in the same statement, so a use recorded meanwhile keeps it); `true` when it
    /// retired.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn retire_silent_key(
        &self,
        key: ApiKeyId,
        silence_minutes: i64,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let quiet_since = now - time::Duration::minutes(silence_minutes);
        let done = sqlx::query(
            "UPDATE api_user_keys SET valid_until = $1 WHERE id = $2 AND valid_until > $1 \
             AND (last_used_at IS NULL OR last_used_at <= $3)",
        )
        .bind(millis(now))
        .bind(key.to_string())
        .bind(millis(quiet_since))
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// API users (with their keys) that hold a retiring key with a silence rule at `now`.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn list_api_users_with_silent_rotation(
        &self,
        now: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<ApiUserWithKeys>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT api_user_id FROM api_user_keys WHERE valid_until > $1 \
             AND retire_after_silence_minutes IS NOT NULL ORDER BY api_user_id LIMIT $2",
        )
        .bind(millis(now))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(api_user) = self
                .find_api_user_with_keys(parse_id(&id, ApiUserId::parse)?)
                .await?
            {
                found.push(api_user);
            }
        }
        Ok(found)
    }

    /// The address an API user was last used from.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn find_api_user_last_used_ip(
        &self,
        id: ApiUserId,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar::<_, Option<String>>(
            "SELECT last_used_ip FROM api_users WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(self.pool())
        .await?
        .flatten())
    }
}

owned! {
    ApiUser(ApiUserRow) by ApiUserId, "api user",
    from "api_users", select COLUMNS
}
