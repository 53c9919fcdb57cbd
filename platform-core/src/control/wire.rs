//! The JSON bodies of the control-plane API, shared by the server and its clients.

use serde::{Deserialize, Serialize};

#[cfg(any(feature = "control", feature = "registry"))]
use crate::registry::{Health, ServiceInstance};

#[cfg(any(feature = "control", feature = "config"))]
use crate::config::Format;

/// Body of `POST /v1/registry/{service}/instances`.
#[cfg(any(feature = "control", feature = "registry"))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// The instance; its `service` must match the path.
    pub instance: ServiceInstance,
    /// How long the registration lives without a heartbeat (`"15s"`, `"500ms"`).
    #[serde(with = "humantime_serde")]
    pub ttl: std::time::Duration,
}

/// Answer to a registration: which instance is leased and how often to heartbeat.
#[cfg(any(feature = "control", feature = "registry"))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterResponse {
    /// Service name.
    pub service: String,
    /// Instance id: the lease is addressed by it
    /// (`PUT /v1/registry/{service}/instances/{id}/heartbeat`).
    pub id: String,
    /// The TTL in milliseconds.
    pub ttl_ms: u64,
    /// Suggested heartbeat interval in milliseconds (a third of the TTL).
    pub heartbeat_interval_ms: u64,
}

/// Body of `PUT /v1/registry/{service}/instances/{id}/health`.
#[cfg(any(feature = "control", feature = "registry"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthRequest {
    /// The new health: `ready`, `draining` or `unhealthy`.
    pub health: Health,
}

/// Answer to `DELETE /v1/registry/{service}/instances/{id}`.
#[cfg(any(feature = "control", feature = "registry"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeregisterResponse {
    /// `false` when the instance was not registered.
    pub removed: bool,
}

/// One version of a configuration document, as stored and served.
#[cfg(any(feature = "control", feature = "config"))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigDocument {
    /// The namespace (an application or team).
    pub namespace: String,
    /// The environment (`prod`, `staging`).
    pub environment: String,
    /// Version of this document: 1 for the first write, +1 per write.
    pub version: u64,
    /// How `text` is written.
    pub format: Format,
    /// The document.
    pub text: String,
    /// When it was written, in milliseconds since the Unix epoch (the store's clock).
    pub updated_at_ms: u64,
}

/// Body of `PUT /v1/config/{namespace}/{environment}`.
#[cfg(any(feature = "control", feature = "config"))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutConfigRequest {
    /// `toml`, `yaml` or `json`.
    pub format: Format,
    /// The document.
    pub text: String,
}

/// Answer to `GET /v1/config/{namespace}/{environment}/history`.
#[cfg(any(feature = "control", feature = "config"))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryResponse {
    /// Versions kept, newest first.
    pub versions: Vec<ConfigDocument>,
}

/// The JSON error body of the control plane: the SDK's
/// [`ErrorBody`](crate::error::ErrorBody) plus, for invalid input, the field or path that
/// was wrong and, for version conflicts, the current version.
///
/// ```json
/// {"error":"invalid_instance","message":"invalid service instance \"orders\"/\"a\": field `port` must be between 1 and 65535","field":"port"}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    /// Code and message.
    #[serde(flatten)]
    pub body: crate::error::ErrorBody,
    /// The offending field, path parameter, header or JSON path (`instance.port`,
    /// `namespace`, `If-Match`, `text`), when one is to blame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For `version_conflict`: the version the store holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_version: Option<u64>,
}

impl ApiErrorBody {
    /// A body with a code and a message.
    pub fn new(error: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            body: crate::error::ErrorBody::new(error, message),
            field: None,
            current_version: None,
        }
    }

    /// Names the offending field.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}
