//! The `/metrics` exposition of an axum service: parsed by a Prometheus text-format
//! parser, and checked by `promtool check metrics` when promtool is installed.
#![cfg(feature = "axum")]

use std::io::Write;
use std::process::{Command, Stdio};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::Request;
use http_body_util::BodyExt;
use platform_observe::metrics::{
    CONTENT_TYPE, MetricsLayer, MetricsRegistry, ProcessCollector, RuntimeCollector, metrics_router,
};
use tower::ServiceExt;

async fn body(res: http::Response<Body>) -> String {
    String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

async fn scrape() -> String {
    let registry = MetricsRegistry::new();
    registry.register(ProcessCollector);
    registry.register(RuntimeCollector::current().unwrap());
    let app = Router::new()
        .route("/users", get(|| async { "users" }))
        .route("/users/{id}", get(|| async { "user" }))
        .route("/fail", get(|| async { (http::StatusCode::INTERNAL_SERVER_ERROR, "no") }))
        // `Router::layer` wraps the routes and fallback added before it: add the fallback
        // first so unmatched requests are counted too.
        .fallback(|| async { http::StatusCode::NOT_FOUND })
        .layer(MetricsLayer::new(&registry).unwrap())
        .merge(metrics_router(registry.clone()));
    for uri in ["/users", "/users", "/users/1", "/fail", "/nope/42"] {
        app.clone().oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
    }
    let res = app.oneshot(Request::get("/metrics").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(res.headers()[http::header::CONTENT_TYPE], CONTENT_TYPE);
    body(res).await
}

#[tokio::test]
async fn exposition_parses_with_the_expected_samples() {
    let text = scrape().await;
    // prometheus-parse's sample regex stops label values at the first `}`, so the
    // `/users/{id}` series is checked as text; everything else goes through the parser.
    assert!(text.contains(
        r#"http_server_requests_total{route="/users/{id}",method="GET",status="2xx"} 1"#
    ));
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    let value = |name: &str, labels: &[(&str, &str)]| {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| s.value.clone())
    };
    assert_eq!(
        value(
            "http_server_requests_total",
            &[("route", "/users"), ("method", "GET"), ("status", "2xx")]
        ),
        Some(prometheus_parse::Value::Counter(2.0))
    );
    assert_eq!(
        value("http_server_requests_total", &[("route", "/fail"), ("status", "5xx")]),
        Some(prometheus_parse::Value::Counter(1.0))
    );
    assert_eq!(
        value("http_server_requests_total", &[("route", "unmatched"), ("status", "4xx")]),
        Some(prometheus_parse::Value::Counter(1.0))
    );
    match value("http_server_request_duration_seconds", &[("route", "/users")]) {
        Some(prometheus_parse::Value::Histogram(buckets)) => {
            assert_eq!(buckets.last().unwrap().count, 2.0);
            assert!(buckets.last().unwrap().less_than.is_infinite());
        }
        other => panic!("expected a histogram, got {other:?}"),
    }
    assert!(value("process_resident_memory_bytes", &[]).is_some());
    assert!(value("tokio_workers", &[]).is_some());
    assert!(!text.contains("/users/1"), "raw paths never become labels");
    assert!(scrape.docs.contains_key("http_server_requests_in_flight"));
}

#[tokio::test]
async fn exposition_passes_promtool() {
    let text = scrape().await;
    let Ok(mut child) = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        eprintln!("promtool not installed; skipping (apt-get install prometheus)");
        return;
    };
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n--- exposition ---\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
