//! Operations on API users: creation, revocation, deletion, key rotation (with the policy's
//! maximum lifetime) and the retirement of a silent rotated-out key.

use super::{Actor, IssuedKey, OpError, Ops, check_visible, invalid};
use crate::secrets::random_bytes;
use countersign_core::api_user::{self, ApiKeyRecord, ApiUser, ApiUserError, Scope};
use countersign_core::ids::{ApiKeyId, ApiUserId};
use countersign_core::key::ApiKey;
use countersign_core::lifecycle;
use countersign_store::{NewApiUser, StoreError};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

impl Ops {
    /// Refuses an expiry beyond the organization's maximum lifetime (422
    /// `expiry_beyond_policy`, SPEC §13).
    async fn check_expiry_policy(
        &self,
        actor: &Actor,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), OpError> {
        let policy = self.store.fetch_policy(actor.organization_id).await?;
        let server_max = self.config.api_user_max_lifetime_days;
        if lifecycle::beyond_policy(expires_at, now, &policy, server_max) {
            return Err(OpError::Refused {
                code: "expiry_beyond_policy",
                field: "expires_at",
                detail: format!(
                    "expires_at must be at most {} days from now (the organization's policy)",
                    policy.max_lifetime(server_max).whole_days()
                ),
            });
        }
        Ok(())
    }

    async fn validate_scope(&self, actor: &Actor, scope: &Scope) -> Result<(), OpError> {
        match scope {
            Scope::User(user) => {
                self.store
                    .fetch(actor.organization_id, *user)
                    .await
                    .map_err(|_| invalid("scope.user_id", "no such user in this organization"))?;
            }
            Scope::Environment(environment) => {
                self.store
                    .fetch(actor.organization_id, *environment)
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
        // The policy's maximum is never above the server's, so its refusal comes first.
        self.check_expiry_policy(actor, expires_at, now).await?;
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
        let now = self.now();
        let api_user = self
            .store
            .revoke_api_user(actor.organization_id, id, &actor.name, now)
            .await?;
        self.commit(actor, "api_user.revoke", &id.to_string()).await;
        // Recorded once whoever revokes; a node that stops before this line leaves it to the
        // lifecycle checks, which record revocations without an event.
        if let Err(error) = self.events.revoked(&self.store, &api_user, now).await {
            tracing::warn!(%error, "could not record api_user.revoked; the lifecycle checks will");
        }
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

    /// Issues a new key; older keys (and their sessions) keep working for the grace period,
    /// or, with `retire_after_silence_minutes`, until they have gone unused that long after the
    /// new key's first use, whichever comes first (SPEC §13).
    ///
    /// # Errors
    /// Returns `NotFound`, `Invalid` for a bad grace period or silence or an inactive API user,
    /// `Refused` (`expiry_beyond_policy`) when the API user's expiry lies beyond the
    /// organization's maximum lifetime.
    pub async fn rotate_api_user(
        &self,
        actor: &Actor,
        id: ApiUserId,
        grace_minutes: i64,
        retire_after_silence_minutes: Option<i64>,
    ) -> Result<IssuedKey, OpError> {
        let now = self.now();
        let until = api_user::grace_end(grace_minutes, now)
            .map_err(|e: ApiUserError| invalid("grace_minutes", e.to_string()))?;
        let silence = api_user::validate_silence(retire_after_silence_minutes)
            .map_err(|e| invalid("retire_after_silence_minutes", e.to_string()))?;
        let current = self.store.fetch(actor.organization_id, id).await?;
        if !current.is_usable(now) {
            return Err(invalid("id", "only an active API user can be rotated"));
        }
        self.check_expiry_policy(actor, current.expires_at, now)
            .await?;
        let key = ApiKey::from_random(&random_bytes::<32>());
        let key_id = ApiKeyId(Uuid::now_v7());
        let api_user = self
            .store
            .rotate_api_user_key(
                actor.organization_id,
                id,
                key_id,
                &key.digest(&self.pepper),
                until,
                silence,
                now,
            )
            .await?;
        self.commit(actor, "api_user.rotate", &id.to_string()).await;
        if let Err(error) = self
            .events
            .rotated(&self.store, &api_user, key_id, until, silence, now)
            .await
        {
            tracing::warn!(%error, "could not record api_user.rotated");
        }
        Ok(IssuedKey { api_user, key })
    }

    /// Retires a retiring key that has been silent long enough (SPEC §13), as the lifecycle
    /// checks decide; `true` when it retired (a use recorded meanwhile keeps it).
    ///
    /// # Errors
    /// Returns a store failure.
    pub async fn retire_silent_key(
        &self,
        api_user: &ApiUser,
        key: &ApiKeyRecord,
    ) -> Result<bool, OpError> {
        let Some(silence) = key.retire_after_silence_minutes else {
            return Ok(false);
        };
        let retired = self
            .store
            .retire_silent_key(key.id, silence, self.now())
            .await?;
        if retired {
            let actor = Self::policy_actor(api_user.organization_id);
            self.commit(&actor, "api_user.key_retire", &api_user.id.to_string())
                .await;
        }
        Ok(retired)
    }
}
