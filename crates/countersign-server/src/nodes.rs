//! Revocation receipts (SPEC §14): every node keeps a heartbeat row with the directory version
//! it has applied, and a revocation can wait until every live node has applied it.
//!
//! Liveness is measured with the wall clock, not the server's business clock: it is about
//! running processes, and every node compares its own wall clock with the rows' times (a
//! node is live while its row is younger than [`LIVE_WINDOW`]).

use crate::cache::DirectoryCache;
use countersign_store::{NodeHeartbeat, Store};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// A node whose heartbeat is older than this is not live (SPEC §14: 10 s).
pub(crate) const LIVE_WINDOW: time::Duration = time::Duration::seconds(10);
/// How long a revocation waits for receipts before answering with the nodes behind (SPEC §14).
pub(crate) const RECEIPT_WAIT: Duration = Duration::from_secs(2);
/// A heartbeat is written at least this often, and at once when the applied version moves.
const BEAT: Duration = Duration::from_secs(1);
/// How often the applied version is looked at between beats.
const LOOK: Duration = Duration::from_millis(50);
/// Rows of nodes not seen for this long (crashed, never shut down) are removed.
const FORGET_AFTER: time::Duration = time::Duration::hours(1);

/// This process as a node.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    /// Random per process.
    pub(crate) id: String,
    /// Readable: the listening address and process id.
    pub(crate) name: String,
    started_at: OffsetDateTime,
}

impl Node {
    /// A new node identity for a server listening on `addr`.
    pub(crate) fn new(addr: std::net::SocketAddr) -> Self {
        Self {
            id: Uuid::now_v7().to_string(),
            name: format!("{addr} pid {}", std::process::id()),
            started_at: OffsetDateTime::now_utc(),
        }
    }
}

/// Writes this node's heartbeat (every second, and within [`LOOK`] of the applied version
/// moving) until `stop`, then removes the row.
pub(crate) fn start_heartbeat(
    store: Store,
    cache: Arc<DirectoryCache>,
    node: Node,
    stop: Arc<Notify>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut written: Option<(i64, tokio::time::Instant)> = None;
        let mut beats: u64 = 0;
        loop {
            let applied = cache.applied_version();
            let due =
                written.is_none_or(|(version, at)| version != applied || at.elapsed() >= BEAT);
            if due {
                let now = OffsetDateTime::now_utc();
                let beat = NodeHeartbeat {
                    node_id: node.id.clone(),
                    name: node.name.clone(),
                    applied_version: applied,
                    started_at: node.started_at,
                    seen_at: now,
                };
                match store.upsert_node_heartbeat(&beat).await {
                    Ok(()) => written = Some((applied, tokio::time::Instant::now())),
                    Err(error) => tracing::warn!(%error, "could not write the node heartbeat"),
                }
                beats += 1;
                if beats % 600 == 1
                    && let Err(error) = store.delete_stale_nodes(now - FORGET_AFTER).await
                {
                    tracing::warn!(%error, "could not remove stale node heartbeats");
                }
            }
            tokio::select! {
                () = tokio::time::sleep(LOOK) => {}
                () = stop.notified() => break,
            }
        }
        if let Err(error) = store.delete_node_heartbeat(&node.id).await {
            tracing::warn!(%error, "could not remove the node heartbeat at shutdown");
        }
    })
}

/// How far the live nodes are with a directory version.
#[derive(Debug)]
pub(crate) struct Receipts {
    /// Live nodes that have applied it.
    pub(crate) applied: usize,
    /// Live nodes.
    pub(crate) of: usize,
    /// Live nodes that have not (empty when every one has).
    pub(crate) behind: Vec<NodeHeartbeat>,
}

/// Waits (polling the heartbeats) until every live node has applied `version`, or
/// [`RECEIPT_WAIT`] has passed; returns the last reading either way.
///
/// # Errors
/// The store's failure reading the heartbeats.
pub(crate) async fn wait_for(
    store: &Store,
    version: i64,
) -> Result<Receipts, countersign_store::StoreError> {
    let deadline = tokio::time::Instant::now() + RECEIPT_WAIT;
    loop {
        let live = store
            .list_live_nodes(OffsetDateTime::now_utc() - LIVE_WINDOW)
            .await?;
        let of = live.len();
        let behind: Vec<NodeHeartbeat> = live
            .into_iter()
            .filter(|node| node.applied_version < version)
            .collect();
        let receipts = Receipts {
            applied: of - behind.len(),
            of,
            behind,
        };
        if receipts.behind.is_empty() || tokio::time::Instant::now() >= deadline {
            return Ok(receipts);
        }
        tokio::time::sleep(LOOK).await;
    }
}
