//! The AuditLayer captures `target: "audit"` events (field names as platform-auth emits
//! them) with the request's trace id, never blocks the emitter, counts what it drops,
//! and works when built outside a tokio runtime.

mod audit_support;

use std::convert::Infallible;

use audit_support::backends;
use http::{Request, Response};
use platform_core::store::Store;
use platform_observe::audit::{
    AuditLayer, AuditLayerConfig, AuditLog, AuditQuery, AuditWriter, Order, Outcome,
};
use platform_observe::metrics::MetricsRegistry;
use platform_observe::trace::ServerTraceLayer;
use tower::{ServiceBuilder, ServiceExt, service_fn};
use tracing_subscriber::layer::SubscriberExt;

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

async fn entries(log: &AuditLog) -> Vec<platform_observe::audit::AuditEntry> {
    log.query(&AuditQuery::new().order(Order::Asc)).await.expect("query").entries
}

fn layer(log: &AuditLog, cfg: AuditLayerConfig) -> (AuditLayer, AuditWriter) {
    AuditLayer::new(log.clone(), cfg).expect("layer")
}

#[tokio::test]
async fn audit_events_are_captured_with_fields_and_trace_id() {
    for db in backends("audit_layer_capture").await {
        let (layer, writer) = layer(&db.log, AuditLayerConfig::default());
        let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));

        // Inside a request traced by ServerTraceLayer, as platform-auth's layers emit.
        let svc = ServiceBuilder::new().layer(ServerTraceLayer::new()).service(service_fn(
            |req: Request<()>| async move {
                tracing::warn!(
                    target: "audit",
                    event = "access_denied",
                    reason = "insufficient_scope",
                    sub = "eve",
                    required = "admin",
                    method = %req.method(),
                    path = req.uri().path(),
                    "access denied"
                );
                Ok::<_, Infallible>(Response::new(()))
            },
        ));
        let traceparent = format!("00-{TRACE}-00f067aa0ba902b7-01");
        let req = Request::get("/admin/keys").header("traceparent", traceparent).body(()).unwrap();
        svc.oneshot(req).await.unwrap();

        // A trace id carried by an enclosing span's field; explicit outcome and source.
        let span = tracing::info_span!("job", trace_id = "0af7651916cd43dd8448eb211c80319c");
        span.in_scope(|| {
            tracing::info!(target: "audit", action = "export", actor = "cron", resource = "orders",
                outcome = "error", source_addr = "10.1.2.3", rows = 5_u64, "export aborted");
        });
        // Not audit events.
        tracing::warn!(event = "access_denied", "plain log line");
        tracing::info!(target: "audit_extra", event = "x");
        // Without any trace, fields named as platform-auth's token issuer names them.
        tracing::info!(target: "audit", event = "token_issued", sub = "alice", jti = "j1", kid = "k1", "access token issued");

        writer.flush().await.expect("flush");
        let got = entries(&db.log).await;
        assert_eq!(got.len(), 3, "{}", db.name);

        let denied = &got[0].record;
        assert_eq!(denied.action, "access_denied");
        assert_eq!(denied.outcome, Outcome::Denied);
        assert_eq!(denied.actor.as_deref(), Some("eve"));
        assert_eq!(denied.resource.as_deref(), Some("/admin/keys"));
        assert_eq!(denied.reason.as_deref(), Some("insufficient_scope"));
        assert_eq!(denied.trace_id.as_deref(), Some(TRACE));
        assert_eq!(denied.extra["method"], "GET");
        assert_eq!(denied.extra["required"], "admin");
        assert_eq!(denied.extra["message"], "access denied");

        let export = &got[1].record;
        assert_eq!((export.action.as_str(), export.outcome), ("export", Outcome::Error));
        assert_eq!(export.actor.as_deref(), Some("cron"));
        assert_eq!(export.source_addr.as_deref(), Some("10.1.2.3"));
        assert_eq!(export.trace_id.as_deref(), Some("0af7651916cd43dd8448eb211c80319c"));
        assert_eq!(export.extra["rows"], 5);

        let issued = &got[2].record;
        assert_eq!((issued.action.as_str(), issued.outcome), ("token_issued", Outcome::Success));
        assert_eq!(issued.resource.as_deref(), Some("k1"));
        assert_eq!(issued.extra["jti"], "j1");
        assert_eq!(issued.trace_id, None);

        let stats = writer.stats();
        assert_eq!((stats.captured, stats.written, stats.dropped, stats.failed), (3, 3, 0, 0));
        assert!(db.log.verify().await.unwrap().valid);
        writer.shutdown().await.unwrap();
        db.cleanup().await;
    }
}

