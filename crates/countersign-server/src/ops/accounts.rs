//! Operations on accounts and the drawing of account numbers.

use super::{Actor, OpError, Ops, invalid};
use crate::secrets::random_bytes;
use countersign_core::directory::{self, Account};
use countersign_core::ids::{AccountId, EnvironmentId};
use countersign_store::StoreError;
use uuid::Uuid;

/// Draws an 8-digit account number (first digit non-zero) from the OS CSPRNG.
pub(super) fn account_number() -> String {
    let bytes = random_bytes::<8>();
    let value = u64::from_le_bytes(bytes) % 90_000_000 + 10_000_000;
    value.to_string()
}

impl Ops {
    /// Creates an account in an environment of the actor's organization.
    ///
    /// # Errors
    /// Returns `Invalid` for a bad name or unknown environment.
    pub async fn create_account(
        &self,
        actor: &Actor,
        environment_id: EnvironmentId,
        name: &str,
    ) -> Result<Account, OpError> {
        directory::validate_name(name).map_err(|e| invalid("name", e))?;
        self.store
            .fetch(actor.organization_id, environment_id)
            .await
            .map_err(|_| invalid("environment_id", "no such environment in this organization"))?;
        for _ in 0..20 {
            let account = Account {
                id: AccountId(Uuid::now_v7()),
                environment_id,
                number: account_number(),
                name: name.trim().to_owned(),
            };
            match self.store.insert_account(&account, self.now()).await {
                Ok(()) => {
                    self.commit(actor, "account.create", &account.id.to_string())
                        .await;
                    return Ok(account);
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(OpError::Conflict {
            code: "conflict",
            detail: "could not allocate an account number".into(),
        })
    }
}
