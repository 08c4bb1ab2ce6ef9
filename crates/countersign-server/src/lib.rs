//! The HTTP surface of countersign: the AssureSign and DocuSign dialects, forward auth, the
//! admin API, and the server lifecycle (start, graceful shutdown with flushed batches).
//!
//! This is the only crate that knows status codes, headers and JSON envelopes.

// The embedding surface: what the CLI, `countersign-test-support` and tests use. Everything
// else is this crate's own and may change without notice.
pub mod clock;
pub mod config;
pub mod ops;
pub use countersign_directory::secrets;
pub mod state;
pub mod tls;

/// The request parsers the cargo-fuzz targets (`fuzz/`) drive; not an API.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::dialect::assuresign::AssureSignError;
    pub use crate::issue::TokenRequest;
    pub use crate::routes::assuresign::parse_token_request;
}

pub(crate) mod admin;
pub(crate) mod audit;
pub(crate) use countersign_directory::cache;
pub(crate) mod connections;
pub(crate) mod console;
pub(crate) mod dialect;
pub(crate) mod events;
pub(crate) mod issue;
pub(crate) mod last_used;
pub(crate) mod leak_keys;
pub(crate) mod legacy_usage;
pub(crate) mod lifecycle;
pub(crate) mod metrics;
pub(crate) mod migration;
pub(crate) mod nodes;
pub(crate) mod oauth;
pub(crate) mod openapi;
pub(crate) mod passwords;
pub(crate) mod path_id;
pub(crate) mod request_id;
pub use passwords::{Busy, Passwords, PoolSlot};
pub(crate) mod request_parts;
pub(crate) mod routes;
pub(crate) mod rsa_keys;
pub(crate) mod striped;
pub(crate) mod throttle;
pub(crate) mod verify;
pub(crate) mod webhook_seal;

