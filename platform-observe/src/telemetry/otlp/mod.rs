//! OTLP/HTTP export of traces, metrics and logs.

mod gate;

use std::collections::HashMap;
use std::sync::Arc;

use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{
    LogExporter, MetricExporter, Protocol, SpanExporter, WithExportConfig, WithHttpConfig,
};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::{BatchLogProcessor, SdkLoggerProvider};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{BatchSpanProcessor, Sampler, SdkTracerProvider};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{FilterExt as _, filter_fn};

use super::{BoxLayer, InitError, TelemetryConfig};
use crate::metrics::MetricsRegistry;
use gate::{Gate, GateCollector, GatedLogExporter, GatedLogs, GatedSpanExporter, GatedSpans};

/// The providers `init` built; flushed and shut down by the guard.
#[derive(Debug)]
pub(crate) struct OtlpProviders {
    traces: Option<SdkTracerProvider>,
    metrics: Option<SdkMeterProvider>,
    logs: Option<SdkLoggerProvider>,
}

impl OtlpProviders {
    pub(crate) fn flush(&self) {
        // Export failures are counted by the gates; nothing to add here.
        if let Some(p) = &self.traces {
            let _ = p.force_flush();
        }
        if let Some(p) = &self.metrics {
            let _ = p.force_flush();
        }
        if let Some(p) = &self.logs {
            let _ = p.force_flush();
        }
    }

    pub(crate) fn shutdown(self) {
        self.flush();
        if let Some(p) = self.traces {
            let _ = p.shutdown();
        }
        if let Some(p) = self.metrics {
            let _ = p.shutdown();
        }
        if let Some(p) = self.logs {
            let _ = p.shutdown();
        }
    }
}

/// The export-queue counters as OTLP metrics too (`platform.telemetry.export.*`).
fn export_gate_counters(provider: &SdkMeterProvider, gates: &[Arc<Gate>]) {
    let meter = provider.meter("platform-observe");
    for (name, read) in [
        ("platform.telemetry.export.dropped", Gate::dropped as fn(&Gate) -> u64),
        ("platform.telemetry.export.exported", Gate::exported),
        ("platform.telemetry.export.failed", Gate::failed),
    ] {
        let gates = gates.to_vec();
        meter
            .u64_observable_counter(name)
            .with_callback(move |obs| {
                for g in &gates {
                    obs.observe(read(g), &[KeyValue::new("signal", g.signal())]);
                }
            })
            .build();
    }
}

/// Telemetry about telemetry (and the HTTP client under it) must not be exported again.
fn exportable(target: &str) -> bool {
    !["opentelemetry", "reqwest", "hyper", "h2", "platform::observe::telemetry"]
        .iter()
        .any(|p| target.starts_with(p))
}

fn exporter_error(
    signal: &'static str,
) -> impl Fn(opentelemetry_otlp::ExporterBuildError) -> InitError {
    move |e| InitError::Exporter { signal, message: e.to_string() }
}

/// HTTP/protobuf to `<endpoint><path>` with the configured timeout and headers.
fn http<B: WithExportConfig + WithHttpConfig>(
    builder: B,
    cfg: &TelemetryConfig,
    path: &str,
    headers: &HashMap<String, String>,
) -> B {
    builder
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(format!("{}{path}", cfg.otlp.endpoint.trim_end_matches('/')))
        .with_timeout(cfg.otlp.timeout)
        .with_headers(headers.clone())
}

pub(crate) fn build(
    cfg: &TelemetryConfig,
    registry: &MetricsRegistry,
) -> Result<(OtlpProviders, Vec<BoxLayer>), InitError> {
    let o = &cfg.otlp;
    let resource = Resource::builder().with_service_name(cfg.service_name.clone()).build();
    let headers: HashMap<_, _> = o.headers.clone().into_iter().collect();
    let mut layers: Vec<BoxLayer> = Vec::new();
    let mut gates = Vec::new();

    let traces = if o.traces {
        let gate = Gate::new("traces", o.queue_size);
        let exporter = http(SpanExporter::builder().with_http(), cfg, "/v1/traces", &headers)
            .build()
            .map_err(exporter_error("traces"))?;
        let batch = opentelemetry_sdk::trace::BatchConfigBuilder::default()
            .with_max_queue_size(o.queue_size)
            .with_max_export_batch_size(o.batch_size)
            .with_scheduled_delay(o.batch_delay)
            .build();
        let processor = BatchSpanProcessor::builder(GatedSpanExporter {
            inner: exporter,
            gate: Arc::clone(&gate),
        })
        .with_batch_config(batch)
        .build();
        let provider = SdkTracerProvider::builder()
            .with_resource(resource.clone())
            .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
                o.sample_ratio,
            ))))
            .with_span_processor(GatedSpans { inner: processor, gate: Arc::clone(&gate) })
            .build();
        let tracer = provider.tracer("platform-observe");
        layers.push(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(filter_fn(|m| exportable(m.target())).and(super::filter(cfg)))
                .boxed(),
        );
        gates.push(gate);
        Some(provider)
    } else {
        None
    };

    let logs = if o.logs {
        let gate = Gate::new("logs", o.queue_size);
        let exporter = http(LogExporter::builder().with_http(), cfg, "/v1/logs", &headers)
            .build()
            .map_err(exporter_error("logs"))?;
        let batch = opentelemetry_sdk::logs::BatchConfigBuilder::default()
            .with_max_queue_size(o.queue_size)
            .with_max_export_batch_size(o.batch_size)
            .with_scheduled_delay(o.batch_delay)
            .build();
        let processor = BatchLogProcessor::builder(GatedLogExporter {
            inner: exporter,
            gate: Arc::clone(&gate),
        })
        .with_batch_config(batch)
        .build();
        let provider = SdkLoggerProvider::builder()
            .with_resource(resource.clone())
            .with_log_processor(GatedLogs { inner: processor, gate: Arc::clone(&gate) })
            .build();
        let bridge =
            opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge::new(&provider);
        layers.push(
            bridge
                .with_filter(filter_fn(|m| exportable(m.target())).and(super::filter(cfg)))
                .boxed(),
        );
        gates.push(gate);
        Some(provider)
    } else {
        None
    };

    let metrics = if o.metrics {
        let exporter = http(MetricExporter::builder().with_http(), cfg, "/v1/metrics", &headers)
            .build()
            .map_err(exporter_error("metrics"))?;
        let reader = PeriodicReader::builder(exporter).with_interval(o.metrics_interval).build();
        let provider =
            SdkMeterProvider::builder().with_resource(resource).with_reader(reader).build();
        export_gate_counters(&provider, &gates);
        opentelemetry::global::set_meter_provider(provider.clone());
        Some(provider)
    } else {
        None
    };

    if !gates.is_empty() {
        registry.register(GateCollector(gates));
    }
    Ok((OtlpProviders { traces, metrics, logs }, layers))
}
