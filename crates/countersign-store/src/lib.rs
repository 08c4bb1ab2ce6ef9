//! The storage layer of countersign: the only crate that speaks SQL.
//!
//! One set of queries runs on SQLite (embedded default) and PostgreSQL (scale-out) through
//! sqlx's `Any` driver; the schema lives in `migrations/sqlite` and `migrations/postgres`, whose
//! file names match. Queries return core types, never rows. Times are stored as Unix
//! milliseconds and ids as lower-case UUID text, which both backends compare identically.

mod accounts;
mod api_passwords;
mod api_users;
mod audit;
mod bulk;
mod changes;
mod environment_admins;
mod environments;
mod integrator_keys;
mod introspection_clients;
mod leaks;
mod legacy_usage;
mod lifecycle;
mod maintenance;
mod memberships;
mod names;
mod nodes;
mod oauth_clients;
mod oauth_consents;
mod oauth_grants;
mod organizations;
mod paging;
mod query;
mod session_ends;
mod sessions;
mod users;
mod webhooks;

pub use api_users::{ApiUserWithKeys, KeyUse, NewApiUser};
pub use audit::{AuditEvent, AuditFilter, AuditOutcome, AuditRecord};
pub use changes::{CHANNEL, ChangeEvent, ChangeListener};
pub use leaks::{KeyOwner, LeakReport, LeakResponseTaken};
pub use legacy_usage::{RECENT_SOURCES, UsageDelta, UsageRow};
pub use lifecycle::{ReportRow, SunsetReached};
pub use names::NameCollision;
pub use nodes::NodeHeartbeat;
pub use oauth_clients::{AddCredentialError, OAuthRsaKey, OAuthSecret};
pub use oauth_consents::{AdminConsentRecord, GrantState, UserConsentView};
pub use oauth_grants::{OAuthCode, OAuthFamily, Redemption};
pub use paging::{ALL_PAGES_BATCH, Owned, OwnedId, Page, all_pages};
pub use sessions::AdminSession;
pub use users::{NewUser, PasswordHashes, UserUpdate};
pub use webhooks::{AttemptResult, DeliveryJob, DeliveryRecord, NewEvent};

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};
use std::str::FromStr;
use std::time::Duration;
use time::OffsetDateTime;

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row does not exist.
    #[error("{entity} not found")]
    NotFound {
        /// What was looked for.
        entity: &'static str,
    },
    /// A unique constraint was violated.
    #[error("{entity} already exists")]
    Conflict {
        /// What collided.
        entity: &'static str,
    },
    /// A stored value could not be understood (corrupt or from a newer release).
    #[error("stored {what} is invalid")]
    Corrupt {
        /// What was invalid.
        what: &'static str,
    },
    /// The database failed.
    #[error("database error")]
    Backend(#[source] sqlx::Error),
    /// A migration failed.
    #[error("migration failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        Self::Backend(error)
    }
}

/// Maps a unique violation to `Conflict`, everything else to `Backend`.
fn conflict_or_backend(entity: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |error| match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict { entity },
        _ => StoreError::Backend(error),
    }
}

/// Which database engine a store talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// How to reach the database.
#[derive(Clone)]
pub struct StoreConfig {
    /// `sqlite://PATH` or `postgres://…`.
    pub url: String,
    /// Maximum pooled connections.
    pub max_connections: u32,
}

impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreConfig")
            .field("url", &redact_url(&self.url))
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .field("url", &redact_url(&self.url))
            .finish_non_exhaustive()
    }
}

/// A database URL with any password replaced, for logs and `Debug`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => match url[scheme + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:****{}", &url[..scheme + 3], &url[at..]),
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}

/// The database handle: a pool plus the backend it talks to.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    url: String,
}

