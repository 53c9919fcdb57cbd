//! [`ControlPlane`]: the service's state, options and router.

use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, put};
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt};
use http::StatusCode;
use tokio::sync::watch;

use super::api_error::ApiError;
use super::leases::Leases;
use super::store::ConfigStore;
use super::{config_api, registry_api};
use crate::registry::Registry;

/// Largest request body accepted unless configured otherwise (1 MiB).
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;
/// Interval of keep-alive comments on watch streams unless configured otherwise.
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Longest lease TTL accepted unless configured otherwise.
pub const DEFAULT_MAX_TTL: Duration = Duration::from_secs(600);

/// The registry and config service: build it over a registry and a config store, mount
/// its [`router`](Self::router), and call [`shutdown`](Self::shutdown) before a graceful
/// server shutdown so open watch streams end.
///
/// Clones share one service (the same held leases and shutdown signal).
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use platform_core::control::{ControlPlane, MemoryConfigStore};
/// use platform_core::registry::MemoryRegistry;
///
/// let plane = ControlPlane::new(Arc::new(MemoryRegistry::new()), Arc::new(MemoryConfigStore::new()))
///     .body_limit(256 * 1024)
///     .keep_alive(Duration::from_secs(5));
/// let app: axum::Router = axum::Router::new().nest("/control", plane.router());
/// # let _ = app;
/// ```
#[derive(Clone)]
pub struct ControlPlane {
    registry: Arc<dyn Registry>,
    config: Arc<dyn ConfigStore>,
    body_limit: usize,
    keep_alive: Duration,
    max_ttl: Duration,
    leases: Arc<Leases>,
    shutdown: Arc<watch::Sender<bool>>,
}

/// What the handlers share.
pub(crate) struct State {
    pub(crate) registry: Arc<dyn Registry>,
    pub(crate) config: Arc<dyn ConfigStore>,
    pub(crate) keep_alive: Duration,
    pub(crate) max_ttl: Duration,
    pub(crate) leases: Arc<Leases>,
    pub(crate) shutdown: watch::Receiver<bool>,
}

pub(crate) type Shared = axum::extract::State<Arc<State>>;

impl ControlPlane {
    /// A service over `registry` and `config` with default limits.
    pub fn new(registry: Arc<dyn Registry>, config: Arc<dyn ConfigStore>) -> Self {
        Self {
            registry,
            config,
            body_limit: DEFAULT_BODY_LIMIT,
            keep_alive: DEFAULT_KEEP_ALIVE,
            max_ttl: DEFAULT_MAX_TTL,
            leases: Arc::default(),
            shutdown: Arc::new(watch::channel(false).0),
        }
    }

    /// Largest request body (default [`DEFAULT_BODY_LIMIT`]); larger ones get 413.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Interval of keep-alive comments on watch streams (default 15 s). Clients treat a
    /// stream silent for several intervals as dead.
    pub fn keep_alive(mut self, interval: Duration) -> Self {
        self.keep_alive = interval;
        self
    }

    /// Longest lease TTL accepted (default 10 min); longer ones get 400.
    pub fn max_ttl(mut self, ttl: Duration) -> Self {
        self.max_ttl = ttl;
        self
    }

    /// Ends every open watch stream, now and for streams opened later, so a graceful
    /// server shutdown can complete (watch streams never end on their own). Held leases
    /// are abandoned when the last router is dropped: their instances expire after their
    /// TTL unless the clients re-register with a new service.
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Leases currently held for clients.
    pub fn held_leases(&self) -> usize {
        self.leases.len()
    }

    /// The JSON API; the [module docs](super) list the routes.
    pub fn router(&self) -> Router {
        let state = Arc::new(State {
            registry: Arc::clone(&self.registry),
            config: Arc::clone(&self.config),
            keep_alive: self.keep_alive,
            max_ttl: self.max_ttl,
            leases: Arc::clone(&self.leases),
            shutdown: self.shutdown.subscribe(),
        });
        let instance = "/v1/registry/{service}/instances/{id}";
        Router::new()
            .route("/v1/registry/{service}", get(registry_api::snapshot))
            .route("/v1/registry/{service}/watch", get(registry_api::watch))
            .route("/v1/registry/{service}/instances", axum::routing::post(registry_api::register))
            .route(instance, axum::routing::delete(registry_api::deregister))
            .route(&format!("{instance}/heartbeat"), put(registry_api::heartbeat))
            .route(&format!("{instance}/health"), put(registry_api::set_health))
            .route(
                "/v1/config/{namespace}/{environment}",
                get(config_api::get).put(config_api::put),
            )
            .route("/v1/config/{namespace}/{environment}/history", get(config_api::history))
            .route("/v1/config/{namespace}/{environment}/watch", get(config_api::watch))
            .fallback(|| async {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "no_route",
                    "no such endpoint; see docs/control-plane.md",
                )
            })
            .method_not_allowed_fallback(|| async {
                ApiError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_allowed",
                    "method not allowed on this endpoint",
                )
            })
            .layer(DefaultBodyLimit::max(self.body_limit))
            .with_state(state)
    }
}

impl fmt::Debug for ControlPlane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ControlPlane")
            .field("registry", &self.registry)
            .field("config", &self.config)
            .field("body_limit", &self.body_limit)
            .field("keep_alive", &self.keep_alive)
            .field("max_ttl", &self.max_ttl)
            .field("held_leases", &self.leases.len())
            .finish()
    }
}

/// The JSON API over `registry` and `config` with default limits:
/// `ControlPlane::new(registry, config).router()`. Use [`ControlPlane`] to set limits or
/// to end watch streams on shutdown.
pub fn router(registry: Arc<dyn Registry>, config: Arc<dyn ConfigStore>) -> Router {
    ControlPlane::new(registry, config).router()
}

/// The response type of the watch endpoints.
pub(crate) type EventStream =
    Sse<axum::response::sse::KeepAliveStream<BoxStream<'static, Result<Event, Infallible>>>>;

/// Serves `events` as server-sent events with keep-alives, ending at shutdown.
pub(crate) fn event_stream(
    state: &State,
    events: impl Stream<Item = Event> + Send + 'static,
) -> EventStream {
    let mut shutdown = state.shutdown.clone();
    let stopped = async move {
        // The sender gone (the `ControlPlane` dropped, its router still serving) means no
        // shutdown can be signalled any more: keep streaming.
        if shutdown.wait_for(|stop| *stop).await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let stream = events.take_until(stopped).map(Ok).boxed();
    Sse::new(stream).keep_alive(KeepAlive::new().interval(state.keep_alive))
}
