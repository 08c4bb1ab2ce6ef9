//! Ending the sessions that act as a user (SPEC §14): by the user themself, or by an
//! organization administrator for any user of the organization.

use super::{Actor, OpError, Ops};
use countersign_core::ids::{ApiKeyId, ApiUserId, UserId};
use countersign_core::session::{self, SessionEnd};
use time::OffsetDateTime;

impl Ops {
    /// Ends every session token acting as `user` (from `api_user`, under `key`, or all) issued
    /// before now, on every node from the next request; new exchanges work again. Returns the
    /// moment the end takes (the next whole second: tokens carry whole seconds).
    ///
    /// # Errors
    /// `NotFound` when the user, or the API user named, is not of the actor's organization.
    pub async fn end_sessions(
        &self,
        actor: &Actor,
        user: UserId,
        api_user: Option<ApiUserId>,
        key: Option<ApiKeyId>,
    ) -> Result<OffsetDateTime, OpError> {
        self.store.fetch(actor.organization_id, user).await?;
        if let Some(api_user) = api_user {
            self.store.fetch(actor.organization_id, api_user).await?;
        }
        let earlier = self.store.list_session_ends(user).await?;
        let end = SessionEnd {
            api_user_id: api_user,
            key_id: key,
            ended_before: session::end_moment(self.now(), &earlier),
        };
        self.store.upsert_session_end(user, &end).await?;
        let detail = match (api_user, key) {
            (None, _) => "sessions of every API user".to_owned(),
            (Some(api_user), None) => format!("sessions of API user {api_user}"),
            (Some(api_user), Some(key)) => format!("sessions of API user {api_user}, key {key}"),
        };
        self.changed().await;
        self.audit_with_detail(actor, "user.sessions_end", &user.to_string(), Some(detail))
            .await;
        OffsetDateTime::from_unix_timestamp(end.ended_before)
            .map_err(|_| super::invalid("ended_before", "out of range"))
    }
}
