//! Leaked keys (SPEC §14): finding a key by its digest, and the reports an organization's
//! console shows as a banner until an administrator dismisses them.

use crate::{Store, StoreError, from_millis, millis, opt_from_millis, parse_id};
use countersign_core::ids::{ApiKeyId, ApiUserId, OrganizationId};
use time::OffsetDateTime;
use uuid::Uuid;

/// A stored key found by its digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyOwner {
    /// The key.
    pub key_id: ApiKeyId,
    /// Its API user.
    pub api_user_id: ApiUserId,
}

/// What was done about a leaked key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeakResponseTaken {
    /// The API user was revoked.
    Revoked,
    /// The organization was only notified (its policy).
    Notified,
}

impl LeakResponseTaken {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Revoked => "revoked",
            Self::Notified => "notified",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "revoked" => Some(Self::Revoked),
            "notified" => Some(Self::Notified),
            _ => None,
        }
    }
}

/// A leaked-key report as the console shows it.
#[derive(Clone, Debug)]
pub struct LeakReport {
    /// Its id.
    pub id: Uuid,
    /// The organization of the key.
    pub organization_id: OrganizationId,
    /// The API user of the key.
    pub api_user_id: ApiUserId,
    /// Its username at the time of the report.
    pub api_username: String,
    /// The key.
    pub key_id: ApiKeyId,
    /// Where the key was found, as reported.
    pub url: Option<String>,
    /// Where the report came from (e.g. `content`, `commit`), as reported.
    pub source: Option<String>,
    /// What was done.
    pub response: LeakResponseTaken,
    /// When it was reported.
    pub reported_at: OffsetDateTime,
    /// When an administrator dismissed the banner, if they did.
    pub dismissed_at: Option<OffsetDateTime>,
}

#[derive(sqlx::FromRow)]
struct LeakRow {
    id: String,
    organization_id: String,
    api_user_id: String,
    api_username: String,
    key_id: String,
    url: Option<String>,
    source: Option<String>,
    response: String,
    reported_at: i64,
    dismissed_at: Option<i64>,
}

impl TryFrom<LeakRow> for LeakReport {
    type Error = StoreError;
    fn try_from(row: LeakRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: Uuid::parse_str(&row.id).map_err(|_| StoreError::Corrupt { what: "id" })?,
            organization_id: parse_id(&row.organization_id, OrganizationId::parse)?,
            api_user_id: parse_id(&row.api_user_id, ApiUserId::parse)?,
            api_username: row.api_username,
            key_id: parse_id(&row.key_id, ApiKeyId::parse)?,
            url: row.url,
            source: row.source,
            response: LeakResponseTaken::parse(&row.response).ok_or(StoreError::Corrupt {
                what: "leak response",
            })?,
            reported_at: from_millis(row.reported_at)?,
            dismissed_at: opt_from_millis(row.dismissed_at)?,
        })
    }
}

impl Store {
    /// The stored keys among `digests`, by digest, with their API users: one indexed query per
    /// 500 digests, whatever matches.
    ///
    /// # Errors
    /// `Backend` on database failure.
    pub async fn find_keys_by_digests(
        &self,
        digests: &[String],
    ) -> Result<Vec<(String, KeyOwner)>, StoreError> {
        let mut found = Vec::new();
        for chunk in digests.chunks(500) {
            if chunk.is_empty() {
                continue;
            }
            let placeholders: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
            let sql = format!(
                "SELECT digest, id, api_user_id FROM api_user_keys WHERE digest IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query_as::<_, (String, String, String)>(&sql);
            for digest in chunk {
                query = query.bind(digest.clone());
            }
            for (digest, key, api_user) in query.fetch_all(self.pool()).await? {
                found.push((
                    digest,
                    KeyOwner {
                        key_id: parse_id(&key, ApiKeyId::parse)?,
                        api_user_id: parse_id(&api_user, ApiUserId::parse)?,
                    },
                ));
            }
        }
        Ok(found)
    }

    /// Records a leaked-key report.
    ///
    /// # Errors
    /// `Backend` on database failure.
    pub async fn insert_leak_report(&self, report: &LeakReport) -> Result<(), StoreError> {
        let statement = sqlx::query(
            "INSERT INTO leak_reports (id, organization_id, api_user_id, api_username, key_id, url, source, \
             response, reported_at, dismissed_at, dismissed_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, NULL)",
        )
        .bind(report.id.to_string())
        .bind(report.organization_id.to_string())
        .bind(report.api_user_id.to_string())
        .bind(&report.api_username)
        .bind(report.key_id.to_string())
        .bind(report.url.clone())
        .bind(report.source.clone())
        .bind(report.response.as_str())
        .bind(millis(report.reported_at));
        self.run(statement).await
    }

    /// An organization's reports not yet dismissed, newest first (at most 50).
    ///
    /// # Errors
    /// `Backend` on database failure.
    pub async fn list_open_leak_reports(
        &self,
        organization: OrganizationId,
    ) -> Result<Vec<LeakReport>, StoreError> {
        let query = sqlx::query_as::<_, LeakRow>(
            "SELECT id, organization_id, api_user_id, api_username, key_id, url, source, response, \
             reported_at, dismissed_at FROM leak_reports WHERE organization_id = $1 AND dismissed_at IS NULL \
             ORDER BY reported_at DESC, id DESC LIMIT 50",
        )
        .bind(organization.to_string());
        self.all(query).await
    }

    /// Dismisses every open report of an organization (the banner's button); returns how many.
    ///
    /// # Errors
    /// `Backend` on database failure.
    pub async fn dismiss_leak_reports(
        &self,
        organization: OrganizationId,
        by: &str,
        at: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "UPDATE leak_reports SET dismissed_at = $1, dismissed_by = $2 \
             WHERE organization_id = $3 AND dismissed_at IS NULL",
        )
        .bind(millis(at))
        .bind(by)
        .bind(organization.to_string())
        .execute(self.pool())
        .await?
        .rows_affected())
    }
}
