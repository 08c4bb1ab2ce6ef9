//! Registered introspection clients: the resource servers allowed to call `/v1/introspect`,
//! stored with a digest of their secret, never the secret.

use crate::paging::owned;
use crate::{Store, StoreError, conflict_or_backend, from_millis, millis, parse_id};
use countersign_core::ids::{IntrospectionClientId, OrganizationId};
use countersign_core::introspection::IntrospectionClient;

#[derive(sqlx::FromRow)]
pub struct ClientRow {
    id: String,
    organization_id: String,
    client_id: String,
    name: String,
    created_at: i64,
    created_by: String,
}

impl TryFrom<ClientRow> for IntrospectionClient {
    type Error = StoreError;
    fn try_from(row: ClientRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: parse_id(&row.id, IntrospectionClientId::parse)?,
            organization_id: parse_id(&row.organization_id, OrganizationId::parse)?,
            client_id: row.client_id,
            name: row.name,
            created_at: from_millis(row.created_at)?,
            created_by: row.created_by,
        })
    }
}

const COLUMNS: &str = "id, organization_id, client_id, name, created_at, created_by";

impl Store {
    /// Registers a client with the digest of its secret.
    ///
    /// # Errors
    /// `Conflict` when the client id exists (a collision of 128 random bits), else `Backend`.
    pub async fn insert_introspection_client(
        &self,
        client: &IntrospectionClient,
        secret_digest: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO introspection_clients \
             (id, organization_id, client_id, name, secret_digest, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(client.id.to_string())
        .bind(client.organization_id.to_string())
        .bind(&client.client_id)
        .bind(&client.name)
        .bind(secret_digest)
        .bind(millis(client.created_at))
        .bind(&client.created_by)
        .execute(self.pool())
        .await
        .map_err(conflict_or_backend("introspection client"))?;
        Ok(())
    }

    /// Finds a client by the public client id it authenticates with, with its secret digest.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn find_introspection_client_by_client_id(
        &self,
        client_id: &str,
    ) -> Result<Option<(IntrospectionClient, String)>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct WithDigest {
            #[sqlx(flatten)]
            client: ClientRow,
            secret_digest: String,
        }
        let sql = format!(
            "SELECT {COLUMNS}, secret_digest FROM introspection_clients WHERE client_id = $1"
        );
        let Some(row) = sqlx::query_as::<_, WithDigest>(&sql)
            .bind(client_id)
            .fetch_optional(self.pool())
            .await?
        else {
            return Ok(None);
        };
        Ok(Some((row.client.try_into()?, row.secret_digest)))
    }

    /// Deletes an introspection client; its credentials stop working at once.
    ///
    /// # Errors
    /// `NotFound` when absent or in another organization.
    pub async fn delete_introspection_client(
        &self,
        organization: OrganizationId,
        id: IntrospectionClientId,
    ) -> Result<(), StoreError> {
        let done =
            sqlx::query("DELETE FROM introspection_clients WHERE id = $1 AND organization_id = $2")
                .bind(id.to_string())
                .bind(organization.to_string())
                .execute(self.pool())
                .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                entity: "introspection client",
            });
        }
        Ok(())
    }
}

owned! {
    IntrospectionClient(ClientRow) by IntrospectionClientId, "introspection client",
    from "introspection_clients", select COLUMNS
}
