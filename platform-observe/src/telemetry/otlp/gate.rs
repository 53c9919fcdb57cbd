//! Bounded export queues that count what they drop.
//!
//! The SDK's batch processors drop on a full queue but keep the count private. Each
//! processor here is wrapped by a gate admitting at most `queue_size` items that are
//! queued or being exported; the exporter wrapper releases them after each export. The
//! inner queue is as large as the gate, so every drop happens — and is counted — here.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, LogExporter, LogProcessor, SdkLogRecord};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};

use crate::metrics::{Collector, Exposition, MetricType};

/// Counters of one signal's export queue.
#[derive(Debug)]
pub(crate) struct Gate {
    signal: &'static str,
    cap: usize,
    queued: AtomicUsize,
    dropped: AtomicU64,
    exported: AtomicU64,
    failed: AtomicU64,
}

impl Gate {
    pub(crate) fn new(signal: &'static str, cap: usize) -> Arc<Self> {
        Arc::new(Self {
            signal,
            cap,
            queued: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
            exported: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        })
    }

    fn admit(&self) -> bool {
        let ok = self
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |q| (q < self.cap).then_some(q + 1))
            .is_ok();
        if !ok && self.dropped.fetch_add(1, Ordering::Relaxed) == 0 {
            // The first drop only: logging every drop would feed the overload.
            tracing::warn!(
                target: "platform::observe::telemetry",
                signal = self.signal,
                "OTLP export queue full; dropping items (counted in platform_telemetry_export_dropped_total)"
            );
        }
        ok
    }

    fn release(&self, n: usize, ok: bool) {
        self.queued.fetch_sub(n.min(self.queued.load(Ordering::Acquire)), Ordering::AcqRel);
        let n = n as u64;
        if ok { &self.exported } else { &self.failed }.fetch_add(n, Ordering::Relaxed);
    }

    /// Items dropped because the queue was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Items exported.
    pub(crate) fn exported(&self) -> u64 {
        self.exported.load(Ordering::Relaxed)
    }

    /// Items whose export failed.
    pub(crate) fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// `traces` or `logs`.
    pub(crate) fn signal(&self) -> &'static str {
        self.signal
    }
}

/// Writes `platform_telemetry_export_*` for every gate.
#[derive(Debug)]
pub(crate) struct GateCollector(pub(crate) Vec<Arc<Gate>>);

impl Collector for GateCollector {
    #[allow(clippy::cast_precision_loss)]
    fn collect(&self, out: &mut Exposition) {
        type Read = fn(&Gate) -> f64;
        let families: [(&str, &str, MetricType, Read); 4] = [
            (
                "platform_telemetry_export_dropped_total",
                "Telemetry items dropped because the OTLP export queue was full.",
                MetricType::Counter,
                |g| g.dropped() as f64,
            ),
            (
                "platform_telemetry_export_exported_total",
                "Telemetry items exported over OTLP.",
                MetricType::Counter,
                |g| g.exported() as f64,
            ),
            (
                "platform_telemetry_export_failed_total",
                "Telemetry items whose OTLP export failed.",
                MetricType::Counter,
                |g| g.failed() as f64,
            ),
            (
                "platform_telemetry_export_queued",
                "Telemetry items queued or being exported over OTLP.",
                MetricType::Gauge,
                |g| g.queued.load(Ordering::Relaxed) as f64,
            ),
        ];
        for (name, help, kind, read) in families {
            out.family(name, help, kind);
            for g in &self.0 {
                out.sample(name, &[("signal", g.signal)], read(g));
            }
        }
    }
}

/// A span processor behind a gate.
#[derive(Debug)]
pub(crate) struct GatedSpans<P> {
    pub(crate) inner: P,
    pub(crate) gate: Arc<Gate>,
}

impl<P: SpanProcessor> SpanProcessor for GatedSpans<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }
    fn on_end(&self, span: SpanData) {
        if self.gate.admit() {
            self.inner.on_end(span);
        }
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }
    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// A span exporter releasing gate slots after each export.
#[derive(Debug)]
pub(crate) struct GatedSpanExporter<E> {
    pub(crate) inner: E,
    pub(crate) gate: Arc<Gate>,
}

impl<E: SpanExporter> SpanExporter for GatedSpanExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let n = batch.len();
        let res = self.inner.export(batch).await;
        self.gate.release(n, res.is_ok());
        res
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }
    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// A log processor behind a gate.
#[derive(Debug)]
pub(crate) struct GatedLogs<P> {
    pub(crate) inner: P,
    pub(crate) gate: Arc<Gate>,
}

impl<P: LogProcessor> LogProcessor for GatedLogs<P> {
    fn emit(&self, data: &mut SdkLogRecord, scope: &InstrumentationScope) {
        if self.gate.admit() {
            self.inner.emit(data, scope);
        }
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }
    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// A log exporter releasing gate slots after each export.
#[derive(Debug)]
pub(crate) struct GatedLogExporter<E> {
    pub(crate) inner: E,
    pub(crate) gate: Arc<Gate>,
}

impl<E: LogExporter> LogExporter for GatedLogExporter<E> {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        let n = batch.iter().count();
        let res = self.inner.export(batch).await;
        self.gate.release(n, res.is_ok());
        res
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }
    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_gate_drops_and_counts_until_an_export_frees_room() {
        let gate = Gate::new("traces", 2);
        assert!(gate.admit() && gate.admit());
        assert!(!gate.admit());
        assert!(!gate.admit());
        assert_eq!(gate.dropped(), 2);
        gate.release(1, true);
        assert!(gate.admit());
        gate.release(2, false);
        assert_eq!((gate.exported(), gate.failed()), (1, 2));
        assert_eq!(gate.queued.load(Ordering::Relaxed), 0);
        let mut out = Exposition::new();
        GateCollector(vec![gate]).collect(&mut out);
        let text = out.into_string();
        assert!(
            text.contains("platform_telemetry_export_dropped_total{signal=\"traces\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("platform_telemetry_export_queued{signal=\"traces\"} 0\n"), "{text}");
    }
}
