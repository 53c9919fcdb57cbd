/// Why [`init`](crate::init) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// A configuration field is invalid.
    #[error("invalid telemetry config: `{field}` {message}")]
    Config {
        /// The field's path, e.g. `otlp.endpoint`.
        field: &'static str,
        /// What is wrong and what to do.
        message: String,
    },
    /// A global `tracing` subscriber is already set (call `init` once, early in `main`).
    #[error(
        "a global tracing subscriber is already installed; call platform_observe::init once, first thing in main"
    )]
    AlreadyInitialized,
    /// An OTLP exporter could not be built.
    #[error("cannot build the OTLP {signal} exporter: {message}")]
    Exporter {
        /// `traces`, `metrics` or `logs`.
        signal: &'static str,
        /// The exporter's error.
        message: String,
    },
}
