//! Observability costs, in one run:
//!
//! * `red_layer` — a request through the RED `Metrics` layer beside the bare service
//!   (target: ≤ 150 ns added per request);
//! * `span` — creating, entering and closing a `tracing` span through the subscriber built
//!   by `platform_observe::telemetry` without and with OpenTelemetry export;
//! * `metrics_stack` — one counter increment plus one histogram record, both with two
//!   labels, in each candidate metrics stack: this crate's registry, `metrics` +
//!   `metrics-exporter-prometheus`, `prometheus-client` and the OpenTelemetry SDK.
//!
//! Run: `cargo bench -p platform-benches --bench observe`.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::hint::black_box;
use std::task::{Context, Poll};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use platform_benches::{call_now, telemetry_to_sink};
use platform_observe::metrics::{FamilyLimits, MetricsLayer, MetricsRegistry};
use tower::Layer;

const ROUTE: &str = "/users/{id}";

/// An HTTP service answering at once without allocating.
#[derive(Debug, Clone, Copy)]
struct Ok200;

impl tower::Service<Request<()>> for Ok200 {
    type Response = Response<()>;
    type Error = Infallible;
    type Future = Ready<Result<Response<()>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _req: Request<()>) -> Self::Future {
        ready(Ok(Response::new(())))
    }
}

fn fixed_route(_req: &Request<()>) -> Option<&str> {
    Some(ROUTE)
}

fn red_layer(c: &mut Criterion) {
    let mut g = c.benchmark_group("red_layer");
    let mut bare = Ok200;
    g.bench_function("bare", |b| b.iter(|| black_box(call_now(&mut bare, Request::new(())))));
    let registry = MetricsRegistry::new();
    let layer = MetricsLayer::new(&registry).expect("fresh registry");
    let layer = layer.with_route(fixed_route as fn(&Request<()>) -> Option<&str>);
    let mut svc = layer.layer(Ok200);
    g.bench_function("metrics_layer", |b| {
        b.iter(|| black_box(call_now(&mut svc, Request::new(()))));
    });
    g.finish();
}

fn span(c: &mut Criterion) {
    let mut g = c.benchmark_group("span");
    let (dispatch, _plain_guard) = telemetry_to_sink(false);
    tracing::dispatcher::with_default(&dispatch, || {
        g.bench_function("without_otel", |b| {
            b.iter(|| {
                let span = tracing::info_span!("bench.span", n = 1);
                let _entered = span.enter();
            });
        });
    });
    let (dispatch, otel_guard) = telemetry_to_sink(true);
    tracing::dispatcher::with_default(&dispatch, || {
        g.bench_function("with_otel_export", |b| {
            b.iter(|| {
                let span = tracing::info_span!("bench.span", n = 1);
                let _entered = span.enter();
            });
        });
    });
    g.finish();
    drop(otel_guard);
}

fn metrics_stack(c: &mut Criterion) {
    let mut g = c.benchmark_group("metrics_stack");
    let d = Duration::from_millis(12);

    let registry = MetricsRegistry::new();
    let counter = registry
        .counter("req_total", "Requests.", ["route", "method"], FamilyLimits::default())
        .unwrap();
    let histogram = registry
        .histogram(
            "req_seconds",
            "Latency.",
            ["route", "method"],
            platform_observe::metrics::DEFAULT_LATENCY_BUCKETS,
            FamilyLimits::default(),
        )
        .unwrap();
    g.bench_function("platform_observe", |b| {
        b.iter(|| {
            counter.inc(black_box([ROUTE, "GET"]));
            histogram.observe(black_box([ROUTE, "GET"]), d);
        });
    });

    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    metrics::with_local_recorder(&recorder, || {
        g.bench_function("metrics_exporter_prometheus", |b| {
            b.iter(|| {
                metrics::counter!("req_total", "route" => ROUTE, "method" => "GET").increment(1);
                metrics::histogram!("req_seconds", "route" => ROUTE, "method" => "GET")
                    .record(d.as_secs_f64());
            });
        });
    });

    type Labels = [(&'static str, &'static str); 2];
    let mut prom = prometheus_client::registry::Registry::default();
    let pc: prometheus_client::metrics::family::Family<
        Labels,
        prometheus_client::metrics::counter::Counter,
    > = Default::default();
    let ph = prometheus_client::metrics::family::Family::<
        Labels,
        prometheus_client::metrics::histogram::Histogram,
    >::new_with_constructor(|| {
        prometheus_client::metrics::histogram::Histogram::new(
            platform_observe::metrics::DEFAULT_LATENCY_BUCKETS.iter().copied(),
        )
    });
    prom.register("req", "Requests.", pc.clone());
    prom.register("req_seconds", "Latency.", ph.clone());
    g.bench_function("prometheus_client", |b| {
        b.iter(|| {
            let labels = black_box([("route", ROUTE), ("method", "GET")]);
            pc.get_or_create(&labels).inc();
            ph.get_or_create(&labels).observe(d.as_secs_f64());
        });
    });

    use opentelemetry::KeyValue;
    use opentelemetry::metrics::MeterProvider as _;
    let exporter =
        opentelemetry_otlp::MetricExporter::builder().with_http().build().expect("exporter");
    let reader = opentelemetry_sdk::metrics::PeriodicReader::builder(exporter)
        .with_interval(Duration::from_secs(3600))
        .build();
    let provider =
        opentelemetry_sdk::metrics::SdkMeterProvider::builder().with_reader(reader).build();
    let meter = provider.meter("bench");
    let oc = meter.u64_counter("req").build();
    let oh = meter.f64_histogram("req_seconds").build();
    g.bench_function("opentelemetry_sdk", |b| {
        b.iter(|| {
            let attrs = black_box([KeyValue::new("route", ROUTE), KeyValue::new("method", "GET")]);
            oc.add(1, &attrs);
            oh.record(d.as_secs_f64(), &attrs);
        });
    });
    g.finish();
    drop(provider);
}

criterion_group!(benches, red_layer, span, metrics_stack);
criterion_main!(benches);
