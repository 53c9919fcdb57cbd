//! Spans exported over OTLP/HTTP reach an in-test receiver with their names and
//! parent/child links intact across client → server → client layers; log events arrive
//! as log records carrying the trace and span of the request they were written in.
#![cfg(feature = "otlp")]

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use http::{Request, Response};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::trace::v1::Span;
use platform_observe::TelemetryConfig;
use platform_observe::trace::{ClientTraceLayer, ServerTraceLayer, TraceParent};
use prost::Message;
use tower::{ServiceBuilder, ServiceExt, service_fn};

#[derive(Clone, Default)]
struct Received {
    spans: Arc<Mutex<Vec<Span>>>,
    logs: Arc<Mutex<Vec<LogRecord>>>,
}

async fn receive_logs(State(received): State<Received>, body: Bytes) -> &'static str {
    let req = ExportLogsServiceRequest::decode(body).expect("an OTLP protobuf body");
    let mut logs = received.logs.lock().unwrap();
    for rl in req.resource_logs {
        for sl in rl.scope_logs {
            logs.extend(sl.log_records);
        }
    }
    ""
}

async fn receive_traces(State(received): State<Received>, body: Bytes) -> &'static str {
    let req = ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf body");
    let mut spans = received.spans.lock().unwrap();
    for rs in req.resource_spans {
        let service = rs.resource.unwrap().attributes.into_iter().find(|a| a.key == "service.name");
        assert!(format!("{service:?}").contains("otlp-test"));
        for ss in rs.scope_spans {
            spans.extend(ss.spans);
        }
    }
    ""
}

async fn start_receiver() -> (String, Received) {
    let received = Received::default();
    let app = Router::new()
        .route("/v1/traces", post(receive_traces))
        .route("/v1/logs", post(receive_logs))
        .route("/v1/metrics", post(|| async { "" }))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exported_spans_keep_names_and_parent_links() {
    let (endpoint, received) = start_receiver().await;
    let mut cfg = TelemetryConfig {
        service_name: "otlp-test".into(),
        use_rust_log: false,
        ..Default::default()
    };
    cfg.otlp.enabled = true;
    cfg.otlp.endpoint = endpoint;
    let (dispatch, guard) = platform_observe::telemetry::build(&cfg).unwrap();
    let _default = tracing::dispatcher::set_default(&dispatch);

    let upstream_tp = Arc::new(Mutex::new(None));
    let seen = upstream_tp.clone();
    let upstream = ServiceBuilder::new().layer(ClientTraceLayer::new()).service(service_fn(
        move |req: Request<()>| {
            *seen.lock().unwrap() = req.headers().get("traceparent").cloned();
            async { Ok::<_, Infallible>(Response::new(())) }
        },
    ));
    let server = ServiceBuilder::new().layer(ServerTraceLayer::new()).service(service_fn(
        move |_req: Request<()>| {
            tracing::info!("serving the order");
            upstream.clone().oneshot(Request::get("http://upstream/").body(()).unwrap())
        },
    ));
    let client = ServiceBuilder::new().layer(ClientTraceLayer::new()).service(server);
    client.oneshot(Request::get("http://service/").body(()).unwrap()).await.unwrap();

    // Shutdown flushes the batch; it blocks, so run it off the runtime's workers.
    tokio::task::spawn_blocking(move || guard.shutdown()).await.unwrap();

    let spans = received.spans.lock().unwrap().clone();
    let by_name = |name: &str| spans.iter().filter(|s| s.name == name).cloned().collect::<Vec<_>>();
    let clients = by_name("http.client");
    let servers = by_name("http.request");
    assert_eq!((clients.len(), servers.len()), (2, 1), "{spans:#?}");
    let server = &servers[0];
    let outer = clients.iter().find(|c| c.parent_span_id.is_empty()).expect("a root client span");
    let inner = clients
        .iter()
        .find(|c| c.parent_span_id == server.span_id)
        .expect("a client span under the server span");
    assert_eq!(
        server.parent_span_id, outer.span_id,
        "the server span's parent is the calling client span"
    );
    assert!(spans.iter().all(|s| s.trace_id == outer.trace_id), "one trace");
    let tp = TraceParent::parse(upstream_tp.lock().unwrap().as_ref().unwrap().to_str().unwrap())
        .unwrap();
    assert_eq!(
        tp.parent_id.0.as_slice(),
        inner.span_id.as_slice(),
        "the injected parent is the exported client span"
    );
    assert_eq!(tp.trace_id.0.as_slice(), outer.trace_id.as_slice());

    let logs = received.logs.lock().unwrap().clone();
    let log = logs
        .iter()
        .find(|l| format!("{:?}", l.body).contains("serving the order"))
        .unwrap_or_else(|| panic!("the event reached the log receiver: {logs:#?}"));
    assert_eq!(log.trace_id, server.trace_id, "the log record carries the request's trace");
    assert_eq!(log.span_id, server.span_id, "and the server span it was written in");
}
