//! The background writer: [`AuditWriter`] and the task that appends batches.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::stats::{self, AuditStats, Counters};
use crate::audit::error::full_message;
use crate::audit::{AuditError, AuditLog, AuditRecord};
use crate::metrics::{MetricError, MetricsRegistry};

/// What travels from the layer to the writer, in order.
#[derive(Debug)]
pub(crate) enum Msg {
    Record(AuditRecord),
    /// Answered once every earlier record is written (or counted as failed).
    Flush(oneshot::Sender<()>),
    /// Like `Flush`, then the writer stops taking records and ends.
    Shutdown(oneshot::Sender<()>),
}

/// The writer's settings, copied from the layer config.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WriteSettings {
    pub(crate) batch_size: usize,
    pub(crate) attempts: u32,
    pub(crate) backoff: Duration,
}

/// The handle of an [`AuditLayer`](super::AuditLayer)'s background writer: flush,
/// shut down, read the counters. Clones share the writer.
#[derive(Debug, Clone)]
pub struct AuditWriter {
    pub(crate) tx: mpsc::Sender<Msg>,
    pub(crate) counters: Arc<Counters>,
}

impl AuditWriter {
    /// Waits until every record captured before this call is written (or, after every
    /// attempt failed, counted in [`AuditStats::failed`]).
    pub async fn flush(&self) -> Result<(), AuditError> {
        self.request(Msg::Flush).await
    }

    /// Writes what is buffered, then stops the writer; records captured afterwards are
    /// dropped (and counted). Call it before the process exits.
    pub async fn shutdown(&self) -> Result<(), AuditError> {
        self.request(Msg::Shutdown).await
    }

    /// [`shutdown`](Self::shutdown) for synchronous code (the end of a non-async
    /// `main`).
    ///
    /// # Panics
    /// When called on a thread that is running an async runtime (use `shutdown().await`).
    pub fn shutdown_blocking(&self) -> Result<(), AuditError> {
        let (ack, done) = oneshot::channel();
        self.tx.blocking_send(Msg::Shutdown(ack)).map_err(|_| AuditError::WriterStopped)?;
        done.blocking_recv().map_err(|_| AuditError::WriterStopped)
    }

    /// The counters so far.
    pub fn stats(&self) -> AuditStats {
        self.counters.snapshot()
    }

    /// Exposes the counters in `registry` as `audit_records_captured_total`,
    /// `audit_records_written_total`, `audit_records_dropped_total` and
    /// `audit_records_failed_total`. Fails when the names are taken (register once).
    pub fn register_metrics(&self, registry: &MetricsRegistry) -> Result<(), MetricError> {
        stats::register(registry, &self.counters)
    }

    async fn request(&self, msg: fn(oneshot::Sender<()>) -> Msg) -> Result<(), AuditError> {
        let (ack, done) = oneshot::channel();
        self.tx.send(msg(ack)).await.map_err(|_| AuditError::WriterStopped)?;
        done.await.map_err(|_| AuditError::WriterStopped)
    }
}

/// Receives until shut down (or until every sender is gone), appending in batches.
pub(crate) async fn run(
    log: AuditLog,
    mut rx: mpsc::Receiver<Msg>,
    counters: Arc<Counters>,
    settings: WriteSettings,
) {
    let mut msgs = Vec::with_capacity(settings.batch_size);
    let mut batch = Vec::with_capacity(settings.batch_size);
    let mut stopped = Vec::new();
    while rx.recv_many(&mut msgs, settings.batch_size).await > 0 {
        for msg in msgs.drain(..) {
            match msg {
                Msg::Record(r) => batch.push(r),
                Msg::Flush(ack) => {
                    write(&log, &mut batch, &counters, settings).await;
                    let _ = ack.send(());
                }
                Msg::Shutdown(ack) => {
                    // What is already queued is still received, then `recv_many` ends.
                    rx.close();
                    stopped.push(ack);
                }
            }
        }
        write(&log, &mut batch, &counters, settings).await;
    }
    for ack in stopped {
        let _ = ack.send(());
    }
}

/// Appends `batch` (emptying it), retrying with backoff; counts the outcome.
async fn write(
    log: &AuditLog,
    batch: &mut Vec<AuditRecord>,
    counters: &Counters,
    settings: WriteSettings,
) {
    let mut attempt = 1;
    while !batch.is_empty() {
        match log.append_slice(batch).await {
            Ok(_) => {
                Counters::add(&counters.written, batch.len());
                batch.clear();
            }
            Err(AuditError::InvalidRecord { index, field, problem }) => {
                // The layer cleans what it captures, so this is a bug; lose one record only.
                tracing::warn!(
                    target: "platform::observe::audit",
                    field, problem, "audit record refused by the log; dropped"
                );
                batch.remove(index);
                Counters::add(&counters.failed, 1);
            }
            Err(e) if attempt < settings.attempts => {
                let pause = settings.backoff.saturating_mul(1 << (attempt - 1).min(16));
                tracing::warn!(
                    target: "platform::observe::audit",
                    error = %full_message(&e), attempt, retry_in = ?pause, "audit batch not written; retrying"
                );
                tokio::time::sleep(pause).await;
                attempt += 1;
            }
            Err(e) => {
                tracing::error!(
                    target: "platform::observe::audit",
                    error = %full_message(&e), records = batch.len(), attempts = attempt,
                    "audit records lost: the batch could not be written"
                );
                Counters::add(&counters.failed, batch.len());
                batch.clear();
            }
        }
    }
}
