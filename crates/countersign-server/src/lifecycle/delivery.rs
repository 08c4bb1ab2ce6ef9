//! Sending one webhook delivery attempt: the Standard Webhooks headers and signature, a 10 s
//! timeout, no redirects, no proxy, and every address a host name resolves to checked against
//! the private ranges at the moment of connecting (unless `webhooks.allow_private`).

use crate::config::WebhookConfig;
use crate::ops::check_webhook_url;
use countersign_core::lifecycle::is_forbidden_address;
use countersign_core::webhook::{Outcome, signature};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// How long a receiver has to answer (SPEC §13).
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempted {
    /// Delivered (2xx) or failed.
    pub outcome: Outcome,
    /// The receiver's status code, when it answered.
    pub status_code: Option<i64>,
    /// Why it failed without one.
    pub error: Option<String>,
}

/// The refusal a resolution ends with when every address is private.
#[derive(Debug)]
struct AddressRefused;

impl std::fmt::Display for AddressRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the host resolves only to refused (private) addresses")
    }
}

impl std::error::Error for AddressRefused {}

/// Resolves host names with the system resolver and keeps only the addresses a webhook may
/// reach: the connection is made to an address checked here, never to one resolved again.
#[derive(Debug)]
struct GuardedResolver {
    allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|address| allow_private || !is_forbidden_address(address.ip()))
                .collect();
            if resolved.is_empty() {
                return Err(Box::new(AddressRefused) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(resolved.into_iter()) as Addrs)
        })
    }
}

/// Sends deliveries.
#[derive(Debug, Clone)]
pub struct Sender {
    client: reqwest::Client,
    config: WebhookConfig,
}

impl Sender {
    /// A sender for the configuration.
    ///
    /// # Errors
    /// When the HTTP client (its TLS roots) cannot be built.
    pub fn new(config: &WebhookConfig) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver {
                allow_private: config.allow_private,
            }))
            .user_agent(concat!("countersign-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            client,
            config: config.clone(),
        })
    }

    /// Makes one attempt: POSTs `payload` to `url` signed with `key` as message `id` at `now`.
    pub async fn attempt(
        &self,
        url: &str,
        key: &[u8],
        id: &str,
        payload: &str,
        now: OffsetDateTime,
    ) -> Attempted {
        let failed = |error: String| Attempted {
            outcome: Outcome::Failed,
            status_code: None,
            error: Some(error),
        };
        // The rules are checked again at each attempt: the configuration may have changed.
        let url = match check_webhook_url(url, &self.config) {
            Ok(url) => url,
            Err(reason) => return failed(format!("refused: {reason}")),
        };
        let timestamp = now.unix_timestamp();
        let response = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                signature(key, id, timestamp, payload.as_bytes()),
            )
            .body(payload.to_owned())
            .send()
            .await;
        match response {
            Ok(response) => {
                let status = response.status();
                Attempted {
                    outcome: if status.is_success() {
                        Outcome::Delivered
                    } else {
                        Outcome::Failed
                    },
                    status_code: Some(i64::from(status.as_u16())),
                    error: None,
                }
            }
            Err(error) => failed(describe(&error)),
        }
    }
}

/// A short, secret-free description of a failed request.
fn describe(error: &reqwest::Error) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if cause.is::<AddressRefused>() {
            return "refused: the host resolves only to private addresses \
                    (webhooks.allow_private is off)"
                .into();
        }
        source = cause.source();
    }
    if error.is_timeout() {
        "timed out after 10 s".into()
    } else if error.is_connect() {
        "could not connect".into()
    } else {
        "the request failed".into()
    }
}
