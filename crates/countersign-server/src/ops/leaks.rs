//! What happens when a credential is reported leaked (SPEC §14): the one place that decides,
//! by the organization's `leak_response` policy (SPEC §13), between revoking and only
//! notifying; records the `api_user.key_leaked` webhook event, revokes through the same path as
//! an administrator (caches, propagation, audit, `api_user.revoked`), records the console
//! banner, and audits `api_user.key_leaked` with the report's URL.

use super::{Actor, OpError, Ops};
use countersign_core::ids::{ApiKeyId, ApiUserId, UserId};
use countersign_core::lifecycle::LeakResponse;
use countersign_store::ApiUserWithKeys;
use countersign_store::{LeakReport, LeakResponseTaken};
use uuid::Uuid;

/// The audit actor of everything a leak report does.
pub const LEAK_REPORT_ACTOR: &str = "leak_report";

/// Where a reported credential was found, as the report says.
#[derive(Clone, Debug, Default)]
pub struct LeakContext {
    /// The public URL where it was found.
    pub url: Option<String>,
    /// The kind of place (e.g. `content`, `commit`).
    pub source: Option<String>,
    /// The reporter's address.
    pub source_ip: Option<String>,
}

/// What was done about a leaked key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyLeakOutcome {
    /// Revoked or only notified.
    pub response: LeakResponseTaken,
    /// Whether this report revoked it (false when the key no longer worked, or the policy is
    /// to notify).
    pub revoked_now: bool,
}

fn detail(context: &LeakContext) -> String {
    match (&context.url, &context.source) {
        (Some(url), Some(source)) => format!("reported at {url} ({source})"),
        (Some(url), None) => format!("reported at {url}"),
        (None, Some(source)) => format!("reported ({source})"),
        (None, None) => "reported".to_owned(),
    }
}

impl Ops {
    /// Handles a key found leaked: revokes its API user at once (or, by the organization's
    /// policy, only notifies), audits `api_user.key_leaked` with the report's URL and leaves a
    /// banner on the organization's console. A key that no longer works (rotated out, or of an
    /// API user already revoked or expired) is only audited.
    ///
    /// # Errors
    /// `NotFound` when the API user no longer exists; `Store` on database failure.
    pub async fn key_leaked(
        &self,
        api_user: ApiUserId,
        key: ApiKeyId,
        context: &LeakContext,
    ) -> Result<KeyLeakOutcome, OpError> {
        let now = self.now();
        let (record, actor) = self.leaked_api_user(api_user, context).await?;
        // A key rotated out past its grace, or of an API user already revoked or expired, can
        // no longer be used: the leak is recorded in the audit log and nothing else is done.
        let key_live = record.api_user.is_usable(now)
            && record.keys.iter().any(|k| k.id == key && k.is_valid(now));
        if !key_live {
            self.audit_with_detail(
                &actor,
                "api_user.key_leaked",
                &api_user.to_string(),
                Some(format!("{} (the key no longer works)", detail(context))),
            )
            .await;
            return Ok(KeyLeakOutcome {
                response: LeakResponseTaken::Revoked,
                revoked_now: false,
            });
        }
        let policy = self.policy(actor.organization_id).await?.leak_response;
        // The webhook first: recorded once per key, so a report the scanner sends again after
        // a failure below records nothing twice, and a revocation is never left without it.
        self.events
            .key_leaked(
                &self.store,
                &record.api_user,
                key,
                context.url.as_deref(),
                now,
            )
            .await?;
        let outcome = match policy {
            LeakResponse::Revoke => {
                self.revoke_api_user(&actor, api_user).await?;
                KeyLeakOutcome {
                    response: LeakResponseTaken::Revoked,
                    revoked_now: true,
                }
            }
            LeakResponse::Notify => KeyLeakOutcome {
                response: LeakResponseTaken::Notified,
                revoked_now: false,
            },
        };
        self.store
            .insert_leak_report(&LeakReport {
                id: Uuid::now_v7(),
                organization_id: actor.organization_id,
                api_user_id: api_user,
                api_username: record.api_user.username.clone(),
                key_id: key,
                url: context.url.clone(),
                source: context.source.clone(),
                response: outcome.response,
                reported_at: now,
                dismissed_at: None,
            })
            .await?;
        self.audit_with_detail(
            &actor,
            "api_user.key_leaked",
            &api_user.to_string(),
            Some(detail(context)),
        )
        .await;
        Ok(outcome)
    }

    /// Handles a session token found leaked: ends every session of that (API user, key, user)
    /// issued until now, and audits `session.leaked` with the report's URL.
    ///
    /// # Errors
    /// `NotFound` when the API user or user no longer exists; `Store` on database failure.
    pub async fn session_leaked(
        &self,
        api_user: ApiUserId,
        key: ApiKeyId,
        user: UserId,
        context: &LeakContext,
    ) -> Result<(), OpError> {
        let (_, actor) = self.leaked_api_user(api_user, context).await?;
        self.end_sessions(&actor, user, Some(api_user), Some(key))
            .await?;
        self.audit_with_detail(
            &actor,
            "session.leaked",
            &user.to_string(),
            Some(detail(context)),
        )
        .await;
        Ok(())
    }

    /// The organization's leaked-key reports not yet dismissed (the console banner).
    ///
    /// # Errors
    /// `Store` on database failure.
    pub async fn open_leak_reports(&self, actor: &Actor) -> Result<Vec<LeakReport>, OpError> {
        Ok(self
            .store
            .list_open_leak_reports(actor.organization_id)
            .await?)
    }

    /// Dismisses the organization's open leaked-key reports (the banner's button).
    ///
    /// # Errors
    /// `Store` on database failure.
    pub async fn dismiss_leak_reports(&self, actor: &Actor) -> Result<u64, OpError> {
        let dismissed = self
            .store
            .dismiss_leak_reports(actor.organization_id, &actor.name, self.now())
            .await?;
        if dismissed > 0 {
            self.audit(
                actor,
                "leak_report.dismiss",
                &actor.organization_id.to_string(),
            )
            .await;
        }
        Ok(dismissed)
    }

    /// The API user a report names, with its keys, and the report as the actor of what is done.
    async fn leaked_api_user(
        &self,
        api_user: ApiUserId,
        context: &LeakContext,
    ) -> Result<(ApiUserWithKeys, Actor), OpError> {
        let record = self
            .store
            .find_api_user_with_keys(api_user)
            .await?
            .ok_or(OpError::NotFound("api user"))?;
        let actor = Actor {
            organization_id: record.api_user.organization_id,
            user_id: None,
            name: LEAK_REPORT_ACTOR.to_owned(),
            source_ip: context.source_ip.clone(),
        };
        Ok((record, actor))
    }
}
