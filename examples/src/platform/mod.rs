//! The whole platform in one process: the reference `platform` binary's logic.
//!
//! [`Platform::start`] brings up, on embedded defaults that need nothing installed:
//!
//! * the **gateway** (platform-gateway) on `gateway.listen` (default `127.0.0.1:8080`),
//!   the entry point for every client request;
//! * in-process services, each on its own loopback port and reached through the
//!   gateway's reverse proxy like any upstream: the **token server** (platform-auth,
//!   routes `/oauth/…` and `/.well-known/…`), the **registry and config service**
//!   (platform-core `control`, routes `/registry/…`, `/config/…` and `/control/…`) and
//!   the **echo** service (`/echo/…`, answers with the request it received);
//! * the **admin listener** on `admin.listen` (default `127.0.0.1:9901`): `/metrics`,
//!   `/health/live`, `/health/ready`, the gateway's `/admin/routes` and
//!   `/admin/upstreams`, the token server's admin API (`/admin/users`, `/admin/clients`,
//!   …) and the audit trail (`/admin/audit/records`);
//! * state in a SQLite database under `data_dir` (or PostgreSQL): users, clients,
//!   refresh tokens, revocations, API keys and the audit log; the token signing key in a
//!   file beside it. The first start on an empty database creates the administrator and
//!   a CLI client ([`Bootstrap`]).
//!
//! ```no_run
//! # // no_run: binds 127.0.0.1:8080 and 127.0.0.1:9901.
//! use platform_examples::platform::{Platform, PlatformConfig, open_store};
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = PlatformConfig::load(None, std::env::vars())?;
//! let store = open_store(&config).await?;
//! let platform = Platform::start(&config, store, Default::default()).await?;
//! if let Some(first) = platform.bootstrap() {
//!     eprintln!("{}", first.banner(&platform.gateway_url()));
//! }
//! platform.shutdown_trigger().trigger_on(platform_examples::platform::os_signal());
//! platform.wait().await;
//! # Ok(()) }
//! ```
//!
//! The guide is `docs/platform.md`.

mod admin;
mod args;
mod auth;
mod config;
pub mod echo;
mod error;
mod routes;
mod secret;
mod serve;
mod shutdown;
mod signing_key;
mod telemetry;

use std::sync::Arc;
use std::time::Duration;

use platform_core::control::ControlPlane;
use platform_core::store::Store;
use platform_gateway::config::Resources;
use platform_gateway::{Gateway, Server};
use platform_observe::audit::AuditLog;
use platform_observe::health::{CheckOptions, HealthRegistry, store_check};
use platform_observe::metrics::MetricsRegistry;
use tokio::task::{AbortHandle, JoinHandle};

pub use args::{Args, USAGE};
pub use auth::Bootstrap;
pub use config::{
    ADMIN_PASSWORD_ENV, AdminSection, AuditSection, AuthSection, ControlSection, GatewaySection,
    PlatformConfig, ServicesSection,
};
pub use error::PlatformError;
pub use routes::{
    AUTH_UPSTREAM, BUILT_IN_ROUTES, CONTROL_UPSTREAM, ECHO_UPSTREAM, ServiceAddrs, gateway_config,
};
pub use secret::Secret;
pub use shutdown::{Shutdown, os_signal};
pub use telemetry::{Telemetry, init_telemetry};

use crate::control_plane;

/// Where the running platform listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Addresses {
    /// The gateway.
    pub gateway: std::net::SocketAddr,
    /// The admin listener.
    pub admin: std::net::SocketAddr,
    /// The in-process services.
    pub services: ServiceAddrs,
}

/// Creates the data directory and opens the database `config` names (and nothing else:
/// the binary opens it first so the audit log can join telemetry before anything logs).
///
/// # Errors
/// [`PlatformError::DataDir`] or [`PlatformError::Store`], saying what to change.
pub async fn open_store(config: &PlatformConfig) -> Result<Store, PlatformError> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|source| PlatformError::DataDir { path: config.data_dir.clone(), source })?;
    let db = config.database();
    Store::from_config(&db).await.map_err(|e| {
        PlatformError::Store(format!("{e}; check `database.url` (or PLATFORM__DATABASE__URL)"))
    })
}

