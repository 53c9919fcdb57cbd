//! Telemetry for the binary: platform-observe's subscriber with the audit layer beside
//! it, so `target: "audit"` events land in the audit log whatever the log filter.

use platform_core::store::Store;
use platform_observe::TelemetryGuard;
use platform_observe::audit::{AuditLayer, AuditLayerConfig, AuditLog, AuditWriter};
use platform_observe::telemetry::BoxLayer;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::Targets;

use super::config::PlatformConfig;
use super::error::PlatformError;

/// Installed telemetry: keep it alive for the life of the process; [`Telemetry::flush`]
/// before exiting writes the audit records still buffered.
#[derive(Debug)]
pub struct Telemetry {
    guard: TelemetryGuard,
    audit: Option<AuditWriter>,
}

impl Telemetry {
    /// The metrics registry to serve and record into.
    pub fn metrics(&self) -> &platform_observe::metrics::MetricsRegistry {
        self.guard.metrics()
    }

    /// Writes buffered audit records.
    pub async fn flush(&self) {
        if let Some(writer) = &self.audit
            && let Err(e) = writer.flush().await
        {
            tracing::warn!(target: "platform", error = %e, "audit records could not be written at exit");
        }
    }
}

/// Installs the global `tracing` subscriber described by `config.telemetry`, with the
/// audit layer writing to the audit log in `store` when `config.audit.enabled`.
///
/// # Errors
/// [`PlatformError::Telemetry`] when the audit log cannot be opened or a subscriber is
/// already installed.
pub async fn init_telemetry(
    config: &PlatformConfig,
    store: &Store,
) -> Result<Telemetry, PlatformError> {
    let mut extra: Vec<BoxLayer> = Vec::new();
    let mut audit = None;
    if config.audit.enabled {
        let log = AuditLog::new(store.clone())
            .await
            .map_err(|e| PlatformError::Telemetry(format!("audit log: {e}")))?;
        let (layer, writer) = AuditLayer::new(log, AuditLayerConfig::default())
            .map_err(|e| PlatformError::Telemetry(format!("audit layer: {e}")))?;
        let only_audit = Targets::new().with_target("audit", tracing::Level::TRACE);
        extra.push(Box::new(layer.with_filter(only_audit)));
        audit = Some(writer);
    }
    let guard = platform_observe::telemetry::init_with_layers(config.telemetry.clone(), extra)
        .map_err(|e| PlatformError::Telemetry(e.to_string()))?;
    Ok(Telemetry { guard, audit })
}
