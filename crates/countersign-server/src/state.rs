//! Shared state of the server: store, caches, secrets, clock and background sinks.

use crate::audit::AuditSink;
use crate::cache::DirectoryCache;
use crate::clock::Clock;
use crate::config::ServerConfig;
use crate::usage::LastUsed;
use countersign_store::{AuditEvent, AuditOutcome, Store, StoreError};
use rand::RngCore;
use std::collections::HashMap;
use std::sync::Arc;

/// Server-side secrets: the key pepper and the token signing keys.
///
/// # Security
/// Generated from the OS CSPRNG on first start and stored in the database, unless supplied.
#[derive(Clone)]
pub struct Secrets {
    /// HMAC key under which API keys and admin session tokens are digested.
    pub pepper: Vec<u8>,
    /// The key id new tokens are signed with.
    pub signing_kid: u32,
    /// Signing secrets by key id.
    pub signing: HashMap<u32, Vec<u8>>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("signing_kid", &self.signing_kid)
            .finish_non_exhaustive()
    }
}

/// Secrets supplied by the operator instead of generated ones (e.g. from `*_FILE`).
#[derive(Clone, Default)]
pub struct SuppliedSecrets {
    /// Pepper bytes.
    pub pepper: Option<Vec<u8>>,
    /// Signing key bytes (key id 1).
    pub signing_key: Option<Vec<u8>>,
    /// A master key: when set, the pepper and signing key not supplied otherwise are derived
    /// from it (HMAC-SHA256 per purpose) and never written to the database, so a database dump
    /// holds no usable secret.
    pub master_key: Option<Vec<u8>>,
}

impl std::fmt::Debug for SuppliedSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SuppliedSecrets([redacted])")
    }
}

/// Random bytes from the OS CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}

impl Secrets {
    /// Loads the secrets from the database, generating and storing them on first start.
    ///
    /// # Errors
    /// Returns the store's error.
    pub async fn load(
        store: &Store,
        supplied: &SuppliedSecrets,
        now: time::OffsetDateTime,
    ) -> Result<Self, StoreError> {
        let pepper = match (&supplied.pepper, &supplied.master_key) {
            (Some(pepper), _) => pepper.clone(),
            (None, Some(master)) => derive(master, "key_pepper"),
            (None, None) => stored(store, "key_pepper", now).await?,
        };
        let signing_key = match (&supplied.signing_key, &supplied.master_key) {
            (Some(key), _) => key.clone(),
            (None, Some(master)) => derive(master, "token_signing_key_1"),
            (None, None) => stored(store, "token_signing_key_1", now).await?,
        };
        Ok(Self {
            pepper,
            signing_kid: 1,
            signing: HashMap::from([(1, signing_key)]),
        })
    }
}

/// Derives a purpose-bound secret from the master key.
fn derive(master: &[u8], purpose: &str) -> Vec<u8> {
    hex::decode(countersign_core::key::digest_key_text(purpose, master)).unwrap_or_default()
}

async fn stored(
    store: &Store,
    name: &str,
    now: time::OffsetDateTime,
) -> Result<Vec<u8>, StoreError> {
    let generated = hex::encode(random_bytes::<32>());
    let value = store.get_or_insert_secret(name, &generated, now).await?;
    hex::decode(value).map_err(|_| StoreError::Corrupt {
        what: "server secret",
    })
}

/// Everything a handler needs; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

/// The contents of [`AppState`].
#[derive(Debug)]
pub struct Inner {
    /// The database.
    pub store: Store,
    /// Configuration.
    pub config: ServerConfig,
    /// The time source.
    pub clock: Arc<dyn Clock>,
    /// Pepper and signing keys.
    pub secrets: Secrets,
    /// Directory caches.
    pub cache: Arc<DirectoryCache>,
    /// Audit queue.
    pub audit: AuditSink,
    /// API-user last-use recorder.
    pub last_used: LastUsed,
    /// Digest compared against when an API username is unknown (equal work, SPEC §2).
    pub dummy_key_digest: String,
    /// Hash verified against when a user is unknown (equal work, SPEC §5).
    pub dummy_password_hash: String,
    /// Request ids (`X-Request-Id`) of requests that arrive without one.
    pub request_ids: crate::SequentialRequestId,
    /// Keyed digests of legacy headers for the verified-header cache.
    pub header_digester: crate::legacy::HeaderDigester,
    /// Cached legacy-header password verifications, bound to credential versions.
    pub verified_passwords: crate::legacy::VerifiedPasswords,
    /// Failure throttling.
    pub throttle: crate::throttle::Throttle,
    /// Prometheus metrics.
    pub metrics: crate::metrics::Metrics,
    /// Legacy-header usage counters.
    pub legacy_usage: crate::legacy_usage::LegacyUsage,
    /// The bounded pool password verifications run in.
    pub passwords: crate::passwords::PasswordPool,
    /// argon2 verifications this server performed (equal-work checks).
    pub password_verifications: std::sync::atomic::AtomicU64,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Wraps the parts into a state.
    pub fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
    }

    /// The current time.
    pub fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }

    /// The directory operations, with this state's store, caches, audit and clock.
    pub fn ops(&self) -> crate::ops::Ops {
        crate::ops::Ops {
            store: self.store.clone(),
            cache: self.cache.clone(),
            audit: self.audit.clone(),
            clock: self.clock.clone(),
            config: self.config.clone(),
            pepper: self.secrets.pepper.clone(),
        }
    }

    /// Verifies a password against a PHC string off the executor, through the bounded pool,
    /// counting the verification.
    ///
    /// # Errors
    /// [`crate::passwords::Busy`] at once when the pool and its queue are full; the caller
    /// answers with the throttle refusal (`Retry-After: 1`).
    pub async fn verify_password(
        &self,
        password: &str,
        phc: String,
    ) -> Result<bool, crate::passwords::Busy> {
        let slot = self.passwords.try_reserve()?;
        self.password_verifications
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(slot.verify(password.to_owned(), phc).await)
    }

    /// Queues an audit event.
    pub async fn audit_event(
        &self,
        organization_id: Option<countersign_core::ids::OrganizationId>,
        actor: &str,
        action: &str,
        subject: &str,
        source_ip: Option<&str>,
        outcome: AuditOutcome,
    ) {
        self.audit
            .record(AuditEvent {
                organization_id,
                at: self.now(),
                actor: truncate(actor),
                action: action.to_owned(),
                subject: truncate(subject),
                source_ip: source_ip.map(str::to_owned),
                outcome,
            })
            .await;
    }
}

/// Bounds client-supplied text stored in the audit log.
pub fn truncate(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(256).collect()
}
