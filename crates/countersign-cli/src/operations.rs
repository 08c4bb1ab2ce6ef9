//! Operator commands and the rules of opening a database: which commands may create a SQLite
//! file, the refusal to run on a schema newer than this binary, `backup`, `restore` and
//! `healthcheck`.

use crate::config::{FileConfig, mask_url};
use anyhow::{Context, Result, bail};
use countersign_store::{Backend, Store, StoreConfig};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Whether a command may create the database it opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Open {
    /// `serve`, `init`, `migrate`, `restore`: a missing SQLite file is created.
    MayCreate,
    /// Every other command: a missing SQLite file is an error naming `countersign init`.
    Existing,
}

/// The file of a `sqlite:` URL, or `None` for PostgreSQL and in-memory databases.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && !path.starts_with(":memory:")).then(|| PathBuf::from(path))
}

/// Adds `mode=rw` to a SQLite URL, so the driver opens an existing file and never creates one.
fn without_create(url: &str) -> String {
    if !url.starts_with("sqlite:") || url.contains("mode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rw")
    } else {
        format!("{url}?mode=rw")
    }
}

/// Connects without applying migrations; refuses a missing SQLite file unless `open` allows
/// creating it, and a database migrated by a newer release.
///
/// # Errors
/// Fails when the file is missing, the database is unreachable or its schema is newer.
pub async fn connect(config: &FileConfig, open: Open) -> Result<Store> {
    let mut url = config.database_url.clone();
    if open == Open::Existing {
        if let Some(path) = sqlite_path(&url)
            && !path.exists()
        {
            bail!(
                "database file {} does not exist; create it with `countersign init` (or point --database / COUNTERSIGN_DATABASE_URL at an existing one)",
                path.display()
            );
        }
        url = without_create(&url);
    }
    let store = Store::connect(&StoreConfig {
        url,
        max_connections: config.database_max_connections,
    })
    .await
    .with_context(|| format!("connecting to {}", mask_url(&config.database_url)))?;
    refuse_newer_schema(&store, &config.database_url).await?;
    Ok(store)
}

/// Fails when the database carries migrations this binary does not know.
///
/// # Errors
/// Fails with a message naming the versions and the way out.
pub async fn refuse_newer_schema(store: &Store, url: &str) -> Result<()> {
    let unknown = store
        .unknown_migrations()
        .await
        .context("reading the applied migrations")?;
    if !unknown.is_empty() {
        bail!(
            "the database {} was migrated by a newer countersign (migration {} is unknown to this binary {}, which knows migrations up to {}); run the newer release, or restore a backup taken before the upgrade",
            mask_url(url),
            unknown
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            env!("CARGO_PKG_VERSION"),
            store.latest_known_migration()
        );
    }
    Ok(())
}

/// Connects and applies pending migrations.
///
/// # Errors
/// Fails like [`connect`], or when a migration fails.
pub async fn open_migrated(config: &FileConfig, open: Open) -> Result<Store> {
    let store = connect(config, open).await?;
    store.migrate().await.context("applying migrations")?;
    Ok(store)
}

/// The `pg_dump` procedure printed by `backup` on PostgreSQL.
const PG_DUMP: &str = "\
countersign backup copies SQLite databases only. For PostgreSQL use its own tools:
  pg_dump --format=custom --file=countersign.dump \"$COUNTERSIGN_DATABASE_URL\"
restore into a new, empty database with
  createdb countersign_restored
  pg_restore --no-owner --dbname=postgres://…/countersign_restored countersign.dump
The dump holds the signing key and pepper (table server_secrets) unless a master key is used:
keep it as secret as the keys themselves.";

/// `countersign backup --to FILE`.
///
/// # Errors
/// Fails when the target exists, the database is missing, or the copy fails; on PostgreSQL
/// after printing the `pg_dump` procedure.
pub async fn backup(config: &FileConfig, to: &Path) -> Result<()> {
    if sqlite_path(&config.database_url).is_none() {
        eprintln!("{PG_DUMP}");
        bail!("backup of {} needs pg_dump", mask_url(&config.database_url));
    }
    if to.exists() {
        bail!(
            "{} already exists; backup writes a new file only",
            to.display()
        );
    }
    let store = connect(config, Open::Existing).await?;
    store
        .backup_to(to)
        .await
        .with_context(|| format!("writing the backup to {}", to.display()))?;
    store.close().await;
    restrict_permissions(to)?;
    println!(
        "backup of {} written to {} (it holds the signing key and pepper unless a master key is used: keep it secret)",
        mask_url(&config.database_url),
        to.display()
    );
    Ok(())
}

