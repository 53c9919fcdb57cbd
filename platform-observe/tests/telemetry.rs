//! One-call telemetry: works with and without a tokio runtime, validates its config,
//! and puts the trace id on every log line.

use std::convert::Infallible;

use http::{Request, Response};
use platform_core::test_util::LogCapture;
use platform_observe::telemetry::{LogFormat, build, build_with_writer};
use platform_observe::trace::{ServerTraceLayer, TraceContext};
use platform_observe::{InitError, TelemetryConfig};
use tower::{ServiceBuilder, ServiceExt, service_fn};

/// OTLP on (when compiled in) towards a port nothing listens on: exports fail, nothing panics.
fn config() -> TelemetryConfig {
    let mut cfg = TelemetryConfig { service_name: "telemetry-test".into(), ..Default::default() };
    cfg.otlp.enabled = cfg!(feature = "otlp");
    cfg.otlp.endpoint = "http://127.0.0.1:9".into();
    cfg.otlp.timeout = std::time::Duration::from_millis(200);
    cfg
}

#[test]
fn init_outside_a_runtime_then_refuses_a_second_init() {
    let guard = platform_observe::init(config()).unwrap();
    tracing::info_span!("outside").in_scope(|| tracing::info!("no runtime here"));
    assert!(guard.metrics().encode().contains("process_cpu_seconds_total"));
    assert!(!guard.metrics().encode().contains("tokio_workers"), "no runtime to sample");
    assert!(matches!(platform_observe::init(config()), Err(InitError::AlreadyInitialized)));
    guard.flush();
    drop(guard);
}

#[tokio::test]
async fn build_inside_a_current_thread_runtime() {
    let (dispatch, guard) = build(&config()).unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info_span!("inside").in_scope(|| tracing::warn!("in a runtime"));
    });
    assert!(guard.metrics().encode().contains("tokio_workers 1"));
    drop(guard);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn build_inside_a_multi_thread_runtime_and_shut_down() {
    let (dispatch, guard) = build(&config()).unwrap();
    tracing::dispatcher::with_default(&dispatch, || tracing::info!("multi-thread"));
    #[cfg(feature = "otlp")]
    assert!(
        guard
            .metrics()
            .encode()
            .contains("platform_telemetry_export_dropped_total{signal=\"traces\"} 0")
    );
    guard.shutdown();
}

async fn log_a_request(format: LogFormat) -> (String, String) {
    let out = LogCapture::new();
    let cfg = TelemetryConfig { format, otlp: Default::default(), use_rust_log: false, ..config() };
    let (dispatch, _guard) = build_with_writer(&cfg, out.clone()).unwrap();
    let _default = tracing::dispatcher::set_default(&dispatch);
    let svc = ServiceBuilder::new().layer(ServerTraceLayer::new()).service(service_fn(
        |_req: Request<()>| async {
            tracing::info!("handling");
            tracing::info_span!("db.query").in_scope(|| tracing::info!("nested span event"));
            Ok::<_, Infallible>(Response::new(
                TraceContext::current_trace_id().unwrap().to_string(),
            ))
        },
    ));
    let id = svc.oneshot(Request::get("/").body(()).unwrap()).await.unwrap().into_body();
    (id, out.text())
}

#[tokio::test]
async fn every_json_line_of_a_request_carries_its_trace_id() {
    let (id, text) = log_a_request(LogFormat::Json).await;
    let lines: Vec<serde_json::Value> =
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2, "{text}");
    for line in &lines {
        let spans = line["spans"].as_array().unwrap();
        assert_eq!(spans[0]["trace_id"], id.as_str(), "{line}");
    }
}

#[tokio::test]
async fn pretty_lines_show_the_trace_id() {
    let (id, text) = log_a_request(LogFormat::Pretty).await;
    assert_eq!(text.matches(&format!("trace_id: {id}")).count(), 2, "{text}");
}

#[test]
fn config_errors_name_the_field() {
    let err = |json: &str| {
        let cfg: TelemetryConfig = serde_json::from_str(json).unwrap();
        match cfg.validate() {
            Err(InitError::Config { field, .. }) => field,
            other => panic!("expected a config error, got {other:?}"),
        }
    };
    assert_eq!(err(r#"{"filter": "info,[bad"}"#), "filter");
    assert_eq!(err(r#"{"service_name": " "}"#), "service_name");
    if cfg!(feature = "otlp") {
        assert_eq!(
            err(r#"{"otlp": {"enabled": true, "endpoint": "collector:4318"}}"#),
            "otlp.endpoint"
        );
        assert_eq!(err(r#"{"otlp": {"enabled": true, "batch_size": 5000}}"#), "otlp.batch_size");
        assert_eq!(err(r#"{"otlp": {"enabled": true, "sample_ratio": 2.0}}"#), "otlp.sample_ratio");
    } else {
        assert_eq!(err(r#"{"otlp": {"enabled": true}}"#), "otlp.enabled");
    }
    assert!(serde_json::from_str::<TelemetryConfig>(r#"{"fromat": "json"}"#).is_err());
}

#[test]
fn extra_layers_see_events_the_log_filter_drops() {
    use tracing_subscriber::Layer;
    use tracing_subscriber::filter::Targets;

    let (log, audit) = (LogCapture::new(), LogCapture::new());
    let cfg = TelemetryConfig {
        filter: "warn".into(),
        use_rust_log: false,
        otlp: Default::default(),
        ..config()
    };
    let audit_layer = tracing_subscriber::fmt::layer()
        .with_writer(audit.clone())
        .with_filter(Targets::new().with_target("audit", tracing::Level::INFO));
    let (dispatch, _guard) = platform_observe::telemetry::build_with_layers(
        &cfg,
        log.clone(),
        vec![Box::new(audit_layer)],
    )
    .unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info!(target: "audit", event = "login_succeeded", "audit event");
        tracing::info!("an info line the warn filter drops");
        tracing::warn!("a warning");
    });
    let (log, audit) = (log.text(), audit.text());
    assert!(log.contains("a warning") && !log.contains("audit event"), "{log}");
    assert!(!log.contains("info line"), "{log}");
    assert!(audit.contains("login_succeeded") && !audit.contains("a warning"), "{audit}");
}