impl Store {
    /// Connects to the database named by the config (creating a SQLite file if missing).
    ///
    /// # Errors
    /// Returns `Backend` when the database cannot be reached or the URL is not supported.
    pub async fn connect(config: &StoreConfig) -> Result<Self, StoreError> {
        install_default_drivers();
        let backend = if config.url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if config.url.starts_with("postgres:") || config.url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::Backend(sqlx::Error::Configuration(
                "database url must start with sqlite:// or postgres://".into(),
            )));
        };
        let url = match backend {
            Backend::Sqlite => sqlite_url(&config.url),
            Backend::Postgres => config.url.clone(),
        };
        let options = sqlx::any::AnyConnectOptions::from_str(&url)?;
        let stored_url = url.clone();
        let mut pool = AnyPoolOptions::new()
            .max_connections(config.max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10));
        if backend == Backend::Sqlite {
            pool = pool.after_connect(|connection, _meta| {
                Box::pin(async move {
                    // WAL lets readers run beside the writer; synchronous=NORMAL in WAL mode
                    // keeps every committed transaction across a process crash (kill -9).
                    connection.execute("PRAGMA journal_mode = WAL").await?;
                    connection.execute("PRAGMA synchronous = NORMAL").await?;
                    connection.execute("PRAGMA foreign_keys = ON").await?;
                    connection.execute("PRAGMA busy_timeout = 10000").await?;
                    Ok(())
                })
            });
        }
        let pool = pool.connect_with(options).await?;
        Ok(Self {
            pool,
            backend,
            url: stored_url,
        })
    }

    /// Which engine this store talks to.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies pending migrations.
    ///
    /// # Errors
    /// Returns `Migrate` when a migration fails or the database has unknown migrations.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = match self.backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        migrator
            .run(&self.pool)
            .await
            .map_err(StoreError::Migrate)?;
        self.fill_name_skeletons().await
    }

    /// Fills the look-alike skeletons of rows written before they existed, oldest first; a
    /// row whose skeleton another row already holds keeps NULL (see `countersign doctor`).
    async fn fill_name_skeletons(&self) -> Result<(), StoreError> {
        use countersign_core::names::skeleton;
        let api_users: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, username FROM api_users WHERE username_skeleton IS NULL ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        for chunk in api_users.chunks(500) {
            let mut tx = self.pool.begin().await?;
            for (id, username) in chunk {
                sqlx::query(
                    "UPDATE api_users SET username_skeleton = $1 WHERE id = $2 \
                     AND NOT EXISTS (SELECT 1 FROM api_users WHERE username_skeleton = $3)",
                )
                .bind(skeleton(username))
                .bind(id)
                .bind(skeleton(username))
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        }
        let users: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT id, organization_id, email FROM users WHERE email_skeleton IS NULL ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        for chunk in users.chunks(500) {
            let mut tx = self.pool.begin().await?;
            for (id, organization, email) in chunk {
                sqlx::query(
                    "UPDATE users SET email_skeleton = $1 WHERE id = $2 AND NOT EXISTS \
                     (SELECT 1 FROM users WHERE organization_id = $3 AND email_skeleton = $4)",
                )
                .bind(skeleton(email.trim()))
                .bind(id)
                .bind(organization)
                .bind(skeleton(email.trim()))
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        }
        Ok(())
    }

    /// Checks that the database answers.
    ///
    /// # Errors
    /// Returns `Backend` when it does not.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes every pooled connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Returns the stored secret `name`, inserting `generated` first if none exists.
    ///
    /// Concurrent first starts agree on one value: the insert is ignored on conflict and the
    /// stored value is read back.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn get_or_insert_secret(
        &self,
        name: &str,
        generated: &str,
        now: OffsetDateTime,
    ) -> Result<String, StoreError> {
        sqlx::query(
            "INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(generated)
        .bind(millis(now))
        .execute(&self.pool)
        .await?;
        let value: String = sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        Ok(value)
    }

    fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// Adds `mode=rwc` so a missing SQLite file is created.
fn sqlite_url(url: &str) -> String {
    if url.contains("mode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

/// Converts a time to stored Unix milliseconds.
pub(crate) fn millis(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

/// Converts stored Unix milliseconds to a time.
pub(crate) fn from_millis(value: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(value) * 1_000_000)
        .map_err(|_| StoreError::Corrupt { what: "timestamp" })
}

pub(crate) fn opt_from_millis(value: Option<i64>) -> Result<Option<OffsetDateTime>, StoreError> {
    value.map(from_millis).transpose()
}

pub(crate) fn parse_id<T>(text: &str, parse: fn(&str) -> Option<T>) -> Result<T, StoreError> {
    parse(text).ok_or(StoreError::Corrupt { what: "id" })
}

impl Store {
    /// Runs one statement without parameters (test and tooling setup such as `CREATE DATABASE`).
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn execute_raw(&self, sql: &str) -> Result<(), StoreError> {
        sqlx::raw_sql(sql).execute(self.pool()).await?;
        Ok(())
    }
}

impl Store {
    /// Returns a stored secret without creating one (read-only consumers such as the verify
    /// crate).
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn find_secret(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
                .bind(name)
                .fetch_optional(self.pool())
                .await?,
        )
    }
}
