//! `serve`, `init` and what they share: logging set-up, the secrets supplied by file, the
//! bootstrap of an empty database, and waiting for a signal (SIGHUP reloads TLS files).

use crate::config::{self, FileConfig, mask_url, read_secret_file};
use crate::operations::{self, Open};
use anyhow::{Context, Result, anyhow};
use countersign_core::secret::Secret;
use countersign_server::clock::SystemClock;
use countersign_server::ops::Ops;
use countersign_server::secrets::SuppliedSecrets;
use countersign_store::Store;
use std::sync::Arc;

/// `countersign init`: creates and migrates the database, then bootstraps it if empty.
pub async fn init(config: &FileConfig) -> Result<()> {
    let store = operations::open_migrated(config, Open::MayCreate).await?;
    if !store.is_empty().await?
        && let Some(ignored) = ignored_bootstrap_variables()
    {
        println!("countersign: {ignored}");
    }
    bootstrap(config, store).await.map(|_| ())
}

/// Standard error that never fails: a closed stderr must not bring the server down.
struct QuietStderr;

impl std::io::Write for QuietStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = std::io::stderr().write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

fn init_tracing(config: &FileConfig) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| QuietStderr);
    if config.log_format == "json" {
        builder.json().with_ansi(false).init();
    } else {
        builder.with_ansi(colour_logs()).init();
    }
}

/// Colour in text logs only when standard error is a terminal and `NO_COLOR` is unset
/// (<https://no-color.org>): a file, a pipe or journald gets plain text.
fn colour_logs() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The pepper, signing key and master key given as files, if any.
pub fn supplied_secrets(config: &FileConfig) -> Result<SuppliedSecrets> {
    Ok(SuppliedSecrets {
        pepper: config
            .pepper_file
            .as_deref()
            .map(read_secret_file)
            .transpose()?,
        signing_key: config
            .signing_key_file
            .as_deref()
            .map(read_secret_file)
            .transpose()?,
        master_key: config
            .master_key_file
            .as_deref()
            .map(read_secret_file)
            .transpose()?,
    })
}

/// The line said when `COUNTERSIGN_ADMIN_EMAIL` / `_PASSWORD` are set on a database that is
/// already bootstrapped (never their values).
fn ignored_bootstrap_variables() -> Option<String> {
    let set: Vec<&str> = ["COUNTERSIGN_ADMIN_EMAIL", "COUNTERSIGN_ADMIN_PASSWORD"]
        .into_iter()
        .filter(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
        .collect();
    (!set.is_empty()).then(|| {
        format!(
            "{} ignored: the database already holds an organization, and these only choose the first administrator of an empty one; to reset a password run `countersign user password --email EMAIL` (reads it from standard input)",
            set.join(" and ")
        )
    })
}

async fn bootstrap(config: &FileConfig, store: Store) -> Result<Option<()>> {
    let email = std::env::var("COUNTERSIGN_ADMIN_EMAIL")
        .ok()
        .filter(|e| !e.is_empty());
    let password = std::env::var("COUNTERSIGN_ADMIN_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty())
        .map(Secret::new);
    let ops = Ops::open(
        store,
        &config.server,
        &supplied_secrets(config)?,
        Arc::new(SystemClock),
    )
    .await?;
    let result = ops.bootstrap(email.as_deref(), password).await;
    ops.finish().await;
    match result.map_err(|e| anyhow!("bootstrap failed: {e}"))? {
        Some(created) => {
            println!(
                "countersign: created an organization and its administrator {}",
                created.email
            );
            if let Some(password) = created.generated_password {
                println!(
                    "countersign: administrator password (shown once): {}",
                    password.expose()
                );
            }
            println!(
                "countersign: console at {}/console, admin API at {}/admin/v1",
                config.server.public_url, config.server.public_url
            );
            Ok(Some(()))
        }
        None => {
            println!("countersign: the database already holds an organization; nothing to do");
            Ok(None)
        }
    }
}

/// `countersign serve`: logs, creates, migrates and bootstraps the database if needed, serves until
/// SIGTERM or Ctrl-C.
pub async fn serve(config: FileConfig) -> Result<()> {
    init_tracing(&config);
    let tls = config::tls_files(&config)?;
    let store = operations::open_migrated(&config, Open::MayCreate).await?;
    if store.is_empty().await? {
        bootstrap(&config, store.clone()).await?;
    } else if let Some(ignored) = ignored_bootstrap_variables() {
        tracing::warn!("{ignored}");
    }
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let server = countersign_server::start(countersign_server::StartOptions {
        config: config.server.clone(),
        store,
        listener,
        clock: Arc::new(SystemClock),
        secrets: supplied_secrets(&config)?,
        tls,
    })
    .await
    .context("starting the server")?;
    // Listen for the stop (and reload) signals before saying so: a signal sent as soon as the
    // line appears must reach these handlers, not the default action.
    let stop = StopSignals::listen(server.serves_tls());
    tracing::info!(
        address = %server.local_addr(),
        database = %mask_url(&config.database_url),
        tls = server.serves_tls(),
        "countersign listening"
    );
    stop.wait(&server).await;
    server.wait_for(std::future::ready(())).await;
    Ok(())
}

/// SIGTERM, Ctrl-C and (when TLS is served directly) SIGHUP, registered up front.
struct StopSignals {
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    hangup: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    fn listen(serves_tls: bool) -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let hangup = if serves_tls {
                signal(SignalKind::hangup())
                    .inspect_err(|error| {
                        tracing::warn!(%error, "no SIGHUP handler; the TLS files are not reloaded");
                    })
                    .ok()
            } else {
                None
            };
            Self {
                terminate: signal(SignalKind::terminate()).ok(),
                hangup,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = serves_tls;
            Self {}
        }
    }

    /// Waits for SIGTERM or Ctrl-C; meanwhile every SIGHUP re-reads the certificate and key (a
    /// failure is logged and the previous certificate stays).
    async fn wait(mut self, server: &countersign_server::RunningServer) {
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        let mut ctrl_c = std::pin::pin!(ctrl_c);
        #[cfg(unix)]
        loop {
            let terminate = async {
                match self.terminate.as_mut() {
                    Some(signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let hangup = async {
                match self.hangup.as_mut() {
                    Some(signal) => signal.recv().await,
                    None => std::future::pending::<Option<()>>().await,
                }
            };
            tokio::select! {
                () = &mut ctrl_c => break,
                () = terminate => break,
                Some(()) = hangup => {
                    // Logged by `reload_tls` either way.
                    let _ = server.reload_tls();
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = server;
            ctrl_c.await;
        }
        tracing::info!("shutdown requested; finishing requests in flight");
    }
}
