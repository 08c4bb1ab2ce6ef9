//! The audit sink: events are queued by request handlers and written in batches by one
//! background task, off the request path. Shutdown drains the queue before returning. A reader
//! of the audit log first waits (briefly) until what this node queued before it is written
//! ([`AuditSink::settle`]), so an administrator sees the change they just made.

use crate::striped::{Padded, STRIPES, stripe};
use countersign_core::ids::{AccountId, OrganizationId, UserId};
use countersign_store::{AuditEvent, AuditOutcome, Store};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;

/// Events queued beyond this make senders wait (back-pressure instead of loss).
const QUEUE_CAPACITY: usize = 65_536;
/// Largest batch written in one transaction.
const BATCH: usize = 1_000;

/// How long a reader of the audit log waits for this node's queued events to be written.
const SETTLE_WAIT: Duration = Duration::from_secs(2);

/// What the writer receives: an event, or a reader waiting for every event queued before it.
#[derive(Debug)]
enum Queued {
    Event(AuditEvent),
    Settled(oneshot::Sender<()>),
}

/// Queues audit events for the background writer.
#[derive(Clone, Debug)]
pub struct AuditSink {
    sender: mpsc::Sender<Queued>,
    close: Arc<Notify>,
    lost: Arc<AtomicU64>,
}

/// The writer task; await [`AuditWriter::finish`] after every sink is dropped.
#[derive(Debug)]
pub struct AuditWriter {
    handle: JoinHandle<()>,
}

impl AuditSink {
    /// Starts the background writer.
    pub fn start(store: Store) -> (Self, AuditWriter) {
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let close = Arc::new(Notify::new());
        let lost = Arc::new(AtomicU64::new(0));
        let handle = tokio::spawn(write_batches(store, receiver, close.clone(), lost.clone()));
        (
            Self {
                sender,
                close,
                lost,
            },
            AuditWriter { handle },
        )
    }

    /// Queues an event; waits only when the queue is full.
    pub async fn record(&self, event: AuditEvent) {
        if self.sender.send(Queued::Event(event)).await.is_err() {
            self.lost.fetch_add(1, Ordering::Relaxed);
            tracing::error!("audit writer has stopped; event dropped");
        }
    }

    /// Waits until every event this node queued before the call is written (or found
    /// unwritable), at most 2 s: a read of the audit log then shows them. Other nodes' events
    /// are theirs to write. `false` at once when the queue is full (a reader does not wait
    /// behind a backlog) or the writer has stopped, and when the wait runs out.
    pub async fn settle(&self) -> bool {
        let (done, written) = oneshot::channel();
        if self.sender.try_send(Queued::Settled(done)).is_err() {
            return false;
        }
        matches!(tokio::time::timeout(SETTLE_WAIT, written).await, Ok(Ok(())))
    }

    /// How many events were lost: queued after the writer stopped, or in a batch the database
    /// refused through every retry. Zero on a healthy server (the tests check it).
    pub fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }

    /// Queues an event of `now` (client-supplied text bounded).
    #[expect(
        clippy::too_many_arguments,
        reason = "an audit event's fields, named at each call"
    )]
    pub async fn event(
        &self,
        now: OffsetDateTime,
        organization_id: Option<OrganizationId>,
        actor: &str,
        action: &str,
        subject: &str,
        source_ip: Option<&str>,
        outcome: AuditOutcome,
    ) {
        self.record(AuditEvent {
            organization_id,
            at: now,
            actor: truncate(actor),
            action: action.to_owned(),
            subject: truncate(subject),
            source_ip: source_ip.map(str::to_owned),
            outcome,
            detail: None,
        })
        .await;
    }

    /// Stops accepting events; the writer drains what is queued and exits.
    pub fn close(&self) {
        self.close.notify_one();
    }
}

impl AuditWriter {
    /// Waits until every queued event is written (after [`AuditSink::close`] or the last sink drops).
    pub async fn finish(self) {
        if let Err(error) = self.handle.await {
            tracing::error!(%error, "audit writer failed");
        }
    }
}

async fn write_batches(
    store: Store,
    mut receiver: mpsc::Receiver<Queued>,
    close: Arc<Notify>,
    lost: Arc<AtomicU64>,
) {
    let mut received_batch = Vec::with_capacity(BATCH);
    let mut batch = Vec::with_capacity(BATCH);
    let mut waiting = Vec::new();
    let mut closing = false;
    loop {
        let received = if closing {
            receiver.recv_many(&mut received_batch, BATCH).await
        } else {
            tokio::select! {
                received = receiver.recv_many(&mut received_batch, BATCH) => received,
                () = close.notified() => {
                    // No new events; drain what is queued, then stop.
                    receiver.close();
                    closing = true;
                    continue;
                }
            }
        };
        if received == 0 {
            break;
        }
        for queued in received_batch.drain(..) {
            match queued {
                Queued::Event(event) => batch.push(event),
                Queued::Settled(reader) => waiting.push(reader),
            }
        }
        let mut attempt = 0u32;
        // (A chunk of readers alone has nothing to write.)
        while !batch.is_empty() {
            match store.insert_audit_events(&batch).await {
                Ok(()) => break,
                Err(error) if attempt < 20 => {
                    attempt += 1;
                    tracing::warn!(error = %error, attempt, "audit batch write failed; retrying");
                    tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
                }
                Err(error) => {
                    tracing::error!(error = %error, events = batch.len(), "audit batch lost after retries");
                    lost.fetch_add(batch.len() as u64, Ordering::Relaxed);
                    break;
                }
            }
        }
        batch.clear();
        for reader in waiting.drain(..) {
            // A reader that stopped waiting has nothing to be told.
            let _ = reader.send(());
        }
    }
}

