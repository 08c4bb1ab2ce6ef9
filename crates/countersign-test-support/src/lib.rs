//! Test helpers: `spawn_app` starts the real server on `127.0.0.1:0` over a fresh database
//! (a temporary SQLite file, or a fresh PostgreSQL database when
//! `COUNTERSIGN_TEST_POSTGRES_URL` is set) and returns typed helpers that speak HTTP to it.
#![expect(
    clippy::unwrap_used,
    clippy::missing_panics_doc,
    reason = "test support fails loudly"
)]

pub mod skip;
pub mod webhooks;

mod database;
mod http;
pub use database::{TestDatabase, fresh_database, postgres_base_url, with_database};
pub use http::{Call, Read, header};

use countersign_server::clock::{Clock, ManualClock};
use countersign_server::config::{PasswordHashing, ServerConfig};
use countersign_server::ops::{Actor, Ops};
use countersign_server::tls::TlsFiles;
use countersign_server::{RunningServer, StartOptions};
use countersign_store::{Store, StoreConfig};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::net::TcpListener;

/// Email of the bootstrap administrator of every test app.
pub const ADMIN_EMAIL: &str = "admin@example.com";
/// Password of the bootstrap administrator of every test app.
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// The configuration tests run with: production rules, cheap password hashing, and a password
/// queue long enough for suites that fire many concurrent wrong passwords on purpose (the
/// authorization matrix); the pool's refusal has its own tests with a pool of one.
pub fn test_config(public_url: &str) -> ServerConfig {
    ServerConfig {
        public_url: public_url.to_owned(),
        password_hashing: PasswordHashing::insecure_fast_for_tests(),
        password_queue: Some(1024),
        ..ServerConfig::default()
    }
}

/// A running server for one test.
pub struct TestApp {
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub base: String,
    /// HTTP client.
    pub client: reqwest::Client,
    /// The clock the server reads.
    pub clock: Arc<ManualClock>,
    /// Admin bearer token of the bootstrap administrator.
    pub admin_token: String,
    /// Direct store access (assertions only).
    pub store: Store,
    /// The database URL the server uses.
    pub database_url: String,
    /// The bootstrap administrator's organization.
    pub organization_id: String,
    /// The bootstrap environment.
    pub environment_id: String,
    /// The bootstrap account.
    pub account_id: String,
    /// The bootstrap administrator's user id.
    pub admin_user_id: String,
    /// The configuration the server runs with.
    pub config: ServerConfig,
    server: Option<RunningServer>,
    _database: TestDatabase,
}

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

impl Drop for TestApp {
    /// A test that passed also checks that its server lost no audit event (the audit log is
    /// the record of what happened; SPEC: nothing acknowledged is lost).
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        if let Some(server) = &self.server {
            assert_eq!(
                server.audit_events_lost(),
                0,
                "the server lost audit events during this test"
            );
        }
    }
}

/// Starts a server on a fresh database, bootstrapped with [`ADMIN_EMAIL`] / [`ADMIN_PASSWORD`].
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts a server with a configuration tweak.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut ServerConfig)) -> TestApp {
    spawn(tweak, None).await
}

/// Starts a server serving TLS directly with the certificate and key in `files`; the app's
/// client trusts only `trust_pem` (a PEM certificate) and its base URL is
/// `https://127.0.0.1:PORT`.
pub async fn spawn_tls_app(files: TlsFiles, trust_pem: &[u8]) -> TestApp {
    spawn(|_| {}, Some((files, trust_pem))).await
}

/// [`spawn_tls_app`] with a configuration tweak.
pub async fn spawn_tls_app_with(
    files: TlsFiles,
    trust_pem: &[u8],
    tweak: impl FnOnce(&mut ServerConfig),
) -> TestApp {
    spawn(tweak, Some((files, trust_pem))).await
}

