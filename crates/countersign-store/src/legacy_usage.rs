//! Legacy-header usage telemetry: additive merges from every node's flusher, and reads for the
//! admin API, the console and migration plans.

use crate::{Backend, Store, StoreError, from_millis, millis, parse_id};
use countersign_core::ids::{AccountId, IntegratorKeyId, OrganizationId, UserId};
use time::OffsetDateTime;

/// How many distinct source IPs and user agents a usage row reports.
pub const RECENT_SOURCES: usize = 10;

/// Counts of one (integrator key, user, on-behalf-of user) to add to the store.
#[derive(Clone, Debug)]
pub struct UsageDelta {
    /// The integrator key.
    pub integrator_key_id: IntegratorKeyId,
    /// The authenticated user.
    pub user_id: UserId,
    /// The user acted for with Send-On-Behalf-Of.
    pub on_behalf_of_user_id: Option<UserId>,
    /// Requests since the last flush.
    pub requests: i64,
    /// First request since the last flush.
    pub first_seen_at: OffsetDateTime,
    /// Last request since the last flush.
    pub last_seen_at: OffsetDateTime,
    /// Requests per account.
    pub accounts: Vec<(AccountId, i64)>,
    /// Source IPs with when each was last seen.
    pub source_ips: Vec<(String, OffsetDateTime)>,
    /// User agents with when each was last seen.
    pub user_agents: Vec<(String, OffsetDateTime)>,
    /// Requests per UTC day (`YYYY-MM-DD`).
    pub days: Vec<(String, i64)>,
}

/// A stored usage row with its names.
#[derive(Clone, Debug)]
pub struct UsageRow {
    /// The integrator key.
    pub integrator_key_id: IntegratorKeyId,
    /// Its name.
    pub integrator_key_name: String,
    /// The authenticated user.
    pub user_id: UserId,
    /// Their email.
    pub user_email: String,
    /// The user acted for, if any.
    pub on_behalf_of_user_id: Option<UserId>,
    /// Total requests.
    pub requests: i64,
    /// First seen.
    pub first_seen_at: OffsetDateTime,
    /// Last seen.
    pub last_seen_at: OffsetDateTime,
    /// Requests per account.
    pub accounts: Vec<(AccountId, i64)>,
    /// Up to ten most recent distinct source IPs.
    pub source_ips: Vec<String>,
    /// Up to ten most recent distinct user agents.
    pub user_agents: Vec<String>,
}

#[derive(sqlx::FromRow)]
struct Row {
    integrator_key_id: String,
    integrator_key_name: String,
    user_id: String,
    user_email: String,
    on_behalf_of_user_id: String,
    requests: i64,
    first_seen_at: i64,
    last_seen_at: i64,
}

fn sobo_text(id: Option<UserId>) -> String {
    id.map(|id| id.to_string()).unwrap_or_default()
}