use crate::audit::{AuditSink, AuditWriter};
use crate::cache::DirectoryCache;
use crate::clock::Clock;
use crate::config::ServerConfig;
use crate::last_used::LastUsed;
use crate::secrets::{Secrets, SuppliedSecrets, random_bytes};
use crate::state::{AppState, Inner};
use crate::verify::Verifier;
use axum::Router;
use axum::routing::get;
use countersign_core::key::ApiKey;
use countersign_store::{Store, StoreError};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Builds the router and the OpenAPI document for a state.
pub(crate) fn router(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    use crate::admin::{api_users, audit, directory, introspection_clients, session};
    use crate::routes::{assuresign, docusign, forward, health};
    let (router, api) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(assuresign::exchange_api_user_key))
        .routes(routes!(assuresign::list_user_accounts))
        .routes(routes!(assuresign::list_user_accounts_documentnow))
        .routes(routes!(assuresign::list_user_environments))
        .routes(routes!(docusign::login_information))
        .routes(routes!(docusign::login_information_v21))
        .routes(routes!(forward::verify))
        .routes(routes!(forward::whoami))
        .merge(
            // Introspection reads its form through axum's extractor: bounded like every other
            // authentication body.
            OpenApiRouter::new()
                .routes(routes!(routes::introspect::introspect))
                .layer(axum::extract::DefaultBodyLimit::max(
                    state.config.auth_body_limit,
                )),
        )
        .routes(routes!(routes::leaks::report_leaked))
        .routes(routes!(routes::oauth::token))
        .routes(routes!(routes::oauth::userinfo))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::metrics))
        .routes(routes!(session::login))
        .routes(routes!(session::logout))
        .routes(routes!(session::me))
        .routes(routes!(admin::me::my_activity))
        .routes(routes!(admin::me::end_my_sessions))
        .routes(routes!(admin::me::end_user_sessions))
        .routes(routes!(
            directory::list_environments,
            directory::create_environment
        ))
        .routes(routes!(directory::get_environment))
        .routes(routes!(directory::list_environment_admins))
        .routes(routes!(
            directory::add_environment_admin,
            directory::remove_environment_admin
        ))
        .routes(routes!(directory::list_accounts, directory::create_account))
        .routes(routes!(directory::get_account))
        .routes(routes!(directory::list_users, directory::create_user))
        .routes(routes!(
            directory::get_user,
            directory::update_user,
            directory::delete_user
        ))
        .routes(routes!(directory::set_password))
        .routes(routes!(directory::reset_api_passwords))
        .routes(routes!(
            directory::put_membership,
            directory::delete_membership
        ))
        .routes(routes!(
            directory::list_integrator_keys,
            directory::create_integrator_key
        ))
        .routes(routes!(directory::get_integrator_key))
        .routes(routes!(directory::revoke_integrator_key))
        .routes(routes!(
            api_users::list_api_users,
            api_users::create_api_user
        ))
        .routes(routes!(api_users::get_api_user, api_users::delete_api_user))
        .routes(routes!(api_users::revoke_api_user))
        .routes(routes!(api_users::rotate_api_user))
        .routes(routes!(audit::list_audit))
        .routes(routes!(
            introspection_clients::list_introspection_clients,
            introspection_clients::create_introspection_client
        ))
        .routes(routes!(
            introspection_clients::get_introspection_client,
            introspection_clients::delete_introspection_client
        ))
        .routes(routes!(admin::migration::list_legacy_usage))
        .routes(routes!(admin::migration::list_legacy_usage_daily))
        .routes(routes!(admin::migration::update_integrator_key))
        .routes(routes!(
            admin::organization::get_organization,
            admin::organization::update_organization
        ))
        .routes(routes!(
            admin::webhooks::list_webhooks,
            admin::webhooks::create_webhook
        ))
        .routes(routes!(
            admin::webhooks::get_webhook,
            admin::webhooks::delete_webhook
        ))
        .routes(routes!(admin::webhooks::list_deliveries))
        .routes(routes!(admin::report::credential_report))
        .routes(routes!(
            admin::oauth_clients::list_secrets,
            admin::oauth_clients::create_secret
        ))
        .routes(routes!(admin::oauth_clients::delete_secret))
        .routes(routes!(
            admin::oauth_clients::list_rsa_keys,
            admin::oauth_clients::create_rsa_key
        ))
        .routes(routes!(admin::oauth_clients::delete_rsa_key))
        .routes(routes!(
            admin::oauth_clients::get_consent,
            admin::oauth_clients::put_consent
        ))
        .routes(routes!(admin::oauth_clients::list_my_consents))
        .routes(routes!(admin::oauth_clients::withdraw_my_consent))
        .routes(routes!(admin::migration::migration_plan))
        .routes(routes!(admin::migration::migrate))
        .routes(routes!(routes::docs::legacy_migration_page))
        .merge(console::router(state.clone()).into())
        .with_state(state.clone())
        .split_for_parts();
    let document = api.clone();
    let router = router
        .route(
            "/openapi.json",
            get(move || async move { axum::Json(document) }),
        )
        // Envoy's ext_authz keeps the original method and appends the original path (the
        // OpenAPI entry is `forward::verify_envoy`'s).
        .route(
            "/v1/verify/{*original_uri}",
            axum::routing::any(forward::verify_envoy).with_state(state.clone()),
        )
        // The root as the original path (`/v1/verify` + `/`): the wildcard needs a segment.
        .route(
            "/v1/verify/",
            axum::routing::any(forward::verify_envoy).with_state(state.clone()),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            health::track,
        ))
        .layer(
            tower_http::trace::TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
                // The path only: query strings are not logged.
                let request_id = request
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %request_id)
            }),
        )
        .layer(tower_http::request_id::PropagateRequestIdLayer::x_request_id())
        .layer(tower_http::request_id::SetRequestIdLayer::x_request_id(
            state.request_ids.clone(),
        ));
    (router, api)
}

/// One connection's service: a forward-auth request whose credential this worker thread has
/// verified before is answered in place (see [`verify::thread_cache`]); everything else goes to the router,
/// with the peer address as `ConnectInfo`.
#[derive(Clone)]
struct Connection {
    shared: Arc<(AppState, Router)>,
    peer: SocketAddr,
}

