//! Shipping `tracing` events to a [`LogStore`]: [`LogShipper`] and its [`LogShipLayer`].

mod config;
mod layer;
mod stats;
mod task;

use std::fmt;
use std::sync::{Arc, Mutex};

use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};

pub use config::{LogShipConfig, LogShipConfigError};
pub use layer::LogShipLayer;
pub use stats::ShipStats;

pub(crate) use layer::OWN_TARGET;
use layer::{Captured, ReadySignal};
use stats::Counters;
use task::{Control, Task};

use super::store::LogStore;
use crate::metrics::{MetricError, MetricsRegistry};

/// Why a [`LogShipper`] call did nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShipError {
    /// [`start`](LogShipper::start) was called outside a tokio runtime.
    #[error(
        "LogShipper::start needs a tokio runtime: call it inside one, or use start_on(handle, …)"
    )]
    NoRuntime,
    /// The shipping task was started before.
    #[error("the log shipper is already started")]
    AlreadyStarted,
    /// The shipping task was never started.
    #[error("the log shipper is not started: call LogShipper::start(store) first")]
    NotStarted,
    /// The shipping task has ended (shut down, or its runtime stopped).
    #[error("the log shipper has stopped")]
    Stopped,
}

/// Ships `tracing` events to a [`LogStore`] in batches, never blocking the application.
///
/// * [`new`](Self::new) needs no runtime and no store: build it with the subscriber,
///   first thing in `main`, and install [`layer`](Self::layer). Events are buffered from
///   then on (up to [`LogShipConfig::buffer`]; beyond, dropped and counted).
/// * [`start`](Self::start) spawns the shipping task on the current tokio runtime (or
///   [`start_on`](Self::start_on) a handle) once the store exists. The task runs on the
///   runtime that owns the store's connections rather than on a thread of its own:
///   PostgreSQL connections belong to the runtime that opened them, and a dedicated
///   thread would drive them from a foreign runtime and fail when the application's
///   runtime stops.
/// * [`flush`](Self::flush) writes what is buffered; [`shutdown`](Self::shutdown) stops
///   capturing and writes everything still buffered — call it before the runtime ends
///   (a runtime that is dropped cancels the task and loses what it had not written).
///
/// Clones share one shipper. Dropping every handle does not stop shipping while a layer
/// remains; the task ends at `shutdown`, or when handles and layers are all gone.
///
/// ```
/// use std::sync::Arc;
/// use platform_core::store::Store;
/// use platform_observe::logs::{LogQuery, LogShipConfig, LogShipper, LogStore, SqlLogStore};
/// use tracing_subscriber::layer::SubscriberExt;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let shipper = LogShipper::new(LogShipConfig::new("orders"))?;
/// let subscriber = tracing_subscriber::registry().with(shipper.layer());
/// let _guard = tracing::subscriber::set_default(subscriber);
///
/// let logs = Arc::new(SqlLogStore::new(Store::connect("sqlite::memory:").await?).await?);
/// shipper.start(logs.clone())?;
/// tracing::warn!(order_id = 7, "payment retried");
/// shipper.shutdown().await?; // writes everything buffered
///
/// let page = logs.search(&LogQuery::new().text("payment")?).await?;
/// assert_eq!(page.records[0].record.fields["order_id"], 7);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct LogShipper {
    inner: Arc<Inner>,
}

struct Inner {
    config: LogShipConfig,
    tx: mpsc::Sender<Captured>,
    rx: Mutex<Option<mpsc::Receiver<Captured>>>,
    control: Mutex<Option<mpsc::UnboundedSender<Control>>>,
    counters: Arc<Counters>,
    ready: Arc<ReadySignal>,
    exclude: Arc<[Box<str>]>,
}

impl fmt::Debug for LogShipper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogShipper")
            .field("service", &self.inner.config.service)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl LogShipper {
    /// A shipper with a validated `config`; the buffer exists from now on.
    pub fn new(config: LogShipConfig) -> Result<Self, LogShipConfigError> {
        config.validate()?;
        let (tx, rx) = mpsc::channel(config.buffer);
        let ready = Arc::new(ReadySignal::new(config.batch_size.min(config.buffer)));
        let exclude: Arc<[Box<str>]> = config
            .exclude_targets
            .iter()
            .map(|p| p.as_str().into())
            .chain([OWN_TARGET.into()])
            .collect();
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                tx,
                rx: Mutex::new(Some(rx)),
                control: Mutex::new(None),
                counters: Arc::default(),
                ready,
                exclude,
            }),
        })
    }

    /// The layer to install in the subscriber (clones share the buffer).
    pub fn layer(&self) -> LogShipLayer {
        LogShipLayer {
            tx: self.inner.tx.clone(),
            counters: Arc::clone(&self.inner.counters),
            ready: Arc::clone(&self.inner.ready),
            min_level: self.inner.config.min_level,
            exclude: Arc::clone(&self.inner.exclude),
        }
    }

    /// Spawns the shipping task on the current tokio runtime.
    pub fn start(&self, store: Arc<dyn LogStore>) -> Result<(), ShipError> {
        let handle = Handle::try_current().map_err(|_| ShipError::NoRuntime)?;
        self.start_on(&handle, store)
    }

    /// Spawns the shipping task on `handle`'s runtime.
    pub fn start_on(&self, handle: &Handle, store: Arc<dyn LogStore>) -> Result<(), ShipError> {
        let rx = lock(&self.inner.rx).take().ok_or(ShipError::AlreadyStarted)?;
        let (control_tx, control) = mpsc::unbounded_channel();
        *lock(&self.inner.control) = Some(control_tx);
        let task = Task {
            rx,
            control,
            store,
            config: self.inner.config.clone(),
            counters: Arc::clone(&self.inner.counters),
            ready: Arc::clone(&self.inner.ready),
        };
        handle.spawn(task.run());
        Ok(())
    }

    async fn request(&self, make: fn(oneshot::Sender<()>) -> Control) -> Result<(), ShipError> {
        let (ack, done) = oneshot::channel();
        let sent = match &*lock(&self.inner.control) {
            Some(control) => control.send(make(ack)).is_ok(),
            None => return Err(ShipError::NotStarted),
        };
        if !sent {
            return Err(ShipError::Stopped);
        }
        done.await.map_err(|_| ShipError::Stopped)
    }

    /// Writes every record buffered when it is called (or gives it up after the configured
    /// attempts, counting it as failed), then returns.
    pub async fn flush(&self) -> Result<(), ShipError> {
        self.request(Control::Flush).await
    }

    /// Stops capturing (later events count as `stopped` drops), writes everything still
    /// buffered, ends the task and returns the final counts. A second call returns
    /// [`ShipError::Stopped`].
    pub async fn shutdown(&self) -> Result<ShipStats, ShipError> {
        self.request(Control::Shutdown).await?;
        Ok(self.stats())
    }

    /// What the shipper has done so far.
    pub fn stats(&self) -> ShipStats {
        self.inner.counters.snapshot(Some(&self.inner.tx))
    }

    /// Exposes the counts in `registry`: `platform_logs_shipped_total`,
    /// `platform_logs_dropped_total{reason="buffer_full"|"stopped"|"store_failed"}` and
    /// `platform_logs_buffered`, read at scrape time (nothing is added to the event path).
    pub fn register_metrics(&self, registry: &MetricsRegistry) -> Result<(), MetricError> {
        registry.reserve(stats::METRIC_NAMES, &["reason"])?;
        registry.register(stats::ShipCollector {
            counters: Arc::clone(&self.inner.counters),
            tx: self.inner.tx.downgrade(),
        });
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
