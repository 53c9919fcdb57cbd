//! Configuration of [`init`](crate::init).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::InitError;

/// How log lines are written to stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Multi-line, human-readable (development).
    #[default]
    Pretty,
    /// One line per event, human-readable.
    Compact,
    /// One JSON object per line with the span list (`trace_id` included) — for log shippers.
    Json,
}

/// Everything [`init`](crate::init) wires, from one serde value.
///
/// ```
/// use platform_observe::TelemetryConfig;
///
/// let cfg: TelemetryConfig = toml_like(r#"{
///     "service_name": "orders",
///     "filter": "info,sqlx=warn",
///     "format": "json",
///     "otlp": { "enabled": false, "endpoint": "http://collector:4318" }
/// }"#);
/// cfg.validate().unwrap();
/// # fn toml_like(s: &str) -> TelemetryConfig { serde_json::from_str(s).unwrap() }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// `service.name` of exported telemetry (default `unknown_service`).
    pub service_name: String,
    /// `tracing` filter directives, e.g. `info,my_crate=debug` (default `info`).
    pub filter: String,
    /// Let a set `RUST_LOG` override [`filter`](Self::filter) (default `true`).
    pub use_rust_log: bool,
    /// Output format on stdout (default pretty).
    pub format: LogFormat,
    /// ANSI colours on stdout (default `false`).
    pub ansi: bool,
    /// The Prometheus registry's built-in collectors.
    pub prometheus: PrometheusConfig,
    /// OTLP export (feature `otlp`).
    pub otlp: OtlpConfig,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            service_name: "unknown_service".into(),
            filter: "info".into(),
            use_rust_log: true,
            format: LogFormat::default(),
            ansi: false,
            prometheus: PrometheusConfig::default(),
            otlp: OtlpConfig::default(),
        }
    }
}

/// Built-in collectors of the Prometheus registry returned by [`init`](crate::init).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrometheusConfig {
    /// `process_*` metrics from `/proc` (default `true`).
    pub process_metrics: bool,
    /// `tokio_*` metrics of the runtime `init` is called in, if any (default `true`).
    pub runtime_metrics: bool,
}

impl Default for PrometheusConfig {
    fn default() -> Self {
        Self { process_metrics: true, runtime_metrics: true }
    }
}

/// OTLP export over HTTP/protobuf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OtlpConfig {
    /// Export at all (default `false`; needs feature `otlp`).
    pub enabled: bool,
    /// Collector base URL; `/v1/traces`, `/v1/metrics`, `/v1/logs` are appended
    /// (default `http://localhost:4318`).
    pub endpoint: String,
    /// Export spans (default `true`).
    pub traces: bool,
    /// Export metrics recorded through the OpenTelemetry meter (default `true`).
    pub metrics: bool,
    /// Export log events (default `true`).
    pub logs: bool,
    /// Extra HTTP headers (e.g. authentication) sent with every export.
    pub headers: BTreeMap<String, String>,
    /// Timeout of one export request (default 10 s).
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Bound of each export queue (spans, log records); items beyond it are dropped and
    /// counted (default 2048).
    pub queue_size: usize,
    /// Most items per export request (default 512).
    pub batch_size: usize,
    /// Delay between batch exports (default 5 s).
    #[serde(with = "humantime_serde")]
    pub batch_delay: Duration,
    /// Interval of metric exports (default 60 s).
    #[serde(with = "humantime_serde")]
    pub metrics_interval: Duration,
    /// Fraction of new traces sampled, 0.0–1.0 (default 1.0); remote sampling decisions are
    /// followed.
    pub sample_ratio: f64,
}

impl Default for OtlpConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            endpoint: "http://localhost:4318".into(),
            traces: true,
            metrics: true,
            logs: true,
            headers: BTreeMap::new(),
            timeout: Duration::from_secs(10),
            queue_size: 2048,
            batch_size: 512,
            batch_delay: Duration::from_secs(5),
            metrics_interval: Duration::from_secs(60),
            sample_ratio: 1.0,
        }
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> InitError {
    InitError::Config { field, message: message.into() }
}

impl TelemetryConfig {
    /// Checks every field; the error names the first invalid one.
    pub fn validate(&self) -> Result<(), InitError> {
        if self.service_name.trim().is_empty() {
            return Err(invalid("service_name", "must not be empty"));
        }
        tracing_subscriber::EnvFilter::builder().parse(&self.filter).map_err(|e| {
            invalid("filter", format!("`{}` is not a valid filter: {e}", self.filter))
        })?;
        self.otlp.validate()
    }
}

impl OtlpConfig {
    fn validate(&self) -> Result<(), InitError> {
        if !self.enabled {
            return Ok(());
        }
        if !cfg!(feature = "otlp") {
            return Err(invalid(
                "otlp.enabled",
                "OTLP export needs platform-observe's `otlp` feature",
            ));
        }
        let uri: http::Uri = self.endpoint.parse().map_err(|e| {
            invalid("otlp.endpoint", format!("`{}` is not a URL: {e}", self.endpoint))
        })?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(invalid(
                "otlp.endpoint",
                format!("`{}` must be an http(s) URL with a host", self.endpoint),
            ));
        }
        for (k, v) in &self.headers {
            if http::HeaderName::try_from(k.as_str()).is_err()
                || http::HeaderValue::try_from(v.as_str()).is_err()
            {
                return Err(invalid(
                    "otlp.headers",
                    format!("`{k}` is not a valid header name and value"),
                ));
            }
        }
        if self.timeout.is_zero() {
            return Err(invalid("otlp.timeout", "must be positive"));
        }
        if self.queue_size == 0 {
            return Err(invalid("otlp.queue_size", "must be at least 1"));
        }
        if self.batch_size == 0 || self.batch_size > self.queue_size {
            return Err(invalid("otlp.batch_size", "must be between 1 and otlp.queue_size"));
        }
        if self.batch_delay.is_zero() {
            return Err(invalid("otlp.batch_delay", "must be positive"));
        }
        if self.metrics_interval.is_zero() {
            return Err(invalid("otlp.metrics_interval", "must be positive"));
        }
        if !(0.0..=1.0).contains(&self.sample_ratio) {
            return Err(invalid("otlp.sample_ratio", "must be between 0.0 and 1.0"));
        }
        Ok(())
    }
}
