//! The shipping layer: never blocks the emitting code and counts what it drops, loses
//! nothing buffered at shutdown, carries the trace id of the current span, never ships
//! what the store itself logs, and buffers events emitted before any runtime exists.

mod log_support;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use http::{Request, Response};
use log_support::sqlite_logs;
use platform_observe::logs::{
    LogLevel, LogPage, LogQuery, LogRecord, LogShipConfig, LogShipper, LogStore, LogStoreError,
    RetentionPolicy, RetentionReport, ShipError, SqlLogStore,
};
use platform_observe::metrics::MetricsRegistry;
use platform_observe::trace::{ServerTraceLayer, TraceContext};
use tokio::sync::{Notify, watch};
use tower::{ServiceBuilder, ServiceExt, service_fn};
use tracing_subscriber::layer::SubscriberExt;

/// Records everything appended; blocks each append until the gate opens.
struct GatedStore {
    entered: Notify,
    open: watch::Sender<bool>,
    records: Mutex<Vec<LogRecord>>,
    batches: Mutex<Vec<usize>>,
}

impl GatedStore {
    fn new(open: bool) -> Arc<Self> {
        Arc::new(Self {
            entered: Notify::new(),
            open: watch::channel(open).0,
            records: Mutex::default(),
            batches: Mutex::default(),
        })
    }

    fn batches(&self) -> Vec<usize> {
        self.batches.lock().unwrap().clone()
    }

    fn messages(&self) -> Vec<String> {
        self.records.lock().unwrap().iter().map(|r| r.message.clone()).collect()
    }
}

#[async_trait]
impl LogStore for GatedStore {
    async fn append(&self, batch: &[LogRecord]) -> Result<(), LogStoreError> {
        // Anything logged here runs inside the shipping task: it must not be shipped.
        tracing::warn!(target: "app::store", records = batch.len(), "store writing a batch");
        self.entered.notify_one();
        let _ = self.open.subscribe().wait_for(|open| *open).await;
        self.records.lock().unwrap().extend_from_slice(batch);
        self.batches.lock().unwrap().push(batch.len());
        Ok(())
    }

    async fn search(&self, _: &LogQuery) -> Result<LogPage, LogStoreError> {
        Err(LogStoreError::Unsupported("test store".into()))
    }

    async fn enforce_retention(
        &self,
        _: &RetentionPolicy,
        _: SystemTime,
    ) -> Result<RetentionReport, LogStoreError> {
        Err(LogStoreError::Unsupported("test store".into()))
    }
}

fn install(shipper: &LogShipper) -> tracing::subscriber::DefaultGuard {
    tracing::subscriber::set_default(tracing_subscriber::registry().with(shipper.layer()))
}