#[cfg(unix)]
fn restrict_permissions(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("restricting permissions of {}", path.display()))
}

#[cfg(not(unix))]
fn restrict_permissions(_path: &Path) -> Result<()> {
    Ok(())
}

/// `countersign restore --from FILE`: fills a new (or only migrated) SQLite database.
///
/// # Errors
/// Fails when the backup is missing or not a countersign database, when it comes from a newer
/// release, when the target holds data, or when the copy fails (nothing is copied then).
pub async fn restore(config: &FileConfig, from: &Path) -> Result<()> {
    let Some(target) = sqlite_path(&config.database_url) else {
        bail!(
            "restore fills a SQLite database from a `countersign backup` file; for PostgreSQL use pg_restore (run `countersign backup` against it for the procedure)"
        );
    };
    if !from.is_file() {
        bail!("backup file {} does not exist", from.display());
    }
    if target.exists() && same_file(&target, from) {
        bail!("the backup and the target database are the same file");
    }
    // Work on a private copy: opening the backup must not change it (WAL, migrations).
    let scratch = Scratch(PathBuf::from(format!(
        "{}.restore-{}",
        target.display(),
        std::process::id()
    )));
    let copy = scratch.0.clone();
    std::fs::copy(from, &copy).with_context(|| format!("reading {}", from.display()))?;
    let backup = Store::connect(&StoreConfig {
        url: format!("sqlite://{}?mode=rw", copy.display()),
        max_connections: 1,
    })
    .await
    .with_context(|| format!("opening the backup {}", from.display()))?;
    refuse_newer_schema(&backup, &format!("sqlite://{}", from.display())).await?;
    if backup.backend() != Backend::Sqlite || backup.is_empty().await.unwrap_or(true) {
        bail!(
            "{} is not a countersign backup (no organization in it)",
            from.display()
        );
    }
    backup
        .migrate()
        .await
        .context("bringing the backup to this release's schema")?;
    backup.close().await;

    let store = open_migrated(config, Open::MayCreate).await?;
    if !store.holds_no_data().await? {
        bail!(
            "the target database {} is not empty; restore fills a new, empty database only",
            target.display()
        );
    }
    store
        .restore_from(&copy)
        .await
        .with_context(|| format!("restoring {} into {}", from.display(), target.display()))?;
    store.close().await;
    drop(scratch);
    println!(
        "restored {} into {}",
        from.display(),
        mask_url(&config.database_url)
    );
    Ok(())
}

/// A scratch copy of the backup (and its WAL files), removed however `restore` ends.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// `countersign healthcheck`: exits 0 when `/healthz` answers 200 (for container health
/// checks, which have no curl).
///
/// # Errors
/// Fails when the server does not answer 200 within five seconds.
pub async fn healthcheck(config: &FileConfig, url: Option<&str>) -> Result<()> {
    let base = match url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => format!("http://{}", local_address(&config.listen)),
    };
    let url = format!("{base}/healthz");
    let response = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .context("building the HTTP client")?
        .get(&url)
        .send()
        .await
        .with_context(|| format!("requesting {url}"))?;
    if !response.status().is_success() {
        bail!("{url} answered {}", response.status());
    }
    println!("{url}: {}", response.status());
    Ok(())
}

/// The loopback address of a listen address bound to every interface.
fn local_address(listen: &str) -> String {
    if let Some(port) = listen.strip_prefix("0.0.0.0:") {
        format!("127.0.0.1:{port}")
    } else if let Some(port) = listen.strip_prefix("[::]:") {
        format!("[::1]:{port}")
    } else {
        listen.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_path("sqlite://countersign.db"),
            Some(PathBuf::from("countersign.db"))
        );
        assert_eq!(
            sqlite_path("sqlite:///var/lib/countersign/cs.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/countersign/cs.db"))
        );
        assert_eq!(sqlite_path("sqlite:cs.db"), Some(PathBuf::from("cs.db")));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://u:p@h/db"), None);
    }

    #[test]
    fn existing_databases_are_opened_without_create() {
        assert_eq!(without_create("sqlite://a.db"), "sqlite://a.db?mode=rw");
        assert_eq!(
            without_create("sqlite://a.db?cache=shared"),
            "sqlite://a.db?cache=shared&mode=rw"
        );
        assert_eq!(without_create("postgres://h/db"), "postgres://h/db");
    }

    #[test]
    fn wildcard_listen_addresses_are_checked_on_loopback() {
        assert_eq!(local_address("0.0.0.0:8080"), "127.0.0.1:8080");
        assert_eq!(local_address("[::]:80"), "[::1]:80");
        assert_eq!(local_address("127.0.0.1:9"), "127.0.0.1:9");
    }
}
