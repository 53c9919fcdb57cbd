use crate::metrics::MetricsRegistry;

/// Keeps telemetry running; flushes and shuts exporters down when dropped.
///
/// Hold it in `main` for the life of the process (`let _telemetry = init(cfg)?;`).
/// Dropping it blocks for at most the exporters' timeouts while the last batches leave.
#[derive(Debug)]
#[must_use = "dropping the guard shuts telemetry down"]
pub struct TelemetryGuard {
    pub(crate) metrics: MetricsRegistry,
    #[cfg(feature = "otlp")]
    pub(crate) otlp: Option<super::otlp::OtlpProviders>,
}

impl TelemetryGuard {
    /// The Prometheus registry: mount it with
    /// [`metrics_router`](crate::metrics::metrics_router) and register your layers in it.
    pub fn metrics(&self) -> &MetricsRegistry {
        &self.metrics
    }

    /// Exports whatever is queued now.
    pub fn flush(&self) {
        #[cfg(feature = "otlp")]
        if let Some(p) = &self.otlp {
            p.flush();
        }
    }

    /// Flushes and shuts down explicitly (dropping does the same).
    pub fn shutdown(mut self) {
        self.shutdown_inner();
    }

    fn shutdown_inner(&mut self) {
        #[cfg(feature = "otlp")]
        if let Some(p) = self.otlp.take() {
            p.shutdown();
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        self.shutdown_inner();
    }
}
