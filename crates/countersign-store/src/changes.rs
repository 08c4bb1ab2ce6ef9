//! Directory change propagation between nodes: a version counter every change bumps, and on
//! PostgreSQL a `NOTIFY` on the `countersign_directory` channel that listening nodes receive
//! within milliseconds.

use crate::{Backend, Store, StoreError};
use sqlx::postgres::PgListener;

/// The notification channel.
pub const CHANNEL: &str = "countersign_directory";

/// Receives change notifications (PostgreSQL only).
#[derive(Debug)]
pub struct ChangeListener {
    listener: PgListener,
}

/// What a listener saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeEvent {
    /// Another node (or this one) changed the directory, to this version when the notification
    /// said.
    Changed(Option<i64>),
    /// The connection was lost and re-established; notifications may have been missed.
    Reconnected,
}

impl ChangeListener {
    /// Waits for the next notification.
    ///
    /// # Errors
    /// Returns `Backend` when the connection fails and cannot be re-established yet.
    pub async fn next(&mut self) -> Result<ChangeEvent, StoreError> {
        match self.listener.try_recv().await? {
            Some(notification) => Ok(ChangeEvent::Changed(notification.payload().parse().ok())),
            None => Ok(ChangeEvent::Reconnected),
        }
    }
}

impl Store {
    /// Records a directory change: bumps the version and returns it. Other nodes see it at
    /// their next re-check, or at once after [`Store::announce_directory_version`].
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn bump_directory_version(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "UPDATE directory_version SET version = version + 1 WHERE id = 1 RETURNING version",
        )
        .fetch_one(self.pool())
        .await?)
    }

    /// On PostgreSQL, notifies every listening node (this one too) of directory `version`;
    /// nothing on SQLite, whose one node re-checks the version. Separate from the bump so that
    /// a node can apply its own change before the notification of it comes back.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn announce_directory_version(&self, version: i64) -> Result<(), StoreError> {
        if self.backend() == Backend::Postgres {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(version.to_string())
                .execute(self.pool())
                .await?;
        }
        Ok(())
    }

    /// The current directory version.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn fetch_directory_version(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT version FROM directory_version WHERE id = 1")
                .fetch_one(self.pool())
                .await?,
        )
    }

    /// Starts listening for change notifications; `None` on SQLite (a single node polls).
    ///
    /// # Errors
    /// Returns `Backend` when the listening connection cannot be opened.
    pub async fn listen_for_changes(&self) -> Result<Option<ChangeListener>, StoreError> {
        if self.backend() != Backend::Postgres {
            return Ok(None);
        }
        // A recognisable application name lets operators (and tests) find listener sessions.
        let separator = if self.url.contains('?') { '&' } else { '?' };
        let url = format!(
            "{}{separator}application_name=countersign-listener",
            self.url
        );
        let mut listener = PgListener::connect(&url).await?;
        listener.listen(CHANNEL).await?;
        Ok(Some(ChangeListener { listener }))
    }
}
