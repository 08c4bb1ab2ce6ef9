//! The subcommands.

use crate::Cli;
use crate::config::{self, FileConfig, mask_url, read_secret_file};
use crate::operations::{self, Open};
use crate::pages::{PAGE_SIZE, all_pages};
use crate::reference;
use anyhow::{Context, Result, anyhow, bail};
use clap::{Subcommand, ValueEnum};
use countersign_core::api_user::Scope;
use countersign_core::directory::{EnvironmentKind, Permissions, UserStatus};
use countersign_core::ids::{
    AccountId, ApiUserId, EnvironmentId, IntegratorKeyId, OrganizationId, UserId,
};
use countersign_core::legacy::{HeaderFormat, build_header};
use countersign_core::secret::Secret;
use countersign_server::audit::AuditSink;
use countersign_server::cache::DirectoryCache;
use countersign_server::clock::SystemClock;
use countersign_server::ops::{self, Actor, Ops};
use countersign_server::secrets::SuppliedSecrets;
use countersign_store::{AuditFilter, Store};
use serde_json::{Value, json};
use std::io::BufRead;
use std::sync::Arc;

/// Top-level subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (creates, migrates and bootstraps an empty database first).
    Serve,
    /// Apply pending database migrations (creates a missing SQLite file).
    Migrate,
    /// Bootstrap an empty database: organization, environment, account, administrator.
    Init,
    /// Write a consistent copy of a SQLite database, also while the server runs.
    Backup {
        /// The new backup file (must not exist).
        #[arg(long)]
        to: std::path::PathBuf,
    },
    /// Fill a new, empty SQLite database (--database) from a backup file.
    Restore {
        /// A file written by `countersign backup`.
        #[arg(long)]
        from: std::path::PathBuf,
    },
    /// Exit 0 when the server's /healthz answers 200 (for container health checks).
    Healthcheck {
        /// Base URL of the server (default: http://{listen}, loopback for 0.0.0.0).
        #[arg(long)]
        url: Option<String>,
    },
    /// The configuration: every key with its default, or the effective values.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Environments.
    Env {
        #[command(subcommand)]
        action: EnvAction,
    },
    /// Accounts.
    Account {
        #[command(subcommand)]
        action: AccountAction,
    },
    /// Users, passwords and memberships.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// API users.
    ApiUser {
        #[command(subcommand)]
        action: ApiUserAction,
    },
    /// Integrator keys of the legacy header.
    IntegratorKey {
        #[command(subcommand)]
        action: IntegratorKeyAction,
    },
    /// Moving integrations off the legacy header: usage, sunset, switch, plan, migrate.
    Legacy {
        #[command(subcommand)]
        action: LegacyAction,
    },
    /// Report API usernames and user emails that look alike (rows kept from before look-alike
    /// names were refused); exits non-zero when there are any.
    Doctor,
    /// The audit log.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Exchange an API user's key for a session token against a running server.
    Token {
        /// Server base URL.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        server: String,
        /// API username.
        #[arg(long)]
        api_username: String,
        /// The key; prefer COUNTERSIGN_API_KEY or --key-stdin so it stays out of the process list.
        #[arg(long, env = "COUNTERSIGN_API_KEY", hide_env_values = true)]
        key: Option<String>,
        /// Read the key from standard input.
        #[arg(long)]
        key_stdin: bool,
        /// The user to act for.
        #[arg(long)]
        context_username: String,
        /// Session length in minutes.
        #[arg(long)]
        session_minutes: Option<i64>,
        /// API version segment.
        #[arg(long, default_value = "v3.5")]
        api_version: String,
    },
    /// Print an X-DocuSign-Authentication header value.
    Header {
        /// xml or json.
        #[arg(long, value_enum, default_value = "json")]
        format: Format,
        /// Email or user id.
        #[arg(long)]
        username: String,
        /// Password or API password.
        #[arg(long)]
        password: String,
        /// Integrator key.
        #[arg(long)]
        integrator_key: String,
        /// Email or user id to act for.
        #[arg(long)]
        send_on_behalf_of: Option<String>,
    },
}

/// Header formats.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// `<DocuSignCredentials>…`
    Xml,
    /// `{"Username":…}`
    Json,
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Print every effective setting as TOML, secrets masked (--json for JSON).
    Check,
    /// Print the complete configuration as annotated TOML: every key, its variable, its default.
    Defaults,
}

