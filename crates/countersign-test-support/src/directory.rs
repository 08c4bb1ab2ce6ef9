//! Typed handles to what a test creates in the directory: through the admin API as the bootstrap
//! administrator, or, for a second organization the admin API cannot reach, through the
//! server's own operations.

use crate::{Call as _, Read as _, TestApp};
use countersign_core::directory::Organization;
use countersign_core::ids::OrganizationId;
use countersign_server::ops::Actor;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// An account created through the admin API.
#[derive(Clone, Debug)]
pub struct CreatedAccount {
    /// Its id (UUID).
    pub id: String,
    /// Its account number.
    pub number: String,
}

/// An API user created through the admin API, with its key (shown once).
#[derive(Clone, Debug)]
pub struct CreatedApiUser {
    /// Its id (UUID).
    pub id: String,
    /// Its `csk_` key.
    pub key: String,
}

/// A webhook endpoint registered through the admin API, with its signing secret (shown once).
#[derive(Clone, Debug)]
pub struct CreatedWebhook {
    /// Its id (UUID).
    pub id: String,
    /// Its `whsec_` signing secret.
    pub secret: String,
}

/// An introspection client registered through the admin API, with its secret (shown once).
#[derive(Clone, Debug)]
pub struct CreatedIntrospectionClient {
    /// Its id (UUID), as the admin API names it.
    pub id: String,
    /// Its `client_id`, as it authenticates.
    pub client_id: String,
    /// Its `client_secret`.
    pub secret: String,
}

/// An integrator key created through the admin API.
#[derive(Clone, Debug)]
pub struct CreatedIntegratorKey {
    /// Its id (UUID).
    pub id: String,
    /// The key itself, as integrations send it.
    pub key: String,
}

impl TestApp {
    /// Creates a user (with a password when given) who may `send` in the main account, as
    /// their default account; returns the user's id.
    pub async fn create_sender(&self, email: &str, password: Option<&str>) -> String {
        let user = self.create_user(email, password).await;
        self.put_membership(&user, &self.account_id, &["send"], true)
            .await;
        user
    }

    /// Creates an integrator key (with `key` as its value when given).
    pub async fn create_integrator_key(
        &self,
        name: &str,
        key: Option<&str>,
    ) -> CreatedIntegratorKey {
        let mut body = json!({"name": name});
        if let Some(key) = key {
            body["key"] = json!(key);
        }
        let response = self.admin_post("/admin/v1/integrator-keys", body).await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "integrator key {name}"
        );
        let body: Value = response.value().await;
        CreatedIntegratorKey {
            id: body["id"].as_str().unwrap().to_owned(),
            key: body["key"].as_str().unwrap().to_owned(),
        }
    }

    /// The number of an account (`X-DocuSign-Authentication` and migrations name accounts by it).
    pub async fn account_number(&self, account_id: &str) -> String {
        let path = format!("/admin/v1/accounts/{account_id}");
        let account = self.admin_get(&path).await.value().await;
        account["number"].as_str().unwrap().to_owned()
    }

    /// Creates a user with a password; returns its id.
    pub async fn create_user(&self, email: &str, password: Option<&str>) -> String {
        let mut body = json!({"email": email, "name": email});
        if let Some(password) = password {
            body["password"] = json!(password);
        }
        let response = self.admin_post("/admin/v1/users", body).await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "create user {email}"
        );
        response.value().await["id"].as_str().unwrap().to_owned()
    }

    /// Creates an environment; returns its id.
    pub async fn create_environment(&self, name: &str, kind: &str) -> String {
        let response = self
            .admin_post(
                "/admin/v1/environments",
                json!({"name": name, "kind": kind}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.value().await["id"].as_str().unwrap().to_owned()
    }

    /// Creates an account.
    pub async fn create_account(&self, environment_id: &str, name: &str) -> CreatedAccount {
        let response = self
            .admin_post(
                "/admin/v1/accounts",
                json!({"environment_id": environment_id, "name": name}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.value().await;
        CreatedAccount {
            id: body["id"].as_str().unwrap().to_owned(),
            number: body["number"].as_str().unwrap().to_owned(),
        }
    }

    /// Grants a membership.
    pub async fn put_membership(
        &self,
        user_id: &str,
        account_id: &str,
        permissions: &[&str],
        is_default: bool,
    ) {
        let response = self
            .admin(
                Method::PUT,
                &format!("/admin/v1/users/{user_id}/memberships/{account_id}"),
            )
            .json(&json!({"permissions": permissions, "is_default": is_default}))
            .call()
            .await;
        assert_eq!(response.status(), StatusCode::OK);
    }

    /// Creates an API user expiring in 30 days.
    pub async fn create_api_user(&self, username: &str, scope: Value) -> CreatedApiUser {
        let expires_at = self.now() + time::Duration::days(30);
        self.create_api_user_until(username, scope, expires_at)
            .await
    }

    /// Creates an API user of `scope` (its JSON form) expiring at `expires_at`.
    pub async fn create_api_user_until(
        &self,
        username: &str,
        scope: Value,
        expires_at: time::OffsetDateTime,
    ) -> CreatedApiUser {
        let expires_at = expires_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let response = self
            .admin_post(
                "/admin/v1/api-users",
                json!({"username": username, "scope": scope, "expires_at": expires_at}),
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "create api user {username}"
        );
        let body: Value = response.value().await;
        CreatedApiUser {
            id: body["api_user"]["id"].as_str().unwrap().to_owned(),
            key: body["key"].as_str().unwrap().to_owned(),
        }
    }

    /// Registers a webhook endpoint for `events`.
    pub async fn create_webhook(&self, url: &str, events: &[&str]) -> CreatedWebhook {
        let response = self
            .admin_post("/admin/v1/webhooks", json!({"url": url, "events": events}))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "webhook {url}");
        let body: Value = response.value().await;
        CreatedWebhook {
            id: body["id"].as_str().unwrap().to_owned(),
            secret: body["secret"].as_str().unwrap().to_owned(),
        }
    }

    /// Registers an introspection client.
    pub async fn create_introspection_client(&self, name: &str) -> CreatedIntrospectionClient {
        let response = self
            .admin_post("/admin/v1/introspection-clients", json!({ "name": name }))
            .await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "introspection client {name}"
        );
        let body: Value = response.value().await;
        let text = |field: &str| body[field].as_str().unwrap().to_owned();
        CreatedIntrospectionClient {
            id: text("id"),
            client_id: text("client_id"),
            secret: text("client_secret"),
        }
    }

    /// Creates another organization directly in the store (the admin API serves one
    /// organization) and returns an actor in it, for [`TestApp::with_ops`].
    pub async fn second_organization(&self, name: &str) -> Actor {
        let id = OrganizationId(uuid::Uuid::now_v7());
        let organization = Organization {
            id,
            name: name.into(),
            legacy_header_enabled: true,
        };
        self.store
            .insert_organization(&organization, self.now())
            .await
            .unwrap();
        Actor {
            organization_id: id,
            user_id: None,
            name: "test".into(),
            source_ip: None,
        }
    }
}