impl Store {
    /// Adds a batch of usage counts in one transaction (counts add up, first/last seen take the
    /// minimum/maximum, sets merge), so flushes from several nodes combine exactly.
    ///
    /// # Errors
    /// Returns `Backend` on database failure; then nothing of the batch is stored.
    pub async fn merge_legacy_usage(&self, deltas: &[UsageDelta]) -> Result<(), StoreError> {
        if deltas.is_empty() {
            return Ok(());
        }
        let (least, greatest) = match self.backend() {
            Backend::Sqlite => ("MIN", "MAX"),
            Backend::Postgres => ("LEAST", "GREATEST"),
        };
        let usage_sql = format!(
            "INSERT INTO legacy_usage (integrator_key_id, user_id, on_behalf_of_user_id, requests, first_seen_at, last_seen_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (integrator_key_id, user_id, on_behalf_of_user_id) DO UPDATE SET \
             requests = legacy_usage.requests + excluded.requests, \
             first_seen_at = {least}(legacy_usage.first_seen_at, excluded.first_seen_at), \
             last_seen_at = {greatest}(legacy_usage.last_seen_at, excluded.last_seen_at)"
        );
        let source_sql = format!(
            "INSERT INTO legacy_usage_sources (integrator_key_id, user_id, on_behalf_of_user_id, kind, value, last_seen_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (integrator_key_id, user_id, on_behalf_of_user_id, kind, value) \
             DO UPDATE SET last_seen_at = {greatest}(legacy_usage_sources.last_seen_at, excluded.last_seen_at)"
        );
        let mut tx = self.pool().begin().await?;
        for delta in deltas {
            let key = delta.integrator_key_id.to_string();
            let user = delta.user_id.to_string();
            let sobo = sobo_text(delta.on_behalf_of_user_id);
            sqlx::query(&usage_sql)
                .bind(&key)
                .bind(&user)
                .bind(&sobo)
                .bind(delta.requests)
                .bind(millis(delta.first_seen_at))
                .bind(millis(delta.last_seen_at))
                .execute(&mut *tx)
                .await?;
            for (account, requests) in &delta.accounts {
                sqlx::query(
                    "INSERT INTO legacy_usage_accounts (integrator_key_id, user_id, on_behalf_of_user_id, account_id, requests) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (integrator_key_id, user_id, on_behalf_of_user_id, account_id) \
                     DO UPDATE SET requests = legacy_usage_accounts.requests + excluded.requests",
                )
                .bind(&key)
                .bind(&user)
                .bind(&sobo)
                .bind(account.to_string())
                .bind(*requests)
                .execute(&mut *tx)
                .await?;
            }
            for (kind, values) in [("ip", &delta.source_ips), ("ua", &delta.user_agents)] {
                for (value, at) in values {
                    sqlx::query(&source_sql)
                        .bind(&key)
                        .bind(&user)
                        .bind(&sobo)
                        .bind(kind)
                        .bind(value)
                        .bind(millis(*at))
                        .execute(&mut *tx)
                        .await?;
                }
                // Keep only the most recent distinct values of this kind.
                sqlx::query(
                    "DELETE FROM legacy_usage_sources WHERE integrator_key_id = $1 AND user_id = $2 \
                     AND on_behalf_of_user_id = $3 AND kind = $4 AND value NOT IN (SELECT value FROM legacy_usage_sources \
                     WHERE integrator_key_id = $1 AND user_id = $2 AND on_behalf_of_user_id = $3 AND kind = $4 \
                     ORDER BY last_seen_at DESC, value LIMIT $5)",
                )
                .bind(&key)
                .bind(&user)
                .bind(&sobo)
                .bind(kind)
                .bind(RECENT_SOURCES as i64)
                .execute(&mut *tx)
                .await?;
            }
            for (day, requests) in &delta.days {
                sqlx::query(
                    "INSERT INTO legacy_usage_daily (integrator_key_id, day, requests) VALUES ($1, $2, $3) \
                     ON CONFLICT (integrator_key_id, day) DO UPDATE SET requests = legacy_usage_daily.requests + excluded.requests",
                )
                .bind(&key)
                .bind(day)
                .bind(*requests)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Lists an organization's usage rows, most recently seen first; optionally only one
    /// integrator key, and only rows last seen at or after `since`.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn list_legacy_usage(
        &self,
        organization: OrganizationId,
        integrator_key: Option<IntegratorKeyId>,
        since: Option<OffsetDateTime>,
    ) -> Result<Vec<UsageRow>, StoreError> {
        let rows = sqlx::query_as::<_, Row>(
            "SELECT u.integrator_key_id, k.name AS integrator_key_name, u.user_id, usr.email AS user_email, \
             u.on_behalf_of_user_id, u.requests, u.first_seen_at, u.last_seen_at \
             FROM legacy_usage u JOIN integrator_keys k ON k.id = u.integrator_key_id JOIN users usr ON usr.id = u.user_id \
             WHERE k.organization_id = $1 AND ($2 IS NULL OR u.integrator_key_id = $2) AND ($3 IS NULL OR u.last_seen_at >= $3) \
             ORDER BY u.last_seen_at DESC, u.integrator_key_id, u.user_id, u.on_behalf_of_user_id",
        )
        .bind(organization.to_string())
        .bind(integrator_key.map(|k| k.to_string()))
        .bind(since.map(millis))
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let accounts: Vec<(String, i64)> = sqlx::query_as(
                "SELECT account_id, requests FROM legacy_usage_accounts WHERE integrator_key_id = $1 AND user_id = $2 \
                 AND on_behalf_of_user_id = $3 ORDER BY requests DESC, account_id",
            )
            .bind(&row.integrator_key_id)
            .bind(&row.user_id)
            .bind(&row.on_behalf_of_user_id)
            .fetch_all(self.pool())
            .await?;
            let sources: Vec<(String, String)> = sqlx::query_as(
                "SELECT kind, value FROM legacy_usage_sources WHERE integrator_key_id = $1 AND user_id = $2 \
                 AND on_behalf_of_user_id = $3 ORDER BY last_seen_at DESC, value",
            )
            .bind(&row.integrator_key_id)
            .bind(&row.user_id)
            .bind(&row.on_behalf_of_user_id)
            .fetch_all(self.pool())
            .await?;
            let pick = |kind: &str| -> Vec<String> {
                sources
                    .iter()
                    .filter(|(k, _)| k == kind)
                    .map(|(_, v)| v.clone())
                    .take(RECENT_SOURCES)
                    .collect()
            };
            out.push(UsageRow {
                integrator_key_id: parse_id(&row.integrator_key_id, IntegratorKeyId::parse)?,
                integrator_key_name: row.integrator_key_name,
                user_id: parse_id(&row.user_id, UserId::parse)?,
                user_email: row.user_email,
                on_behalf_of_user_id: UserId::parse(&row.on_behalf_of_user_id),
                requests: row.requests,
                first_seen_at: from_millis(row.first_seen_at)?,
                last_seen_at: from_millis(row.last_seen_at)?,
                accounts: accounts
                    .iter()
                    .map(|(id, n)| Ok((parse_id(id, AccountId::parse)?, *n)))
                    .collect::<Result<_, StoreError>>()?,
                source_ips: pick("ip"),
                user_agents: pick("ua"),
            });
        }
        Ok(out)
    }

    /// Requests per UTC day for an integrator key, oldest first.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn list_legacy_usage_daily(
        &self,
        integrator_key: IntegratorKeyId,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(sqlx::query_as("SELECT day, requests FROM legacy_usage_daily WHERE integrator_key_id = $1 ORDER BY day")
            .bind(integrator_key.to_string())
            .fetch_all(self.pool())
            .await?)
    }
}
