//! Keeps this node's caches in step with directory changes made by other nodes (or the CLI):
//! PostgreSQL `LISTEN/NOTIFY` for millisecond propagation, plus a periodic re-check of the
//! directory version as the safety net for a lost notification or a dropped connection.

use crate::cache::DirectoryCache;
use countersign_store::{ChangeEvent, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// Starts the watcher; it stops when `stop` is notified.
pub fn start(
    store: Store,
    cache: Arc<DirectoryCache>,
    recheck: Duration,
    stop: Arc<Notify>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let listener = tokio::spawn(listen(store.clone(), cache.clone()));
        // Requests may already be served, so the caches are emptied behind the version read
        // at start before it is noted as applied.
        if let Ok(version) = store.fetch_directory_version().await {
            cache.invalidate();
            cache.note_applied(version);
        }
        let mut ticker = tokio::time::interval(recheck);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                () = stop.notified() => break,
            }
            match store.fetch_directory_version().await {
                // A version this node has not applied (this node's own changes note theirs).
                Ok(version) if version > cache.applied_version() => {
                    cache.invalidate();
                    cache.note_applied(version);
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "directory version re-check failed"),
            }
        }
        listener.abort();
    })
}

/// Listens for notifications, reconnecting with back-off; every reconnect invalidates the
/// caches because notifications may have been missed meanwhile.
async fn listen(store: Store, cache: Arc<DirectoryCache>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let mut listener = match store.listen_for_changes().await {
            Ok(Some(listener)) => listener,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for directory changes; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        cache.invalidate();
        loop {
            match listener.next().await {
                // This node's own change, or one it has already applied, needs no second
                // invalidation: a version is noted only after the caches were emptied behind it.
                Ok(ChangeEvent::Changed(Some(version))) if version <= cache.applied_version() => {}
                Ok(ChangeEvent::Changed(version)) => {
                    cache.invalidate();
                    if let Some(version) = version {
                        cache.note_applied(version);
                    }
                }
                Ok(ChangeEvent::Reconnected) => {
                    tracing::info!("directory listener reconnected");
                    cache.invalidate();
                }
                Err(error) => {
                    tracing::warn!(%error, "directory listener lost its connection");
                    cache.invalidate();
                    break;
                }
            }
        }
    }
}
