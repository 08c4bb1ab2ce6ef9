//! Webhook endpoints (with their sealed signing secret), lifecycle events recorded once, and
//! the delivery queue that is also the delivery log: one row per attempt.

use crate::paging::owned;
use crate::query::touched;
use crate::{Backend, Page, Store, StoreError, from_millis, millis, opt_from_millis, parse_id};
use countersign_core::ids::{DeliveryId, OrganizationId, WebhookId};
use countersign_core::webhook::{EventType, Outcome, Webhook};
use time::OffsetDateTime;

#[derive(sqlx::FromRow)]
pub struct WebhookRow {
    id: String,
    organization_id: String,
    url: String,
    events: String,
    created_at: i64,
    created_by: String,
}

impl TryFrom<WebhookRow> for Webhook {
    type Error = StoreError;
    fn try_from(row: WebhookRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: parse_id(&row.id, WebhookId::parse)?,
            organization_id: parse_id(&row.organization_id, OrganizationId::parse)?,
            url: row.url,
            events: row
                .events
                .split_whitespace()
                .map(|e| EventType::parse(e).ok_or(StoreError::Corrupt { what: "event type" }))
                .collect::<Result<_, _>>()?,
            created_at: from_millis(row.created_at)?,
            created_by: row.created_by,
        })
    }
}

const COLUMNS: &str = "id, organization_id, url, events, created_at, created_by";

/// A lifecycle event to record once.
#[derive(Clone, Debug)]
pub struct NewEvent {
    /// The message id (`webhook-id`).
    pub id: String,
    /// The organization it concerns.
    pub organization_id: OrganizationId,
    /// What happened.
    pub kind: EventType,
    /// The id of what it happened to (API user, integrator key).
    pub subject: String,
    /// What makes it distinct among events of the same type and subject (a warning mark, a
    /// key id, a sunset time; empty for events that happen once).
    pub mark: String,
    /// The warning mark in days, for `api_user.expiring`.
    pub mark_days: Option<i64>,
    /// The exact JSON body every delivery sends.
    pub payload: String,
    /// When it was recorded.
    pub created_at: OffsetDateTime,
}

/// One delivery attempt, as the log shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// The attempt's id.
    pub id: DeliveryId,
    /// The event's message id.
    pub event_id: String,
    /// The event's type.
    pub kind: EventType,
    /// 1 for the first attempt.
    pub attempt: i64,
    /// The receiver's status code, when it answered.
    pub status_code: Option<i64>,
    /// When it was attempted, or when it is due while pending.
    pub at: OffsetDateTime,
    /// What came of it.
    pub outcome: Outcome,
    /// Why it failed without a status code (timeout, refused address), never a secret.
    pub error: Option<String>,
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: String,
    event_id: String,
    kind: String,
    attempt: i64,
    status_code: Option<i64>,
    at: Option<i64>,
    due_at: i64,
    outcome: String,
    error: Option<String>,
}

impl TryFrom<DeliveryRow> for DeliveryRecord {
    type Error = StoreError;
    fn try_from(row: DeliveryRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: parse_id(&row.id, DeliveryId::parse)?,
            event_id: row.event_id,
            kind: EventType::parse(&row.kind).ok_or(StoreError::Corrupt { what: "event type" })?,
            attempt: row.attempt,
            status_code: row.status_code,
            at: opt_from_millis(row.at)?.map_or_else(|| from_millis(row.due_at), Ok)?,
            outcome: Outcome::parse(&row.outcome).ok_or(StoreError::Corrupt { what: "outcome" })?,
            error: row.error,
        })
    }
}

/// A claimed delivery with everything needed to send it.
#[derive(Clone, Debug)]
pub struct DeliveryJob {
    /// The attempt's id.
    pub id: DeliveryId,
    /// 1 for the first attempt.
    pub attempt: i64,
    /// The endpoint.
    pub webhook_id: WebhookId,
    /// The endpoint's URL.
    pub url: String,
    /// The endpoint's sealed secret.
    pub secret_sealed: String,
    /// The event's message id.
    pub event_id: String,
    /// The body to send.
    pub payload: String,
}

/// What an attempt came to, and the next attempt if any.
#[derive(Clone, Debug)]
pub struct AttemptResult {
    /// Delivered or failed.
    pub outcome: Outcome,
    /// When it was made.
    pub at: OffsetDateTime,
    /// The receiver's status code.
    pub status_code: Option<i64>,
    /// Why it failed without one.
    pub error: Option<String>,
    /// The next attempt's id and due time, after a failure that is retried.
    pub retry: Option<(DeliveryId, OffsetDateTime)>,
}

