//! Queries over the `integrator_keys` table.

use crate::paging::owned;
use crate::{
    Store, StoreError, conflict_or_backend, from_millis, millis, opt_from_millis, parse_id,
};
use countersign_core::directory::{IntegratorKey, IntegratorKeyStatus};
use countersign_core::ids::{IntegratorKeyId, OrganizationId};
use time::OffsetDateTime;

#[derive(sqlx::FromRow)]
pub struct IntegratorKeyRow {
    id: String,
    organization_id: String,
    key: String,
    name: String,
    status: String,
    legacy_sunset_at: Option<i64>,
    deprecated_at: Option<i64>,
    created_at: i64,
    redirect_uris: String,
    allow_implicit: i64,
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
            redirect_uris: row
                .redirect_uris
                .lines()
                .filter(|uri| !uri.is_empty())
                .map(str::to_owned)
                .collect(),
            allow_implicit: row.allow_implicit != 0,
        })
    }
}

const KEY_COLUMNS: &str = "id, organization_id, key, name, status, legacy_sunset_at, \
     deprecated_at, created_at, redirect_uris, allow_implicit";

impl Store {
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

    /// Returns the integrator key record with this key string, in any organization.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn find_integrator_key(
        &self,
        key: &str,
    ) -> Result<Option<IntegratorKey>, StoreError> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM integrator_keys WHERE key = $1");
        let query = sqlx::query_as::<_, IntegratorKeyRow>(&sql).bind(key);
        self.optional(query).await
    }

    /// Returns the integrator key record with this id, in any organization (OAuth access
    /// tokens name their key by id).
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn find_integrator_key_by_id(
        &self,
        id: IntegratorKeyId,
    ) -> Result<Option<IntegratorKey>, StoreError> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM integrator_keys WHERE id = $1");
        let query = sqlx::query_as::<_, IntegratorKeyRow>(&sql).bind(id.to_string());
        self.optional(query).await
    }

    /// Sets the OAuth client settings of a key: its redirect URIs (validated by the caller; no
    /// line breaks) and whether the implicit grant is allowed. `None` leaves a setting as is.
    ///
    /// # Errors
    /// Returns `NotFound` when absent or in another organization.
    pub async fn update_integrator_key_oauth(
        &self,
        organization: OrganizationId,
        id: IntegratorKeyId,
        redirect_uris: Option<&[String]>,
        allow_implicit: Option<bool>,
    ) -> Result<IntegratorKey, StoreError> {
        let statement = sqlx::query(
            "UPDATE integrator_keys SET \
             redirect_uris = CASE WHEN $1 = 1 THEN $2 ELSE redirect_uris END, \
             allow_implicit = CASE WHEN $3 = 1 THEN $4 ELSE allow_implicit END \
             WHERE id = $5 AND organization_id = $6",
        )
        .bind(i64::from(redirect_uris.is_some()))
        .bind(
            redirect_uris
                .map(|uris| uris.join("\n"))
                .unwrap_or_default(),
        )
        .bind(i64::from(allow_implicit.is_some()))
        .bind(i64::from(allow_implicit.unwrap_or(false)))
        .bind(id.to_string())
        .bind(organization.to_string());
        self.run_one(statement, "integrator key").await?;
        self.fetch(organization, id).await
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
        let statement = sqlx::query(
            "UPDATE integrator_keys SET status = 'revoked' WHERE id = $1 AND organization_id = $2",
        )
        .bind(id.to_string())
        .bind(organization.to_string());
        self.run_one(statement, "integrator key").await?;
        self.fetch(organization, id).await
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
        let statement = sqlx::query(
            "UPDATE integrator_keys SET legacy_sunset_at = $1, \
             deprecated_at = CASE WHEN $1 IS NULL THEN deprecated_at ELSE COALESCE(deprecated_at, $2) END \
             WHERE id = $3 AND organization_id = $4",
        )
        .bind(sunset_at.map(millis))
        .bind(millis(now))
        .bind(id.to_string())
        .bind(organization.to_string());
        self.run_one(statement, "integrator key").await?;
        self.fetch(organization, id).await
    }
}

owned! {
    IntegratorKey(IntegratorKeyRow) by IntegratorKeyId, "integrator key",
    from "integrator_keys", select KEY_COLUMNS
}
