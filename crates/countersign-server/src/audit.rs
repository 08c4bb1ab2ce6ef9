//! The audit sink: events are queued by request handlers and written in batches by one
//! background task, off the request path. Shutdown drains the queue before returning.

use countersign_store::{AuditEvent, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

/// Events queued beyond this make senders wait (back-pressure instead of loss).
const QUEUE_CAPACITY: usize = 65_536;
/// Largest batch written in one transaction.
const BATCH: usize = 1_000;

/// Queues audit events for the background writer.
#[derive(Clone, Debug)]
pub struct AuditSink {
    sender: mpsc::Sender<AuditEvent>,
    close: Arc<Notify>,
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
        let handle = tokio::spawn(write_batches(store, receiver, close.clone()));
        (Self { sender, close }, AuditWriter { handle })
    }

    /// Queues an event; waits only when the queue is full.
    pub async fn record(&self, event: AuditEvent) {
        if self.sender.send(event).await.is_err() {
            tracing::error!("audit writer has stopped; event dropped");
        }
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

async fn write_batches(store: Store, mut receiver: mpsc::Receiver<AuditEvent>, close: Arc<Notify>) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut closing = false;
    loop {
        let received = if closing {
            receiver.recv_many(&mut batch, BATCH).await
        } else {
            tokio::select! {
                received = receiver.recv_many(&mut batch, BATCH) => received,
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
        let mut attempt = 0u32;
        loop {
            match store.insert_audit_events(&batch).await {
                Ok(()) => break,
                Err(error) if attempt < 20 => {
                    attempt += 1;
                    tracing::warn!(error = %error, attempt, "audit batch write failed; retrying");
                    tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
                }
                Err(error) => {
                    tracing::error!(error = %error, events = batch.len(), "audit batch lost after retries");
                    break;
                }
            }
        }
        batch.clear();
    }
}
