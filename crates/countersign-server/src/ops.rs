//! Directory operations shared by the admin API, the console and the CLI: validate with core,
//! persist with the store, invalidate caches and write the audit event. No HTTP here.

use crate::audit::AuditSink;
use crate::audit::truncate;
use crate::cache::DirectoryCache;
use crate::clock::Clock;
use crate::config::ServerConfig;
use crate::passwords;
use crate::secrets::random_bytes;
use countersign_core::api_user::{self, ApiUser, ApiUserError, Scope};
use countersign_core::directory::{
    self, Account, Environment, EnvironmentKind, IntegratorKey, IntegratorKeyStatus, Membership,
    Organization, Permissions, User, UserStatus,
};
use countersign_core::ids::{
    AccountId, ApiKeyId, ApiUserId, EnvironmentId, IntegratorKeyId, IntrospectionClientId,
    OrganizationId, UserId,
};
use countersign_core::introspection::{self, ClientSecret, IntrospectionClient};
use countersign_core::key::ApiKey;
use countersign_core::names;
use countersign_core::secret::Secret;
use countersign_store::{
    AuditEvent, AuditOutcome, NewApiUser, NewUser, Store, StoreError, UserUpdate,
};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// Why an operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// The thing does not exist (or belongs to another organization).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A uniqueness rule was violated.
    #[error("{detail}")]
    Conflict {
        /// Stable machine code.
        code: &'static str,
        /// Human-readable explanation.
        detail: String,
    },
    /// A field is invalid.
    #[error("{field}: {detail}")]
    Invalid {
        /// The offending field.
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// A name holds a character that could make it show as another name (SPEC §2).
    #[error("{field}: {detail}")]
    Unreadable {
        /// The offending field.
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The caller may not do this.
    #[error("forbidden")]
    Forbidden,
    /// The store failed.
    #[error("store failure")]
    Store(#[source] StoreError),
}

impl From<StoreError> for OpError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound { entity } => Self::NotFound(entity),
            StoreError::Conflict { entity } => Self::Conflict {
                code: "conflict",
                detail: format!("{entity} already exists"),
            },
            other => Self::Store(other),
        }
    }
}

/// Refuses a name that could show as another (400), before any other check of it.
fn check_visible(field: &'static str, name: &str) -> Result<(), OpError> {
    names::check_visible(name).map_err(|e| OpError::Unreadable {
        field,
        detail: format!("{field} {e}"),
    })
}

fn invalid(field: &'static str, detail: impl Into<String>) -> OpError {
    OpError::Invalid {
        field,
        detail: detail.into(),
    }
}

/// Who performs an operation.
#[derive(Clone, Debug)]
pub struct Actor {
    /// The organization the operation applies to.
    pub organization_id: OrganizationId,
    /// The signed-in user, if any (the CLI has none).
    pub user_id: Option<UserId>,
    /// The name recorded in the audit log and `created_by`.
    pub name: String,
    /// The client address, when over HTTP.
    pub source_ip: Option<String>,
}

/// The result of creating or rotating an API user: the record and the key, shown once.
#[derive(Debug)]
pub struct IssuedKey {
    /// The API user.
    pub api_user: ApiUser,
    /// The new key; never stored, never shown again.
    pub key: ApiKey,
}

/// Directory operations over one store.
#[derive(Clone, Debug)]
pub struct Ops {
    /// The database.
    pub store: Store,
    /// Caches to invalidate after writes.
    pub cache: Arc<DirectoryCache>,
    /// Audit queue.
    pub audit: AuditSink,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Configuration.
    pub config: ServerConfig,
    /// Pepper for key digests.
    pub pepper: Vec<u8>,
}

/// What `bootstrap` created.
#[derive(Debug)]
pub struct Bootstrapped {
    /// The administrator's email.
    pub email: String,
    /// The generated password, when none was supplied; print it once.
    pub generated_password: Option<Secret>,
    /// The organization.
    pub organization_id: OrganizationId,
}

/// Draws an 8-digit account number (first digit non-zero) from the OS CSPRNG.
fn account_number() -> String {
    let bytes = random_bytes::<8>();
    let value = u64::from_le_bytes(bytes) % 90_000_000 + 10_000_000;
    value.to_string()
}

