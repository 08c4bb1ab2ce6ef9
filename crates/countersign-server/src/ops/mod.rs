//! Directory operations shared by the admin API, the console and the CLI: validate with core,
//! persist with the store, invalidate caches and write the audit event. No HTTP here.
//!
//! This module holds what every operation shares (`Ops`, `Actor`, `OpError`, `IssuedKey` and
//! `Ops::commit`, the tail of every directory change); the operations live one file per
//! entity beside it.

use crate::audit::truncate;
use crate::audit::{AuditSink, AuditWriter};
use crate::cache::DirectoryCache;
use crate::clock::Clock;
use crate::config::ServerConfig;
use crate::secrets::{Secrets, SuppliedSecrets, random_bytes};
use countersign_core::api_user::ApiUser;
use countersign_core::ids::{OrganizationId, UserId};
use countersign_core::key::ApiKey;
use countersign_core::names;
use countersign_core::secret::Secret;
use countersign_store::{AuditEvent, AuditOutcome, Store, StoreError};
use std::sync::Arc;
use time::OffsetDateTime;

mod accounts;
mod api_users;
mod bootstrap;
mod environments;
mod integrator_keys;
mod introspection_clients;
pub(crate) mod leaks;
mod memberships;
mod oauth;
mod organizations;
mod policy;
mod sessions;
mod users;
mod webhooks;

pub use bootstrap::Bootstrapped;
pub use oauth::{NewRsaKey, check_redirect_uri};
pub use webhooks::{CreatedWebhook, check_webhook_url};

/// Why an operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// The thing does not exist (or belongs to another organization).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A uniqueness rule was violated.
    #[error("{detail}")]
    Conflict {
        /// Stable machine code.
        code: &'static str,
        /// Human-readable explanation.
        detail: String,
    },
    /// A field is invalid.
    #[error("{field}: {detail}")]
    Invalid {
        /// The offending field.
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// A name holds a character that could make it show as another name (SPEC §2).
    #[error("{field}: {detail}")]
    Unreadable {
        /// The offending field.
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// A field breaks a rule the organization set (422 with its own stable code).
    #[error("{field}: {detail}")]
    Refused {
        /// Stable machine code (e.g. `expiry_beyond_policy`).
        code: &'static str,
        /// The offending field.
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The store failed.
    #[error("store failure")]
    Store(#[source] StoreError),
}

impl From<StoreError> for OpError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound { entity } => Self::NotFound(entity),
            StoreError::Conflict { entity } => Self::Conflict {
                code: "conflict",
                detail: format!("{entity} already exists"),
            },
            other => Self::Store(other),
        }
    }
}

/// Refuses a name that could show as another (400), before any other check of it.
fn check_visible(field: &'static str, name: &str) -> Result<(), OpError> {
    names::check_visible(name).map_err(|e| OpError::Unreadable {
        field,
        detail: format!("{field} {e}"),
    })
}

fn invalid(field: &'static str, detail: impl Into<String>) -> OpError {
    OpError::Invalid {
        field,
        detail: detail.into(),
    }
}

/// Who performs an operation.
#[derive(Clone, Debug)]
pub struct Actor {
    /// The organization the operation applies to.
    pub organization_id: OrganizationId,
    /// The signed-in user, if any (the CLI has none).
    pub user_id: Option<UserId>,
    /// The name recorded in the audit log and `created_by`.
    pub name: String,
    /// The client address, when over HTTP.
    pub source_ip: Option<String>,
}

impl Actor {
    /// A signed-in user (admin API or console session) from `source_ip`.
    pub fn signed_in(user: &countersign_core::directory::User, source_ip: Option<String>) -> Self {
        Self {
            organization_id: user.organization_id,
            user_id: Some(user.id),
            name: user.email.clone(),
            source_ip,
        }
    }
}

/// The result of creating or rotating an API user: the record and the key, shown once.
#[derive(Debug)]
pub struct IssuedKey {
    /// The API user.
    pub api_user: ApiUser,
    /// The new key; never stored, never shown again.
    pub key: ApiKey,
}

/// Directory operations over one store. A server holds one (`AppState::ops`); the CLI and
/// tests open their own with [`Ops::open`].
#[derive(Clone, Debug)]
pub struct Ops {
    /// The database.
    pub store: Store,
    /// Caches to invalidate after writes.
    pub(crate) cache: Arc<DirectoryCache>,
    /// Audit queue.
    pub(crate) audit: AuditSink,
    /// Time source.
    pub(crate) clock: Arc<dyn Clock>,
    /// Configuration.
    pub(crate) config: Arc<ServerConfig>,
    /// Pepper for key digests.
    pub(crate) pepper: Vec<u8>,
    /// Key sealing webhook signing secrets at rest.
    pub(crate) webhook_sealing: Vec<u8>,
    /// Lifecycle events (revocations and rotations record theirs) and the wake-up of this
    /// node's delivery worker.
    pub(crate) events: crate::events::Events,
}

/// Operations opened outside a running server (the CLI, a test's setup): they own their audit
/// writer, and [`StandaloneOps::finish`] writes every queued audit event before returning.
#[derive(Debug)]
pub struct StandaloneOps {
    ops: Ops,
    writer: AuditWriter,
}

