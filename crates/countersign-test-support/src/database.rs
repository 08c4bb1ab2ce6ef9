//! A fresh, empty database for one test: a temporary SQLite file, or a new PostgreSQL database
//! on the server of `COUNTERSIGN_TEST_POSTGRES_URL`, dropped with the test. The store's own
//! suite includes this file too (`#[path]`), as it cannot depend on this crate.
#![allow(
    clippy::unwrap_used,
    dead_code,
    reason = "test fixture: fails loudly; the store suite uses part of it"
)]

use countersign_store::{Store, StoreConfig};
use std::sync::atomic::{AtomicU64, Ordering};

/// A database for one test; dropped with the app.
pub enum TestDatabase {
    /// A temporary SQLite file.
    Sqlite(tempfile::TempDir),
    /// A fresh PostgreSQL database (name) on the server of `COUNTERSIGN_TEST_POSTGRES_URL`.
    Postgres(String),
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (Self::Postgres(name), Some(base)) = (&*self, postgres_base_url()) else {
            return;
        };
        let name = name.clone();
        // Drop runs outside any async context the test may still hold, so use a thread with its
        // own runtime; FORCE ends the server's pooled connections.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok(admin) = Store::connect(&StoreConfig {
                    url: base,
                    max_connections: 1,
                })
                .await
                {
                    let _ = admin
                        .execute_raw(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                    admin.close().await;
                }
            });
        })
        .join();
    }
}

/// The URL of a fresh, empty database for one test.
pub async fn fresh_database() -> (String, TestDatabase) {
    if let Some(base) = postgres_base_url() {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "cs_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            uuid::Uuid::new_v4().simple().to_string().get(..8).unwrap()
        );
        let admin = Store::connect(&StoreConfig {
            url: base.clone(),
            max_connections: 1,
        })
        .await
        .unwrap();
        admin
            .execute_raw(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        admin.close().await;
        (with_database(&base, &name), TestDatabase::Postgres(name))
    } else {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("countersign.db").display());
        (url, TestDatabase::Sqlite(dir))
    }
}

/// The PostgreSQL server URL for tests, if configured.
pub fn postgres_base_url() -> Option<String> {
    std::env::var("COUNTERSIGN_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// Replaces the database name of a PostgreSQL URL.
pub fn with_database(base: &str, name: &str) -> String {
    let (without_query, query) = match base.split_once('?') {
        Some((url, query)) => (url, Some(query)),
        None => (base, None),
    };
    let prefix_end = without_query.find("://").map_or(0, |i| i + 3);
    let host_part = &without_query[prefix_end..];
    let root = match host_part.find('/') {
        Some(slash) => &without_query[..prefix_end + slash],
        None => without_query,
    };
    match query {
        Some(query) => format!("{root}/{name}?{query}"),
        None => format!("{root}/{name}"),
    }
}
