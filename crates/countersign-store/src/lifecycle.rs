//! The lifecycle checks' queries (SPEC §13): API users whose expiry warning, expiry or
//! revocation has no event yet, API users unused too long, integrator keys whose sunset was
//! reached, and the rows of the credential report. Each bounded by a limit per call; the
//! checks call again on their next round.

use crate::api_users::{ApiUserRow, COLUMNS};
use crate::{Store, StoreError, from_millis, millis, parse_id};
use countersign_core::api_user::{ApiKeyRecord, ApiUser};
use countersign_core::ids::{IntegratorKeyId, OrganizationId};
use time::OffsetDateTime;

/// An integrator key whose legacy-header sunset was reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SunsetReached {
    /// The key's record id.
    pub id: IntegratorKeyId,
    /// Its organization.
    pub organization_id: OrganizationId,
    /// Its display name.
    pub name: String,
    /// The sunset.
    pub legacy_sunset_at: OffsetDateTime,
}

/// An API user as the credential report needs it.
#[derive(Clone, Debug)]
pub struct ReportRow {
    /// The API user.
    pub api_user: ApiUser,
    /// Where it was last used from.
    pub last_used_ip: Option<String>,
    /// Its keys, newest first.
    pub keys: Vec<ApiKeyRecord>,
}

impl Store {
    /// Active API users of an organization expiring in `(after, until]` with no
    /// `api_user.expiring` event at a mark of `mark_days` or tighter.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn list_expiring_unnoticed(
        &self,
        organization: OrganizationId,
        after: OffsetDateTime,
        until: OffsetDateTime,
        mark_days: i64,
        limit: i64,
    ) -> Result<Vec<ApiUser>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM api_users a WHERE organization_id = $1 AND revoked_at IS NULL \
             AND expires_at > $2 AND expires_at <= $3 AND NOT EXISTS (SELECT 1 FROM webhook_events e \
             WHERE e.subject = a.id AND e.type = 'api_user.expiring' AND e.mark_days <= $4) \
             ORDER BY id LIMIT $5"
        );
        self.api_users_of(&sql, |q| {
            q.bind(organization.to_string())
                .bind(millis(after))
                .bind(millis(until))
                .bind(mark_days)
                .bind(limit)
        })
        .await
    }

    /// API users that expired in `(since, now]`, unrevoked, with no `api_user.expired` event.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn list_expired_unnoticed(
        &self,
        since: OffsetDateTime,
        now: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<ApiUser>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM api_users a WHERE revoked_at IS NULL AND expires_at > $1 \
             AND expires_at <= $2 AND NOT EXISTS (SELECT 1 FROM webhook_events e \
             WHERE e.subject = a.id AND e.type = 'api_user.expired') ORDER BY id LIMIT $3"
        );
        self.api_users_of(&sql, |q| {
            q.bind(millis(since)).bind(millis(now)).bind(limit)
        })
        .await
    }

    /// API users revoked after `since` with no `api_user.revoked` event (a node that stopped
    /// between the revocation and its event).
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn list_revoked_unnoticed(
        &self,
        since: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<ApiUser>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM api_users a WHERE revoked_at > $1 AND NOT EXISTS \
             (SELECT 1 FROM webhook_events e WHERE e.subject = a.id AND e.type = 'api_user.revoked') \
             ORDER BY id LIMIT $2"
        );
        self.api_users_of(&sql, |q| q.bind(millis(since)).bind(limit))
            .await
    }

    /// Active API users of an organization last used (or, never used, created) at or before
    /// `cutoff`.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn list_unused_since(
        &self,
        organization: OrganizationId,
        cutoff: OffsetDateTime,
        now: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<ApiUser>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM api_users WHERE organization_id = $1 AND revoked_at IS NULL \
             AND expires_at > $2 AND COALESCE(last_used_at, created_at) <= $3 ORDER BY id LIMIT $4"
        );
        self.api_users_of(&sql, |q| {
            q.bind(organization.to_string())
                .bind(millis(now))
                .bind(millis(cutoff))
                .bind(limit)
        })
        .await
    }

    async fn api_users_of<'q>(
        &self,
        sql: &'q str,
        bind: impl FnOnce(
            crate::paging::PageQuery<'q, ApiUserRow>,
        ) -> crate::paging::PageQuery<'q, ApiUserRow>,
    ) -> Result<Vec<ApiUser>, StoreError> {
        bind(sqlx::query_as::<_, ApiUserRow>(sql))
            .fetch_all(self.pool())
            .await?
            .into_iter()
            .map(TryInto::try_into)
            .collect()
    }

    /// Integrator keys whose sunset fell in `(since, now]` with no
    /// `integrator_key.sunset_reached` event for that sunset.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn list_sunsets_unnoticed(
        &self,
        since: OffsetDateTime,
        now: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<SunsetReached>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            id: String,
            organization_id: String,
            name: String,
            legacy_sunset_at: i64,
        }
        // The event's mark is the sunset in Unix milliseconds, as text on both backends.
        let rows = sqlx::query_as::<_, Row>(
            "SELECT id, organization_id, name, legacy_sunset_at FROM integrator_keys k \
             WHERE legacy_sunset_at > $1 AND legacy_sunset_at <= $2 AND NOT EXISTS \
             (SELECT 1 FROM webhook_events e WHERE e.subject = k.id \
              AND e.type = 'integrator_key.sunset_reached' \
              AND e.mark = CAST(k.legacy_sunset_at AS TEXT)) ORDER BY id LIMIT $3",
        )
        .bind(millis(since))
        .bind(millis(now))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(SunsetReached {
                    id: parse_id(&row.id, IntegratorKeyId::parse)?,
                    organization_id: parse_id(&row.organization_id, OrganizationId::parse)?,
                    name: row.name,
                    legacy_sunset_at: from_millis(row.legacy_sunset_at)?,
                })
            })
            .collect()
    }

    /// A page of an organization's API users with their keys and last address, for the
    /// credential report; inactive ones only when asked.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn list_report_rows(
        &self,
        organization: OrganizationId,
        include_inactive: bool,
        now: OffsetDateTime,
        after: &str,
        limit: i64,
    ) -> Result<Vec<ReportRow>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            api_user: ApiUserRow,
            last_used_ip: Option<String>,
        }
        let sql = format!(
            "SELECT {COLUMNS}, last_used_ip FROM api_users WHERE organization_id = $1 \
             AND ($2 = 1 OR (revoked_at IS NULL AND expires_at > $3)) AND id > $4 \
             ORDER BY id LIMIT $5"
        );
        let rows = sqlx::query_as::<_, Row>(&sql)
            .bind(organization.to_string())
            .bind(i64::from(include_inactive))
            .bind(millis(now))
            .bind(after)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        let mut report = Vec::with_capacity(rows.len());
        for row in rows {
            let api_user: ApiUser = row.api_user.try_into()?;
            let keys = self.keys_of(api_user.id).await?;
            report.push(ReportRow {
                api_user,
                last_used_ip: row.last_used_ip,
                keys,
            });
        }
        Ok(report)
    }
}