impl std::ops::Deref for StandaloneOps {
    type Target = Ops;
    fn deref(&self) -> &Ops {
        &self.ops
    }
}

impl StandaloneOps {
    /// Closes the audit queue and waits until every queued event is written.
    pub async fn finish(self) {
        self.ops.audit.close();
        self.writer.finish().await;
    }
}

/// Draws a readable random password (24 base62 characters, about 142 bits).
pub fn generate_password() -> Secret {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let bytes = random_bytes::<48>();
    let text: String = bytes
        .iter()
        .filter(|b| usize::from(**b) < 256 / ALPHABET.len() * ALPHABET.len())
        .take(24)
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    Secret::new(text)
}

/// Parses an expiry given as RFC 3339 or as a date (meaning 00:00 UTC at the start of it).
///
/// # Errors
/// Returns a field error naming the accepted forms.
pub fn parse_expiry(text: &str) -> Result<OffsetDateTime, OpError> {
    let text = text.trim();
    // Expiries have whole-second precision, like the tokens they bound.
    if let Some(at) = crate::clock::parse_rfc3339(text) {
        return Ok(crate::clock::whole_seconds(at));
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, &format)
        .map(|date| date.midnight().assume_utc())
        .map_err(|_| {
            invalid(
                "expires_at",
                "expires_at must be an RFC 3339 time or a YYYY-MM-DD date",
            )
        })
}

impl Ops {
    /// Opens the operations over a migrated store: the secrets (generated on first use, or
    /// the supplied ones), a small directory cache and an audit writer of their own.
    ///
    /// # Errors
    /// Returns a store failure reading or storing the secrets.
    pub async fn open(
        store: Store,
        config: &ServerConfig,
        supplied: &SuppliedSecrets,
        clock: Arc<dyn Clock>,
    ) -> Result<StandaloneOps, StoreError> {
        let secrets = Secrets::load(&store, supplied, clock.now()).await?;
        let (audit, writer) = AuditSink::start(store.clone());
        let ops = Self::new(
            store,
            Arc::new(DirectoryCache::new(1_000)),
            audit,
            clock,
            config,
            &secrets,
        );
        Ok(StandaloneOps { ops, writer })
    }

    /// The operations of a server, sharing its caches and audit queue.
    pub(crate) fn new(
        store: Store,
        cache: Arc<DirectoryCache>,
        audit: AuditSink,
        clock: Arc<dyn Clock>,
        config: &ServerConfig,
        secrets: &Secrets,
    ) -> Self {
        Self {
            store,
            cache,
            audit,
            clock,
            config: Arc::new(config.clone()),
            pepper: secrets.pepper.clone(),
            webhook_sealing: secrets.webhook_sealing.clone(),
            events: crate::events::Events::default(),
        }
    }

    fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// Makes a committed directory change visible: this node's caches at once, other nodes
    /// through the directory version (and PostgreSQL NOTIFY).
    async fn changed(&self) {
        // The version is taken before the caches are emptied. Every change up to it (this one,
        // and any other node's that took a lower version) had committed when it was taken, so
        // nothing cached after the invalidation predates them, and the version is applied here
        // (the revocation receipts of SPEC §14 count on it). Emptying first would let a read
        // between the invalidation and the version cache what another node's change, committed
        // meanwhile with a lower version, had already replaced.
        // The caches are also emptied at once, so this node stops serving what the change
        // replaced even while the bump waits for a connection. The notification goes out once
        // the version is noted here, so this node's own comes back applied.
        self.cache.invalidate();
        let version = self.store.bump_directory_version().await;
        self.cache.invalidate();
        let announced = match version {
            Ok(version) => {
                self.cache.note_applied(version);
                self.store.announce_directory_version(version).await
            }
            Err(error) => Err(error),
        };
        // Other nodes still converge through their periodic re-check of the version once the
        // database answers again; this node is already up to date.
        if let Err(error) = announced {
            tracing::warn!(%error, "could not publish a directory change");
        }
    }

    /// The actor of what the server does by itself under an organization's policy.
    pub fn policy_actor(organization_id: OrganizationId) -> Actor {
        Actor {
            organization_id,
            user_id: None,
            name: "policy".into(),
            source_ip: None,
        }
    }

    async fn audit(&self, actor: &Actor, action: &str, subject: &str) {
        self.audit_with_detail(actor, action, subject, None).await;
    }

    async fn audit_with_detail(
        &self,
        actor: &Actor,
        action: &str,
        subject: &str,
        detail: Option<String>,
    ) {
        self.audit
            .record(AuditEvent {
                organization_id: Some(actor.organization_id),
                at: self.now(),
                actor: truncate(&actor.name),
                action: action.to_owned(),
                subject: truncate(subject),
                source_ip: actor.source_ip.clone(),
                outcome: AuditOutcome::Success,
                detail: detail.map(|text| truncate(&text)),
            })
            .await;
    }

    /// Finishes a committed directory change: makes it visible (`changed`), then records it
    /// in the audit log as `action` on `subject` by `actor`.
    async fn commit(&self, actor: &Actor, action: &str, subject: &str) {
        self.changed().await;
        self.audit(actor, action, subject).await;
    }
}