/// Draws a readable random password (24 base62 characters, about 142 bits).
pub fn generate_password() -> Secret {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let bytes = random_bytes::<48>();
    let text: String = bytes
        .iter()
        .filter(|b| usize::from(**b) < 256 / ALPHABET.len() * ALPHABET.len())
        .take(24)
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    Secret::new(text)
}

/// Parses an expiry given as RFC 3339 or as a date (meaning 00:00 UTC at the start of it).
///
/// # Errors
/// Returns a field error naming the accepted forms.
pub fn parse_expiry(text: &str) -> Result<OffsetDateTime, OpError> {
    let text = text.trim();
    if let Ok(at) = OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339) {
        // Expiries have whole-second precision, like the tokens they bound.
        return Ok(at
            .replace_nanosecond(0)
            .unwrap_or(at)
            .to_offset(time::UtcOffset::UTC));
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, &format)
        .map(|date| date.midnight().assume_utc())
        .map_err(|_| {
            invalid(
                "expires_at",
                "expires_at must be an RFC 3339 time or a YYYY-MM-DD date",
            )
        })
}

impl Ops {
    fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// Makes a committed directory change visible: this node's caches at once, other nodes
    /// through the directory version (and PostgreSQL NOTIFY).
    async fn changed(&self) {
        self.cache.invalidate();
        if let Err(error) = self.store.bump_directory_version().await {
            // Other nodes still converge through their periodic re-check of the version once
            // the database answers again; this node is already up to date.
            tracing::warn!(%error, "could not publish a directory change");
        }
    }

    async fn audit(&self, actor: &Actor, action: &str, subject: &str) {
        self.audit
            .record(AuditEvent {
                organization_id: Some(actor.organization_id),
                at: self.now(),
                actor: truncate(&actor.name),
                action: action.to_owned(),
                subject: truncate(subject),
                source_ip: actor.source_ip.clone(),
                outcome: AuditOutcome::Success,
                detail: None,
            })
            .await;
    }

