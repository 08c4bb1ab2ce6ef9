//! API-user `last_used_at` tracking: at most one update per API user per minute, written in
//! batches by a background task every few seconds and on shutdown.

use countersign_core::ids::ApiUserId;
use countersign_store::Store;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

const RESOLUTION: time::Duration = time::Duration::minutes(1);
const FLUSH_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, Default)]
struct State {
    last_recorded: HashMap<ApiUserId, OffsetDateTime>,
    pending: Vec<(ApiUserId, OffsetDateTime)>,
}

/// Records uses of API users for batched `last_used_at` updates.
#[derive(Clone, Debug, Default)]
pub struct LastUsed {
    state: Arc<Mutex<State>>,
    stop: Arc<Notify>,
}

impl LastUsed {
    /// Notes that an API user was used at `now`.
    pub fn record(&self, id: ApiUserId, now: OffsetDateTime) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let due = state
            .last_recorded
            .get(&id)
            .is_none_or(|last| now - *last >= RESOLUTION);
        if due {
            state.last_recorded.insert(id, now);
            state.pending.push((id, now));
        }
        // Forget old entries so memory stays bounded by the API users active in a minute.
        if state.last_recorded.len() > 100_000 {
            state
                .last_recorded
                .retain(|_, last| now - *last < RESOLUTION);
        }
    }

    fn take(&self) -> Vec<(ApiUserId, OffsetDateTime)> {
        std::mem::take(
            &mut self
                .state
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pending,
        )
    }

    /// Starts the periodic flusher.
    pub fn start(&self, store: Store) -> JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                let stopping = tokio::select! {
                    () = tokio::time::sleep(FLUSH_EVERY) => false,
                    () = this.stop.notified() => true,
                };
                let batch = this.take();
                if let Err(error) = store.update_api_users_last_used(&batch).await {
                    tracing::warn!(%error, "last-used flush failed; will retry");
                    this.state
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .pending
                        .extend(batch);
                }
                if stopping {
                    break;
                }
            }
        })
    }

    /// Asks the flusher to write what is pending and stop.
    pub fn stop(&self) {
        self.stop.notify_one();
    }
}
