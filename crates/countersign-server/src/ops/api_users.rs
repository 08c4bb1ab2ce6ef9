//! Operations on API users: creation, revocation, deletion and key rotation.

use super::{Actor, IssuedKey, OpError, Ops, check_visible, invalid};
use crate::secrets::random_bytes;
use countersign_core::api_user::{self, ApiUser, ApiUserError, Scope};
use countersign_core::ids::{ApiKeyId, ApiUserId};
use countersign_core::key::ApiKey;
use countersign_store::{NewApiUser, StoreError};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

impl Ops {
    async fn validate_scope(&self, actor: &Actor, scope: &Scope) -> Result<(), OpError> {
        match scope {
            Scope::User(user) => {
                self.store
                    .fetch_user(actor.organization_id, *user)
                    .await
                    .map_err(|_| invalid("scope.user_id", "no such user in this organization"))?;
            }
            Scope::Environment(environment) => {
                self.store
                    .fetch_environment(actor.organization_id, *environment)
                    .await
                    .map_err(|_| {
                        invalid(
                            "scope.environment_id",
                            "no such environment in this organization",
                        )
                    })?;
            }
            Scope::Organization => {}
        }
        Ok(())
    }

    /// Creates an API user and its first key (shown once).
    ///
    /// # Errors
    /// Returns `Invalid` for a bad username, scope, expiry or description; `Conflict`
    /// (`username_taken`) when the username exists anywhere in the installation.
    pub async fn create_api_user(
        &self,
        actor: &Actor,
        username: &str,
        scope: Scope,
        expires_at: OffsetDateTime,
        description: Option<&str>,
    ) -> Result<IssuedKey, OpError> {
        let now = self.now();
        check_visible("username", username)?;
        api_user::validate_username(username).map_err(|e| invalid("username", e.to_string()))?;
        api_user::validate_expiry(
            expires_at,
            now,
            Duration::days(self.config.api_user_max_lifetime_days),
        )
        .map_err(|e| invalid("expires_at", e.to_string()))?;
        api_user::validate_description(description)
            .map_err(|e| invalid("description", e.to_string()))?;
        self.validate_scope(actor, &scope).await?;
        let key = ApiKey::from_random(&random_bytes::<32>());
        let record = ApiUser {
            id: ApiUserId(Uuid::now_v7()),
            organization_id: actor.organization_id,
            username: username.to_owned(),
            scope,
            expires_at,
            description: description.map(str::to_owned).filter(|d| !d.is_empty()),
            created_at: now,
            created_by: actor.name.clone(),
            revoked_at: None,
            revoked_by: None,
            last_used_at: None,
        };
        let new = NewApiUser {
            api_user: record.clone(),
            key_id: ApiKeyId(Uuid::now_v7()),
            key_digest: key.digest(&self.pepper),
        };
        match self.store.insert_api_user(&new).await {
            Err(StoreError::Conflict { .. }) => {
                return Err(OpError::Conflict {
                    code: "username_taken",
                    detail:
                        "an API user with this username, or one that looks like it, already exists"
                            .into(),
                });
            }
            other => other?,
        }
        self.commit(actor, "api_user.create", &record.id.to_string())
            .await;
        Ok(IssuedKey {
            api_user: record,
            key,
        })
    }

    /// Revokes an API user permanently; every token issued under it stops working at once.
    ///
    /// # Errors
    /// Returns `NotFound`.
    pub async fn revoke_api_user(&self, actor: &Actor, id: ApiUserId) -> Result<ApiUser, OpError> {
        let api_user = self
            .store
            .revoke_api_user(actor.organization_id, id, &actor.name, self.now())
            .await?;
        self.commit(actor, "api_user.revoke", &id.to_string()).await;
        Ok(api_user)
    }

    /// Deletes an API user; its tokens stop working at once.
    ///
    /// # Errors
    /// Returns `NotFound`.
    pub async fn delete_api_user(&self, actor: &Actor, id: ApiUserId) -> Result<(), OpError> {
        self.store
            .delete_api_user(actor.organization_id, id)
            .await?;
        self.commit(actor, "api_user.delete", &id.to_string()).await;
        Ok(())
    }

    /// Issues a new key; older keys (and their sessions) keep working for the grace period.
    ///
    /// # Errors
    /// Returns `NotFound`, or `Invalid` for a bad grace period or an inactive API user.
    pub async fn rotate_api_user(
        &self,
        actor: &Actor,
        id: ApiUserId,
        grace_minutes: i64,
    ) -> Result<IssuedKey, OpError> {
        let now = self.now();
        let until = api_user::grace_end(grace_minutes, now)
            .map_err(|e: ApiUserError| invalid("grace_minutes", e.to_string()))?;
        let current = self.store.fetch_api_user(actor.organization_id, id).await?;
        if !current.is_usable(now) {
            return Err(invalid("id", "only an active API user can be rotated"));
        }
        let key = ApiKey::from_random(&random_bytes::<32>());
        let api_user = self
            .store
            .rotate_api_user_key(
                actor.organization_id,
                id,
                ApiKeyId(Uuid::now_v7()),
                &key.digest(&self.pepper),
                until,
                now,
            )
            .await?;
        self.commit(actor, "api_user.rotate", &id.to_string()).await;
        Ok(IssuedKey { api_user, key })
    }
}
