//! Operations on memberships: which users belong to which accounts, and how.

use super::{Actor, OpError, Ops};
use countersign_core::directory::{Membership, Permissions};
use countersign_core::ids::{AccountId, UserId};

impl Ops {
    /// Grants or changes a user's membership of an account.
    ///
    /// # Errors
    /// Returns `NotFound` for an unknown user or account.
    pub async fn put_membership(
        &self,
        actor: &Actor,
        user: UserId,
        account: AccountId,
        permissions: Permissions,
        is_default: bool,
    ) -> Result<Membership, OpError> {
        self.store.fetch(actor.organization_id, user).await?;
        self.store.fetch(actor.organization_id, account).await?;
        self.store
            .upsert_membership(user, account, permissions, is_default)
            .await?;
        self.commit(actor, "membership.put", &format!("{user}/{account}"))
            .await;
        self.store
            .list_memberships(user)
            .await?
            .into_iter()
            .find(|m| m.account_id == account)
            .ok_or(OpError::NotFound("membership"))
    }

    /// Removes a user's membership of an account.
    ///
    /// # Errors
    /// Returns `NotFound` when there is none.
    pub async fn delete_membership(
        &self,
        actor: &Actor,
        user: UserId,
        account: AccountId,
    ) -> Result<(), OpError> {
        self.store.fetch(actor.organization_id, user).await?;
        self.store.fetch(actor.organization_id, account).await?;
        self.store.delete_membership(user, account).await?;
        self.commit(actor, "membership.delete", &format!("{user}/{account}"))
            .await;
        Ok(())
    }
}