#[test]
fn a_full_buffer_drops_and_counts_without_blocking() {
    // The writer's runtime is not running while the events are emitted, so nothing
    // drains the buffer: emitting must still return at once.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("a.db").display());
    let log =
        rt.block_on(async { AuditLog::new(Store::connect(&url).await.unwrap()).await.unwrap() });
    let cfg = AuditLayerConfig { buffer: 3, ..Default::default() };
    let (layer, writer) = AuditLayer::with_runtime(log.clone(), cfg, rt.handle()).unwrap();
    let registry = MetricsRegistry::new();
    writer.register_metrics(&registry).unwrap();
    assert!(writer.register_metrics(&registry).is_err(), "names are taken once");

    let subscriber = tracing_subscriber::registry().with(layer.clone());
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..10 {
            tracing::info!(target: "audit", event = "burst", i);
        }
    });
    let stats = layer.stats();
    assert_eq!((stats.captured, stats.dropped, stats.written), (10, 7, 0));

    rt.block_on(writer.shutdown()).unwrap();
    let stats = writer.stats();
    assert_eq!((stats.written, stats.dropped, stats.failed), (3, 7, 0));
    let got = rt.block_on(entries(&log));
    let kept: Vec<_> = got.iter().map(|e| e.record.extra["i"].as_u64().unwrap()).collect();
    assert_eq!(kept, [0, 1, 2], "the first three fit in the buffer");

    // After shutdown, captured records are dropped (and counted), never queued forever.
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::info!(target: "audit", event = "late");
    });
    assert_eq!(writer.stats().dropped, 8);
    assert!(matches!(
        rt.block_on(writer.flush()),
        Err(platform_observe::audit::AuditError::WriterStopped)
    ));
    let exposition = registry.encode();
    assert!(exposition.contains("audit_records_dropped_total 8"), "{exposition}");
    assert!(exposition.contains("audit_records_written_total 3"), "{exposition}");
}

#[test]
fn built_outside_a_runtime_the_writer_runs_on_its_own_thread() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("a.db").display());
    let log =
        rt.block_on(async { AuditLog::new(Store::connect(&url).await.unwrap()).await.unwrap() });
    assert!(tokio::runtime::Handle::try_current().is_err());
    let (layer, writer) = AuditLayer::new(log.clone(), AuditLayerConfig::default()).unwrap();

    let subscriber = tracing_subscriber::registry().with(layer.clone());
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(target: "audit", event = "startup", actor = "ops");
    });
    // Flushing works from any runtime: the channels are runtime-independent.
    rt.block_on(writer.flush()).unwrap();
    assert_eq!(rt.block_on(entries(&log)).len(), 1);

    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::info!(target: "audit", event = "shutdown", actor = "ops");
    });
    writer.shutdown_blocking().unwrap();
    let got = rt.block_on(entries(&log));
    let actions: Vec<_> = got.iter().map(|e| e.record.action.as_str()).collect();
    assert_eq!(actions, ["startup", "shutdown"]);
    assert!(rt.block_on(log.verify()).unwrap().valid);
}

#[tokio::test]
async fn a_batch_that_cannot_be_written_is_counted_as_failed() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("a.db").display());
    let log = AuditLog::new(Store::connect(&url).await.unwrap()).await.unwrap();
    let cfg = AuditLayerConfig {
        write_attempts: 2,
        retry_backoff: std::time::Duration::from_millis(1),
        ..Default::default()
    };
    let (layer, writer) = layer(&log, cfg);
    log.store().close().await;
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::info!(target: "audit", event = "lost");
        tracing::info!(target: "audit", event = "lost");
    });
    writer.flush().await.expect("flush answers after the attempts");
    let stats = writer.stats();
    assert_eq!((stats.captured, stats.written, stats.failed), (2, 0, 2));
}