async fn spawn(tweak: impl FnOnce(&mut ServerConfig), tls: Option<(TlsFiles, &[u8])>) -> TestApp {
    let (url, database) = fresh_database().await;
    let database_url = url.clone();
    let store = Store::connect(&StoreConfig {
        url,
        max_connections: 8,
    })
    .await
    .unwrap();
    store.migrate().await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let base = format!("{scheme}://{addr}");
    let mut config = test_config(&base);
    tweak(&mut config);
    let clock = Arc::new(ManualClock::default());
    let ops = Ops::open(store.clone(), &config, &Default::default(), clock.clone())
        .await
        .unwrap();
    ops.bootstrap(
        Some(ADMIN_EMAIL),
        Some(countersign_core::secret::Secret::new(ADMIN_PASSWORD)),
    )
    .await
    .unwrap();
    ops.finish().await;
    let server = countersign_server::start(StartOptions {
        config: config.clone(),
        store: store.clone(),
        listener,
        clock: clock.clone(),
        secrets: Default::default(),
        tls: tls.as_ref().map(|(files, _)| files.clone()),
    })
    .await
    .unwrap();
    let mut client = reqwest::Client::builder();
    if let Some((_, trust_pem)) = tls {
        client = client
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(trust_pem).unwrap());
    }
    let client = client.build().unwrap();
    let mut app = TestApp {
        base,
        client,
        clock,
        admin_token: String::new(),
        store,
        database_url,
        organization_id: String::new(),
        environment_id: String::new(),
        account_id: String::new(),
        admin_user_id: String::new(),
        config,
        server: Some(server),
        _database: database,
    };
    app.admin_token = app
        .login(ADMIN_EMAIL, ADMIN_PASSWORD)
        .await
        .expect("bootstrap admin signs in");
    let me = app.admin_get("/admin/v1/me").await.value().await;
    app.organization_id = me["organization_id"].as_str().unwrap().to_owned();
    app.admin_user_id = me["id"].as_str().unwrap().to_owned();
    let environments = app.admin_get("/admin/v1/environments").await.value().await;
    app.environment_id = environments["items"][0]["id"].as_str().unwrap().to_owned();
    let accounts = app.admin_get("/admin/v1/accounts").await.value().await;
    app.account_id = accounts["items"][0]["id"].as_str().unwrap().to_owned();
    app
}

impl TestApp {
    /// An absolute URL for a path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The server's state (for directory operations that need no HTTP).
    pub fn server(&self) -> &RunningServer {
        self.server.as_ref().unwrap()
    }

    /// Directory operations acting as the CLI on this app's organization.
    pub fn ops(&self) -> (Ops, Actor) {
        let state = self.server().state();
        let actor = Actor {
            organization_id: countersign_core::ids::OrganizationId::parse(&self.organization_id)
                .unwrap(),
            user_id: None,
            name: "test".into(),
            source_ip: None,
        };
        (state.ops().clone(), actor)
    }

    /// Moves the server's clock forward.
    pub fn advance(&self, by: time::Duration) {
        self.clock.advance(by);
    }

