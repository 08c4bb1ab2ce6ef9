//! Operator maintenance: the schema version check, online SQLite backups (`VACUUM INTO`) and
//! restoring such a backup into a new, empty SQLite database.

use crate::{Backend, Store, StoreError};
use sqlx::Executor;
use sqlx::migrate::Migrator;
use std::path::Path;

/// Tables that a freshly migrated database already fills (and a restore overwrites).
const SEEDED: &[&str] = &["directory_version"];

fn migrator(backend: Backend) -> Migrator {
    match backend {
        Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
        Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
    }
}

fn unsupported(what: &str) -> StoreError {
    StoreError::Backend(sqlx::Error::Configuration(what.into()))
}

impl Store {
    /// The newest migration version this build knows.
    pub fn latest_known_migration(&self) -> i64 {
        migrator(self.backend)
            .iter()
            .map(|migration| migration.version)
            .max()
            .unwrap_or(0)
    }

    /// Migration versions applied to the database that this build does not know: non-empty
    /// when a newer release has migrated it.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn unknown_migrations(&self) -> Result<Vec<i64>, StoreError> {
        let exists_sql = match self.backend {
            Backend::Sqlite => {
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'"
            }
            Backend::Postgres => {
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_name = '_sqlx_migrations' AND table_schema = current_schema()"
            }
        };
        let exists: i64 = sqlx::query_scalar(exists_sql)
            .fetch_one(self.pool())
            .await?;
        if exists == 0 {
            return Ok(Vec::new());
        }
        let applied: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
                .fetch_all(self.pool())
                .await?;
        let known = migrator(self.backend);
        Ok(applied
            .into_iter()
            .filter(|version| !known.iter().any(|m| m.version == *version))
            .collect())
    }

    /// Names of this SQLite database's own tables (migration bookkeeping excluded), in
    /// creation order.
    async fn sqlite_tables(&self, schema: &str) -> Result<Vec<String>, StoreError> {
        let sql = format!(
            "SELECT name FROM {schema}.sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY rowid"
        );
        Ok(sqlx::query_scalar(&sql).fetch_all(self.pool()).await?)
    }

    /// Whether the database holds nothing but its schema (a new database, or one that
    /// `countersign migrate` has only prepared).
    ///
    /// # Errors
    /// Returns `Backend` on database failure, or for PostgreSQL (not supported here).
    pub async fn holds_no_data(&self) -> Result<bool, StoreError> {
        if self.backend != Backend::Sqlite {
            return Err(unsupported(
                "only a SQLite database can be checked for data",
            ));
        }
        for table in self.sqlite_tables("main").await? {
            if SEEDED.contains(&table.as_str()) {
                continue;
            }
            let rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM \"{table}\""))
                .fetch_one(self.pool())
                .await?;
            if rows > 0 {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Writes a consistent copy of a SQLite database to `target` (which must not exist) with
    /// `VACUUM INTO`: one read transaction, so writers keep going while it runs.
    ///
    /// # Errors
    /// Returns `Backend` when the copy fails, or for PostgreSQL (use `pg_dump`).
    pub async fn backup_to(&self, target: &Path) -> Result<(), StoreError> {
        if self.backend != Backend::Sqlite {
            return Err(unsupported("VACUUM INTO backs up SQLite only; use pg_dump"));
        }
        let statement = sqlx::query("VACUUM INTO $1").bind(target.to_string_lossy().into_owned());
        self.run(statement).await
    }

    /// Copies every row of the SQLite database `backup` (migrated to the same version as this
    /// one) into this SQLite database, in one transaction; foreign keys are checked at commit.
    ///
    /// # Errors
    /// Returns `Backend` when the copy fails (nothing is written then), or for PostgreSQL.
    pub async fn restore_from(&self, backup: &Path) -> Result<(), StoreError> {
        if self.backend != Backend::Sqlite {
            return Err(unsupported("a SQLite backup restores into SQLite only"));
        }
        let tables = self.sqlite_tables("main").await?;
        let mut connection = self.pool().acquire().await?;
        sqlx::query("ATTACH DATABASE $1 AS backup")
            .bind(backup.to_string_lossy().into_owned())
            .execute(&mut *connection)
            .await?;
        let copied = async {
            let mut transaction = sqlx::Connection::begin(&mut *connection).await?;
            transaction
                .execute("PRAGMA defer_foreign_keys = ON")
                .await?;
            for table in &tables {
                transaction
                    .execute(format!("DELETE FROM main.\"{table}\"").as_str())
                    .await?;
                transaction
                    .execute(
                        format!("INSERT INTO main.\"{table}\" SELECT * FROM backup.\"{table}\"")
                            .as_str(),
                    )
                    .await?;
            }
            transaction.commit().await
        }
        .await;
        let detached = connection.execute("DETACH DATABASE backup").await;
        copied?;
        detached?;
        Ok(())
    }
}
