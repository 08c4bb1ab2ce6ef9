//! Shared state of the server: store, caches, secrets, clock, background sinks, and the
//! verifier that authenticates requests.

use crate::audit::AuditSink;
use crate::cache::DirectoryCache;
use crate::clock::Clock;
use crate::config::ServerConfig;
use crate::last_used::LastUsed;
use crate::legacy_usage::LegacyUsage;
use crate::metrics::Metrics;
use crate::passwords::Passwords;
use crate::secrets::Secrets;
use crate::throttle::Throttle;
use crate::verify::Verifier;
use countersign_store::Store;
use std::sync::Arc;

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
    pub(crate) cache: Arc<DirectoryCache>,
    /// Audit queue.
    pub(crate) audit: AuditSink,
    /// API-user last-use recorder.
    pub(crate) last_used: LastUsed,
    /// Digest compared against when an API username is unknown (equal work, SPEC §2).
    pub(crate) dummy_key_digest: String,
    /// Password verification (argon2id), shared with the verifier.
    pub passwords: Arc<Passwords>,
    /// Request ids (`X-Request-Id`) of requests that arrive without one.
    pub(crate) request_ids: crate::request_id::SequentialRequestId,
    /// Failure throttling.
    pub(crate) throttle: Arc<Throttle>,
    /// Prometheus metrics.
    pub(crate) metrics: Arc<Metrics>,
    /// Legacy-header usage counters.
    pub(crate) legacy_usage: LegacyUsage,
    /// Request verification: both dialects, forward auth, the per-thread fast path.
    pub(crate) verifier: Verifier,
    /// The directory operations, over this state's store, caches, audit queue and clock.
    pub ops: crate::ops::Ops,
    /// The public keys leak reports must be signed with, when configured.
    pub(crate) leak_keys: Option<Arc<crate::leak_keys::LeakKeys>>,
    /// What the bodies of leak reports being read may hold together, one permit a KiB
    /// (`routes::leaks::BODY_BUDGET_KIB`); a report that cannot have its share within 2 s is
    /// refused with 503 and `Retry-After`. Public so tests can hold the permits.
    pub leak_report_budget: Arc<tokio::sync::Semaphore>,
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

    /// Before a read of the audit log: every event this node queued is written first (waiting
    /// at most 2 s), so the reader sees what they just did here. Other nodes write their own,
    /// and on-behalf-of roll-ups keep their minute; a wait that runs out is logged and the read
    /// goes on.
    pub(crate) async fn settle_audit(&self) {
        if !self.audit.settle().await {
            tracing::warn!("audit events queued before a read were not all written within 2 s");
        }
    }

    /// The directory operations, with this state's store, caches, audit and clock.
    pub fn ops(&self) -> &crate::ops::Ops {
        &self.ops
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
        self.passwords.verify(password, phc).await
    }

    /// How many audit events were lost (zero unless the database refused a batch through every
    /// retry, or an event came after the writer stopped).
    pub fn audit_events_lost(&self) -> u64 {
        self.audit.lost()
    }
}
