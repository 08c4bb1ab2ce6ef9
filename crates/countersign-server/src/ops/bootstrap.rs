//! The first start: creating the first organization, environment, account and administrator.

use super::accounts::account_number;
use super::{Actor, OpError, Ops, check_visible, generate_password, invalid};
use crate::passwords;
use countersign_core::directory::{self, Account, Environment, EnvironmentKind, Organization};
use countersign_core::ids::{AccountId, EnvironmentId, OrganizationId, UserId};
use countersign_core::secret::Secret;
use countersign_store::NewUser;
use uuid::Uuid;

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

impl Ops {
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
        let actor = Actor {
            organization_id: organization.id,
            user_id: None,
            name: "bootstrap".into(),
            source_ip: None,
        };
        self.commit(
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
}
