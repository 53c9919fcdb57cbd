//! The whole platform in one process: the reference `platform` binary's logic.
//!
//! [`Platform::start`] brings up, on embedded defaults that need nothing installed:
//!
//! * the **gateway** (platform-gateway) on `gateway.listen` (default `127.0.0.1:8080`),
//!   the entry point for every client request, served by worker threads of its own
//!   (`Server::serve_workers`: one per CPU core, or the routes file's `[server] workers`);
//! * in-process services, each on its own loopback port and reached through the
//!   gateway's reverse proxy like any upstream: the **token server** (platform-auth,
//!   routes `/oauth/…` and `/.well-known/…`), the **registry and config service**
//!   (platform-core `control`, routes `/registry/…`, `/config/…` and `/control/…`) and
//!   the **echo** service (`/echo/…`, answers with the request it received);
//! * the **admin listener** on `admin.listen` (default `127.0.0.1:9901`): `/metrics`,
//!   `/health/live`, `/health/ready`, the gateway's admin API (`/admin/routes`,
//!   `/admin/upstreams`, `/admin/config`, `/admin/explain`), the canary admin API
//!   (`/admin/canary`), the token server's admin API (`/admin/users`, `/admin/clients`,
//!   …) and the audit trail (`/admin/audit/records`);
//! * state in a SQLite database under `data_dir` (or PostgreSQL): users, clients,
//!   refresh tokens, revocations, API keys, canary rollouts and the audit log; the token
//!   signing key in a file beside it. The first start on an empty database creates the
//!   administrator and a CLI client ([`Bootstrap`]);
//! * your own upstreams and routes from `gateway.routes_file`, reloaded when it changes;
//!   its canary routes ([`Platform::rollouts`]) keep their rollout across reloads and
//!   restarts.
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
mod canary;
mod config;
pub mod echo;
mod error;
mod routes;
mod secret;
mod serve;
mod signing_key;
mod telemetry;

use std::sync::Arc;
use std::time::Duration;

use platform_core::control::ControlPlane;
use platform_core::store::Store;
use platform_gateway::canary::Rollouts;
use platform_gateway::config::Resources;
use platform_gateway::reload::LiveConfig;
use platform_gateway::{Drained, Gateway, Server, ServerTls, WorkerListeners};
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
pub use platform_gateway::{Shutdown, os_signal};
pub use routes::{
    AUTH_UPSTREAM, BUILT_IN_ROUTES, CONTROL_UPSTREAM, ECHO_UPSTREAM, ServiceAddrs, gateway_config,
};
pub use secret::Secret;
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
    scheme: &'static str,
    bootstrap: Option<Bootstrap>,
    live: LiveConfig,
    rollouts: Rollouts,
    control: ControlPlane,
    /// Stops the gateway (the trigger handed out); the rest follows in [`Platform::wait`].
    front: Shutdown,
    /// Stops the admin listener once the gateway has drained.
    admin_stop: Shutdown,
    /// Stops the services behind the gateway last.
    back: Shutdown,
    gateway_task: JoinHandle<std::io::Result<Drained>>,
    admin_task: JoinHandle<()>,
    back_tasks: Vec<JoinHandle<()>>,
    reload: Option<JoinHandle<()>>,
    drain: Duration,
}