impl Store {
    /// Registers a webhook endpoint with its sealed secret unless its organization already has
    /// `limit` of them; answers whether it was registered. Concurrent registrations cannot
    /// pass the limit together.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn insert_webhook(
        &self,
        webhook: &Webhook,
        sealed: &str,
        limit: u32,
    ) -> Result<bool, StoreError> {
        let events: Vec<&str> = webhook.events.iter().map(EventType::as_str).collect();
        let organization = webhook.organization_id.to_string();
        let mut tx = self.pool().begin().await?;
        if self.backend() == Backend::Postgres {
            // Concurrent registrations for one organization wait here, so each counts what the
            // others committed (NO KEY: rows that merely reference the organization, such as
            // new users, are not held up). (On SQLite the INSERT below holds the write lock from its start,
            // so its count already sees every committed row.)
            sqlx::query("SELECT id FROM organizations WHERE id = $1 FOR NO KEY UPDATE")
                .bind(&organization)
                .execute(&mut *tx)
                .await?;
        }
        let done = sqlx::query(
            "INSERT INTO webhooks (id, organization_id, url, events, secret_sealed, created_at, created_by) \
             SELECT $1, $2, $3, $4, $5, $6, $7 \
             WHERE (SELECT COUNT(*) FROM webhooks WHERE organization_id = $2) < $8",
        )
        .bind(webhook.id.to_string())
        .bind(&organization)
        .bind(&webhook.url)
        .bind(events.join(" "))
        .bind(sealed)
        .bind(millis(webhook.created_at))
        .bind(&webhook.created_by)
        .bind(i64::from(limit))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes a webhook and its pending deliveries.
    ///
    /// # Errors
    /// `NotFound` when absent or in another organization.
    pub async fn delete_webhook(
        &self,
        organization: OrganizationId,
        id: WebhookId,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "DELETE FROM webhook_deliveries WHERE webhook_id = $1 \
             AND webhook_id IN (SELECT id FROM webhooks WHERE organization_id = $2)",
        )
        .bind(id.to_string())
        .bind(organization.to_string())
        .execute(&mut *tx)
        .await?;
        let done = sqlx::query("DELETE FROM webhooks WHERE id = $1 AND organization_id = $2")
            .bind(id.to_string())
            .bind(organization.to_string())
            .execute(&mut *tx)
            .await?;
        touched(&done, "webhook")?;
        tx.commit().await?;
        Ok(())
    }

    /// Records an event once and queues its first delivery to every webhook of the
    /// organization subscribed to its type, in one transaction. `false` when the event
    /// (same subject, type and mark) was recorded before: nothing is queued again.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn record_event(
        &self,
        event: &NewEvent,
        delivery_ids: impl Fn() -> DeliveryId,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "INSERT INTO webhook_events (id, organization_id, type, subject, mark, mark_days, payload, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (subject, type, mark) DO NOTHING",
        )
        .bind(&event.id)
        .bind(event.organization_id.to_string())
        .bind(event.kind.as_str())
        .bind(&event.subject)
        .bind(&event.mark)
        .bind(event.mark_days)
        .bind(&event.payload)
        .bind(millis(event.created_at))
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        let sql = format!("SELECT {COLUMNS} FROM webhooks WHERE organization_id = $1 ORDER BY id");
        let webhooks: Vec<Webhook> = sqlx::query_as::<_, WebhookRow>(&sql)
            .bind(event.organization_id.to_string())
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(TryInto::try_into)
            .collect::<Result<_, _>>()?;
        for webhook in webhooks.iter().filter(|w| w.events.contains(&event.kind)) {
            sqlx::query(
                "INSERT INTO webhook_deliveries (id, webhook_id, event_id, attempt, outcome, due_at) \
                 VALUES ($1, $2, $3, 1, 'pending', $4)",
            )
            .bind(delivery_ids().to_string())
            .bind(webhook.id.to_string())
            .bind(&event.id)
            .bind(millis(event.created_at))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// A webhook's delivery attempts, newest first.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn list_deliveries(
        &self,
        webhook: WebhookId,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<DeliveryRecord>, StoreError> {
        // Ids are UUIDv7, so descending id is newest first; the bound starts above any id.
        let sql = "SELECT d.id, d.event_id, e.type AS kind, d.attempt, d.status_code, d.at, \
             d.due_at, d.outcome, d.error FROM webhook_deliveries d \
             JOIN webhook_events e ON e.id = d.event_id \
             WHERE d.webhook_id = $1 AND d.id < $2 ORDER BY d.id DESC LIMIT $3";
        self.list_page::<DeliveryRow, _, _>(
            sql,
            |query| query.bind(webhook.to_string()),
            cursor.unwrap_or("~").to_owned(),
            limit,
            |d: &DeliveryRecord| d.id.to_string(),
        )
        .await
    }

    /// Ids of pending deliveries due at `now` and not claimed by a live node, oldest first.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn list_due_deliveries(
        &self,
        now: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<DeliveryId>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM webhook_deliveries WHERE outcome = 'pending' AND due_at <= $1 \
             AND (claimed_until IS NULL OR claimed_until <= $1) ORDER BY due_at, id LIMIT $2",
        )
        .bind(millis(now))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        ids.iter()
            .map(|id| parse_id(id, DeliveryId::parse))
            .collect()
    }

    /// The earliest time a pending delivery falls due, if any.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn next_delivery_due(&self) -> Result<Option<OffsetDateTime>, StoreError> {
        let due: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(due_at) FROM webhook_deliveries WHERE outcome = 'pending'",
        )
        .fetch_one(self.pool())
        .await?;
        opt_from_millis(due)
    }

    /// Claims a due delivery for this node until `until`, and returns what to send; `None`
    /// when another node claimed it first or it is no longer pending.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn claim_delivery(
        &self,
        id: DeliveryId,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Option<DeliveryJob>, StoreError> {
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET claimed_until = $1 WHERE id = $2 AND outcome = 'pending' \
             AND (claimed_until IS NULL OR claimed_until <= $3)",
        )
        .bind(millis(until))
        .bind(id.to_string())
        .bind(millis(now))
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        #[derive(sqlx::FromRow)]
        struct JobRow {
            attempt: i64,
            webhook_id: String,
            url: String,
            secret_sealed: String,
            event_id: String,
            payload: String,
        }
        let row = sqlx::query_as::<_, JobRow>(
            "SELECT d.attempt, d.webhook_id, w.url, w.secret_sealed, d.event_id, e.payload \
             FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
             JOIN webhook_events e ON e.id = d.event_id WHERE d.id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(DeliveryJob {
            id,
            attempt: row.attempt,
            webhook_id: parse_id(&row.webhook_id, WebhookId::parse)?,
            url: row.url,
            secret_sealed: row.secret_sealed,
            event_id: row.event_id,
            payload: row.payload,
        }))
    }

    /// Records what an attempt came to and queues the next one after a retried failure, in
    /// one transaction.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn finish_delivery(
        &self,
        job: &DeliveryJob,
        result: &AttemptResult,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "UPDATE webhook_deliveries SET outcome = $1, at = $2, status_code = $3, error = $4, \
             claimed_until = NULL WHERE id = $5 AND outcome = 'pending'",
        )
        .bind(result.outcome.as_str())
        .bind(millis(result.at))
        .bind(result.status_code)
        .bind(result.error.clone())
        .bind(job.id.to_string())
        .execute(&mut *tx)
        .await?;
        if let Some((next, due)) = result.retry {
            sqlx::query(
                "INSERT INTO webhook_deliveries (id, webhook_id, event_id, attempt, outcome, due_at) \
                 VALUES ($1, $2, $3, $4, 'pending', $5) \
                 ON CONFLICT (webhook_id, event_id, attempt) DO NOTHING",
            )
            .bind(next.to_string())
            .bind(job.webhook_id.to_string())
            .bind(&job.event_id)
            .bind(job.attempt + 1)
            .bind(millis(due))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Takes or renews the lease `name` for `holder` until `until`; `true` when `holder` holds
    /// it (it was free, expired at `now`, or already this holder's).
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE leases.holder = excluded.holder OR leases.expires_at <= $4",
        )
        .bind(name)
        .bind(holder)
        .bind(millis(until))
        .bind(millis(now))
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Who holds a lease and until when (operators and tests).
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn find_lease(
        &self,
        name: &str,
    ) -> Result<Option<(String, OffsetDateTime)>, StoreError> {
        let row: Option<(String, i64)> =
            sqlx::query_as("SELECT holder, expires_at FROM leases WHERE name = $1")
                .bind(name)
                .fetch_optional(self.pool())
                .await?;
        row.map(|(holder, until)| Ok((holder, from_millis(until)?)))
            .transpose()
    }

    /// Gives a lease up (graceful shutdown), so another node takes it at once.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        let statement = sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder);
        self.run(statement).await
    }
}

owned! {
    Webhook(WebhookRow) by WebhookId, "webhook",
    from "webhooks", select COLUMNS
}
