//! The registry and config service: an HTTP API so a fleet shares one registry and one
//! set of configuration documents, and the clients that use it.
//!
//! * Server (feature `control`): [`ControlPlane`] / [`router`] build an axum `Router`
//!   over any [`Registry`](crate::registry::Registry) and any [`ConfigStore`]
//!   ([`MemoryConfigStore`], or [`RedisDocumentStore`] with `redis`).
//! * Clients (feature `http-client`): [`HttpRegistry`](crate::registry::HttpRegistry)
//!   implements `Registry` against the service and
//!   [`HttpConfigSource`](crate::config::HttpConfigSource) is a `ConfigSource` for
//!   `ConfigLoader`.
//!
//! # Routes
//!
//! | method and path | does | answers |
//! |---|---|---|
//! | `POST /v1/registry/{service}/instances` | register `{"instance": {…}, "ttl": "15s"}` and hold its lease | 201 `{service, id, ttl_ms, heartbeat_interval_ms}` |
//! | `PUT /v1/registry/{service}/instances/{id}/heartbeat` | renew the lease for one more TTL | 204; 404 `lease_not_found`: register again |
//! | `PUT /v1/registry/{service}/instances/{id}/health` | `{"health": "draining"}` | 204; 404 `instance_not_found` |
//! | `DELETE /v1/registry/{service}/instances/{id}` | deregister now | 200 `{"removed": true}` |
//! | `GET /v1/registry/{service}` | snapshot | 200 `{version, instances, stale}`; an unknown service is empty at version 0 |
//! | `GET /v1/registry/{service}/watch` | server-sent events `resync` (first), `added`, `updated`, `removed`; `id:` is the version, `data:` the JSON event | stream |
//! | `GET /v1/config/{ns}/{env}` | current document | 200 document + `ETag: "version"`; 404 `document_not_found` |
//! | `PUT /v1/config/{ns}/{env}` | `{"format": "toml", "text": "…"}`, optional `If-Match: "version"` | 200 new document; 409 `version_conflict`; 400 `invalid_document` with line and column |
//! | `GET /v1/config/{ns}/{env}/history?limit=N` | newest versions first (default 20) | 200 `{"versions": […]}` |
//! | `GET /v1/config/{ns}/{env}/watch` | server-sent `document` events, current document first | stream |
//!
//! Every error is a JSON [`ApiErrorBody`]: the SDK's `{"error", "message"}` plus `field`
//! naming the offending field, JSON path, path parameter or header. Bodies larger than
//! the limit (default 1 MiB) get 413 `payload_too_large`.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use platform_core::control::{self, MemoryConfigStore};
//! use platform_core::registry::MemoryRegistry;
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let app = control::router(Arc::new(MemoryRegistry::new()), Arc::new(MemoryConfigStore::new()));
//! let req = http::Request::get("/v1/registry/orders").body(axum::body::Body::empty()).unwrap();
//! let res = app.oneshot(req).await.unwrap();
//! assert_eq!(res.status(), http::StatusCode::OK); // {"version":0,"instances":[],"stale":false}
//! # }
//! ```
//!
//! The guide, with curl examples and the standalone binary, is `docs/control-plane.md`.

mod wire;

#[cfg(feature = "control")]
mod api_error;
#[cfg(feature = "control")]
mod config_api;
#[cfg(feature = "control")]
mod extract;
#[cfg(feature = "control")]
mod leases;
#[cfg(feature = "control")]
mod plane;
#[cfg(feature = "control")]
mod registry_api;
#[cfg(feature = "control")]
pub mod store;

#[cfg(feature = "http-client")]
pub(crate) mod client;

#[cfg(feature = "http-client")]
pub use client::InvalidClientSetting;
#[cfg(feature = "control")]
pub use plane::{ControlPlane, DEFAULT_BODY_LIMIT, DEFAULT_KEEP_ALIVE, DEFAULT_MAX_TTL, router};
#[cfg(all(feature = "control", feature = "redis"))]
pub use store::RedisDocumentStore;
#[cfg(feature = "control")]
pub use store::{ConfigStore, ConfigStoreError, DEFAULT_HISTORY_LEN, MemoryConfigStore};
pub use wire::ApiErrorBody;
#[cfg(any(feature = "control", feature = "config"))]
pub use wire::{ConfigDocument, HistoryResponse, PutConfigRequest};
#[cfg(any(feature = "control", feature = "registry"))]
pub use wire::{DeregisterResponse, HealthRequest, RegisterRequest, RegisterResponse};

/// The guide's Rust examples (`docs/control-plane.md`), compiled and run as doctests.
#[cfg(all(doctest, feature = "control", feature = "http-client"))]
#[doc = include_str!("../../../docs/control-plane.md")]
pub struct GuideDoctests;