    /// Creates the first organization, environment, account and administrator on an empty
    /// database; does nothing when the database already holds an organization.
    ///
    /// # Errors
    /// Returns a store failure or an invalid email/password.
    pub async fn bootstrap(
        &self,
        admin_email: Option<&str>,
        admin_password: Option<Secret>,
    ) -> Result<Option<Bootstrapped>, OpError> {
        if !self.store.is_empty().await? {
            return Ok(None);
        }
        let email = admin_email
            .unwrap_or("admin@localhost.localdomain")
            .trim()
            .to_owned();
        check_visible("email", &email)?;
        directory::validate_email(&email).map_err(|e| invalid("email", e))?;
        let (password, generated) = match admin_password {
            Some(password) => (password, false),
            None => (generate_password(), true),
        };
        passwords::validate(password.expose()).map_err(|e| invalid("password", e))?;
        let hash = passwords::hash(password.expose().to_owned(), self.config.password_hashing)
            .await
            .map_err(|_| invalid("password", "password could not be hashed"))?;
        let now = self.now();
        let organization = Organization {
            id: OrganizationId(Uuid::now_v7()),
            name: "Default organization".into(),
            legacy_header_enabled: true,
        };
        let environment = Environment {
            id: EnvironmentId(Uuid::now_v7()),
            organization_id: organization.id,
            name: "Production".into(),
            kind: EnvironmentKind::Production,
        };
        let account = Account {
            id: AccountId(Uuid::now_v7()),
            environment_id: environment.id,
            number: account_number(),
            name: "Main account".into(),
        };
        let admin = NewUser {
            id: UserId(Uuid::now_v7()),
            organization_id: organization.id,
            email: email.clone(),
            name: "Administrator".into(),
            password_hash: Some(hash),
        };
        self.store
            .bootstrap(&organization, &environment, &account, &admin, now)
            .await?;
        self.changed().await;
        let actor = Actor {
            organization_id: organization.id,
            user_id: None,
            name: "bootstrap".into(),
            source_ip: None,
        };
        self.audit(
            &actor,
            "organization.bootstrap",
            &organization.id.to_string(),
        )
        .await;
        Ok(Some(Bootstrapped {
            email,
            generated_password: generated.then_some(password),
            organization_id: organization.id,
        }))
    }

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
        self.changed().await;
        self.audit(actor, "environment.create", &environment.id.to_string())
            .await;
        Ok(environment)
    }

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
            .fetch_environment(actor.organization_id, environment_id)
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
                    self.changed().await;
                    self.audit(actor, "account.create", &account.id.to_string())
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
        self.changed().await;
        self.audit(actor, "user.create", &id.to_string()).await;
        Ok(self.store.fetch_user(actor.organization_id, id).await?)
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
        self.changed().await;
        let action = match status {
            Some(UserStatus::Disabled) => "user.disable",
            Some(UserStatus::Active) => "user.enable",
            None => "user.update",
        };
        self.audit(actor, action, &id.to_string()).await;
        Ok(user)
    }

    /// Deletes a user: memberships, API passwords, admin sessions and the API users scoped to
    /// it go with it, and every credential of theirs is refused on the next request.
    ///
    /// # Errors
    /// Returns `NotFound`.
    pub async fn delete_user(&self, actor: &Actor, id: UserId) -> Result<(), OpError> {
        self.store.delete_user(actor.organization_id, id).await?;
        self.changed().await;
        self.audit(actor, "user.delete", &id.to_string()).await;
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
        self.store.fetch_user(actor.organization_id, id).await?;
        let hash = self.hash(password).await?;
        self.store
            .update_password_hash(actor.organization_id, id, &hash)
            .await?;
        self.changed().await;
        self.audit(actor, "user.password_set", &id.to_string())
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
        self.changed().await;
        self.audit(actor, "user.api_password_reset", &id.to_string())
            .await;
        Ok(removed)
    }

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
        self.store.fetch_user(actor.organization_id, user).await?;
        self.store
            .fetch_account(actor.organization_id, account)
            .await?;
        self.store
            .upsert_membership(user, account, permissions, is_default)
            .await?;
        self.changed().await;
        self.audit(actor, "membership.put", &format!("{user}/{account}"))
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
        self.store.fetch_user(actor.organization_id, user).await?;
        self.store
            .fetch_account(actor.organization_id, account)
            .await?;
        self.store.delete_membership(user, account).await?;
        self.changed().await;
        self.audit(actor, "membership.delete", &format!("{user}/{account}"))
            .await;
        Ok(())
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
        self.store
            .fetch_environment(actor.organization_id, environment)
            .await?;
        self.store.fetch_user(actor.organization_id, user).await?;
        self.store
            .insert_environment_admin(environment, user)
            .await?;
        self.changed().await;
        self.audit(
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
        self.store
            .fetch_environment(actor.organization_id, environment)
            .await?;
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
        self.changed().await;
        self.audit(
            actor,
            "environment_admin.remove",
            &format!("{environment}/{user}"),
        )
        .await;
        Ok(())
    }

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
        self.changed().await;
        self.audit(actor, "integrator_key.create", &record.id.to_string())
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
        self.changed().await;
        self.audit(actor, "integrator_key.revoke", &id.to_string())
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
        self.changed().await;
        let action = if sunset_at.is_some() {
            "integrator_key.sunset_set"
        } else {
            "integrator_key.sunset_clear"
        };
        self.audit(actor, action, &id.to_string()).await;
        Ok(key)
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
        self.changed().await;
        let action = if enabled {
            "organization.legacy_header_enable"
        } else {
            "organization.legacy_header_disable"
        };
        self.audit(actor, action, &actor.organization_id.to_string())
            .await;
        Ok(organization)
    }

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
        self.changed().await;
        self.audit(actor, "api_user.create", &record.id.to_string())
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
        self.changed().await;
        self.audit(actor, "api_user.revoke", &id.to_string()).await;
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
        self.changed().await;
        self.audit(actor, "api_user.delete", &id.to_string()).await;
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
        self.changed().await;
        self.audit(actor, "api_user.rotate", &id.to_string()).await;
        Ok(IssuedKey { api_user, key })
    }
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
