//! Operations on environments and their administrators.

use super::{Actor, OpError, Ops, invalid};
use countersign_core::directory::{self, Environment, EnvironmentKind};
use countersign_core::ids::{EnvironmentId, UserId};
use uuid::Uuid;

impl Ops {
    /// Creates an environment; its creator (if a user) becomes its administrator.
    ///
    /// # Errors
    /// Returns `Invalid` for a bad name.
    pub async fn create_environment(
        &self,
        actor: &Actor,
        name: &str,
        kind: EnvironmentKind,
    ) -> Result<Environment, OpError> {
        directory::validate_name(name).map_err(|e| invalid("name", e))?;
        let environment = Environment {
            id: EnvironmentId(Uuid::now_v7()),
            organization_id: actor.organization_id,
            name: name.trim().to_owned(),
            kind,
        };
        self.store
            .insert_environment(&environment, actor.user_id, self.now())
            .await?;
        self.commit(actor, "environment.create", &environment.id.to_string())
            .await;
        Ok(environment)
    }

    /// Makes a user an administrator of an environment.
    ///
    /// # Errors
    /// Returns `NotFound` for an unknown environment or user.
    pub async fn add_environment_admin(
        &self,
        actor: &Actor,
        environment: EnvironmentId,
        user: UserId,
    ) -> Result<(), OpError> {
        self.store.fetch(actor.organization_id, environment).await?;
        self.store.fetch(actor.organization_id, user).await?;
        self.store
            .insert_environment_admin(environment, user)
            .await?;
        self.commit(
            actor,
            "environment_admin.add",
            &format!("{environment}/{user}"),
        )
        .await;
        Ok(())
    }

    /// Removes a user's administration of an environment.
    ///
    /// # Errors
    /// Returns `NotFound` when the user was not an administrator of it.
    pub async fn remove_environment_admin(
        &self,
        actor: &Actor,
        environment: EnvironmentId,
        user: UserId,
    ) -> Result<(), OpError> {
        self.store.fetch(actor.organization_id, environment).await?;
        // Refuse to leave the organization without an organization administrator: nobody could
        // then manage it except through the CLI.
        let environments = self
            .store
            .list_environment_ids(actor.organization_id)
            .await?;
        let mut remaining: Option<std::collections::BTreeSet<UserId>> = None;
        for env in &environments {
            let mut admins: std::collections::BTreeSet<UserId> = self
                .store
                .list_environment_admins(*env)
                .await?
                .into_iter()
                .map(|u| u.id)
                .collect();
            if *env == environment {
                admins.remove(&user);
            }
            remaining = Some(match remaining {
                None => admins,
                Some(so_far) => so_far.intersection(&admins).copied().collect(),
            });
        }
        if remaining.is_none_or(|admins| admins.is_empty()) {
            return Err(OpError::Conflict {
                code: "last_organization_admin",
                detail: "this would leave the organization without an administrator of every environment".into(),
            });
        }
        self.store
            .delete_environment_admin(environment, user)
            .await?;
        self.commit(
            actor,
            "environment_admin.remove",
            &format!("{environment}/{user}"),
        )
        .await;
        Ok(())
    }
}
