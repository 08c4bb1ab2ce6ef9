//! The command line's shape: every subcommand and flag as clap types. Commands that administer
//! the directory sit in their own enum, so dispatching them is one exhaustive `match`.

use clap::{Args, Subcommand, ValueEnum};

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
    #[command(flatten)]
    Directory(DirectoryCommand),
    /// Exchange an API user's key for a session token against a running server.
    Token(TokenArgs),
    /// Print an X-DocuSign-Authentication header value.
    Header(HeaderArgs),
}

/// Subcommands that administer the directory directly on the database.
#[derive(Debug, Subcommand)]
pub enum DirectoryCommand {
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
}

/// The flags of `countersign token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// Server base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// API username.
    #[arg(long)]
    pub api_username: String,
    /// The key; prefer COUNTERSIGN_API_KEY or --key-stdin so it stays out of the process list.
    #[arg(long, env = "COUNTERSIGN_API_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// Read the key from standard input.
    #[arg(long)]
    pub key_stdin: bool,
    /// The user to act for.
    #[arg(long)]
    pub context_username: String,
    /// Session length in minutes.
    #[arg(long)]
    pub session_minutes: Option<i64>,
    /// API version segment.
    #[arg(long, default_value = "v3.5")]
    pub api_version: String,
}

/// The flags of `countersign header`.
#[derive(Debug, Args)]
pub struct HeaderArgs {
    /// xml or json.
    #[arg(long, value_enum, default_value = "json")]
    pub format: Format,
    /// Email or user id.
    #[arg(long)]
    pub username: String,
    /// Password or API password.
    #[arg(long)]
    pub password: String,
    /// Integrator key.
    #[arg(long)]
    pub integrator_key: String,
    /// Email or user id to act for.
    #[arg(long)]
    pub send_on_behalf_of: Option<String>,
}

/// Header formats.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// `<DocuSignCredentials>…`
    Xml,
    /// `{"Username":…}`
    Json,
}

/// The `config` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Print every effective setting as TOML, secrets masked (--json for JSON).
    Check,
    /// Print the complete configuration as annotated TOML: every key, its variable, its default.
    Defaults,
}

/// The `env` subcommands.
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

/// The `account` subcommands.
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

/// The `user` subcommands.
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

/// The `api-user` subcommands.
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
        /// Retire the old key once unused this many minutes after the new key's first use
        /// (1–43200), or at the end of the grace period, whichever comes first.
        #[arg(long)]
        retire_after_silence_minutes: Option<i64>,
    },
}

/// The `integrator-key` subcommands.
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

/// The `legacy` subcommands.
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

/// The `audit` subcommands.
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
