//! Integrator keys as OAuth clients (SPEC §12): their client secrets (digests only) and the RSA
//! public keys that verify their JWT Grant assertions. Limits per key are enforced inside a
//! transaction that first locks the key's row, so two concurrent additions cannot both pass.

use crate::{Store, StoreError, conflict_or_backend, from_millis, millis, parse_id};
use countersign_core::ids::{IntegratorKeyId, OAuthRsaKeyId, OAuthSecretId, OrganizationId};
use time::OffsetDateTime;

/// A client secret of an integrator key (never the secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthSecret {
    /// Id.
    pub id: OAuthSecretId,
    /// The integrator key.
    pub integrator_key_id: IntegratorKeyId,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// Who created it.
    pub created_by: String,
}

/// An RSA public key of an integrator key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthRsaKey {
    /// Id.
    pub id: OAuthRsaKeyId,
    /// The integrator key.
    pub integrator_key_id: IntegratorKeyId,
    /// The public key, SPKI PEM.
    pub public_key_pem: String,
    /// SHA-256 of the SPKI DER, hex.
    pub fingerprint: String,
    /// When it was added.
    pub created_at: OffsetDateTime,
    /// Who added it.
    pub created_by: String,
}

/// Why a secret or key could not be added.
#[derive(Debug, thiserror::Error)]
pub enum AddCredentialError {
    /// The key already holds the most it may.
    #[error("limit reached")]
    LimitReached,
    /// The integrator key does not exist in the organization.
    #[error("integrator key not found")]
    NotFound,
    /// The same public key is already registered.
    #[error("already registered")]
    Duplicate,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for AddCredentialError {
    fn from(error: sqlx::Error) -> Self {
        Self::Store(StoreError::Backend(error))
    }
}

type SecretRow = (String, String, i64, String);
type RsaKeyRow = (String, String, String, String, i64, String);

fn secret_from(row: SecretRow) -> Result<OAuthSecret, StoreError> {
    Ok(OAuthSecret {
        id: parse_id(&row.0, OAuthSecretId::parse)?,
        integrator_key_id: parse_id(&row.1, IntegratorKeyId::parse)?,
        created_at: from_millis(row.2)?,
        created_by: row.3,
    })
}

fn rsa_key_from(row: RsaKeyRow) -> Result<OAuthRsaKey, StoreError> {
    Ok(OAuthRsaKey {
        id: parse_id(&row.0, OAuthRsaKeyId::parse)?,
        integrator_key_id: parse_id(&row.1, IntegratorKeyId::parse)?,
        public_key_pem: row.2,
        fingerprint: row.3,
        created_at: from_millis(row.4)?,
        created_by: row.5,
    })
}

/// Locks an integrator key's row of the organization for the rest of `tx` (a no-op update takes
/// the row lock on PostgreSQL and the write lock on SQLite); false when there is no such key.
async fn lock_key(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    organization: OrganizationId,
    key: IntegratorKeyId,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE integrator_keys SET status = status WHERE id = $1 AND organization_id = $2",
    )
    .bind(key.to_string())
    .bind(organization.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

impl Store {
    /// Stores a client secret's digest, unless the key already holds `max` secrets.
    ///
    /// # Errors
    /// `LimitReached`, `NotFound`, or the store's error.
    pub async fn insert_oauth_secret(
        &self,
        organization: OrganizationId,
        secret: &OAuthSecret,
        digest: &str,
        max: usize,
    ) -> Result<(), AddCredentialError> {
        let mut tx = self.pool().begin().await?;
        if !lock_key(&mut tx, organization, secret.integrator_key_id).await? {
            return Err(AddCredentialError::NotFound);
        }
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM oauth_client_secrets WHERE integrator_key_id = $1",
        )
        .bind(secret.integrator_key_id.to_string())
        .fetch_one(&mut *tx)
        .await?;
        if usize::try_from(count).unwrap_or(usize::MAX) >= max {
            return Err(AddCredentialError::LimitReached);
        }
        sqlx::query(
            "INSERT INTO oauth_client_secrets (id, integrator_key_id, secret_digest, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(secret.id.to_string())
        .bind(secret.integrator_key_id.to_string())
        .bind(digest)
        .bind(millis(secret.created_at))
        .bind(&secret.created_by)
        .execute(&mut *tx)
        .await
        .map_err(conflict_or_backend("client secret"))?;
        tx.commit().await?;
        Ok(())
    }

    /// Lists a key's client secrets, oldest first.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn list_oauth_secrets(
        &self,
        key: IntegratorKeyId,
    ) -> Result<Vec<OAuthSecret>, StoreError> {
        let rows: Vec<SecretRow> = sqlx::query_as(
            "SELECT id, integrator_key_id, created_at, created_by FROM oauth_client_secrets \
             WHERE integrator_key_id = $1 ORDER BY id",
        )
        .bind(key.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(secret_from).collect()
    }

    /// The digests of a key's client secrets (client authentication).
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn list_oauth_secret_digests(
        &self,
        key: IntegratorKeyId,
    ) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT secret_digest FROM oauth_client_secrets WHERE integrator_key_id = $1",
        )
        .bind(key.to_string())
        .fetch_all(self.pool())
        .await?)
    }

    /// Deletes a client secret of a key of the organization.
    ///
    /// # Errors
    /// `NotFound` when there is no such secret.
    pub async fn delete_oauth_secret(
        &self,
        organization: OrganizationId,
        key: IntegratorKeyId,
        id: OAuthSecretId,
    ) -> Result<(), StoreError> {
        let statement = sqlx::query(
            "DELETE FROM oauth_client_secrets WHERE id = $1 AND integrator_key_id = $2 AND \
             integrator_key_id IN (SELECT id FROM integrator_keys WHERE organization_id = $3)",
        )
        .bind(id.to_string())
        .bind(key.to_string())
        .bind(organization.to_string());
        self.run_one(statement, "client secret").await?;
        Ok(())
    }

    /// Stores an RSA public key, unless the key already holds `max` of them or this one.
    ///
    /// # Errors
    /// `LimitReached`, `Duplicate`, `NotFound`, or the store's error.
    pub async fn insert_oauth_rsa_key(
        &self,
        organization: OrganizationId,
        key: &OAuthRsaKey,
        max: usize,
    ) -> Result<(), AddCredentialError> {
        let mut tx = self.pool().begin().await?;
        if !lock_key(&mut tx, organization, key.integrator_key_id).await? {
            return Err(AddCredentialError::NotFound);
        }
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM oauth_rsa_keys WHERE integrator_key_id = $1")
                .bind(key.integrator_key_id.to_string())
                .fetch_one(&mut *tx)
                .await?;
        if usize::try_from(count).unwrap_or(usize::MAX) >= max {
            return Err(AddCredentialError::LimitReached);
        }
        let inserted = sqlx::query(
            "INSERT INTO oauth_rsa_keys (id, integrator_key_id, public_key_pem, fingerprint, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(key.id.to_string())
        .bind(key.integrator_key_id.to_string())
        .bind(&key.public_key_pem)
        .bind(&key.fingerprint)
        .bind(millis(key.created_at))
        .bind(&key.created_by)
        .execute(&mut *tx)
        .await
        .map_err(conflict_or_backend("rsa key"));
        match inserted {
            Err(StoreError::Conflict { .. }) => return Err(AddCredentialError::Duplicate),
            other => other?,
        };
        tx.commit().await?;
        Ok(())
    }

    /// Lists a key's RSA public keys, oldest first.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn list_oauth_rsa_keys(
        &self,
        key: IntegratorKeyId,
    ) -> Result<Vec<OAuthRsaKey>, StoreError> {
        let rows: Vec<RsaKeyRow> = sqlx::query_as(
            "SELECT id, integrator_key_id, public_key_pem, fingerprint, created_at, created_by \
             FROM oauth_rsa_keys WHERE integrator_key_id = $1 ORDER BY id",
        )
        .bind(key.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(rsa_key_from).collect()
    }

    /// Deletes an RSA public key of a key of the organization.
    ///
    /// # Errors
    /// `NotFound` when there is no such key.
    pub async fn delete_oauth_rsa_key(
        &self,
        organization: OrganizationId,
        key: IntegratorKeyId,
        id: OAuthRsaKeyId,
    ) -> Result<(), StoreError> {
        let statement = sqlx::query(
            "DELETE FROM oauth_rsa_keys WHERE id = $1 AND integrator_key_id = $2 AND \
             integrator_key_id IN (SELECT id FROM integrator_keys WHERE organization_id = $3)",
        )
        .bind(id.to_string())
        .bind(key.to_string())
        .bind(organization.to_string());
        self.run_one(statement, "rsa key").await?;
        Ok(())
    }
}
