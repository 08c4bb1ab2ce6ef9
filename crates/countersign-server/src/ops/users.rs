//! Operations on users: creation, status, deletion, passwords and API passwords.

use super::{Actor, OpError, Ops, check_visible, invalid};
use crate::passwords;
use countersign_core::directory::{self, User, UserStatus};
use countersign_core::ids::UserId;
use countersign_core::secret::Secret;
use countersign_store::{NewUser, StoreError, UserUpdate};
use uuid::Uuid;

impl Ops {
    /// Creates a user, with a password if given.
    ///
    /// # Errors
    /// Returns `Invalid` for a bad email, name or password; `Conflict` when the email is taken.
    pub async fn create_user(
        &self,
        actor: &Actor,
        email: &str,
        name: &str,
        password: Option<Secret>,
    ) -> Result<User, OpError> {
        check_visible("email", email)?;
        directory::validate_email(email).map_err(|e| invalid("email", e))?;
        directory::validate_name(name).map_err(|e| invalid("name", e))?;
        let password_hash = match password {
            Some(password) => {
                passwords::validate(password.expose()).map_err(|e| invalid("password", e))?;
                Some(self.hash(password).await?)
            }
            None => None,
        };
        let id = UserId(Uuid::now_v7());
        let new = NewUser {
            id,
            organization_id: actor.organization_id,
            email: email.to_owned(),
            name: name.to_owned(),
            password_hash,
        };
        match self.store.insert_user(&new, self.now()).await {
            Err(StoreError::Conflict { .. }) => {
                return Err(OpError::Conflict {
                    code: "email_taken",
                    detail: "a user with this email, or one that looks like it, already exists"
                        .into(),
                });
            }
            other => other?,
        }
        self.commit(actor, "user.create", &id.to_string()).await;
        Ok(self.store.fetch(actor.organization_id, id).await?)
    }

    async fn hash(&self, password: Secret) -> Result<String, OpError> {
        passwords::hash(password.expose().to_owned(), self.config.password_hashing)
            .await
            .map_err(|_| invalid("password", "password could not be hashed"))
    }

    /// Changes a user's name and/or status (disabling takes effect on the next request).
    ///
    /// # Errors
    /// Returns `NotFound` or `Invalid`.
    pub async fn update_user(
        &self,
        actor: &Actor,
        id: UserId,
        name: Option<&str>,
        status: Option<UserStatus>,
    ) -> Result<User, OpError> {
        if let Some(name) = name {
            directory::validate_name(name).map_err(|e| invalid("name", e))?;
        }
        if name.is_none() && status.is_none() {
            return Err(invalid(
                "status",
                "nothing to change: give status and/or name",
            ));
        }
        let update = UserUpdate {
            name: name.map(|n| n.trim().to_owned()),
            status,
        };
        let user = self
            .store
            .update_user(actor.organization_id, id, &update)
            .await?;
        let action = match status {
            Some(UserStatus::Disabled) => "user.disable",
            Some(UserStatus::Active) => "user.enable",
            None => "user.update",
        };
        self.commit(actor, action, &id.to_string()).await;
        Ok(user)
    }

    /// Deletes a user: memberships, API passwords, admin sessions and the API users scoped to
    /// it go with it, and every credential of theirs is refused on the next request.
    ///
    /// # Errors
    /// Returns `NotFound`.
    pub async fn delete_user(&self, actor: &Actor, id: UserId) -> Result<(), OpError> {
        self.store.delete_user(actor.organization_id, id).await?;
        self.commit(actor, "user.delete", &id.to_string()).await;
        Ok(())
    }

    /// Sets a user's password (ends cached verifications, the API passwords and the user's
    /// admin sessions).
    ///
    /// # Errors
    /// Returns `NotFound` or `Invalid`.
    pub async fn set_password(
        &self,
        actor: &Actor,
        id: UserId,
        password: Secret,
    ) -> Result<(), OpError> {
        passwords::validate(password.expose()).map_err(|e| invalid("password", e))?;
        self.store.fetch(actor.organization_id, id).await?;
        let hash = self.hash(password).await?;
        self.store
            .update_password_hash(actor.organization_id, id, &hash)
            .await?;
        self.commit(actor, "user.password_set", &id.to_string())
            .await;
        Ok(())
    }

    /// Ends every API password of a user (the legacy header then needs the password or a new
    /// API password); cached verifications end at once.
    ///
    /// # Errors
    /// Returns `NotFound`.
    pub async fn reset_api_passwords(&self, actor: &Actor, id: UserId) -> Result<u64, OpError> {
        let removed = self
            .store
            .delete_api_passwords(actor.organization_id, id)
            .await?;
        self.commit(actor, "user.api_password_reset", &id.to_string())
            .await;
        Ok(removed)
    }
}