impl Platform {
    /// Starts everything `config` describes on `store`, recording metrics in `metrics`
    /// (the registry telemetry exposes; a fresh one in tests).
    ///
    /// Listeners are bound and everything that can fail is built before a first start's
    /// accounts are created, so a failed start never makes credentials it did not show.
    ///
    /// # Errors
    /// A [`PlatformError`] saying what could not start and what to change.
    pub async fn start(
        config: &PlatformConfig,
        store: Store,
        metrics: MetricsRegistry,
    ) -> Result<Self, PlatformError> {
        config.validate()?;
        let listeners = serve::Listeners::bind(
            config.gateway.listen,
            config.admin.listen,
            config.services.host,
        )
        .await?;
        let (gateway_addr, admin_addr, services) = listeners.addresses()?;
        let addresses = Addresses { gateway: gateway_addr, admin: admin_addr, services };
        let gateway_config = routes::gateway_config(&config.gateway, services)?;
        let tls = match &gateway_config.tls {
            Some(t) => Some(ServerTls::load(t).map_err(|e| PlatformError::Gateway(e.to_string()))?),
            None => None,
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let audit = if config.audit.enabled {
            let log = AuditLog::new(store.clone())
                .await
                .map_err(|e| PlatformError::Telemetry(format!("audit log: {e}")))?;
            Some(log)
        } else {
            None
        };
        let issuer = config.issuer(scheme, gateway_addr);
        let (token_server, api_keys) = auth::token_server(config, &store, issuer).await?;
        let control_args = control_plane::Args {
            redis: config.control.redis_url.clone(),
            prefix: config.control.redis_prefix.clone(),
        };
        let backends = control_plane::backends(&control_args)
            .map_err(|e| PlatformError::Control(format!("{e}; check `control.redis_url`")))?;
        let control = ControlPlane::new(backends.registry.clone(), backends.config);
        let rollouts = canary::rollouts(&store, &metrics).await?;
        let resources = Resources {
            registry: Some(backends.registry),
            metrics: Some(metrics.clone()),
            rollouts: Some(rollouts.clone()),
        };
        let mut server_config = gateway_config.server.clone();
        server_config.drain_timeout = config.drain_timeout;
        // The gateway serves on workers of its own (one single-threaded runtime per
        // core, or `[server] workers`), which take connections from its one socket by
        // load; the services, the admin listener and the reload watcher stay on this
        // runtime.
        let gateway_socket = listeners
            .gateway
            .into_std()
            .and_then(|socket| WorkerListeners::shared(socket, server_config.worker_count()))
            .map_err(|source| PlatformError::Listen {
                what: "gateway",
                key: "gateway.listen",
                addr: addresses.gateway,
                source,
            })?;
        let live = LiveConfig::new(gateway_config, resources)
            .await
            .map_err(|e| PlatformError::Gateway(e.to_string()))?;
        let bootstrap = auth::bootstrap(config, &token_server).await?;

        let (front, admin_stop, back) = (Shutdown::new(), Shutdown::new(), Shutdown::new());
        let drain = config.drain_timeout;
        let auth_router = serve::client_behind_gateway(token_server.router(), config.services.host);
        let control_router = if config.control.require_token {
            let role = &config.control.write_role;
            auth::require_token(control.router(), &token_server, &api_keys, role)
        } else {
            if !config.gateway.listen.ip().is_loopback() {
                tracing::warn!(target: "platform", listen = %config.gateway.listen, "the registry and config APIs answer anyone who reaches the gateway; set control.require_token = true");
            }
            control.router()
        };
        let back_tasks = vec![
            serve::spawn("token server", listeners.auth, auth_router, back.clone(), drain),
            serve::spawn("control plane", listeners.control, control_router, back.clone(), drain),
            serve::spawn("echo", listeners.echo, echo::router(), back.clone(), drain),
        ];
        let health =
            health_checks(&store, back_tasks.iter().map(JoinHandle::abort_handle).collect());
        let admin_router = admin::router(admin::AdminParts {
            metrics,
            health,
            live: live.clone(),
            shutdown: front.clone(),
            token_server,
            audit,
            rollouts: rollouts.clone(),
        });
        let admin_task = serve::spawn(
            "admin listener",
            listeners.admin,
            admin_router,
            admin_stop.clone(),
            drain,
        );
        let mut server = Server::new(live.gateway().clone(), server_config);
        if let Some(tls) = tls {
            server = server.tls(tls);
        }
        let gateway_task = tokio::spawn(server.serve_workers(gateway_socket, front.clone()));
        let reload = routes::follow_routes_file(&config.gateway, services, &live);
        tracing::info!(
            target: "platform",
            gateway = %addresses.gateway,
            admin = %addresses.admin,
            auth = %services.auth,
            control = %services.control,
            echo = %services.echo,
            "platform started"
        );
        Ok(Self {
            addresses,
            scheme,
            bootstrap,
            live,
            rollouts,
            control,
            front,
            admin_stop,
            back,
            gateway_task,
            admin_task,
            back_tasks,
            reload,
            drain,
        })
    }

    /// Where everything listens.
    pub fn addresses(&self) -> Addresses {
        self.addresses
    }

    /// `http://<gateway address>` (`https` when the routes file configures TLS).
    pub fn gateway_url(&self) -> String {
        format!("{}://{}", self.scheme, self.addresses.gateway)
    }

    /// What the first start created (its secrets, to show once); `None` on later starts.
    pub fn bootstrap(&self) -> Option<&Bootstrap> {
        self.bootstrap.as_ref()
    }

    /// The gateway (its routes and upstreams).
    pub fn gateway(&self) -> &Gateway {
        self.live.gateway()
    }

    /// The gateway configuration in force and its reload status.
    pub fn live_config(&self) -> &LiveConfig {
        &self.live
    }

    /// The canary rollouts of the routes file's canary routes (state in the database).
    pub fn rollouts(&self) -> &Rollouts {
        &self.rollouts
    }

    /// The trigger that stops the platform; [`wait`](Self::wait) then drains it.
    pub fn shutdown_trigger(&self) -> Shutdown {
        self.front.clone()
    }

    /// Waits until the shutdown is triggered, then stops in order: the gateway stops
    /// accepting and drains its connections (open watch streams are ended; readiness on
    /// the admin listener already reports down), then the admin listener stops, then the
    /// services behind the gateway. Each step is bounded by the drain timeout.
    pub async fn wait(self) {
        self.front.wait().await;
        if let Some(reload) = &self.reload {
            reload.abort();
        }
        self.control.shutdown();
        match self.gateway_task.await {
            Ok(Ok(drained)) => {
                tracing::info!(target: "platform", cut = drained.cut, took = ?drained.took, "gateway drained");
            }
            Ok(Err(e)) => {
                tracing::error!(target: "platform", error = %e, "the gateway's workers failed");
            }
            Err(e) => tracing::error!(target: "platform", error = %e, "the gateway task failed"),
        }
        self.admin_stop.trigger();
        join_all(vec![self.admin_task], self.drain).await;
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
