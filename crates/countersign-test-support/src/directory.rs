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

/// A text field of a JSON body.
fn text(body: &Value, field: &str) -> String {
    body[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} in {body}"))
        .to_owned()
}

impl TestApp {
    /// Posts `body` to `path` as the administrator, asserts 201 Created, and returns what the
    /// server answered.
    pub async fn admin_create(&self, path: &str, body: Value) -> Value {
        let response = self.admin_post(path, body).await;
        let status = response.status();
        let answer: Value = response.value().await;
        assert_eq!(status, StatusCode::CREATED, "POST {path}: {answer}");
        answer
    }

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
        let body = self.admin_create("/admin/v1/integrator-keys", body).await;
        CreatedIntegratorKey {
            id: text(&body, "id"),
            key: text(&body, "key"),
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
        text(&self.admin_create("/admin/v1/users", body).await, "id")
    }

    /// Creates an environment; returns its id.
    pub async fn create_environment(&self, name: &str, kind: &str) -> String {
        let body = json!({"name": name, "kind": kind});
        text(
            &self.admin_create("/admin/v1/environments", body).await,
            "id",
        )
    }

    /// Creates an account.
    pub async fn create_account(&self, environment_id: &str, name: &str) -> CreatedAccount {
        let body = json!({"environment_id": environment_id, "name": name});
        let body = self.admin_create("/admin/v1/accounts", body).await;
        CreatedAccount {
            id: text(&body, "id"),
            number: text(&body, "number"),
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
        let body = json!({"username": username, "scope": scope, "expires_at": expires_at});
        let body = self.admin_create("/admin/v1/api-users", body).await;
        CreatedApiUser {
            id: text(&body["api_user"], "id"),
            key: text(&body, "key"),
        }
    }

    /// Registers a webhook endpoint for `events`.
    pub async fn create_webhook(&self, url: &str, events: &[&str]) -> CreatedWebhook {
        let body = json!({"url": url, "events": events});
        let body = self.admin_create("/admin/v1/webhooks", body).await;
        CreatedWebhook {
            id: text(&body, "id"),
            secret: text(&body, "secret"),
        }
    }

    /// Registers an introspection client.
    pub async fn create_introspection_client(&self, name: &str) -> CreatedIntrospectionClient {
        let body = json!({ "name": name });
        let body = self
            .admin_create("/admin/v1/introspection-clients", body)
            .await;
        CreatedIntrospectionClient {
            id: text(&body, "id"),
            client_id: text(&body, "client_id"),
            secret: text(&body, "client_secret"),
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
