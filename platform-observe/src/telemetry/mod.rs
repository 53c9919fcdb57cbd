//! One-call telemetry: `tracing` output, optional OTLP export and a Prometheus registry.
//!
//! [`init`] installs the global subscriber and returns a [`TelemetryGuard`]; [`build`]
//! returns the subscriber as a [`Dispatch`] instead (tests, embedding), and
//! [`build_with_writer`] also redirects the log output. [`init_with_layers`] and
//! [`build_with_layers`] add layers of your own (the audit layer, log shipping) beside the
//! SDK's.
//!
//! The configured filter (`filter` / `RUST_LOG`) is a **per-layer** filter on the log
//! output and the OTLP exporters, not a global one, so extra layers see events the log
//! output drops (an `audit` event under a `warn` filter, say). Give each extra layer its
//! own filter (`layer.with_filter(...)`): an unfiltered layer enables every span and event
//! of every library at every level, and the process pays for building them.
//!
//! `init` works inside and outside a tokio runtime: OpenTelemetry's batch processors and
//! periodic metric reader run on their own threads with a blocking HTTP client, and the
//! tokio runtime collector is added only when a runtime is current.

mod config;
mod error;
mod guard;

#[cfg(feature = "otlp")]
pub(crate) mod otlp;

use tracing::Dispatch;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

pub use config::{LogFormat, OtlpConfig, PrometheusConfig, TelemetryConfig};
pub use error::InitError;
pub use guard::TelemetryGuard;

use crate::metrics::{MetricsRegistry, ProcessCollector, RuntimeCollector};

/// A type-erased layer of the subscriber [`build`] assembles: the log output, the OTLP
/// bridges, and the extra layers of [`build_with_layers`].
pub type BoxLayer = Box<dyn Layer<Registry> + Send + Sync + 'static>;

/// Installs telemetry as the global `tracing` subscriber.
///
/// Call it once, first thing in `main`, and keep the guard alive.
///
/// ```
/// let guard = platform_observe::init(platform_observe::TelemetryConfig::default()).unwrap();
/// tracing::info!("service started");
/// // Serve guard.metrics() at /metrics; dropping the guard flushes exports.
/// # drop(guard);
/// ```
pub fn init(config: TelemetryConfig) -> Result<TelemetryGuard, InitError> {
    init_with_layers(config, Vec::new())
}

/// [`init`] with extra layers of your own, each with its own filter.
///
/// ```
/// use platform_observe::telemetry::BoxLayer;
/// use tracing_subscriber::Layer;
/// use tracing_subscriber::filter::Targets;
///
/// // E.g. an `AuditLayer` (feature `audit`) capturing target `audit` whatever the log level.
/// let audit_only = tracing_subscriber::fmt::layer()
///     .with_writer(std::io::sink)
///     .with_filter(Targets::new().with_target("audit", tracing::Level::TRACE));
/// let extra: Vec<BoxLayer> = vec![Box::new(audit_only)];
/// let guard = platform_observe::telemetry::init_with_layers(
///     platform_observe::TelemetryConfig::default(),
///     extra,
/// ).unwrap();
/// # drop(guard);
/// ```
pub fn init_with_layers(
    config: TelemetryConfig,
    extra: Vec<BoxLayer>,
) -> Result<TelemetryGuard, InitError> {
    let (dispatch, guard) = build_with_layers(&config, std::io::stdout, extra)?;
    tracing::dispatcher::set_global_default(dispatch).map_err(|_| InitError::AlreadyInitialized)?;
    Ok(guard)
}

/// Builds the subscriber writing to stdout without installing it.
pub fn build(config: &TelemetryConfig) -> Result<(Dispatch, TelemetryGuard), InitError> {
    build_with_writer(config, std::io::stdout)
}

/// Builds the subscriber writing log lines to `writer` without installing it.
pub fn build_with_writer<W>(
    config: &TelemetryConfig,
    writer: W,
) -> Result<(Dispatch, TelemetryGuard), InitError>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    build_with_layers(config, writer, Vec::new())
}

/// Builds the subscriber writing log lines to `writer`, with `extra` layers beside the
/// SDK's, without installing it. The configured filter applies to the SDK's layers only;
/// filter each extra layer yourself (see the [module docs](self)).
pub fn build_with_layers<W>(
    config: &TelemetryConfig,
    writer: W,
    extra: Vec<BoxLayer>,
) -> Result<(Dispatch, TelemetryGuard), InitError>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    config.validate()?;
    let metrics = MetricsRegistry::new();
    if config.prometheus.process_metrics {
        metrics.register(ProcessCollector);
    }
    if config.prometheus.runtime_metrics
        && let Some(rt) = RuntimeCollector::current()
    {
        metrics.register(rt);
    }
    #[cfg_attr(not(feature = "otlp"), allow(unused_mut))]
    let mut layers: Vec<BoxLayer> = vec![fmt_layer(config, writer)];

    #[cfg(feature = "otlp")]
    let otlp = if config.otlp.enabled {
        let (providers, otel_layers) = otlp::build(config, &metrics)?;
        layers.extend(otel_layers);
        Some(providers)
    } else {
        None
    };

    layers.extend(extra);
    let subscriber = Registry::default().with(layers);
    let guard = TelemetryGuard {
        metrics,
        #[cfg(feature = "otlp")]
        otlp,
    };
    Ok((Dispatch::new(subscriber), guard))
}

/// The configured filter; built once per layer it applies to (`EnvFilter` is not `Clone`).
pub(crate) fn filter(config: &TelemetryConfig) -> EnvFilter {
    let from_env = config
        .use_rust_log
        .then(|| std::env::var(EnvFilter::DEFAULT_ENV).ok())
        .flatten()
        .and_then(|v| EnvFilter::builder().parse(v).ok());
    // `validate` has checked the configured directives.
    from_env.unwrap_or_else(|| EnvFilter::builder().parse_lossy(&config.filter))
}

fn fmt_layer<W>(config: &TelemetryConfig, writer: W) -> BoxLayer
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let base = tracing_subscriber::fmt::layer().with_writer(writer).with_ansi(config.ansi);
    let filter = filter(config);
    match config.format {
        LogFormat::Pretty => base.pretty().with_filter(filter).boxed(),
        LogFormat::Compact => base.compact().with_filter(filter).boxed(),
        LogFormat::Json => base
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .flatten_event(true)
            .with_filter(filter)
            .boxed(),
    }
}
