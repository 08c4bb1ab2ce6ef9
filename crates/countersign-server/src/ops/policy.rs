//! The organization's credential policy (SPEC §13): read, and changed by an administrator.

use super::{Actor, OpError, Ops, invalid};
use countersign_core::ids::OrganizationId;
use countersign_core::lifecycle::{Policy, PolicyError};

impl Ops {
    /// The credential policy of an organization.
    ///
    /// # Errors
    /// Returns `NotFound` or a store failure.
    pub async fn policy(&self, organization: OrganizationId) -> Result<Policy, OpError> {
        Ok(self.store.fetch_policy(organization).await?)
    }

    /// Replaces the actor's organization's credential policy, checked against the server-wide
    /// maximum lifetime.
    ///
    /// # Errors
    /// Returns `Invalid` naming the first field out of bounds.
    pub async fn set_policy(&self, actor: &Actor, policy: Policy) -> Result<Policy, OpError> {
        let policy = policy
            .validated(self.config.api_user_max_lifetime_days)
            .map_err(|error| {
                let field = match error {
                    PolicyError::MaxLifetime { .. } => "api_user_max_lifetime_days",
                    PolicyError::UnusedRevoke => "api_user_unused_revoke_days",
                    PolicyError::WarningDays => "expiry_warning_days",
                    PolicyError::LeakResponse => "leak_response",
                };
                invalid(field, error.to_string())
            })?;
        let stored = self
            .store
            .update_policy(actor.organization_id, &policy)
            .await?;
        self.commit(
            actor,
            "organization.policy_update",
            &actor.organization_id.to_string(),
        )
        .await;
        Ok(stored)
    }
}
