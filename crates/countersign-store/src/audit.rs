//! The audit log: batched inserts and filtered, newest-first listing.

use crate::{Page, Store, StoreError, from_millis, millis, parse_id};
use countersign_core::ids::{OrganizationId, UserId};
use time::OffsetDateTime;

/// How an audited action ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditOutcome {
    /// It succeeded.
    Success,
    /// Authentication failed.
    Failure,
    /// It was refused by authorization.
    Denied,
}

impl AuditOutcome {
    /// The wire and storage name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Denied => "denied",
        }
    }

    /// Parses the wire name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "success" => Some(Self::Success),
            "failure" => Some(Self::Failure),
            "denied" => Some(Self::Denied),
            _ => None,
        }
    }
}

/// An event to record. Never holds a key, password or token.
#[derive(Clone, Debug)]
pub struct AuditEvent {
    /// The organization concerned, when known.
    pub organization_id: Option<OrganizationId>,
    /// When it happened.
    pub at: OffsetDateTime,
    /// Who acted (email, API username, `cli`, or what the client claimed).
    pub actor: String,
    /// What was done, e.g. `api_user.create`.
    pub action: String,
    /// What it was done to.
    pub subject: String,
    /// The client's address.
    pub source_ip: Option<String>,
    /// How it ended.
    pub outcome: AuditOutcome,
    /// A short free text (never a secret), or `None`.
    pub detail: Option<String>,
}

/// A stored event.
#[derive(Clone, Debug)]
pub struct AuditRecord {
    /// Sequence number; newer events have larger ids.
    pub id: i64,
    /// The event.
    pub event: AuditEvent,
}

/// Filters of the audit list.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// Only this organization's events (`None`: every event, installation tooling).
    pub organization_id: Option<OrganizationId>,
    /// Only this actor.
    pub actor: Option<String>,
    /// Only this action.
    pub action: Option<String>,
    /// At or after.
    pub since: Option<OffsetDateTime>,
    /// Before.
    pub until: Option<OffsetDateTime>,
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: i64,
    organization_id: Option<String>,
    at: i64,
    actor: String,
    action: String,
    subject: String,
    source_ip: Option<String>,
    outcome: String,
    detail: Option<String>,
}

impl TryFrom<AuditRow> for AuditRecord {
    type Error = StoreError;
    fn try_from(row: AuditRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.id,
            event: AuditEvent {
                organization_id: row
                    .organization_id
                    .map(|id| parse_id(&id, OrganizationId::parse))
                    .transpose()?,
                at: from_millis(row.at)?,
                actor: row.actor,
                action: row.action,
                subject: row.subject,
                source_ip: row.source_ip,
                outcome: AuditOutcome::parse(&row.outcome)
                    .ok_or(StoreError::Corrupt { what: "outcome" })?,
                detail: row.detail,
            },
        })
    }
}

impl Store {
    /// Inserts a batch of events in one transaction.
    ///
    /// # Errors
    /// Returns `Backend` on database failure; then nothing of the batch is stored.
    pub async fn insert_audit_events(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool().begin().await?;
        for event in events {
            sqlx::query(
                "INSERT INTO audit_events (organization_id, at, actor, action, subject, source_ip, outcome, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(event.organization_id.map(|id| id.to_string()))
            .bind(millis(event.at))
            .bind(&event.actor)
            .bind(&event.action)
            .bind(&event.subject)
            .bind(event.source_ip.clone())
            .bind(event.outcome.as_str())
            .bind(event.detail.clone())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Lists events newest first. The cursor is the id of the last event of the previous page.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn list_audit_events(
        &self,
        filter: &AuditFilter,
        cursor: Option<i64>,
        limit: u32,
    ) -> Result<Page<AuditRecord>, StoreError> {
        self.list_page::<AuditRow, _, _>(
            "SELECT id, organization_id, at, actor, action, subject, source_ip, outcome, detail FROM audit_events \
             WHERE ($1 IS NULL OR organization_id = $1) AND ($2 IS NULL OR actor = $2) \
             AND ($3 IS NULL OR action = $3) AND ($4 IS NULL OR at >= $4) AND ($5 IS NULL OR at < $5) \
             AND ($6 IS NULL OR id < $6) ORDER BY id DESC LIMIT $7",
            |query| {
                query
                    .bind(filter.organization_id.map(|id| id.to_string()))
                    .bind(filter.actor.clone())
                    .bind(filter.action.clone())
                    .bind(filter.since.map(millis))
                    .bind(filter.until.map(millis))
            },
            cursor,
            limit,
            |r: &AuditRecord| r.id.to_string(),
        )
        .await
    }

    /// Lists, newest first, what concerns one user of an organization (SPEC §14, "what was done
    /// in my name"): events whose subject is the user (by id, or by email as a client named
    /// them), a membership of theirs (`{user}/{account}`) or their administration of an
    /// environment (`{environment}/{user}`). `email` must be the user's normalized email.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn list_user_activity(
        &self,
        organization: OrganizationId,
        user: UserId,
        email: &str,
        cursor: Option<i64>,
        limit: u32,
    ) -> Result<Page<AuditRecord>, StoreError> {
        let id = user.to_string();
        self.list_page::<AuditRow, _, _>(
            "SELECT id, organization_id, at, actor, action, subject, source_ip, outcome, detail FROM audit_events \
             WHERE organization_id = $1 AND (subject = $2 OR lower(subject) = $3 OR subject LIKE $4 OR subject LIKE $5) \
             AND ($6 IS NULL OR id < $6) ORDER BY id DESC LIMIT $7",
            |query| {
                query
                    .bind(organization.to_string())
                    .bind(id.clone())
                    .bind(email.to_owned())
                    .bind(format!("{id}/%"))
                    .bind(format!("%/{id}"))
            },
            cursor,
            limit,
            |r: &AuditRecord| r.id.to_string(),
        )
        .await
    }

    /// Counts stored events (operations and tests).
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn count_audit_events(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM audit_events")
            .fetch_one(self.pool())
            .await?)
    }
}
