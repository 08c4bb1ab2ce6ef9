//! Node heartbeats (SPEC §14, revocation receipts): each running node's row holds the directory
//! version it has applied, refreshed while it runs and removed when it stops gracefully.

use crate::{Store, StoreError, from_millis, millis};
use time::OffsetDateTime;

/// One node's latest heartbeat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeHeartbeat {
    /// The node's id (random per process).
    pub node_id: String,
    /// A readable name (host, process, address).
    pub name: String,
    /// The directory version the node has applied.
    pub applied_version: i64,
    /// When the node started.
    pub started_at: OffsetDateTime,
    /// When the row was last refreshed.
    pub seen_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct HeartbeatRow {
    node_id: String,
    name: String,
    applied_version: i64,
    started_at: i64,
    seen_at: i64,
}

impl TryFrom<HeartbeatRow> for NodeHeartbeat {
    type Error = StoreError;
    fn try_from(row: HeartbeatRow) -> Result<Self, StoreError> {
        Ok(Self {
            node_id: row.node_id,
            name: row.name,
            applied_version: row.applied_version,
            started_at: from_millis(row.started_at)?,
            seen_at: from_millis(row.seen_at)?,
        })
    }
}

impl Store {
    /// Writes a node's heartbeat (inserting its row on the first beat).
    ///
    /// # Errors
    /// `Backend` on database failure.
    pub async fn upsert_node_heartbeat(&self, beat: &NodeHeartbeat) -> Result<(), StoreError> {
        let statement = sqlx::query(
            "INSERT INTO node_heartbeats (node_id, name, applied_version, started_at, seen_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (node_id) DO UPDATE SET \
             applied_version = excluded.applied_version, seen_at = excluded.seen_at",
        )
        .bind(&beat.node_id)
        .bind(&beat.name)
        .bind(beat.applied_version)
        .bind(millis(beat.started_at))
        .bind(millis(beat.seen_at));
        self.run(statement).await
    }

    /// Removes a node's row (graceful shutdown).
    ///
    /// # Errors
    /// `Backend` on database failure.
    pub async fn delete_node_heartbeat(&self, node_id: &str) -> Result<(), StoreError> {
        let statement = sqlx::query("DELETE FROM node_heartbeats WHERE node_id = $1").bind(node_id);
        self.run(statement).await
    }

    /// The nodes seen at or after `since`, oldest first.
    ///
    /// # Errors
    /// `Backend` on database failure.
    pub async fn list_live_nodes(
        &self,
        since: OffsetDateTime,
    ) -> Result<Vec<NodeHeartbeat>, StoreError> {
        let query = sqlx::query_as::<_, HeartbeatRow>(
            "SELECT node_id, name, applied_version, started_at, seen_at FROM node_heartbeats \
             WHERE seen_at >= $1 ORDER BY started_at, node_id LIMIT 10000",
        )
        .bind(millis(since));
        self.all(query).await
    }

    /// Removes the rows of nodes not seen since `before` (crashed nodes), keeping the table
    /// small.
    ///
    /// # Errors
    /// `Backend` on database failure.
    pub async fn delete_stale_nodes(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("DELETE FROM node_heartbeats WHERE seen_at < $1")
                .bind(millis(before))
                .execute(self.pool())
                .await?
                .rows_affected(),
        )
    }
}
