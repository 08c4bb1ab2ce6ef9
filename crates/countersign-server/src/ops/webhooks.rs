//! Webhook endpoints (SPEC §13): registration with a `whsec_` secret shown once and sealed at
//! rest, deletion, and the URL rules (https only unless `webhooks.allow_http`; no private,
//! loopback, link-local, unique-local or unspecified address unless `webhooks.allow_private`).

use super::{Actor, OpError, Ops, invalid};
use crate::config::WebhookConfig;
use crate::secrets::random_bytes;
use crate::webhook_seal;
use countersign_core::ids::WebhookId;
use countersign_core::lifecycle::is_forbidden_address;
use countersign_core::secret::Secret;
use countersign_core::webhook::{self, MAX_URL_LEN, MAX_WEBHOOKS, SECRET_BYTES, Webhook};
use uuid::Uuid;

/// A registered webhook with its secret, shown once.
#[derive(Debug)]
pub struct CreatedWebhook {
    /// The endpoint.
    pub webhook: Webhook,
    /// `whsec_…`; sealed at rest, never shown again.
    pub secret: Secret,
}

/// Checks a webhook URL against the configuration: an absolute `https://` URL (or `http://`
/// when allowed) with a host, no user name or password and no fragment, at most 2048
/// characters; an address written in it must not be private unless allowed. Host names are
/// checked on the addresses they resolve to at each delivery.
///
/// # Errors
/// A sentence saying what is refused.
pub fn check_webhook_url(text: &str, config: &WebhookConfig) -> Result<reqwest::Url, String> {
    if text.is_empty() || text.len() > MAX_URL_LEN {
        return Err(format!("url must be 1 to {MAX_URL_LEN} characters"));
    }
    if text.chars().any(char::is_control) {
        return Err("url may not contain control characters".into());
    }
    let url = reqwest::Url::parse(text).map_err(|_| "url must be an absolute URL".to_owned())?;
    match url.scheme() {
        "https" => {}
        "http" if config.allow_http => {}
        "http" => return Err("url must use https (webhooks.allow_http is off)".into()),
        _ => return Err("url must use https".into()),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("url must not carry a user name or password".into());
    }
    if url.fragment().is_some() {
        return Err("url must not carry a fragment".into());
    }
    // Parsing may lengthen it (spaces escaped, international names in punycode): the limit
    // holds for what is stored and sent.
    if url.as_str().len() > MAX_URL_LEN {
        return Err(format!("url must be 1 to {MAX_URL_LEN} characters"));
    }
    let address = match url.host() {
        None => return Err("url must name a host".into()),
        Some(url::Host::Domain(_)) => None,
        Some(url::Host::Ipv4(v4)) => Some(std::net::IpAddr::V4(v4)),
        Some(url::Host::Ipv6(v6)) => Some(std::net::IpAddr::V6(v6)),
    };
    if let Some(address) = address
        && !config.allow_private
        && is_forbidden_address(address)
    {
        return Err(
            "url must not name a private, loopback, link-local, unique-local or unspecified \
             address (webhooks.allow_private is off)"
                .into(),
        );
    }
    Ok(url)
}

impl Ops {
    /// Registers a webhook for the actor's organization; the secret is returned once.
    ///
    /// # Errors
    /// `Invalid` for a refused URL or event list.
    pub async fn create_webhook<S: AsRef<str>>(
        &self,
        actor: &Actor,
        url: &str,
        events: &[S],
    ) -> Result<CreatedWebhook, OpError> {
        let url = check_webhook_url(url.trim(), &self.config.webhooks)
            .map_err(|detail| invalid("url", detail))?;
        let events = webhook::parse_events(events).map_err(|detail| invalid("events", detail))?;
        let secret_bytes = random_bytes::<SECRET_BYTES>();
        let record = Webhook {
            id: WebhookId(Uuid::now_v7()),
            organization_id: actor.organization_id,
            url: url.to_string(),
            events,
            created_at: self.now(),
            created_by: actor.name.clone(),
        };
        let sealed =
            webhook_seal::seal(&self.webhook_sealing, &record.id.to_string(), &secret_bytes)
                .ok_or_else(|| {
                    tracing::error!("the webhook sealing key is unusable");
                    OpError::Store(countersign_store::StoreError::Corrupt {
                        what: "webhook sealing key",
                    })
                })?;
        if !self
            .store
            .insert_webhook(&record, &sealed, MAX_WEBHOOKS)
            .await?
        {
            return Err(OpError::Conflict {
                code: "too_many_webhooks",
                detail: format!("an organization registers at most {MAX_WEBHOOKS} webhooks"),
            });
        }
        self.audit(actor, "webhook.create", &record.id.to_string())
            .await;
        Ok(CreatedWebhook {
            webhook: record,
            secret: Secret::new(webhook::format_secret(&secret_bytes)),
        })
    }

    /// Deletes a webhook; its pending deliveries are dropped.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn delete_webhook(&self, actor: &Actor, id: WebhookId) -> Result<(), OpError> {
        self.store.delete_webhook(actor.organization_id, id).await?;
        self.audit(actor, "webhook.delete", &id.to_string()).await;
        Ok(())
    }
}