    /// The server's current time.
    pub fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }

    /// Stops the server gracefully (flushing batches).
    pub async fn shutdown(&mut self) {
        if let Some(server) = self.server.take() {
            let state = server.state().clone();
            server.shutdown().await;
            assert_eq!(
                state.audit_events_lost(),
                0,
                "the server lost audit events during this test or its shutdown"
            );
        }
    }

    /// Stops the server gracefully and starts a new one on the same database, clock and
    /// configuration, listening on a new port (`base` follows). Admin sessions survive.
    pub async fn restart(&mut self) {
        self.shutdown().await;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        self.base = format!("http://{}", listener.local_addr().unwrap());
        self.config.public_url.clone_from(&self.base);
        let server = countersign_server::start(StartOptions {
            config: self.config.clone(),
            store: self.store.clone(),
            listener,
            clock: self.clock.clone(),
            secrets: Default::default(),
            tls: None,
        })
        .await
        .unwrap();
        self.server = Some(server);
    }

    /// Signs in to the admin API; `None` on refusal.
    pub async fn login(&self, email: &str, password: &str) -> Option<String> {
        let response = self
            .post("/admin/v1/login")
            .json(&json!({"email": email, "password": password}))
            .call()
            .await;
        if response.status() != StatusCode::OK {
            return None;
        }
        let body: Value = response.value().await;
        Some(body["token"].as_str().unwrap().to_owned())
    }

    /// A `GET` of `path` on this app, without credentials.
    pub fn get(&self, path: &str) -> RequestBuilder {
        self.client.get(self.url(path))
    }

    /// A `POST` to `path` on this app, without credentials.
    pub fn post(&self, path: &str) -> RequestBuilder {
        self.client.post(self.url(path))
    }

    /// A `PUT` to `path` on this app, without credentials.
    pub fn put(&self, path: &str) -> RequestBuilder {
        self.client.put(self.url(path))
    }

    /// A `PATCH` of `path` on this app, without credentials.
    pub fn patch(&self, path: &str) -> RequestBuilder {
        self.client.patch(self.url(path))
    }

    /// A `DELETE` of `path` on this app, without credentials.
    pub fn delete(&self, path: &str) -> RequestBuilder {
        self.client.delete(self.url(path))
    }

    /// `GET` of `path` with the bearer `token` (an admin session or an access token).
    pub async fn get_as(&self, token: &str, path: &str) -> Response {
        self.get(path).bearer_auth(token).call().await
    }

    /// `GET /v1/verify` with an `X-DocuSign-Authentication` header.
    pub async fn verify_legacy(&self, header: impl AsRef<str>) -> Response {
        self.get("/v1/verify")
            .header("X-DocuSign-Authentication", header.as_ref())
            .call()
            .await
    }

    /// A request with the bootstrap administrator's token.
    pub fn admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(&self.admin_token)
    }

    /// `GET` as the administrator.
    pub async fn admin_get(&self, path: &str) -> Response {
        self.admin(Method::GET, path).call().await
    }

    /// `POST` JSON as the administrator.
    pub async fn admin_post(&self, path: &str, body: Value) -> Response {
        self.admin(Method::POST, path).json(&body).call().await
    }

    /// Creates a user (with a password when given) who may `send` in the main account, as
    /// their default account; returns the user's id.
    pub async fn create_sender(&self, email: &str, password: Option<&str>) -> String {
        let user = self.create_user(email, password).await;
        self.put_membership(&user, &self.account_id, &["send"], true)
            .await;
        user
    }

    /// Creates an integrator key (with `key` as its value when given) and returns its body.
    pub async fn create_integrator_key(&self, name: &str, key: Option<&str>) -> Value {
        let mut body = json!({"name": name});
        if let Some(key) = key {
            body["key"] = json!(key);
        }
        let response = self.admin_post("/admin/v1/integrator-keys", body).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.value().await
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
        let expires_at = (self.now() + time::Duration::days(30))
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

    /// Posts a token exchange; returns the raw response.
    pub async fn exchange(
        &self,
        api_username: &str,
        key: &str,
        context_username: &str,
    ) -> Response {
        self.post("/api/v3.5/authentication/apiUser")
            .json(&json!({"request": {"apiUsername": api_username, "key": key, "contextUsername": context_username}}))
            .call().await
    }

    /// Exchanges a key for a token, asserting success.
    pub async fn token(&self, api_username: &str, key: &str, context_username: &str) -> String {
        let response = self.exchange(api_username, key, context_username).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "token exchange for {context_username}"
        );
        response.value().await["token"].as_str().unwrap().to_owned()
    }

    /// `GET /v1/verify` with a bearer token and optional user context.
    pub async fn verify(&self, token: &str, user_context: Option<&str>) -> Response {
        let mut request = self
            .get("/v1/verify")
            .header("Authorization", format!("bearer {token}"));
        if let Some(context) = user_context {
            request = request.header("X-AS-UserContext", context);
        }
        request.call().await
    }

    /// `GET /v1/whoami` with a bearer token and optional user context.
    pub async fn whoami(&self, token: &str, user_context: Option<&str>) -> Response {
        let mut request = self
            .get("/v1/whoami")
            .header("Authorization", format!("bearer {token}"));
        if let Some(context) = user_context {
            request = request.header("X-AS-UserContext", context);
        }
        request.call().await
    }

    /// Polls `check` until it returns true or the deadline passes.
    pub async fn eventually<F, Fut>(&self, deadline: std::time::Duration, mut check: F) -> bool
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        let end = tokio::time::Instant::now() + deadline;
        loop {
            if check().await {
                return true;
            }
            if tokio::time::Instant::now() >= end {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Polls `check` until it returns a value or the deadline passes.
    pub async fn eventually_some<T, F, Fut>(
        &self,
        deadline: std::time::Duration,
        mut check: F,
    ) -> Option<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        let end = tokio::time::Instant::now() + deadline;
        loop {
            if let Some(value) = check().await {
                return Some(value);
            }
            if tokio::time::Instant::now() >= end {
                return None;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}
