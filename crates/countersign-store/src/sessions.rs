//! Administrator sessions (admin API bearer tokens and console cookies), stored by digest.

use crate::{Store, StoreError, from_millis, millis, parse_id};
use countersign_core::ids::UserId;
use time::OffsetDateTime;

/// A signed-in administrator session.
#[derive(Clone, Debug)]
pub struct AdminSession {
    /// The signed-in user.
    pub user_id: UserId,
    /// The session's CSRF token for console forms.
    pub csrf_token: String,
    /// When it stops working.
    pub expires_at: OffsetDateTime,
}

impl Store {
    /// Stores a new session under the digest of its token.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn insert_admin_session(
        &self,
        digest: &str,
        session: &AdminSession,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let statement = sqlx::query(
            "INSERT INTO admin_sessions (digest, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(digest)
        .bind(session.user_id.to_string())
        .bind(&session.csrf_token)
        .bind(millis(now))
        .bind(millis(session.expires_at));
        self.run(statement).await
    }

    /// Returns the session stored under a token digest, if unexpired at `now`.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn find_admin_session(
        &self,
        digest: &str,
        now: OffsetDateTime,
    ) -> Result<Option<AdminSession>, StoreError> {
        let row: Option<(String, String, i64)> = sqlx::query_as(
            "SELECT user_id, csrf_token, expires_at FROM admin_sessions WHERE digest = $1 AND expires_at > $2",
        )
        .bind(digest)
        .bind(millis(now))
        .fetch_optional(self.pool())
        .await?;
        row.map(|(user_id, csrf_token, expires_at)| {
            Ok(AdminSession {
                user_id: parse_id(&user_id, UserId::parse)?,
                csrf_token,
                expires_at: from_millis(expires_at)?,
            })
        })
        .transpose()
    }

    /// Ends a session (sign-out).
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn delete_admin_session(&self, digest: &str) -> Result<(), StoreError> {
        let statement = sqlx::query("DELETE FROM admin_sessions WHERE digest = $1").bind(digest);
        self.run(statement).await
    }

    /// Removes sessions that expired before `now`.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn delete_expired_admin_sessions(
        &self,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM admin_sessions WHERE expires_at <= $1")
            .bind(millis(now))
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}
