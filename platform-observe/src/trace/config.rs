//! Configuration of the server trace layer.

use http::HeaderName;
use serde::{Deserialize, Serialize};

/// Configuration of [`ServerTraceLayer`](super::ServerTraceLayer).
///
/// ```
/// use platform_observe::trace::TraceConfig;
///
/// let cfg: TraceConfig = serde_json::from_str(r#"{ "response_header": "x-trace-id" }"#).unwrap();
/// cfg.validate().unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TraceConfig {
    /// Response header that carries the trace id back to the caller (e.g. `x-trace-id`);
    /// `None` (the default) sends none.
    pub response_header: Option<String>,
    /// Continue traces from incoming `traceparent` headers (default `true`). Set `false`
    /// on a public edge that must not let clients choose trace ids: every request then
    /// starts a new trace and incoming `tracestate`/`baggage` are dropped.
    pub trust_remote: bool,
}

impl Default for TraceConfig {
    fn default() -> Self {
        Self { response_header: None, trust_remote: true }
    }
}

/// A configuration value the trace layer refused; names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid trace layer config: {0}")]
pub struct TraceConfigError(String);

impl TraceConfig {
    /// Checks that the response header is a valid header name.
    pub fn validate(&self) -> Result<(), TraceConfigError> {
        self.header().map(drop)
    }

    pub(crate) fn header(&self) -> Result<Option<HeaderName>, TraceConfigError> {
        self.response_header
            .as_deref()
            .map(|h| {
                HeaderName::try_from(h).map_err(|_| {
                    TraceConfigError(format!(
                        "response_header `{h}` is not a valid HTTP header name"
                    ))
                })
            })
            .transpose()
    }
}
