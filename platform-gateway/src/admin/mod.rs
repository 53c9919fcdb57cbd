//! The admin listener: operations endpoints on their own address, as an axum `Router`.
//!
//! | path | answers |
//! |---|---|
//! | `GET /metrics` | Prometheus text: RED metrics per route, reload metrics, anything else in the registry |
//! | `GET /health/live` | liveness (the process answers) |
//! | `GET /health/ready` | readiness: down once shutdown begins; degraded while an upstream has no endpoint in rotation |
//! | `GET /admin/routes` | the routes in match order with their predicates and upstreams ([`RouteView`]) |
//! | `GET /admin/upstreams` | upstreams, endpoints in rotation with their load, ejected endpoints ([`UpstreamView`]) |
//! | `GET /admin/config` | version, SHA-256 and source of the configuration in force; the last reload's diff and error ([`ReloadStatus`](crate::reload::ReloadStatus)) |
//! | `GET /admin/explain?method=&path=&host=&header=name:value&client=` | which route would match, which were passed over and why, and the upstream and endpoint that would serve ([`Explanation`]) |
//!
//! Keep it on a loopback or internal address: it shows the whole configuration and
//! has no authentication of its own (add a layer to the router if it must be exposed).
//!
//! ```
//! use platform_gateway::admin::Admin;
//! use platform_gateway::{Gateway, Shutdown};
//! use platform_observe::metrics::MetricsRegistry;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let metrics = MetricsRegistry::new();
//! let gateway = Gateway::builder().metrics(&metrics).build()?;
//! let shutdown = Shutdown::new();
//! let admin = Admin::new(&gateway).metrics(&metrics).shutdown(&shutdown);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! tokio::spawn(admin.serve(listener, async move { let _ = stopped.await; }));
//! // ... serve the gateway with `shutdown`; once it has drained:
//! let _ = stop.send(());
//! # Ok(()) }
//! ```
//!
//! [`RouteView`]: crate::view::RouteView
//! [`UpstreamView`]: crate::view::UpstreamView
//! [`Explanation`]: crate::view::Explanation

mod handlers;

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use platform_core::BoxError;
use platform_observe::health::{CheckOptions, HealthRegistry, health_router};
use platform_observe::metrics::{MetricsRegistry, metrics_router};
use tokio::net::TcpListener;

use crate::{Gateway, Shutdown};

/// Builds the admin router of a gateway; see the [module docs](self).
#[derive(Debug, Clone)]
#[must_use]
pub struct Admin {
    gateway: Gateway,
    metrics: MetricsRegistry,
    health: HealthRegistry,
    shutdown: Option<Shutdown>,
    #[cfg(feature = "reload")]
    live: Option<crate::reload::LiveConfig>,
}

/// What the handlers read.
#[derive(Clone)]
pub(crate) struct AdminState {
    pub(crate) gateway: Gateway,
    #[cfg(feature = "reload")]
    pub(crate) live: Option<crate::reload::LiveConfig>,
}

impl Admin {
    /// The admin API of `gateway` (an empty metrics registry and no health checks of
    /// your own until you give them).
    pub fn new(gateway: &Gateway) -> Self {
        Self {
            gateway: gateway.clone(),
            metrics: MetricsRegistry::new(),
            health: HealthRegistry::new(),
            shutdown: None,
            #[cfg(feature = "reload")]
            live: None,
        }
    }

    /// Serves `registry` on `/metrics` (give the one the gateway records into).
    pub fn metrics(mut self, registry: &MetricsRegistry) -> Self {
        self.metrics = registry.clone();
        self
    }

    /// Uses `health` for the probes; the gateway's own checks are added to it.
    pub fn health(mut self, health: &HealthRegistry) -> Self {
        self.health = health.clone();
        self
    }

    /// Readiness reports down once `shutdown` is triggered, so load balancers stop
    /// sending while connections drain.
    pub fn shutdown(mut self, shutdown: &Shutdown) -> Self {
        self.shutdown = Some(shutdown.clone());
        self
    }

    /// Shows this configuration's version and reload status on `/admin/config`.
    #[cfg(feature = "reload")]
    pub fn live_config(mut self, live: &crate::reload::LiveConfig) -> Self {
        self.live = Some(live.clone());
        self
    }

    /// The router (registers the gateway's readiness checks).
    pub fn router(self) -> Router {
        self.register_checks();
        let state = AdminState {
            gateway: self.gateway,
            #[cfg(feature = "reload")]
            live: self.live,
        };
        Router::new()
            .route("/admin/routes", get(handlers::routes))
            .route("/admin/upstreams", get(handlers::upstreams))
            .route("/admin/config", get(handlers::config))
            .route("/admin/explain", get(handlers::explain))
            .with_state(state)
            .merge(metrics_router(self.metrics))
            .merge(health_router(self.health))
    }

    fn register_checks(&self) {
        let fresh = CheckOptions::readiness().cache_for(Duration::ZERO);
        if let Some(shutdown) = self.shutdown.clone() {
            self.health.register("gateway.shutdown", fresh, move || {
                let down = shutdown.is_triggered();
                async move {
                    if down { Err::<(), BoxError>("shutting down".into()) } else { Ok(()) }
                }
            });
        }
        let gateway = self.gateway.clone();
        self.health.register("gateway.upstreams", fresh.non_critical(), move || {
            let empty: Vec<String> = gateway
                .upstreams()
                .iter()
                .filter(|u| u.endpoints().is_empty())
                .map(|u| u.name().to_owned())
                .collect();
            async move {
                if empty.is_empty() {
                    Ok(())
                } else {
                    Err::<(), BoxError>(
                        format!("no endpoint in rotation for: {}", empty.join(", ")).into(),
                    )
                }
            }
        });
    }

    /// Serves the router on `listener` until `until` resolves. Keep it up while the
    /// gateway drains (readiness then says "shutting down"): stop it when
    /// [`Server::serve_with_shutdown`](crate::Server::serve_with_shutdown) returns.
    ///
    /// # Errors
    /// The I/O error that stopped the listener.
    pub async fn serve<F>(self, listener: TcpListener, until: F) -> std::io::Result<()>
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        axum::serve(listener, self.router()).with_graceful_shutdown(until).await
    }
}
