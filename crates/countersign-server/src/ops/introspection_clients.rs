//! Operations on introspection clients (not part of the directory: no change is published).

use super::{Actor, OpError, Ops, invalid};
use crate::secrets::random_bytes;
use countersign_core::directory;
use countersign_core::ids::IntrospectionClientId;
use countersign_core::introspection::{self, ClientSecret, IntrospectionClient};
use uuid::Uuid;

impl Ops {
    /// Registers an introspection client for the actor's organization; the secret, from the
    /// OS CSPRNG, is returned once and stored only as a digest under the pepper.
    ///
    /// # Errors
    /// Returns `Invalid` for a bad name.
    pub async fn create_introspection_client(
        &self,
        actor: &Actor,
        name: &str,
    ) -> Result<(IntrospectionClient, ClientSecret), OpError> {
        directory::validate_name(name).map_err(|e| invalid("name", e))?;
        let secret = ClientSecret::from_random(&random_bytes::<32>());
        let client = IntrospectionClient {
            id: IntrospectionClientId(Uuid::now_v7()),
            organization_id: actor.organization_id,
            client_id: introspection::new_client_id(&random_bytes::<16>()),
            name: name.trim().to_owned(),
            created_at: self.now(),
            created_by: actor.name.clone(),
        };
        self.store
            .insert_introspection_client(&client, &secret.digest(&self.pepper))
            .await?;
        self.audit(actor, "introspection_client.create", &client.id.to_string())
            .await;
        Ok((client, secret))
    }

    /// Deletes an introspection client; its credentials stop working on the next request.
    ///
    /// # Errors
    /// Returns `NotFound`.
    pub async fn delete_introspection_client(
        &self,
        actor: &Actor,
        id: IntrospectionClientId,
    ) -> Result<(), OpError> {
        self.store
            .delete_introspection_client(actor.organization_id, id)
            .await?;
        self.audit(actor, "introspection_client.delete", &id.to_string())
            .await;
        Ok(())
    }
}
