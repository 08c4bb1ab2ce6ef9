//! Organization-wide operations: who administers the organization, the legacy header switch.

use super::{Actor, OpError, Ops};
use countersign_core::directory::{self, Organization};
use countersign_core::ids::{OrganizationId, UserId};

impl Ops {
    /// Whether `user` administers every environment of `organization`.
    ///
    /// # Errors
    /// Returns a store failure.
    pub async fn is_organization_admin(
        &self,
        organization: OrganizationId,
        user: UserId,
    ) -> Result<bool, OpError> {
        let environments = self.store.list_environment_ids(organization).await?;
        let administered = self.store.list_administered_environments(user).await?;
        Ok(directory::is_organization_admin(
            &environments,
            &administered,
        ))
    }

    /// Turns the legacy header on or off for the actor's organization.
    ///
    /// # Errors
    /// Returns a store failure.
    pub async fn set_legacy_header_enabled(
        &self,
        actor: &Actor,
        enabled: bool,
    ) -> Result<Organization, OpError> {
        let organization = self
            .store
            .update_legacy_header_enabled(actor.organization_id, enabled)
            .await?;
        let action = if enabled {
            "organization.legacy_header_enable"
        } else {
            "organization.legacy_header_disable"
        };
        self.commit(actor, action, &actor.organization_id.to_string())
            .await;
        Ok(organization)
    }
}