#[derive(Debug, Subcommand)]
pub enum EnvAction {
    /// List environments.
    List,
    /// Create an environment.
    Create {
        #[arg(long)]
        name: String,
        /// production or sandbox.
        #[arg(long, default_value = "production")]
        kind: String,
    },
    /// Make a user an administrator of an environment.
    AddAdmin {
        #[arg(long)]
        env: String,
        #[arg(long)]
        user: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AccountAction {
    /// List accounts.
    List,
    /// Create an account.
    Create {
        #[arg(long)]
        env: String,
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserAction {
    /// List users.
    List,
    /// Create a user.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: Option<String>,
        /// Read a password from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Disable a user (all credentials refused on the next request).
    Disable {
        #[arg(long)]
        id: String,
    },
    /// Enable a user.
    Enable {
        #[arg(long)]
        id: String,
    },
    /// Set a user's password, read from standard input (also the way back in for an
    /// administrator who lost theirs).
    #[command(group(clap::ArgGroup::new("who").required(true).args(["id", "email"])))]
    Password {
        #[arg(long)]
        id: Option<String>,
        #[arg(long)]
        email: Option<String>,
    },
    /// End every API password of a user.
    ResetApiPassword {
        #[arg(long)]
        id: String,
    },
    /// Grant or change a membership.
    Membership {
        #[arg(long)]
        user: String,
        #[arg(long)]
        account: String,
        /// Comma-separated: send,sobo,account_wide,admin.
        #[arg(long, value_delimiter = ',')]
        permissions: Vec<String>,
        /// Make it the user's default account.
        #[arg(long)]
        default: bool,
    },
    /// Remove a membership.
    RemoveMembership {
        #[arg(long)]
        user: String,
        #[arg(long)]
        account: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApiUserAction {
    /// List API users.
    List {
        /// Include revoked and expired ones.
        #[arg(long)]
        include_inactive: bool,
    },
    /// Create an API user; prints the key once.
    Create {
        #[arg(long)]
        username: String,
        /// organization, environment:<id> or user:<id>.
        #[arg(long)]
        scope: String,
        /// RFC 3339 time or YYYY-MM-DD.
        #[arg(long)]
        expires_at: String,
        #[arg(long)]
        description: Option<String>,
    },
    /// Revoke an API user permanently.
    Revoke {
        #[arg(long)]
        id: String,
    },
    /// Delete an API user.
    Delete {
        #[arg(long)]
        id: String,
    },
    /// Issue a new key; prints it once.
    Rotate {
        #[arg(long)]
        id: String,
        /// Minutes the old key keeps working (0–43200).
        #[arg(long, default_value_t = 0)]
        grace_minutes: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum IntegratorKeyAction {
    /// List integrator keys.
    List,
    /// Create (or import with --key) an integrator key.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        key: Option<String>,
    },
    /// Revoke an integrator key.
    Revoke {
        #[arg(long)]
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum LegacyAction {
    /// Who still uses the legacy header.
    Usage {
        /// Only this integrator key (record id).
        #[arg(long)]
        integrator_key: Option<String>,
        /// Only rows last seen at or after (RFC 3339).
        #[arg(long)]
        since: Option<String>,
    },
    /// Set (RFC 3339) or clear the date the legacy header stops working with a key.
    Sunset {
        #[arg(long)]
        integrator_key: String,
        /// RFC 3339 time.
        #[arg(long, conflicts_with = "clear")]
        at: Option<String>,
        /// Remove the sunset.
        #[arg(long)]
        clear: bool,
    },
    /// Turn the legacy header on or off for the whole organization.
    Switch {
        /// on or off.
        #[arg(long)]
        state: String,
    },
    /// Propose the narrowest API user covering a key's recorded usage (dry run).
    Plan {
        #[arg(long)]
        integrator_key: String,
    },
    /// Create the API user the plan proposes; prints the key once and a snippet.
    Migrate {
        #[arg(long)]
        integrator_key: String,
        #[arg(long)]
        username: String,
        /// RFC 3339 time or YYYY-MM-DD.
        #[arg(long)]
        expires_at: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditAction {
    /// List events, newest first.
    List {
        #[arg(long)]
        actor: Option<String>,
        #[arg(long)]
        action: Option<String>,
        /// RFC 3339.
        #[arg(long)]
        since: Option<String>,
        /// RFC 3339.
        #[arg(long)]
        until: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Every event of the installation, including failed authentications that named no
        /// known organization.
        #[arg(long)]
        all: bool,
    },
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

fn supplied_secrets(config: &FileConfig) -> Result<SuppliedSecrets> {
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

/// Direct database operations for directory subcommands.
struct Direct {
    public_url: String,
    ops: Ops,
    writer: countersign_server::audit::AuditWriter,
    organization: OrganizationId,
}

impl Direct {
    async fn open(config: &FileConfig, org: Option<&str>) -> Result<Self> {
        let store = operations::open_migrated(config, Open::Existing).await?;
        let supplied = supplied_secrets(config)?;
        let clock: Arc<dyn countersign_server::clock::Clock> = Arc::new(SystemClock);
        let secrets =
            countersign_server::secrets::Secrets::load(&store, &supplied, clock.now()).await?;
        let (audit, writer) = AuditSink::start(store.clone());
        let ops = Ops {
            store: store.clone(),
            cache: Arc::new(DirectoryCache::new(1_000)),
            audit,
            clock,
            config: config.server.clone(),
            pepper: secrets.pepper,
        };
        let organizations = store.list_organizations().await?;
        let organization = match org {
            Some(id) => OrganizationId::parse(id)
                .ok_or_else(|| anyhow!("--org must be an organization id"))?,
            None => match organizations.as_slice() {
                [only] => only.id,
                [] => bail!("the database is empty: run `countersign init` first"),
                _ => bail!("several organizations exist: choose one with --org"),
            },
        };
        Ok(Self {
            public_url: config.server.public_url.clone(),
            ops,
            writer,
            organization,
        })
    }

    fn actor(&self) -> Actor {
        Actor {
            organization_id: self.organization,
            user_id: None,
            name: "cli".into(),
            source_ip: None,
        }
    }

    async fn finish(self) {
        self.ops.audit.close();
        self.writer.finish().await;
    }
}

fn parse<T>(text: &str, parse: fn(&str) -> Option<T>, what: &str) -> Result<T> {
    parse(text).ok_or_else(|| anyhow!("{what} must be a UUID"))
}

fn read_line_stdin(what: &str) -> Result<Secret> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .with_context(|| format!("reading {what} from standard input"))?;
    let value = line.trim_end_matches(['\r', '\n']).to_owned();
    anyhow::ensure!(!value.is_empty(), "{what} on standard input is empty");
    Ok(Secret::new(value))
}

/// Prints rows as an aligned table, or the JSON value.
fn output(json_mode: bool, value: &Value, headers: &[&str], rows: Vec<Vec<String>>) {
    if json_mode {
        println!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_default()
        );
        return;
    }
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = widths[i]))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    println!(
        "{}",
        line(headers.iter().map(|h| h.to_uppercase()).collect())
    );
    for row in rows {
        println!("{}", line(row));
    }
}

fn time_text(at: Option<time::OffsetDateTime>) -> String {
    at.map(|at| {
        at.replace_nanosecond(0)
            .unwrap_or(at)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    })
    .unwrap_or_else(|| "-".into())
}

fn scope_text(scope: &Scope) -> String {
    match scope {
        Scope::User(user) => format!("user:{user}"),
        Scope::Environment(environment) => format!("environment:{environment}"),
        Scope::Organization => "organization".into(),
    }
}

fn parse_scope(text: &str) -> Result<Scope> {
    match text.split_once(':') {
        None if text == "organization" => Ok(Scope::Organization),
        Some(("user", id)) => Ok(Scope::User(parse(id, UserId::parse, "user id")?)),
        Some(("environment", id)) => Ok(Scope::Environment(parse(
            id,
            EnvironmentId::parse,
            "environment id",
        )?)),
        _ => bail!("scope must be organization, environment:<id> or user:<id>"),
    }
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> Result<()> {
    let config = config::load(&cli.overrides)?;
    let json_mode = cli.json;
    match cli.command {
        Command::Serve => {
            init_tracing(&config);
            serve(config).await
        }
        Command::Migrate => {
            operations::open_migrated(&config, Open::MayCreate).await?;
            println!("migrations applied to {}", mask_url(&config.database_url));
            Ok(())
        }
        Command::Init => {
            let store = operations::open_migrated(&config, Open::MayCreate).await?;
            if !store.is_empty().await?
                && let Some(ignored) = ignored_bootstrap_variables()
            {
                println!("countersign: {ignored}");
            }
            bootstrap(&config, store).await.map(|_| ())
        }
        Command::Backup { to } => operations::backup(&config, &to).await,
        Command::Restore { from } => operations::restore(&config, &from).await,
        Command::Healthcheck { url } => operations::healthcheck(&config, url.as_deref()).await,
        Command::Config {
            action: ConfigAction::Defaults,
        } => {
            print!("{}", reference::defaults());
            Ok(())
        }
        Command::Config {
            action: ConfigAction::Check,
        } => {
            let (text, value) = reference::effective(&config);
            if json_mode {
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                print!("{text}");
            }
            Ok(())
        }
        Command::Token {
            server,
            api_username,
            key,
            key_stdin,
            context_username,
            session_minutes,
            api_version,
        } => {
            let key = match (key, key_stdin) {
                (_, true) => read_line_stdin("key")?,
                (Some(key), false) => Secret::new(key),
                (None, false) => {
                    bail!("give the key with COUNTERSIGN_API_KEY, --key-stdin or --key")
                }
            };
            token(
                &server,
                &api_version,
                &api_username,
                key,
                &context_username,
                session_minutes,
                json_mode,
            )
            .await
        }
        Command::Header {
            format,
            username,
            password,
            integrator_key,
            send_on_behalf_of,
        } => {
            let format = match format {
                Format::Xml => HeaderFormat::Xml,
                Format::Json => HeaderFormat::Json,
            };
            println!(
                "{}",
                build_header(
                    format,
                    &username,
                    &password,
                    &integrator_key,
                    send_on_behalf_of.as_deref()
                )
            );
            Ok(())
        }
        command => {
            let direct = Direct::open(&config, cli.org.as_deref()).await?;
            let result = directory(&direct, command, json_mode).await;
            direct.finish().await;
            result
        }
    }
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
    let clock: Arc<dyn countersign_server::clock::Clock> = Arc::new(SystemClock);
    let secrets =
        countersign_server::secrets::Secrets::load(&store, &supplied_secrets(config)?, clock.now())
            .await?;
    let (audit, writer) = AuditSink::start(store.clone());
    let ops = Ops {
        store,
        cache: Arc::new(DirectoryCache::new(16)),
        audit,
        clock,
        config: config.server.clone(),
        pepper: secrets.pepper,
    };
    let result = ops.bootstrap(email.as_deref(), password).await;
    ops.audit.close();
    writer.finish().await;
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

async fn serve(config: FileConfig) -> Result<()> {
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
    tracing::info!(
        address = %server.local_addr(),
        database = %mask_url(&config.database_url),
        tls = server.serves_tls(),
        "countersign listening"
    );
    reload_until_stopped(&server).await;
    server.wait_for(std::future::ready(())).await;
    Ok(())
}

/// Waits for SIGTERM or Ctrl-C; meanwhile, when TLS is served directly, every SIGHUP re-reads
/// the certificate and key (a failure is logged and the previous certificate stays).
async fn reload_until_stopped(server: &countersign_server::RunningServer) {
    #[cfg(unix)]
    if server.serves_tls() {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(mut hangup) => {
                let mut stop = std::pin::pin!(shutdown_signal());
                loop {
                    tokio::select! {
                        () = &mut stop => return,
                        Some(()) = hangup.recv() => {
                            // Logged by `reload_tls` either way.
                            let _ = server.reload_tls();
                        }
                    }
                }
            }
            Err(error) => {
                tracing::warn!(%error, "no SIGHUP handler; the TLS files are not reloaded");
            }
        }
    }
    shutdown_signal().await;
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested; finishing requests in flight");
}

async fn token(
    server: &str,
    version: &str,
    api_username: &str,
    key: Secret,
    context_username: &str,
    session_minutes: Option<i64>,
    json_mode: bool,
) -> Result<()> {
    let mut request = json!({"apiUsername": api_username, "key": key.expose(), "contextUsername": context_username});
    if let Some(minutes) = session_minutes {
        request["sessionLengthInMinutes"] = json!(minutes);
    }
    let url = format!(
        "{}/api/{version}/authentication/apiUser",
        server.trim_end_matches('/')
    );
    let response = reqwest::Client::new()
        .post(&url)
        .json(&json!({"request": request}))
        .send()
        .await
        .with_context(|| format!("posting to {url}"))?;
    let status = response.status();
    let body: Value = response.json().await.context("reading the response")?;
    if !status.is_success() {
        bail!(
            "token exchange refused ({status}): {} {}",
            body["errorCode"].as_str().unwrap_or("?"),
            body["summary"].as_str().unwrap_or("")
        );
    }
    if json_mode {
        println!("{}", serde_json::to_string_pretty(&body)?);
    } else {
        println!("{}", body["token"].as_str().unwrap_or_default());
    }
    Ok(())
}

async fn directory(direct: &Direct, command: Command, json_mode: bool) -> Result<()> {
    let ops = &direct.ops;
    let store = &ops.store;
    let actor = direct.actor();
    let org = direct.organization;
    let op = |e: ops::OpError| anyhow!("{e}");
    match command {
        Command::Doctor => doctor(store, json_mode).await?,
        Command::Env {
            action: EnvAction::List,
        } => {
            let environments = all_pages(|cursor| async move {
                store
                    .list_environments(org, cursor.as_deref(), PAGE_SIZE)
                    .await
            })
            .await?;
            let value = json!(
                environments
                    .iter()
                    .map(|e| json!({"id": e.id, "name": e.name, "kind": e.kind.as_str()}))
                    .collect::<Vec<_>>()
            );
            output(
                json_mode,
                &value,
                &["id", "name", "kind"],
                environments
                    .iter()
                    .map(|e| vec![e.id.to_string(), e.name.clone(), e.kind.as_str().into()])
                    .collect(),
            );
        }
        Command::Env {
            action: EnvAction::Create { name, kind },
        } => {
            let kind = EnvironmentKind::parse(&kind)
                .ok_or_else(|| anyhow!("kind must be production or sandbox"))?;
            let env = ops
                .create_environment(&actor, &name, kind)
                .await
                .map_err(op)?;
            output(
                json_mode,
                &json!({"id": env.id, "name": env.name, "kind": env.kind.as_str()}),
                &["id", "name", "kind"],
                vec![vec![env.id.to_string(), env.name, env.kind.as_str().into()]],
            );
        }
        Command::Env {
            action: EnvAction::AddAdmin { env, user },
        } => {
            ops.add_environment_admin(
                &actor,
                parse(&env, EnvironmentId::parse, "--env")?,
                parse(&user, UserId::parse, "--user")?,
            )
            .await
            .map_err(op)?;
            println!("done");
        }
        Command::Account {
            action: AccountAction::List,
        } => {
            let accounts = all_pages(|cursor| async move {
                store.list_accounts(org, cursor.as_deref(), PAGE_SIZE).await
            })
            .await?;
            let value = json!(accounts.iter().map(|a| json!({"id": a.id, "number": a.number, "name": a.name, "environment_id": a.environment_id})).collect::<Vec<_>>());
            output(
                json_mode,
                &value,
                &["id", "number", "name", "environment_id"],
                accounts
                    .iter()
                    .map(|a| {
                        vec![
                            a.id.to_string(),
                            a.number.clone(),
                            a.name.clone(),
                            a.environment_id.to_string(),
                        ]
                    })
                    .collect(),
            );
        }
        Command::Account {
            action: AccountAction::Create { env, name },
        } => {
            let account = ops
                .create_account(&actor, parse(&env, EnvironmentId::parse, "--env")?, &name)
                .await
                .map_err(op)?;
            output(
                json_mode,
                &json!({"id": account.id, "number": account.number, "name": account.name, "environment_id": account.environment_id}),
                &["id", "number", "name"],
                vec![vec![account.id.to_string(), account.number, account.name]],
            );
        }
        Command::User { action } => user_command(ops, &actor, org, action, json_mode).await?,
        Command::ApiUser { action } => {
            api_user_command(ops, &actor, org, action, json_mode).await?
        }
        Command::Legacy { action } => {
            legacy_command(ops, &actor, org, action, json_mode, &direct.public_url).await?
        }
        Command::IntegratorKey { action } => match action {
            IntegratorKeyAction::List => {
                let keys = all_pages(|cursor| async move {
                    store
                        .list_integrator_keys(org, cursor.as_deref(), PAGE_SIZE)
                        .await
                })
                .await?;
                let value = json!(keys.iter().map(|k| json!({"id": k.id, "key": k.key, "name": k.name, "status": k.status.as_str(), "legacy_sunset_at": time_text(k.legacy_sunset_at)})).collect::<Vec<_>>());
                output(
                    json_mode,
                    &value,
                    &["id", "key", "name", "status", "sunset"],
                    keys.iter()
                        .map(|k| {
                            vec![
                                k.id.to_string(),
                                k.key.clone(),
                                k.name.clone(),
                                k.status.as_str().into(),
                                time_text(k.legacy_sunset_at),
                            ]
                        })
                        .collect(),
                );
            }
            IntegratorKeyAction::Create { name, key } => {
                let k = ops
                    .create_integrator_key(&actor, &name, key.as_deref())
                    .await
                    .map_err(op)?;
                output(
                    json_mode,
                    &json!({"id": k.id, "key": k.key, "name": k.name, "status": k.status.as_str()}),
                    &["id", "key", "name"],
                    vec![vec![k.id.to_string(), k.key, k.name]],
                );
            }
            IntegratorKeyAction::Revoke { id } => {
                ops.revoke_integrator_key(&actor, parse(&id, IntegratorKeyId::parse, "--id")?)
                    .await
                    .map_err(op)?;
                println!("revoked");
            }
        },
        Command::Audit {
            action:
                AuditAction::List {
                    actor: who,
                    action,
                    since,
                    until,
                    limit,
                    all,
                },
        } => {
            let parse_time = |text: Option<String>| -> Result<Option<time::OffsetDateTime>> {
                text.map(|t| {
                    time::OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339)
                        .context("times must be RFC 3339")
                })
                .transpose()
            };
            let filter = AuditFilter {
                organization_id: (!all).then_some(org),
                actor: who,
                action,
                since: parse_time(since)?,
                until: parse_time(until)?,
            };
            let page = store
                .list_audit_events(&filter, None, limit.clamp(1, 1000))
                .await?;
            let value = json!(page
                .items
                .iter()
                .map(|r| json!({"id": r.id.to_string(), "at": time_text(Some(r.event.at)), "actor": r.event.actor, "action": r.event.action, "subject": r.event.subject, "source_ip": r.event.source_ip, "outcome": r.event.outcome.as_str()}))
                .collect::<Vec<_>>());
            output(
                json_mode,
                &value,
                &["id", "at", "actor", "action", "subject", "outcome"],
                page.items
                    .iter()
                    .map(|r| {
                        vec![
                            r.id.to_string(),
                            time_text(Some(r.event.at)),
                            r.event.actor.clone(),
                            r.event.action.clone(),
                            r.event.subject.clone(),
                            r.event.outcome.as_str().into(),
                        ]
                    })
                    .collect(),
            );
        }
        other => bail!("unexpected command {other:?}"),
    }
    Ok(())
}

async fn user_command(
    ops: &Ops,
    actor: &Actor,
    org: OrganizationId,
    action: UserAction,
    json_mode: bool,
) -> Result<()> {
    let op = |e: ops::OpError| anyhow!("{e}");
    let show = |u: &countersign_core::directory::User| json!({"id": u.id, "email": u.email, "name": u.name, "status": u.status.as_str()});
    match action {
        UserAction::List => {
            let users = all_pages(|cursor| async move {
                ops.store
                    .list_users(org, cursor.as_deref(), PAGE_SIZE)
                    .await
            })
            .await?;
            let value = json!(users.iter().map(show).collect::<Vec<_>>());
            output(
                json_mode,
                &value,
                &["id", "email", "name", "status"],
                users
                    .iter()
                    .map(|u| {
                        vec![
                            u.id.to_string(),
                            u.email.clone(),
                            u.name.clone(),
                            u.status.as_str().into(),
                        ]
                    })
                    .collect(),
            );
        }
        UserAction::Create {
            email,
            name,
            password_stdin,
        } => {
            let password = if password_stdin {
                Some(read_line_stdin("password")?)
            } else {
                None
            };
            let name = name.unwrap_or_else(|| email.clone());
            let user = ops
                .create_user(actor, &email, &name, password)
                .await
                .map_err(op)?;
            output(
                json_mode,
                &show(&user),
                &["id", "email", "name", "status"],
                vec![vec![
                    user.id.to_string(),
                    user.email.clone(),
                    user.name.clone(),
                    user.status.as_str().into(),
                ]],
            );
        }
        UserAction::Disable { id } => {
            let user = ops
                .update_user(
                    actor,
                    parse(&id, UserId::parse, "--id")?,
                    None,
                    Some(UserStatus::Disabled),
                )
                .await
                .map_err(op)?;
            output(
                json_mode,
                &show(&user),
                &["id", "status"],
                vec![vec![user.id.to_string(), user.status.as_str().into()]],
            );
        }
        UserAction::Enable { id } => {
            let user = ops
                .update_user(
                    actor,
                    parse(&id, UserId::parse, "--id")?,
                    None,
                    Some(UserStatus::Active),
                )
                .await
                .map_err(op)?;
            output(
                json_mode,
                &show(&user),
                &["id", "status"],
                vec![vec![user.id.to_string(), user.status.as_str().into()]],
            );
        }
        UserAction::Password { id, email } => {
            let id = match (id, email) {
                (Some(id), _) => parse(&id, UserId::parse, "--id")?,
                (None, Some(email)) => {
                    ops.store
                        .find_user_by_email(org, &email)
                        .await?
                        .ok_or_else(|| anyhow!("no user with email {email}"))?
                        .id
                }
                (None, None) => bail!("give --id or --email"),
            };
            let password = read_line_stdin("password")?;
            ops.set_password(actor, id, password).await.map_err(op)?;
            println!("password set");
        }
        UserAction::ResetApiPassword { id } => {
            let removed = ops
                .reset_api_passwords(actor, parse(&id, UserId::parse, "--id")?)
                .await
                .map_err(op)?;
            println!("{removed} API password(s) ended");
        }
        UserAction::Membership {
            user,
            account,
            permissions,
            default,
        } => {
            let permissions = Permissions::parse_names(&permissions)
                .map_err(|name| anyhow!("unknown permission {name}"))?;
            let m = ops
                .put_membership(
                    actor,
                    parse(&user, UserId::parse, "--user")?,
                    parse(&account, AccountId::parse, "--account")?,
                    permissions,
                    default,
                )
                .await
                .map_err(op)?;
            output(
                json_mode,
                &json!({"user_id": m.user_id, "account_id": m.account_id, "permissions": m.permissions.names(), "is_default": m.is_default}),
                &["user_id", "account_id", "permissions", "default"],
                vec![vec![
                    m.user_id.to_string(),
                    m.account_id.to_string(),
                    m.permissions.names().join(","),
                    m.is_default.to_string(),
                ]],
            );
        }
        UserAction::RemoveMembership { user, account } => {
            ops.delete_membership(
                actor,
                parse(&user, UserId::parse, "--user")?,
                parse(&account, AccountId::parse, "--account")?,
            )
            .await
            .map_err(op)?;
            println!("removed");
        }
    }
    Ok(())
}

async fn api_user_command(
    ops: &Ops,
    actor: &Actor,
    org: OrganizationId,
    action: ApiUserAction,
    json_mode: bool,
) -> Result<()> {
    let op = |e: ops::OpError| anyhow!("{e}");
    let now = time::OffsetDateTime::now_utc();
    let show = |a: &countersign_core::api_user::ApiUser| {
        json!({
            "id": a.id, "username": a.username, "scope": scope_text(&a.scope), "expires_at": time_text(Some(a.expires_at)),
            "status": a.status(now).as_str(), "created_by": a.created_by, "last_used_at": time_text(a.last_used_at),
        })
    };
    let row = |a: &countersign_core::api_user::ApiUser| {
        vec![
            a.id.to_string(),
            a.username.clone(),
            scope_text(&a.scope),
            time_text(Some(a.expires_at)),
            a.status(now).as_str().into(),
            time_text(a.last_used_at),
        ]
    };
    let headers = [
        "id",
        "username",
        "scope",
        "expires_at",
        "status",
        "last_used_at",
    ];
    match action {
        ApiUserAction::List { include_inactive } => {
            let api_users = all_pages(|cursor| async move {
                ops.store
                    .list_api_users(org, include_inactive, now, cursor.as_deref(), PAGE_SIZE)
                    .await
            })
            .await?;
            output(
                json_mode,
                &json!(api_users.iter().map(show).collect::<Vec<_>>()),
                &headers,
                api_users.iter().map(row).collect(),
            );
        }
        ApiUserAction::Create {
            username,
            scope,
            expires_at,
            description,
        } => {
            let expires_at = ops::parse_expiry(&expires_at).map_err(op)?;
            let issued = ops
                .create_api_user(
                    actor,
                    &username,
                    parse_scope(&scope)?,
                    expires_at,
                    description.as_deref(),
                )
                .await
                .map_err(op)?;
            print_issued(&issued, json_mode, show(&issued.api_user));
        }
        ApiUserAction::Revoke { id } => {
            let api_user = ops
                .revoke_api_user(actor, parse(&id, ApiUserId::parse, "--id")?)
                .await
                .map_err(op)?;
            output(json_mode, &show(&api_user), &headers, vec![row(&api_user)]);
        }
        ApiUserAction::Delete { id } => {
            ops.delete_api_user(actor, parse(&id, ApiUserId::parse, "--id")?)
                .await
                .map_err(op)?;
            println!("deleted");
        }
        ApiUserAction::Rotate { id, grace_minutes } => {
            let issued = ops
                .rotate_api_user(actor, parse(&id, ApiUserId::parse, "--id")?, grace_minutes)
                .await
                .map_err(op)?;
            print_issued(&issued, json_mode, show(&issued.api_user));
        }
    }
    Ok(())
}

fn print_issued(issued: &ops::IssuedKey, json_mode: bool, api_user: Value) {
    if json_mode {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"api_user": api_user, "key": issued.key.expose()})
            )
            .unwrap_or_default()
        );
    } else {
        println!(
            "api user: {} ({})",
            issued.api_user.username, issued.api_user.id
        );
        println!("key (shown once, store it now): {}", issued.key.expose());
    }
}

async fn legacy_command(
    ops: &Ops,
    actor: &Actor,
    org: OrganizationId,
    action: LegacyAction,
    json_mode: bool,
    public_url: &str,
) -> Result<()> {
    let op = |e: ops::OpError| anyhow!("{e}");
    let key_id = |text: &str| parse(text, IntegratorKeyId::parse, "--integrator-key");
    match action {
        LegacyAction::Usage {
            integrator_key,
            since,
        } => {
            let key = integrator_key.as_deref().map(key_id).transpose()?;
            let since = since
                .map(|t| {
                    time::OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339)
                        .context("--since must be RFC 3339")
                })
                .transpose()?;
            let rows = ops.store.list_legacy_usage(org, key, since).await?;
            let value = json!(rows
                .iter()
                .map(|r| json!({
                    "integrator_key_id": r.integrator_key_id, "integrator_key_name": r.integrator_key_name,
                    "user_id": r.user_id, "user_email": r.user_email, "on_behalf_of_user_id": r.on_behalf_of_user_id,
                    "account_ids": r.accounts.iter().map(|(a, _)| a.to_string()).collect::<Vec<_>>(), "requests": r.requests,
                    "first_seen_at": time_text(Some(r.first_seen_at)), "last_seen_at": time_text(Some(r.last_seen_at)),
                    "source_ips": r.source_ips, "user_agents": r.user_agents,
                }))
                .collect::<Vec<_>>());
            output(
                json_mode,
                &value,
                &[
                    "integrator_key",
                    "user",
                    "on_behalf_of",
                    "requests",
                    "last_seen_at",
                ],
                rows.iter()
                    .map(|r| {
                        vec![
                            r.integrator_key_name.clone(),
                            r.user_email.clone(),
                            r.on_behalf_of_user_id
                                .map_or_else(|| "-".into(), |id| id.to_string()),
                            r.requests.to_string(),
                            time_text(Some(r.last_seen_at)),
                        ]
                    })
                    .collect(),
            );
        }
        LegacyAction::Sunset {
            integrator_key,
            at,
            clear,
        } => {
            let at = match (at, clear) {
                (Some(at), false) => Some(
                    time::OffsetDateTime::parse(
                        &at,
                        &time::format_description::well_known::Rfc3339,
                    )
                    .context("--at must be RFC 3339")?,
                ),
                (None, true) => None,
                _ => bail!("give --at TIME or --clear"),
            };
            let key = ops
                .set_integrator_key_sunset(actor, key_id(&integrator_key)?, at)
                .await
                .map_err(op)?;
            println!(
                "{}: legacy sunset {}",
                key.name,
                time_text(key.legacy_sunset_at)
            );
        }
        LegacyAction::Switch { state } => {
            let enabled = match state.as_str() {
                "on" => true,
                "off" => false,
                _ => bail!("--state must be on or off"),
            };
            let organization = ops
                .set_legacy_header_enabled(actor, enabled)
                .await
                .map_err(op)?;
            println!(
                "legacy header {} for {}",
                if organization.legacy_header_enabled {
                    "on"
                } else {
                    "off"
                },
                organization.name
            );
        }
        LegacyAction::Plan { integrator_key } => {
            let plan = ops
                .migration_plan(actor, key_id(&integrator_key)?)
                .await
                .map_err(op)?;
            let value = json!({
                "scope": scope_text(&plan.scope),
                "users": plan.users.iter().map(|u| json!({"id": u.id, "email": u.email, "requests": u.requests})).collect::<Vec<_>>(),
                "accounts": plan.accounts.iter().map(|a| json!({"id": a.id, "number": a.number, "environment_id": a.environment_id, "requests": a.requests})).collect::<Vec<_>>(),
                "covered_requests": plan.coverage.covered,
                "total_requests": plan.coverage.total,
                "uncovered": plan.coverage.uncovered.iter().map(|(u, why)| json!({"user_id": u.user_id, "requests": u.requests, "reason": why.reason()})).collect::<Vec<_>>(),
            });
            if json_mode {
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                println!("proposed scope: {}", scope_text(&plan.scope));
                println!(
                    "dry run: {} of {} recorded requests covered",
                    plan.coverage.covered, plan.coverage.total
                );
                for user in &plan.users {
                    println!("  acts as {} ({} requests)", user.email, user.requests);
                }
                for (recorded, why) in &plan.coverage.uncovered {
                    println!(
                        "  not covered: {} requests as {}: {}",
                        recorded.requests,
                        recorded.user_id,
                        why.reason()
                    );
                }
            }
        }
        LegacyAction::Migrate {
            integrator_key,
            username,
            expires_at,
        } => {
            let expires_at = ops::parse_expiry(&expires_at).map_err(op)?;
            let migrated = ops
                .migrate_integrator_key(
                    actor,
                    key_id(&integrator_key)?,
                    &username,
                    expires_at,
                    public_url,
                )
                .await
                .map_err(op)?;
            if json_mode {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({
                        "api_user": {"id": migrated.issued.api_user.id, "username": migrated.issued.api_user.username, "scope": scope_text(&migrated.issued.api_user.scope)},
                        "key": migrated.issued.key.expose(),
                        "snippet": migrated.snippet,
                    }))?
                );
            } else {
                println!(
                    "api user: {} ({}) scope {}",
                    migrated.issued.api_user.username,
                    migrated.issued.api_user.id,
                    scope_text(&migrated.issued.api_user.scope)
                );
                println!(
                    "key (shown once, store it now): {}",
                    migrated.issued.key.expose()
                );
                println!();
                println!("{}", migrated.snippet);
            }
        }
    }
    Ok(())
}

/// Reports names that look alike; an error (non-zero exit) when there are any.
async fn doctor(store: &Store, json_mode: bool) -> Result<()> {
    let collisions = store
        .list_name_collisions()
        .await
        .context("reading names")?;
    let value = json!({
        "name_collisions": collisions
            .iter()
            .map(|c| json!({
                "kind": c.kind,
                "organization_id": c.organization_id,
                "rows": c.rows.iter().map(|(id, name)| json!({"id": id, "name": name})).collect::<Vec<_>>(),
            }))
            .collect::<Vec<_>>()
    });
    let rows = collisions
        .iter()
        .enumerate()
        .flat_map(|(group, c)| {
            c.rows.iter().map(move |(id, name)| {
                vec![
                    (group + 1).to_string(),
                    c.kind.to_owned(),
                    c.organization_id.clone().unwrap_or_default(),
                    id.clone(),
                    format!("{name:?}"),
                ]
            })
        })
        .collect();
    output(
        json_mode,
        &value,
        &["group", "kind", "organization", "id", "name"],
        rows,
    );
    if collisions.is_empty() {
        if !json_mode {
            println!("no names look alike");
        }
        Ok(())
    } else {
        bail!(
            "{} group(s) of names look alike (each row keeps working; new look-alikes are refused)",
            collisions.len()
        )
    }
}