/// The running platform; see the [module docs](self).
#[derive(Debug)]
pub struct Platform {
    addresses: Addresses,
    bootstrap: Option<Bootstrap>,
    gateway: Gateway,
    control: ControlPlane,
    /// Stops what clients talk to: the gateway and the admin listener.
    front: Shutdown,
    /// Stops the services behind the gateway, once the front has drained.
    back: Shutdown,
    front_tasks: Vec<JoinHandle<()>>,
    back_tasks: Vec<JoinHandle<()>>,
    drain: Duration,
}

impl Platform {
    /// Starts everything `config` describes on `store`, recording metrics in `metrics`
    /// (the registry telemetry exposes; a fresh one in tests).
    ///
    /// Listeners are bound before any state changes, so a taken port fails the start
    /// before a first start's credentials are created.
    ///
    /// # Errors
    /// A [`PlatformError`] saying what could not start and what to change.
    pub async fn start(
        config: &PlatformConfig,
        store: Store,
        metrics: MetricsRegistry,
    ) -> Result<Self, PlatformError> {
        config.validate()?;
        let gateway_listener =
            serve::bind(config.gateway.listen, "gateway", "gateway.listen").await?;
        let admin_listener =
            serve::bind(config.admin.listen, "admin listener", "admin.listen").await?;
        let host = std::net::SocketAddr::new(config.services.host, 0);
        let auth_listener = serve::bind(host, "token server", "services.host").await?;
        let control_listener = serve::bind(host, "control plane", "services.host").await?;
        let echo_listener = serve::bind(host, "echo service", "services.host").await?;
        let addresses = Addresses {
            gateway: serve::local_addr(&gateway_listener, "gateway", "gateway.listen")?,
            admin: serve::local_addr(&admin_listener, "admin listener", "admin.listen")?,
            services: ServiceAddrs {
                auth: serve::local_addr(&auth_listener, "token server", "services.host")?,
                control: serve::local_addr(&control_listener, "control plane", "services.host")?,
                echo: serve::local_addr(&echo_listener, "echo service", "services.host")?,
            },
        };

        // Everything that can fail is built before the first start's accounts exist, so
        // a failed start never loses credentials that were not shown.
        let gateway_config = routes::gateway_config(&config.gateway, addresses.services)?;
        let audit = if config.audit.enabled {
            let log = AuditLog::new(store.clone())
                .await
                .map_err(|e| PlatformError::Telemetry(format!("audit log: {e}")))?;
            Some(log)
        } else {
            None
        };
        let issuer = config.issuer(addresses.gateway);
        let (token_server, api_keys) = auth::token_server(config, &store, issuer).await?;
        let control_args = control_plane::Args {
            redis: config.control.redis_url.clone(),
            prefix: config.control.redis_prefix.clone(),
        };
        let backends = control_plane::backends(&control_args)
            .map_err(|e| PlatformError::Control(format!("{e}; check `control.redis_url`")))?;
        let control = ControlPlane::new(backends.registry.clone(), backends.config);
        let resources = Resources {
            registry: Some(backends.registry),
            metrics: Some(metrics.clone()),
            ..Resources::default()
        };
        let gateway = gateway_config
            .build(&resources)
            .await
            .map_err(|e| PlatformError::Gateway(e.to_string()))?;
        let bootstrap = auth::bootstrap(config, &token_server).await?;

        let (front, back) = (Shutdown::new(), Shutdown::new());
        let drain = config.drain_timeout;
        let auth_router = serve::client_behind_gateway(token_server.router(), config.services.host);
        let control_router = if config.control.require_token {
            auth::require_token(
                control.router(),
                &token_server,
                &api_keys,
                &config.control.write_role,
            )
        } else {
            if !config.gateway.listen.ip().is_loopback() {
                tracing::warn!(target: "platform", listen = %config.gateway.listen, "the registry and config APIs answer anyone who reaches the gateway; set control.require_token = true");
            }
            control.router()
        };
        let back_tasks = vec![
            serve::spawn("token server", auth_listener, auth_router, back.clone(), drain),
            serve::spawn("control plane", control_listener, control_router, back.clone(), drain),
            serve::spawn("echo", echo_listener, echo::router(), back.clone(), drain),
        ];
        let health =
            health_checks(&store, back_tasks.iter().map(JoinHandle::abort_handle).collect());
        let admin_router = admin::router(admin::AdminParts {
            metrics,
            health,
            gateway: gateway.clone(),
            token_server,
            audit,
        });
        let server = Server::new(gateway.clone(), gateway_config.server.clone());
        let stop = front.clone();
        let front_tasks = vec![
            serve::spawn("admin listener", admin_listener, admin_router, front.clone(), drain),
            // Until platform-gateway's graceful shutdown lands: stop accepting at once;
            // connections in progress run on their own tasks to their end.
            tokio::spawn(async move {
                tokio::select! {
                    () = server.serve(gateway_listener) => {}
                    () = stop.wait() => {}
                }
            }),
        ];
        tracing::info!(
            target: "platform",
            gateway = %addresses.gateway,
            admin = %addresses.admin,
            auth = %addresses.services.auth,
            control = %addresses.services.control,
            echo = %addresses.services.echo,
            "platform started"
        );
        Ok(Self {
            addresses,
            bootstrap,
            gateway,
            control,
            front,
            back,
            front_tasks,
            back_tasks,
            drain,
        })
    }

