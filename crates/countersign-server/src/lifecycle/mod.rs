//! The credential lifecycle's background task (SPEC §13). Every node runs it: it takes or
//! renews the `lifecycle` lease in the database every `lifecycle_check_seconds` and, while it
//! holds it, runs the checks (`checks`), so one node at a time notices what time alone
//! brings. Every node delivers due webhook attempts (`delivery`), each claimed in the
//! database by exactly one node before it is sent, so no attempt is sent twice while the
//! claimant lives; the queue is in the database, so a restart loses nothing.

pub mod checks;
pub mod delivery;

use crate::ops::Ops;
use crate::webhook_seal;
use countersign_core::ids::DeliveryId;
use countersign_core::webhook::{Outcome, retry_delay};
use countersign_store::{AttemptResult, DeliveryJob};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use uuid::Uuid;

/// The lease the checks run under.
pub const LEASE: &str = "lifecycle";
/// Attempts per delivery, the first included.
pub const MAX_ATTEMPTS: u32 = 8;
/// How long a node keeps a claimed attempt before another may take it over (a node that
/// died while sending).
const CLAIM: time::Duration = time::Duration::seconds(60);
/// Attempts claimed per round and sent at once.
const ROUND: i64 = 64;
const IN_FLIGHT: usize = 8;

/// The running task, stopped on graceful shutdown.
#[derive(Debug)]
pub struct Lifecycle {
    stop: Arc<Notify>,
    task: JoinHandle<()>,
}

impl Lifecycle {
    /// Starts the task over `ops` (its clock, store, events and configuration).
    pub fn start(ops: Ops, sender: delivery::Sender) -> Self {
        let stop = Arc::new(Notify::new());
        let task = tokio::spawn(run(ops, sender, stop.clone()));
        Self { stop, task }
    }

    /// Finishes the attempts in flight, gives the lease up and stops.
    pub async fn stop(self) {
        self.stop.notify_one();
        if let Err(error) = self.task.await {
            tracing::error!(%error, "lifecycle task failed");
        }
    }
}

fn seconds(value: f64) -> Duration {
    Duration::try_from_secs_f64(value)
        .unwrap_or(Duration::from_secs(60))
        .max(Duration::from_millis(10))
}

async fn run(ops: Ops, sender: delivery::Sender, stop: Arc<Notify>) {
    let holder = format!("{}", Uuid::new_v4().simple());
    let check_every = seconds(ops.config.lifecycle_check_seconds);
    // Deliveries are looked for at least every second (their back-off is in seconds).
    let deliver_every = check_every.min(Duration::from_secs(1));
    let lease_for = time::Duration::try_from(check_every.saturating_mul(3))
        .unwrap_or(time::Duration::minutes(3))
        .max(time::Duration::seconds(5));
    let mut next_check = tokio::time::Instant::now();
    loop {
        if tokio::time::Instant::now() >= next_check {
            next_check = tokio::time::Instant::now() + check_every;
            let now = ops.clock.now();
            match ops
                .store
                .acquire_lease(LEASE, &holder, now, now + lease_for)
                .await
            {
                Ok(true) => {
                    if let Err(error) = checks::run(&ops, now).await {
                        tracing::warn!(%error, "lifecycle checks failed; next round retries");
                    }
                }
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, "could not take the lifecycle lease"),
            }
        }
        deliver_due(&ops, &sender).await;
        let wait =
            deliver_every.min(next_check.saturating_duration_since(tokio::time::Instant::now()));
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = ops.events.wake.notified() => {}
            () = stop.notified() => break,
        }
    }
    if let Err(error) = ops.store.release_lease(LEASE, &holder).await {
        tracing::warn!(%error, "could not give the lifecycle lease up");
    }
}

/// Sends every attempt due now, a few at a time.
async fn deliver_due(ops: &Ops, sender: &delivery::Sender) {
    let now = ops.clock.now();
    let due = match ops.store.list_due_deliveries(now, ROUND).await {
        Ok(due) => due,
        Err(error) => {
            tracing::warn!(%error, "could not read the webhook queue");
            return;
        }
    };
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut running = JoinSet::new();
    for id in due {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            break;
        };
        let ops = ops.clone();
        let sender = sender.clone();
        running.spawn(async move {
            deliver_one(&ops, &sender, id).await;
            drop(slot);
        });
    }
    while running.join_next().await.is_some() {}
}

async fn deliver_one(ops: &Ops, sender: &delivery::Sender, id: DeliveryId) {
    let now = ops.clock.now();
    let job = match ops.store.claim_delivery(id, now, now + CLAIM).await {
        Ok(Some(job)) => job,
        Ok(None) => return,
        Err(error) => {
            tracing::warn!(%error, "could not claim a webhook delivery");
            return;
        }
    };
    let attempted = match webhook_seal::open(
        &ops.webhook_sealing,
        &job.webhook_id.to_string(),
        &job.secret_sealed,
    ) {
        Some(key) => {
            sender
                .attempt(&job.url, &key, &job.event_id, &job.payload, now)
                .await
        }
        None => delivery::Attempted {
            outcome: Outcome::Failed,
            status_code: None,
            error: Some("the webhook secret cannot be opened with this server's key".into()),
        },
    };
    finish(ops, &job, attempted).await;
}

async fn finish(ops: &Ops, job: &DeliveryJob, attempted: delivery::Attempted) {
    let at = ops.clock.now();
    let attempt = u32::try_from(job.attempt).unwrap_or(MAX_ATTEMPTS);
    let retry = match attempted.outcome {
        Outcome::Delivered | Outcome::Pending => None,
        Outcome::Failed => retry_delay(
            attempt,
            ops.config.webhooks.retry_base_seconds,
            MAX_ATTEMPTS,
        )
        .map(|delay| {
            let delay = time::Duration::seconds_f64(delay.min(86_400.0));
            (DeliveryId(Uuid::now_v7()), at + delay)
        }),
    };
    if attempted.outcome == Outcome::Failed {
        tracing::info!(
            webhook = %job.webhook_id,
            event = %job.event_id,
            attempt,
            status = ?attempted.status_code,
            error = ?attempted.error,
            retried = retry.is_some(),
            "webhook delivery failed"
        );
    }
    let result = AttemptResult {
        outcome: attempted.outcome,
        at,
        status_code: attempted.status_code,
        error: attempted.error,
        retry,
    };
    if let Err(error) = ops.store.finish_delivery(job, &result).await {
        // The claim lapses and the attempt is made again: at least once, never lost.
        tracing::warn!(%error, "could not record a webhook delivery");
    }
}
