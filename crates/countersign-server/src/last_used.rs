//! API-user and key use (`last_used_at`, `last_used_ip`): at most one update per key per
//! minute, written in batches by a background task every few seconds and on shutdown. A key's
//! first use and every use of a retiring key are written at once instead (SPEC §13), so the
//! silence before a rotation finishes itself is measured exactly.

use countersign_core::api_user::ApiKeyRecord;
use countersign_core::ids::{ApiKeyId, ApiUserId};
use countersign_store::{KeyUse, Store};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

const RESOLUTION: time::Duration = time::Duration::minutes(1);
/// A retiring key's uses are written at once, at most one a second per key and node.
const RETIRING_RESOLUTION: time::Duration = time::Duration::seconds(1);
const FLUSH_EVERY: Duration = Duration::from_secs(5);
/// Entries kept before old ones are forgotten (memory stays bounded).
const REMEMBERED: usize = 100_000;

#[derive(Debug, Default)]
struct State {
    last_recorded: HashMap<ApiKeyId, OffsetDateTime>,
    last_written: HashMap<ApiKeyId, OffsetDateTime>,
    first_use_written: HashSet<ApiKeyId>,
    pending: Vec<KeyUse>,
}

/// Records uses of API users and their keys.
#[derive(Clone, Debug, Default)]
pub struct LastUsed {
    state: Arc<Mutex<State>>,
    stop: Arc<Notify>,
}

impl LastUsed {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Notes that an API user was used with `key` at `now` from `ip`, for the next batch (at
    /// most once a minute per key).
    pub fn record(
        &self,
        api_user: ApiUserId,
        key: ApiKeyId,
        ip: Option<&str>,
        now: OffsetDateTime,
    ) {
        let mut state = self.lock();
        let due = state
            .last_recorded
            .get(&key)
            .is_none_or(|last| now - *last >= RESOLUTION);
        if due {
            state.last_recorded.insert(key, now);
            state.pending.push(KeyUse {
                api_user_id: api_user,
                key_id: Some(key),
                at: now,
                ip: ip.map(str::to_owned),
            });
        }
        if state.last_recorded.len() > REMEMBERED {
            state
                .last_recorded
                .retain(|_, last| now - *last < RESOLUTION);
        }
    }

    /// Whether a use of `key` must be written at once: its first use (unless this node wrote
    /// it already), or any use of a retiring key (at most once a second per key).
    pub fn is_due_at_once(&self, key: &ApiKeyRecord, now: OffsetDateTime) -> bool {
        let mut state = self.lock();
        if key.valid_until.is_some() {
            let due = state
                .last_written
                .get(&key.id)
                .is_none_or(|last| now - *last >= RETIRING_RESOLUTION || now < *last);
            if due {
                if state.last_written.len() > REMEMBERED {
                    state.last_written.clear();
                }
                state.last_written.insert(key.id, now);
            }
            return due;
        }
        if key.first_used_at.is_none() && !state.first_use_written.contains(&key.id) {
            if state.first_use_written.len() > REMEMBERED {
                // Forgetting costs at most one more (idempotent) write per key.
                state.first_use_written.clear();
            }
            state.first_use_written.insert(key.id);
            return true;
        }
        false
    }

    /// Writes a use of `key` now (see [`Self::is_due_at_once`]).
    pub async fn write_now(store: &Store, key: ApiKeyId, ip: Option<String>, now: OffsetDateTime) {
        if let Err(error) = store.record_key_use(key, now, ip).await {
            tracing::warn!(%error, "could not record a key use at once; the batch will");
        }
    }

    fn take(&self) -> Vec<KeyUse> {
        std::mem::take(&mut self.lock().pending)
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
                    this.lock().pending.extend(batch);
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
