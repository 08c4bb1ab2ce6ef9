//! Operations on integrator keys: creation, revocation and the legacy-header sunset.

use super::{Actor, OpError, Ops, invalid};
use countersign_core::directory::{self, IntegratorKey, IntegratorKeyStatus};
use countersign_core::ids::IntegratorKeyId;
use countersign_store::StoreError;
use time::OffsetDateTime;
use uuid::Uuid;

impl Ops {
    /// Creates an integrator key, generating a UUID key unless one is imported.
    ///
    /// # Errors
    /// Returns `Invalid` or `Conflict`.
    pub async fn create_integrator_key(
        &self,
        actor: &Actor,
        name: &str,
        key: Option<&str>,
    ) -> Result<IntegratorKey, OpError> {
        directory::validate_name(name).map_err(|e| invalid("name", e))?;
        let key = match key {
            Some(key) => {
                directory::validate_integrator_key(key.trim()).map_err(|e| invalid("key", e))?;
                key.trim().to_owned()
            }
            None => Uuid::new_v4().to_string(),
        };
        let record = IntegratorKey {
            id: IntegratorKeyId(Uuid::now_v7()),
            organization_id: actor.organization_id,
            key,
            name: name.trim().to_owned(),
            status: IntegratorKeyStatus::Active,
            legacy_sunset_at: None,
            deprecated_at: None,
            created_at: self.now(),
            redirect_uris: Vec::new(),
            allow_implicit: false,
        };
        match self.store.insert_integrator_key(&record).await {
            Err(StoreError::Conflict { .. }) => {
                return Err(OpError::Conflict {
                    code: "integrator_key_taken",
                    detail: "this integrator key already exists".into(),
                });
            }
            other => other?,
        }
        self.commit(actor, "integrator_key.create", &record.id.to_string())
            .await;
        Ok(record)
    }

    /// Revokes an integrator key.
    ///
    /// # Errors
    /// Returns `NotFound`.
    pub async fn revoke_integrator_key(
        &self,
        actor: &Actor,
        id: IntegratorKeyId,
    ) -> Result<IntegratorKey, OpError> {
        let key = self
            .store
            .revoke_integrator_key(actor.organization_id, id)
            .await?;
        self.commit(actor, "integrator_key.revoke", &id.to_string())
            .await;
        Ok(key)
    }

    /// Sets or clears the legacy-header sunset of an integrator key.
    ///
    /// # Errors
    /// Returns `NotFound`.
    pub async fn set_integrator_key_sunset(
        &self,
        actor: &Actor,
        id: IntegratorKeyId,
        sunset_at: Option<OffsetDateTime>,
    ) -> Result<IntegratorKey, OpError> {
        let key = self
            .store
            .update_integrator_key_sunset(actor.organization_id, id, sunset_at, self.now())
            .await?;
        let action = if sunset_at.is_some() {
            "integrator_key.sunset_set"
        } else {
            "integrator_key.sunset_clear"
        };
        self.commit(actor, action, &id.to_string()).await;
        Ok(key)
    }
}
