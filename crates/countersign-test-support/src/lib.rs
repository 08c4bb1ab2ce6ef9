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
mod directory;
mod http;
pub use database::{TestDatabase, fresh_database, postgres_base_url, with_database};
pub use directory::{
    CreatedAccount, CreatedApiUser, CreatedIntegratorKey, CreatedIntrospectionClient,
    CreatedWebhook,
};
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
    /// Direct store access for assertions and set-up, through a connection pool of the test's
    /// own (the server has another).
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
    /// The runtime the server runs on; dropped after the server has stopped.
    runtime: Option<tokio::runtime::Runtime>,
    _database: TestDatabase,
}

impl Drop for TestApp {
    /// A test that passed also stops its server gracefully, as an operator's shutdown does, and
    /// checks that every audit event it queued was written: none lost to a refused batch, none
    /// left in the queue (the audit log is the record of what happened; SPEC: nothing
    /// acknowledged is lost). The server runs on a runtime of its own, so this drop can wait
    /// for its writer while the test's runtime is held.
    fn drop(&mut self) {
        let Some(runtime) = self.runtime.take() else {
            return;
        };
        if let Some(server) = self.server.take()
            && !std::thread::panicking()
        {
            let drained = std::thread::scope(|scope| {
                scope
                    .spawn(|| runtime.block_on(stop_and_count_lost(server)))
                    .join()
            });
            match drained {
                Ok(lost) => assert_eq!(
                    lost, 0,
                    "the server lost audit events during this test or could not write them at its end"
                ),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        runtime.shutdown_background();
    }
}

/// Stops a server gracefully (its audit writer drains the queue before the server task ends)
/// and answers how many audit events it lost.
async fn stop_and_count_lost(server: RunningServer) -> u64 {
    let state = server.state().clone();
    server.shutdown().await;
    state.audit_events_lost()
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
    let (database_url, database) = fresh_database().await;
    let store = connect(&database_url).await;
    store.migrate().await.unwrap();
    let runtime = server_runtime();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let base = format!("{scheme}://{addr}");
    let mut config = test_config(&base);
    tweak(&mut config);
    let clock = Arc::new(ManualClock::default());
    let server = runtime
        .spawn(start_server(
            database_url.clone(),
            config.clone(),
            listener,
            clock.clone(),
            tls.as_ref().map(|(files, _)| files.clone()),
            true,
        ))
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
        runtime: Some(runtime),
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

/// The runtime a test's server runs on, apart from the test's own: the test's drop can then
/// wait for the server to stop (see `Drop for TestApp`), and nothing the server does depends on
/// the test's runtime being polled.
fn server_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("test-server")
        .enable_all()
        .build()
        .unwrap()
}

async fn connect(url: &str) -> Store {
    Store::connect(&StoreConfig {
        url: url.to_owned(),
        max_connections: 8,
    })
    .await
    .unwrap()
}

/// Starts the server on the runtime this runs on, with a database connection pool of its own
/// (a pool's connections belong to the runtime that opened them); `bootstrap` creates the
/// administrator first.
async fn start_server(
    database_url: String,
    config: ServerConfig,
    listener: std::net::TcpListener,
    clock: Arc<ManualClock>,
    tls: Option<TlsFiles>,
    bootstrap: bool,
) -> RunningServer {
    let store = connect(&database_url).await;
    if bootstrap {
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
    }
    listener.set_nonblocking(true).unwrap();
    countersign_server::start(StartOptions {
        config,
        store,
        listener: TcpListener::from_std(listener).unwrap(),
        clock,
        secrets: Default::default(),
        tls,
    })
    .await
    .unwrap()
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

    /// Moves the server's clock forward.
    pub fn advance(&self, by: time::Duration) {
        self.clock.advance(by);
    }

    /// The server's current time.
    pub fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }

    /// Runs `future` on the server's runtime. Work on the server's own objects (its `Ops`, its
    /// store) goes through here, so that every connection of the server's pool is opened on the
    /// server's runtime and its shutdown never waits for the test's.
    pub async fn on_server<T: Send + 'static>(
        &self,
        future: impl Future<Output = T> + Send + 'static,
    ) -> T {
        let runtime = self.runtime.as_ref().expect("the server's runtime");
        match runtime.spawn(future).await {
            Ok(value) => value,
            // The test fails with the panic's own message, not a `JoinError`.
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(error) => panic!("work on the server's runtime did not finish: {error}"),
        }
    }

    /// Calls `f` with the server's directory operations and `actor` on the server's runtime.
    pub async fn with_ops<T, F>(&self, actor: &Actor, f: impl FnOnce(Ops, Actor) -> F) -> T
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        let ops = self.server().state().ops().clone();
        self.on_server(f(ops, actor.clone())).await
    }

    /// The actor the CLI acts as on this app's organization.
    pub fn actor(&self) -> Actor {
        Actor {
            organization_id: countersign_core::ids::OrganizationId::parse(&self.organization_id)
                .unwrap(),
            user_id: None,
            name: "test".into(),
            source_ip: None,
        }
    }

    /// Stops the server gracefully (flushing batches) and checks that it lost no audit event.
    pub async fn shutdown(&mut self) {
        if let Some(server) = self.server.take() {
            let lost = self.on_server(stop_and_count_lost(server)).await;
            assert_eq!(
                lost, 0,
                "the server lost audit events during this test or its shutdown"
            );
        }
    }

    /// Stops the server gracefully and starts a new one on the same database, clock and
    /// configuration, listening on a new port (`base` follows). Admin sessions survive.
    pub async fn restart(&mut self) {
        self.shutdown().await;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        self.base = format!("http://{}", listener.local_addr().unwrap());
        self.config.public_url.clone_from(&self.base);
        let server = self
            .on_server(start_server(
                self.database_url.clone(),
                self.config.clone(),
                listener,
                self.clock.clone(),
                None,
                false,
            ))
            .await;
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

    /// The audit log's events for `query` (the admin API's filters: `action=api_user.revoke`,
    /// `actor=policy&action=…`), newest first, once there are at least `count` (waiting up to
    /// 10 s: a background task queues its events after the change it made shows). Panics when
    /// they do not come.
    pub async fn audit_events(&self, query: &str, count: usize) -> Vec<Value> {
        let path = format!("/admin/v1/audit?{query}&limit=1000");
        self.eventually_some(std::time::Duration::from_secs(10), || async {
            let events: Value = self.admin_get(&path).await.value().await;
            let items = events["items"].as_array().cloned().unwrap_or_default();
            (items.len() >= count).then_some(items)
        })
        .await
        .unwrap_or_else(|| panic!("fewer than {count} audit events for {query} within 10 s"))
    }

    /// `POST` JSON as the administrator.
    pub async fn admin_post(&self, path: &str, body: Value) -> Response {
        self.admin(Method::POST, path).json(&body).call().await
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
