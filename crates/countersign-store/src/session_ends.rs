//! Sessions ended by the people they act for (SPEC §14): per user, a moment before which every
//! session token acting as them — from every API user, one, or one key of one — is refused.

use crate::{Store, StoreError, parse_id};
use countersign_core::ids::{ApiKeyId, ApiUserId, UserId};
use countersign_core::session::SessionEnd;

#[derive(sqlx::FromRow)]
struct SessionEndRow {
    api_user_id: String,
    key_id: String,
    ended_before: i64,
}

impl TryFrom<SessionEndRow> for SessionEnd {
    type Error = StoreError;
    fn try_from(row: SessionEndRow) -> Result<Self, StoreError> {
        let optional = |text: &str| (!text.is_empty()).then_some(text.to_owned());
        Ok(Self {
            api_user_id: optional(&row.api_user_id)
                .map(|id| parse_id(&id, ApiUserId::parse))
                .transpose()?,
            key_id: optional(&row.key_id)
                .map(|id| parse_id(&id, ApiKeyId::parse))
                .transpose()?,
            ended_before: row.ended_before.div_euclid(1000),
        })
    }
}

impl Store {
    /// Records that the sessions of `user` (from `api_user`, under `key`, or all) issued before
    /// `end.ended_before` are over. An earlier end of the same sessions is moved forward, never
    /// back.
    ///
    /// # Errors
    /// `NotFound` when the user does not exist; `Backend` on database failure.
    pub async fn upsert_session_end(
        &self,
        user: UserId,
        end: &SessionEnd,
    ) -> Result<(), StoreError> {
        let exists: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE id = $1")
            .bind(user.to_string())
            .fetch_optional(self.pool())
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound { entity: "user" });
        }
        let statement = sqlx::query(
            "INSERT INTO session_ends (user_id, api_user_id, key_id, ended_before) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id, api_user_id, key_id) DO UPDATE SET ended_before = \
             CASE WHEN excluded.ended_before > session_ends.ended_before \
             THEN excluded.ended_before ELSE session_ends.ended_before END",
        )
        .bind(user.to_string())
        .bind(end.api_user_id.map(|id| id.to_string()).unwrap_or_default())
        .bind(end.key_id.map(|id| id.to_string()).unwrap_or_default())
        .bind(end.ended_before.saturating_mul(1000));
        self.run(statement).await
    }

    /// The session ends recorded for a user.
    ///
    /// # Errors
    /// `Backend` on database failure; `Corrupt` for an unreadable row.
    pub async fn list_session_ends(&self, user: UserId) -> Result<Vec<SessionEnd>, StoreError> {
        let query = sqlx::query_as::<_, SessionEndRow>(
            "SELECT api_user_id, key_id, ended_before FROM session_ends WHERE user_id = $1",
        )
        .bind(user.to_string());
        self.all(query).await
    }
}
