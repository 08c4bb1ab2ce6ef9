//! Lifecycle events (SPEC §13): the Standard Webhooks body of each event type, recorded once
//! per (subject, type, mark) with its first delivery to every subscribed webhook. Recorded by
//! the operations that cause them (revoke, rotate) and by the lifecycle checks (expiry
//! warnings, expiry, sunsets, and revocations a stopped node did not get to record).

use crate::clock::rfc3339;
use countersign_core::api_user::ApiUser;
use countersign_core::ids::{ApiKeyId, DeliveryId, OrganizationId};
use countersign_core::webhook::EventType;
use countersign_store::{NewEvent, Store, StoreError, SunsetReached};
use serde_json::{Value, json};
use std::sync::Arc;
use time::OffsetDateTime;
use tokio::sync::Notify;
use uuid::Uuid;

/// Records events and wakes this node's delivery worker when one is new.
#[derive(Clone, Debug, Default)]
pub struct Events {
    /// Woken when an event was recorded, so its deliveries leave at once.
    pub wake: Arc<Notify>,
}

/// A new message id: `msg_` and a UUIDv7 in hex (time-ordered, as Standard Webhooks suggests).
fn message_id() -> String {
    format!("msg_{}", Uuid::now_v7().simple())
}

fn api_user_data(api_user: &ApiUser) -> serde_json::Map<String, Value> {
    let mut data = serde_json::Map::new();
    data.insert(
        "organization_id".into(),
        json!(api_user.organization_id.to_string()),
    );
    data.insert("api_user_id".into(), json!(api_user.id.to_string()));
    data.insert("username".into(), json!(api_user.username));
    data.insert("expires_at".into(), json!(rfc3339(api_user.expires_at)));
    data
}

impl Events {
    #[expect(
        clippy::too_many_arguments,
        reason = "one event's facts, bound in one place"
    )]
    async fn record(
        &self,
        store: &Store,
        organization_id: OrganizationId,
        kind: EventType,
        subject: String,
        mark: String,
        mark_days: Option<i64>,
        data: serde_json::Map<String, Value>,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let id = message_id();
        let payload = json!({
            "id": id,
            "type": kind.as_str(),
            "timestamp": rfc3339(now),
            "data": Value::Object(data),
        })
        .to_string();
        let event = NewEvent {
            id,
            organization_id,
            kind,
            subject,
            mark,
            mark_days,
            payload,
            created_at: now,
        };
        let recorded = store
            .record_event(&event, || DeliveryId(Uuid::now_v7()))
            .await?;
        if recorded {
            self.wake.notify_one();
        }
        Ok(recorded)
    }

    /// `api_user.expiring` at warning mark `days` (once per mark).
    ///
    /// # Errors
    /// The store's.
    pub async fn expiring(
        &self,
        store: &Store,
        api_user: &ApiUser,
        days: i64,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut data = api_user_data(api_user);
        data.insert("warning_days".into(), json!(days));
        data.insert(
            "days_to_expiry".into(),
            json!((api_user.expires_at - now).whole_days()),
        );
        self.record(
            store,
            api_user.organization_id,
            EventType::ApiUserExpiring,
            api_user.id.to_string(),
            days.to_string(),
            Some(days),
            data,
            now,
        )
        .await
    }

    /// `api_user.expired` (once).
    ///
    /// # Errors
    /// The store's.
    pub async fn expired(
        &self,
        store: &Store,
        api_user: &ApiUser,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.record(
            store,
            api_user.organization_id,
            EventType::ApiUserExpired,
            api_user.id.to_string(),
            String::new(),
            None,
            api_user_data(api_user),
            now,
        )
        .await
    }

    /// `api_user.revoked` (once: revocation is permanent).
    ///
    /// # Errors
    /// The store's.
    pub async fn revoked(
        &self,
        store: &Store,
        api_user: &ApiUser,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut data = api_user_data(api_user);
        data.insert("revoked_at".into(), json!(api_user.revoked_at.map(rfc3339)));
        data.insert("revoked_by".into(), json!(api_user.revoked_by));
        self.record(
            store,
            api_user.organization_id,
            EventType::ApiUserRevoked,
            api_user.id.to_string(),
            String::new(),
            None,
            data,
            now,
        )
        .await
    }

    /// `api_user.rotated` (once per new key).
    ///
    /// # Errors
    /// The store's.
    pub async fn rotated(
        &self,
        store: &Store,
        api_user: &ApiUser,
        new_key: ApiKeyId,
        previous_keys_retire_at: OffsetDateTime,
        retire_after_silence_minutes: Option<i64>,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut data = api_user_data(api_user);
        data.insert("key_id".into(), json!(new_key.to_string()));
        data.insert(
            "previous_keys_retire_at".into(),
            json!(rfc3339(previous_keys_retire_at)),
        );
        data.insert(
            "retire_after_silence_minutes".into(),
            json!(retire_after_silence_minutes),
        );
        self.record(
            store,
            api_user.organization_id,
            EventType::ApiUserRotated,
            api_user.id.to_string(),
            new_key.to_string(),
            None,
            data,
            now,
        )
        .await
    }

    /// `api_user.key_leaked` (once per key): a live key was reported leaked (SPEC §14);
    /// `report_url` is where the report says it was found.
    ///
    /// # Errors
    /// The store's.
    pub async fn key_leaked(
        &self,
        store: &Store,
        api_user: &ApiUser,
        key: ApiKeyId,
        report_url: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut data = api_user_data(api_user);
        data.insert("key_id".into(), json!(key.to_string()));
        data.insert("url".into(), json!(report_url));
        self.record(
            store,
            api_user.organization_id,
            EventType::ApiUserKeyLeaked,
            api_user.id.to_string(),
            key.to_string(),
            None,
            data,
            now,
        )
        .await
    }

    /// `integrator_key.sunset_reached` (once per sunset date).
    ///
    /// # Errors
    /// The store's.
    pub async fn sunset_reached(
        &self,
        store: &Store,
        key: &SunsetReached,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut data = serde_json::Map::new();
        data.insert(
            "organization_id".into(),
            json!(key.organization_id.to_string()),
        );
        data.insert("integrator_key_id".into(), json!(key.id.to_string()));
        data.insert("name".into(), json!(key.name));
        data.insert(
            "legacy_sunset_at".into(),
            json!(rfc3339(key.legacy_sunset_at)),
        );
        let mark = (key.legacy_sunset_at.unix_timestamp_nanos() / 1_000_000).to_string();
        self.record(
            store,
            key.organization_id,
            EventType::IntegratorKeySunsetReached,
            key.id.to_string(),
            mark,
            None,
            data,
            now,
        )
        .await
    }
}
