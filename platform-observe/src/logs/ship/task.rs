//! The shipping task: batches captured events by size and time and writes them to the
//! store, retrying a failed batch before giving it up.

use std::cell::Cell;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::layer::{Captured, OWN_TARGET, ReadySignal};
use super::{Counters, LogShipConfig};
use crate::logs::record::LogRecord;
use crate::logs::store::LogStore;

thread_local! {
    static SHIPPING: Cell<bool> = const { Cell::new(false) };
}

/// `true` while this thread polls a store call of the shipping task: whatever that call
/// logs (its driver, its HTTP client) must not be captured, or shipping would feed itself.
pub(super) fn in_shipping_task() -> bool {
    SHIPPING.with(Cell::get)
}

pin_project_lite::pin_project! {
    /// Marks the thread as shipping while `inner` is polled.
    struct Shipping<F> {
        #[pin]
        inner: F,
    }
}

impl<F: Future> Future for Shipping<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let prev = SHIPPING.with(|s| s.replace(true));
        let out = self.project().inner.poll(cx);
        SHIPPING.with(|s| s.set(prev));
        out
    }
}

/// Requests from [`LogShipper`](super::LogShipper) handles.
#[derive(Debug)]
pub(super) enum Control {
    /// Write everything buffered now, then answer.
    Flush(oneshot::Sender<()>),
    /// Stop accepting, write everything buffered, answer and end.
    Shutdown(oneshot::Sender<()>),
}

pub(super) struct Task {
    pub(super) rx: mpsc::Receiver<Captured>,
    pub(super) control: mpsc::UnboundedReceiver<Control>,
    pub(super) store: Arc<dyn LogStore>,
    pub(super) config: LogShipConfig,
    pub(super) counters: Arc<Counters>,
    pub(super) ready: Arc<ReadySignal>,
}

impl Task {
    /// Batches by size and time. While a partial batch waits, the task does not listen to
    /// the buffer (so emitters do not wake it for each event): it waits for the batch's
    /// deadline or for the emitters' signal that a full batch is queued.
    pub(super) async fn run(mut self) {
        let max = self.config.batch_size;
        let mut batch: Vec<Captured> = Vec::with_capacity(max);
        let mut deadline: Option<Instant> = None;
        let mut control_open = true;
        loop {
            let room = max - batch.len();
            tokio::select! {
                biased;
                ctl = self.control.recv(), if control_open => match ctl {
                    Some(Control::Flush(ack)) => {
                        // What was buffered when the flush arrived; later records wait.
                        self.take(&mut batch).await;
                        self.write(&mut batch).await;
                        deadline = None;
                        let _ = ack.send(());
                    }
                    Some(Control::Shutdown(ack)) => {
                        self.drain(&mut batch).await;
                        let _ = ack.send(());
                        return;
                    }
                    // Every handle is gone: keep shipping for the layers that remain.
                    None => control_open = false,
                },
                n = self.rx.recv_many(&mut batch, room), if deadline.is_none() => {
                    if n == 0 {
                        // Every sender (layers and handles) is gone.
                        self.write(&mut batch).await;
                        return;
                    }
                    deadline = Some(Instant::now() + self.config.batch_delay);
                    self.take(&mut batch).await;
                }
                () = self.ready.notify.notified(), if deadline.is_some() => {
                    self.take(&mut batch).await;
                }
                () = sleep_until(deadline), if deadline.is_some() => {
                    self.take(&mut batch).await;
                    self.write(&mut batch).await;
                    deadline = None;
                }
            }
            if batch.is_empty() {
                deadline = None;
            }
        }
    }

    /// Moves what the buffer holds now into `batch`, writing every full batch on the way;
    /// `batch` is left holding less than a full batch.
    async fn take(&mut self, batch: &mut Vec<Captured>) {
        self.ready.rearm();
        let mut left = self.rx.len();
        loop {
            if batch.len() >= self.config.batch_size {
                self.write(batch).await;
            }
            if left == 0 {
                break;
            }
            let Ok(c) = self.rx.try_recv() else { break };
            batch.push(c);
            left -= 1;
        }
        self.counters.set_in_batch(batch.len() as u64);
    }

    /// Closes the buffer (later events count as dropped) and writes what it holds.
    async fn drain(&mut self, batch: &mut Vec<Captured>) {
        self.counters.stop();
        self.rx.close();
        while let Some(c) = self.rx.recv().await {
            batch.push(c);
            if batch.len() >= self.config.batch_size {
                self.write(batch).await;
            }
        }
        self.write(batch).await;
    }

    /// Writes `batch` (emptying it), retrying with doubling delays; a batch that fails
    /// every attempt is counted as failed and reported once on the shipper's own target.
    async fn write(&mut self, batch: &mut Vec<Captured>) {
        if batch.is_empty() {
            return;
        }
        let n = batch.len() as u64;
        self.counters.set_in_batch(n);
        let service = self.config.service.as_str();
        let records: Vec<LogRecord> = batch.drain(..).map(|c| record(c, service)).collect();
        let mut delay = self.config.retry_delay;
        let mut attempt = 1;
        loop {
            match (Shipping { inner: self.store.append(&records) }).await {
                Ok(()) => {
                    self.counters.shipped(n);
                    break;
                }
                Err(e) if attempt < self.config.write_attempts => {
                    tracing::debug!(target: OWN_TARGET, attempt, error = %e, "log batch write failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = delay.saturating_mul(2).min(Duration::from_secs(30));
                    attempt += 1;
                }
                Err(e) => {
                    self.counters.failed(n);
                    tracing::warn!(
                        target: OWN_TARGET,
                        records = n,
                        attempts = attempt,
                        error = %e,
                        "log batch dropped: the log store refused it on every attempt"
                    );
                    break;
                }
            }
        }
        self.counters.set_in_batch(0);
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    if let Some(d) = deadline {
        tokio::time::sleep_until(d).await;
    }
}

fn record(c: Captured, service: &str) -> LogRecord {
    LogRecord {
        time: c.time,
        level: c.level,
        target: c.target.to_owned(),
        service: service.to_owned(),
        message: c.message,
        fields: c.fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        trace_id: c.trace_id,
        span_id: c.span_id,
    }
}