    /// Where everything listens.
    pub fn addresses(&self) -> Addresses {
        self.addresses
    }

    /// `http://<gateway address>`.
    pub fn gateway_url(&self) -> String {
        format!("http://{}", self.addresses.gateway)
    }

    /// What the first start created (its secrets, to show once); `None` on later starts.
    pub fn bootstrap(&self) -> Option<&Bootstrap> {
        self.bootstrap.as_ref()
    }

    /// The gateway (its routes and upstreams).
    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }

    /// The trigger that stops the platform; [`wait`](Self::wait) then drains it.
    pub fn shutdown_trigger(&self) -> Shutdown {
        self.front.clone()
    }

    /// Waits until the shutdown is triggered, then stops in order: the gateway and the
    /// admin listener stop accepting and finish their requests (open watch streams are
    /// ended), then the services behind them stop. Each step is bounded by the drain
    /// timeout.
    pub async fn wait(self) {
        self.front.wait().await;
        self.control.shutdown();
        join_all(self.front_tasks, self.drain).await;
        self.back.trigger();
        join_all(self.back_tasks, self.drain).await;
        tracing::info!(target: "platform", "platform stopped");
    }

    /// Triggers the shutdown and waits for it.
    pub async fn shutdown(self) {
        self.front.trigger();
        self.wait().await;
    }
}

/// Waits for `tasks`, giving up (and aborting them) after twice `drain`: each task
/// bounds its own drain, this only guards against one that does not.
async fn join_all(tasks: Vec<JoinHandle<()>>, drain: Duration) {
    let aborts: Vec<AbortHandle> = tasks.iter().map(JoinHandle::abort_handle).collect();
    let all = futures_util::future::join_all(tasks);
    if tokio::time::timeout(drain * 2, all).await.is_err() {
        aborts.iter().for_each(AbortHandle::abort);
    }
}

/// Readiness: the database answers and every in-process service is still serving.
fn health_checks(store: &Store, services: Vec<AbortHandle>) -> HealthRegistry {
    let health = HealthRegistry::new();
    health.register("database", CheckOptions::readiness(), store_check(store.clone()));
    let services = Arc::new(services);
    health.register("services", CheckOptions::readiness(), move || {
        let stopped = services.iter().filter(|s| s.is_finished()).count();
        async move {
            if stopped == 0 {
                Ok::<(), platform_core::BoxError>(())
            } else {
                Err(format!("{stopped} in-process service(s) stopped; see the log").into())
            }
        }
    });
    health
}