impl tower::Service<axum::extract::Request> for Connection {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = ConnectionFuture;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: axum::extract::Request) -> Self::Future {
        let (state, router) = &*self.shared;
        if routes::forward::is_forward_auth(&request)
            && let Some(response) = routes::forward::verify_in_place(state, &request, self.peer)
        {
            return ConnectionFuture::Answered(Some(response));
        }
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(self.peer));
        ConnectionFuture::Routed(Box::pin(tower::Service::call(&mut router.clone(), request)))
    }
}

/// The answer of a [`Connection`].
enum ConnectionFuture {
    Answered(Option<axum::response::Response>),
    Routed(std::pin::Pin<Box<axum::routing::future::RouteFuture<std::convert::Infallible>>>),
}

impl Future for ConnectionFuture {
    type Output = Result<axum::response::Response, std::convert::Infallible>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        match self.get_mut() {
            Self::Answered(response) => match response.take() {
                Some(response) => std::task::Poll::Ready(Ok(response)),
                None => std::task::Poll::Pending,
            },
            Self::Routed(future) => future.as_mut().poll(cx),
        }
    }
}

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store failed (migrations, secrets).
    #[error("store failure at start")]
    Store(#[from] StoreError),
    /// The listener failed.
    #[error("listener failure")]
    Io(#[from] std::io::Error),
    /// The dummy password hash could not be computed.
    #[error("password hashing failed")]
    Hash,
    /// The TLS certificate or key could not be used.
    #[error("TLS certificate or key")]
    Tls(#[from] tls::TlsError),
    /// The leak reports' public-keys file could not be used.
    #[error("leak_report.public_keys_file")]
    LeakKeys(#[from] leak_keys::LeakKeysError),
    /// The webhook HTTP client could not be built.
    #[error("webhook client")]
    Webhooks(#[source] reqwest::Error),
    /// The configuration names an original-URI header countersign does not read.
    #[error(transparent)]
    UriHeader(#[from] config::UriHeaderError),
}

/// What `start` needs.
#[derive(Debug)]
pub struct StartOptions {
    /// Configuration.
    pub config: ServerConfig,
    /// A migrated store.
    pub store: Store,
    /// A bound listener.
    pub listener: TcpListener,
    /// The time source.
    pub clock: Arc<dyn Clock>,
    /// Operator-supplied secrets.
    pub secrets: SuppliedSecrets,
    /// The certificate and key when TLS is served directly (SPEC §8); plain HTTP otherwise.
    pub tls: Option<tls::TlsFiles>,
}

/// A running server.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    state: AppState,
    tls: Option<Arc<tls::Tls>>,
}

impl RunningServer {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's state (tests and embedding).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// How many audit events this server has lost (see `AuditSink::lost`): zero unless the
    /// database refused a batch through every retry.
    pub fn audit_events_lost(&self) -> u64 {
        self.state.audit_events_lost()
    }

    /// Whether TLS is served directly.
    pub fn serves_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Re-reads the TLS certificate and key (on SIGHUP): new connections use them, open ones
    /// are untouched. On failure the previous certificate stays in use and the error is logged.
    /// Without TLS it does nothing.
    ///
    /// # Errors
    /// Returns why the files could not be used.
    pub fn reload_tls(&self) -> Result<(), tls::TlsError> {
        let Some(tls) = &self.tls else {
            return Ok(());
        };
        match tls.reload() {
            Ok(()) => {
                tracing::info!(cert = %tls.files().cert.display(), "TLS certificate reloaded");
                Ok(())
            }
            Err(error) => {
                tracing::error!(
                    error = %error_chain(&error),
                    "TLS reload failed; the previous certificate stays in use"
                );
                Err(error)
            }
        }
    }

    /// Stops accepting connections, finishes requests in flight, flushes the audit and usage
    /// batches, and returns.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Err(error) = (&mut self.task).await {
            tracing::error!(%error, "server task failed");
        }
    }

    /// Waits until the server stops (after `shutdown` from elsewhere, or a fatal error).
    pub async fn wait_for(mut self, signal: impl Future<Output = ()>) {
        signal.await;
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Err(error) = (&mut self.task).await {
            tracing::error!(%error, "server task failed");
        }
    }
}

/// Builds the state (secrets, caches, background writers) without serving.
///
/// # Errors
/// Returns a store or hashing failure.
pub(crate) async fn build_state(
    config: ServerConfig,
    store: Store,
    clock: Arc<dyn Clock>,
    supplied: &SuppliedSecrets,
) -> Result<(AppState, AuditWriter, JoinHandle<()>), StartError> {
    let trusted_uri_header = config.forward_auth.trusted_header()?;
    let leak_keys = config
        .leak_report
        .public_keys_file
        .as_deref()
        .map(leak_keys::LeakKeys::load)
        .transpose()?
        .map(Arc::new);
    let secrets = Secrets::load(&store, supplied, clock.now()).await?;
    let dummy_key_digest = ApiKey::from_random(&random_bytes::<32>()).digest(&secrets.pepper);
    let dummy_password_hash = passwords::hash(request_id::hex_string(), config.password_hashing)
        .await
        .map_err(|_| StartError::Hash)?;
    let (audit, writer) = AuditSink::start(store.clone());
    let config_capacity = config.cache_capacity;
    let throttle_config = config.throttle.clone();
    let password_pool =
        passwords::PasswordPool::new(config.password_workers(), config.password_queue_len());
    let last_used = LastUsed::default();
    let flusher = last_used.start(store.clone());
    let legacy_usage = legacy_usage::LegacyUsage::default();
    let usage_flusher = legacy_usage.start(
        store.clone(),
        std::time::Duration::from_millis(config.usage_flush_millis.clamp(50, 5_000)),
    );
    // The usage flusher stops with the last-used flusher; one handle covers both.
    let flusher = tokio::spawn(async move {
        let _ = flusher.await;
        let _ = usage_flusher.await;
    });
    let cache = Arc::new(DirectoryCache::new(config.cache_capacity));
    let throttle = Arc::new(throttle::Throttle::new(throttle_config));
    let metrics = Arc::new(metrics::Metrics::default());
    let passwords = Arc::new(passwords::Passwords::new(
        dummy_password_hash,
        password_pool,
    ));
    let verifier = Verifier::new(verify::Parts {
        store: store.clone(),
        cache: cache.clone(),
        bearer_facts: cache::EpochCache::new(cache.clone(), config_capacity),
        legacy_facts: cache::EpochCache::new(cache.clone(), config_capacity),
        oauth_facts: cache::EpochCache::new(cache.clone(), config_capacity),
        clock: clock.clone(),
        secrets: secrets.clone(),
        audit: audit.clone(),
        on_behalf_of: audit::Rollups::default(),
        last_used: last_used.clone(),
        legacy_usage: legacy_usage.clone(),
        throttle: throttle.clone(),
        metrics: metrics.clone(),
        passwords: passwords.clone(),
        header_digester: verify::docusign::HeaderDigester::new(&secrets.pepper),
        verified_passwords: moka::sync::Cache::new(config_capacity),
        read_options: verify::request::ReadOptions {
            trusted_uri_header,
            trust_forwarded_for: config.trust_forwarded_for,
        },
        config: config.clone(),
    });
    let ops = ops::Ops::new(
        store.clone(),
        cache.clone(),
        audit.clone(),
        clock.clone(),
        &config,
        &secrets,
    );
    let state = AppState::new(Inner {
        cache,
        store,
        config,
        clock,
        secrets,
        audit,
        last_used,
        dummy_key_digest,
        passwords,
        request_ids: request_id::SequentialRequestId::default(),
        throttle,
        metrics,
        legacy_usage,
        verifier,
        ops,
        leak_keys,
        leak_report_budget: Arc::new(tokio::sync::Semaphore::new(routes::leaks::BODY_BUDGET_KIB)),
    });
    Ok((state, writer, flusher))
}

/// A duration of `value` seconds (at least a millisecond; a bad value counts as a millisecond,
/// so a misconfiguration closes slow connections rather than keeping them).
fn seconds(value: f64) -> std::time::Duration {
    std::time::Duration::try_from_secs_f64(value)
        .unwrap_or_default()
        .max(std::time::Duration::from_millis(1))
}

/// Starts serving on the listener.
///
/// # Errors
/// Returns a store or listener failure.
pub async fn start(options: StartOptions) -> Result<RunningServer, StartError> {
    let tls = options.tls.map(tls::Tls::load).transpose()?.map(Arc::new);
    let mut config = options.config;
    config.serves_tls = tls.is_some();
    let (state, writer, flusher) =
        build_state(config, options.store, options.clock, &options.secrets).await?;
    let addr = options.listener.local_addr()?;
    let sender =
        lifecycle::delivery::Sender::new(&state.config.webhooks).map_err(StartError::Webhooks)?;
    let lifecycle = lifecycle::Lifecycle::start(state.ops().clone(), sender);
    let (stop, stopped) = oneshot::channel::<()>();
    let (router, _) = router(state.clone());
    let serve_state = state.clone();
    let listener = options.listener;
    let stop_watch = Arc::new(tokio::sync::Notify::new());
    let watcher = countersign_directory::watch::start(
        state.store.clone(),
        state.cache.clone(),
        std::time::Duration::from_millis(state.config.directory_recheck_millis.max(50)),
        stop_watch.clone(),
    );
    // The node's heartbeat (revocation receipts), removed when the server stops.
    let stop_heartbeat = Arc::new(tokio::sync::Notify::new());
    let heartbeat = nodes::start_heartbeat(
        state.store.clone(),
        state.cache.clone(),
        nodes::Node::new(addr),
        stop_heartbeat.clone(),
    );
    // On-behalf-of roll-ups reach the audit queue every second (and at shutdown, below).
    let rollup_state = state.clone();
    let stop_rollups = Arc::new(tokio::sync::Notify::new());
    let rollups_stopped = stop_rollups.clone();
    let rollups = tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            let stopping = tokio::select! {
                _ = every.tick() => false,
                () = rollups_stopped.notified() => true,
            };
            let verifier = &rollup_state.verifier;
            verifier.on_behalf_of.flush(&rollup_state.audit).await;
            if stopping {
                break;
            }
        }
    });
    let serve_tls = tls.clone();
    let task = tokio::spawn(async move {
        let shared = Arc::new((serve_state.clone(), router));
        let limits = connections::Limits {
            header_read_timeout: seconds(serve_state.config.header_read_timeout),
            keep_alive_timeout: seconds(serve_state.config.keep_alive_timeout),
            max_connections: serve_state.config.max_connections,
        };
        connections::serve(
            listener,
            |peer| Connection {
                shared: shared.clone(),
                peer,
            },
            limits,
            serve_tls,
            async move {
                let _ = stopped.await;
            },
        )
        .await;
        stop_heartbeat.notify_one();
        if let Err(error) = heartbeat.await {
            tracing::error!(%error, "node heartbeat failed");
        }
        // Policy revocations audit, so the lifecycle stops before the audit queue closes.
        lifecycle.stop().await;
        stop_watch.notify_one();
        if let Err(error) = watcher.await {
            tracing::error!(%error, "directory watcher failed");
        }
        serve_state.last_used.stop();
        serve_state.legacy_usage.stop();
        stop_rollups.notify_one();
        if let Err(error) = rollups.await {
            tracing::error!(%error, "on-behalf-of roll-up writer failed");
        }
        if let Err(error) = flusher.await {
            tracing::error!(%error, "last-used flusher failed");
        }
        serve_state.audit.close();
        writer.finish().await;
        tracing::info!("server stopped; batches flushed");
    });
    Ok(RunningServer {
        addr,
        stop: Some(stop),
        task,
        state,
        tls,
    })
}

/// An error and its causes, `: `-separated, for a log line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