#[tokio::test]
async fn a_full_buffer_drops_and_counts_instead_of_blocking() {
    let cfg = LogShipConfig { buffer: 16, batch_size: 1, ..LogShipConfig::new("svc") };
    let shipper = LogShipper::new(cfg).unwrap();
    let registry = MetricsRegistry::new();
    shipper.register_metrics(&registry).unwrap();
    let _sub = install(&shipper);
    let store = GatedStore::new(false);
    shipper.start(store.clone()).unwrap();

    tracing::info!("first");
    // The task took "first" and is stuck in the store.
    store.entered.notified().await;
    // This runtime has one thread: had an event waited for room, the test would hang here.
    for i in 0..66 {
        tracing::info!(i, "burst {i}");
    }
    let stats = shipper.stats();
    assert_eq!(stats.dropped_buffer_full, 50, "{stats:?}");
    assert_eq!(stats.buffered, 17, "16 queued + 1 being written: {stats:?}");
    assert_eq!(stats.shipped, 0);
    let text = registry.encode();
    assert!(text.contains(r#"platform_logs_dropped_total{reason="buffer_full"} 50"#), "{text}");
    assert!(text.contains("platform_logs_buffered 17"), "{text}");

    store.open.send_replace(true);
    shipper.flush().await.unwrap();
    let stats = shipper.stats();
    assert_eq!((stats.shipped, stats.buffered, stats.dropped()), (17, 0, 50), "{stats:?}");
    let expected: Vec<String> =
        std::iter::once("first".to_owned()).chain((0..16).map(|i| format!("burst {i}"))).collect();
    assert_eq!(store.messages(), expected);
    assert!(registry.encode().contains("platform_logs_shipped_total 17"));
}

/// Lets the shipping task run without letting paused time auto-advance.
async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn full_batches_go_at_once_partial_ones_after_the_delay() {
    let cfg = LogShipConfig {
        batch_size: 4,
        batch_delay: Duration::from_secs(1),
        ..LogShipConfig::new("svc")
    };
    let shipper = LogShipper::new(cfg).unwrap();
    let _sub = install(&shipper);
    let store = GatedStore::new(true);
    shipper.start(store.clone()).unwrap();

    (0..3).for_each(|i| tracing::info!("partial {i}"));
    settle().await;
    tokio::time::advance(Duration::from_millis(999)).await;
    settle().await;
    assert!(store.batches().is_empty(), "a partial batch waits for the delay");
    tokio::time::advance(Duration::from_millis(2)).await;
    settle().await;
    assert_eq!(store.batches(), [3]);

    (0..9).for_each(|i| tracing::info!("burst {i}"));
    settle().await;
    assert_eq!(store.batches(), [3, 4, 4], "full batches are written without waiting");
    tokio::time::advance(Duration::from_secs(1)).await;
    settle().await;
    assert_eq!(store.batches(), [3, 4, 4, 1]);
    assert_eq!(shipper.stats().shipped, 12);
}

#[tokio::test]
async fn shutdown_writes_everything_buffered_then_counts_later_events() {
    // Batches would wait an hour or 100 000 records: only shutdown writes them.
    let cfg = LogShipConfig {
        batch_size: 100_000,
        batch_delay: Duration::from_secs(3600),
        buffer: 4096,
        ..LogShipConfig::new("svc")
    };
    let shipper = LogShipper::new(cfg).unwrap();
    let (logs, _dir) = sqlite_logs().await;
    let _sub = install(&shipper);
    shipper.start(Arc::new(logs.clone())).unwrap();
    for i in 0..3000 {
        tracing::info!(i, "event {i}");
    }
    let stats = shipper.shutdown().await.unwrap();
    assert_eq!((stats.shipped, stats.dropped(), stats.buffered), (3000, 0, 0), "{stats:?}");
    assert!(stats.stopped);
    assert_eq!(logs.count().await.unwrap(), 3000);

    tracing::error!("after shutdown");
    assert_eq!(shipper.stats().dropped_stopped, 1);
    assert_eq!(shipper.flush().await, Err(ShipError::Stopped));
    assert_eq!(shipper.shutdown().await, Err(ShipError::Stopped));
}

#[tokio::test]
async fn records_carry_the_trace_and_span_of_the_current_request() {
    let shipper = LogShipper::new(LogShipConfig::new("orders")).unwrap();
    let _sub = install(&shipper);
    let store = GatedStore::new(true);
    shipper.start(store.clone()).unwrap();

    let svc = ServiceBuilder::new().layer(ServerTraceLayer::new()).service(service_fn(
        |_req: Request<()>| async {
            tracing::info!("in handler");
            let child = tracing::info_span!("db.query", table = "orders");
            child.in_scope(|| tracing::info!("in child span"));
            let ctx = TraceContext::current().expect("set by the server layer");
            Ok::<_, Infallible>(Response::new(ctx.span_id.to_string()))
        },
    ));
    let req = Request::get("/orders/1")
        .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        .body(())
        .unwrap();
    let server_span = svc.oneshot(req).await.unwrap().into_body();

    let root = TraceContext::new_root();
    let root_trace = root.trace_id;
    root.scope(async { tracing::info!("in a scoped task") }).await;
    tracing::info!("outside any trace");
    shipper.flush().await.unwrap();

    let records = store.records.lock().unwrap().clone();
    let by = |m: &str| records.iter().find(|r| r.message == m).unwrap_or_else(|| panic!("{m}"));
    for m in ["in handler", "in child span"] {
        let r = by(m);
        assert_eq!(r.trace_id.unwrap().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736", "{m}");
        assert_eq!(r.span_id.unwrap().to_string(), server_span, "{m}");
        assert_eq!((r.service.as_str(), r.level), ("orders", LogLevel::Info));
        assert_eq!(r.target, module_path!());
    }
    assert_eq!(by("in a scoped task").trace_id, Some(root_trace));
    assert_eq!(by("outside any trace").trace_id, None);
}

#[tokio::test]
async fn what_the_store_and_its_driver_log_is_never_shipped() {
    // Everything down to TRACE is captured, sqlx's statement logs included if they came.
    let cfg = LogShipConfig { min_level: LogLevel::Trace, ..LogShipConfig::new("svc") };
    let shipper = LogShipper::new(cfg).unwrap();
    let (logs, _dir) = sqlite_logs().await;
    let _sub = install(&shipper);
    let gated = GatedStore::new(true);
    let both = Arc::new(Tee { sql: logs.clone(), gated: gated.clone() });
    shipper.start(both).unwrap();

    tracing::debug!(field = "x", "one");
    tracing::trace!("two");
    tracing::info!(target: "sqlx::query", "an application sqlx line, excluded by target");
    for _ in 0..3 {
        shipper.flush().await.unwrap();
    }
    assert_eq!(gated.messages(), ["one", "two"]);
    assert_eq!(logs.count().await.unwrap(), 2);
    assert_eq!(shipper.stats().shipped, 2);
}

/// Writes to a SQL store and the gated store (which logs on each write).
struct Tee {
    sql: SqlLogStore,
    gated: Arc<GatedStore>,
}

#[async_trait]
impl LogStore for Tee {
    async fn append(&self, batch: &[LogRecord]) -> Result<(), LogStoreError> {
        self.sql.append(batch).await?;
        self.gated.append(batch).await
    }
    async fn search(&self, q: &LogQuery) -> Result<LogPage, LogStoreError> {
        self.sql.search(q).await
    }
    async fn enforce_retention(
        &self,
        p: &RetentionPolicy,
        now: SystemTime,
    ) -> Result<RetentionReport, LogStoreError> {
        self.sql.enforce_retention(p, now).await
    }
}

#[test]
fn events_emitted_before_any_runtime_exists_are_shipped_once_started() {
    let shipper = LogShipper::new(LogShipConfig::new("early")).unwrap();
    let _sub = install(&shipper);
    tracing::warn!("configuration loaded"); // no runtime, no store yet
    tracing::info!("starting");

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        assert_eq!(shipper.flush().await, Err(ShipError::NotStarted));
        let (logs, _dir) = sqlite_logs().await;
        shipper.start(Arc::new(logs.clone())).unwrap();
        assert_eq!(shipper.start(Arc::new(logs.clone())), Err(ShipError::AlreadyStarted));
        shipper.shutdown().await.unwrap();
        let page = logs.search(&LogQuery::new().service("early")).await.unwrap();
        let got: Vec<_> = page.records.iter().map(|e| e.record.message.as_str()).collect();
        // The store's own start-up lines (migrations) are application events too.
        assert!(got.contains(&"configuration loaded") && got.contains(&"starting"), "{got:?}");
    });
}