/// Bounds client-supplied text stored in the audit log.
pub fn truncate(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(256).collect()
}

/// One Send-On-Behalf-Of roll-up: who acted for whom, in which account, from where, in which
/// minute. Every field is `Copy`, so counting a request allocates nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct RollupKey {
    actor: UserId,
    subject: UserId,
    account: AccountId,
    source_ip: Option<IpAddr>,
    minute: i64,
}

#[derive(Debug)]
struct Rollup {
    organization_id: OrganizationId,
    actor_email: String,
    count: u64,
    first: OffsetDateTime,
    last: OffsetDateTime,
}

/// Exact per-minute roll-ups of on-behalf-of actions, written to the audit log as one event per
/// (actor, subject, account, source IP, minute) with the count, first and last time in its
/// detail. One event per request would put an audit write on every request of an integration
/// that acts for users all day; the roll-up keeps every action accounted for (the counts are
/// exact, nothing is sampled) at the cost of a map increment. Each worker thread counts into
/// its own stripe; [`Rollups::drain`] (every second, and at shutdown before the audit queue
/// closes) turns them into events.
#[derive(Debug, Default)]
pub struct Rollups {
    stripes: [Padded<Mutex<HashMap<RollupKey, Rollup>>>; STRIPES],
}

/// What an on-behalf-of action is counted by.
#[derive(Clone, Copy, Debug)]
pub struct OnBehalfOfAction<'a> {
    /// The actor's organization.
    pub organization_id: OrganizationId,
    /// The authenticated user.
    pub actor: UserId,
    /// The actor's email (the audit actor).
    pub actor_email: &'a str,
    /// The user acted for.
    pub subject: UserId,
    /// The effective account.
    pub account: AccountId,
    /// The client's address, when known.
    pub source_ip: Option<IpAddr>,
}

impl Rollups {
    /// Counts one action at `now`.
    pub fn record(&self, action: &OnBehalfOfAction<'_>, now: OffsetDateTime) {
        let key = RollupKey {
            actor: action.actor,
            subject: action.subject,
            account: action.account,
            source_ip: action.source_ip,
            minute: now.unix_timestamp().div_euclid(60),
        };
        let mut stripe = self.stripes[stripe()]
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        stripe
            .entry(key)
            .and_modify(|rollup| {
                rollup.count += 1;
                rollup.first = rollup.first.min(now);
                rollup.last = rollup.last.max(now);
            })
            .or_insert_with(|| Rollup {
                organization_id: action.organization_id,
                actor_email: action.actor_email.to_owned(),
                count: 1,
                first: now,
                last: now,
            });
    }

    /// Takes every roll-up counted so far as audit events (several stripes' roll-ups of one
    /// key are merged into one event).
    pub fn drain(&self) -> Vec<AuditEvent> {
        let mut merged: HashMap<RollupKey, Rollup> = HashMap::new();
        for stripe in &self.stripes {
            let taken =
                std::mem::take(&mut *stripe.0.lock().unwrap_or_else(PoisonError::into_inner));
            for (key, rollup) in taken {
                match merged.entry(key) {
                    std::collections::hash_map::Entry::Occupied(mut entry) => {
                        let into = entry.get_mut();
                        into.count += rollup.count;
                        into.first = into.first.min(rollup.first);
                        into.last = into.last.max(rollup.last);
                    }
                    std::collections::hash_map::Entry::Vacant(entry) => {
                        entry.insert(rollup);
                    }
                }
            }
        }
        let format = |at: OffsetDateTime| {
            at.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        };
        merged
            .into_iter()
            .map(|(key, rollup)| AuditEvent {
                organization_id: Some(rollup.organization_id),
                at: rollup.first,
                actor: truncate(&rollup.actor_email),
                action: "legacy.sobo".into(),
                subject: key.subject.to_string(),
                source_ip: key.source_ip.map(|ip| ip.to_string()),
                outcome: AuditOutcome::Success,
                detail: Some(format!(
                    "{} request(s) in account {} from {} to {}",
                    rollup.count,
                    key.account,
                    format(rollup.first),
                    format(rollup.last)
                )),
            })
            .collect()
    }

    /// Writes every roll-up counted so far to the audit queue.
    pub async fn flush(&self, sink: &AuditSink) {
        for event in self.drain() {
            sink.record(event).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn rollups_count_exactly_per_minute_and_key() {
        let rollups = Rollups::default();
        let action = OnBehalfOfAction {
            organization_id: OrganizationId(Uuid::from_u128(1)),
            actor: UserId(Uuid::from_u128(2)),
            actor_email: "svc@example.com",
            subject: UserId(Uuid::from_u128(3)),
            account: AccountId(Uuid::from_u128(4)),
            source_ip: Some(IpAddr::from([127, 0, 0, 1])),
        };
        let start = time::macros::datetime!(2026-06-01 12:00:10 UTC);
        for second in 0..5 {
            rollups.record(&action, start + time::Duration::seconds(second));
        }
        rollups.record(&action, start + time::Duration::minutes(1));
        let mut events = rollups.drain();
        events.sort_by_key(|e| e.at);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].actor, "svc@example.com");
        assert_eq!(events[0].subject, Uuid::from_u128(3).to_string());
        assert!(
            events[0]
                .detail
                .as_deref()
                .is_some_and(|d| d.starts_with("5 request(s)"))
        );
        assert!(rollups.drain().is_empty());
    }
}
